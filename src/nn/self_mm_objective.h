// Self-MM's objective and its unimodal label generation module (Yu et al., AAAI 2021, §3.3–3.4;
// as MMSA's trains/multiTask/SELF_MM.py). The state lives in SelfMmImpl's buffers (nn/self_mm.h).
#pragma once

#include <torch/types.h>

#include <array>

#include "nn/model.h"
#include "nn/self_mm.h"

namespace robustmsa {

// Samples of `index` (B) never trained on get all four labels = their multimodal label (B).
void ulgm_init(SelfMmImpl& model, const torch::Tensor& index, const torch::Tensor& label);

// One ULGM step after a training step on `index` with representations `feats` (fusion, text,
// audio, vision; detached): counts the visit, and for samples in their second or later epoch
// moves their unimodal labels towards the centre-distance estimate (momentum 2/(n+1)); then
// stores the representations. Centres are taken from the stored representations before this step.
void ulgm_update(SelfMmImpl& model, const torch::Tensor& index,
                 const std::array<torch::Tensor, 4>& feats);

// Regression: multimodal L1 + tanh(|y_m - y_f|)-weighted unimodal L1 on the generated labels, then
// ulgm_update. IEMOCAP: per-emotion cross-entropy of all four heads on the multimodal labels.
// Parts: task (multimodal), text, audio, vision.
Losses self_mm_objective(Model& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa

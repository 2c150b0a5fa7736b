// MISA's objective and its losses (Hazarika et al., ACM MM 2020, §3.5; as MMSA's
// trains/singleTask/MISA.py computes them). See nn/misa.h.
#pragma once

#include <torch/types.h>

#include "nn/model.h"

namespace robustmsa {

// Central moment discrepancy (Zellinger et al., ICLR 2017) between x1 (B, h) and x2 (B, h):
// ||E x1 - E x2|| + sum_{k=2..moments} ||E (x1 - E x1)^k - E (x2 - E x2)^k||, each norm
// sqrt(sum of squares + 1e-12).
torch::Tensor cmd_loss(const torch::Tensor& x1, const torch::Tensor& x2, int64_t moments);

// Soft orthogonality: rows of a and b (B, h) are centred over the batch and scaled to unit L2
// norm (the norm is treated as a constant, + 1e-6), then mean over (h, h) of (A^T B)^2.
torch::Tensor difference_loss(const torch::Tensor& a, const torch::Tensor& b);

// L = task + diff_weight * L_diff + sim_weight * L_sim + recon_weight * L_recon (MMSA's MISA
// trainer; task is MSE for regression). Parts: task, diff, sim, recon.
Losses misa_objective(Model& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa

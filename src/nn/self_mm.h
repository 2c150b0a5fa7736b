// Self-MM — Learning Modality-Specific Representations with Self-Supervised Multi-Task Learning
// for Multimodal Sentiment Analysis. Yu, Xu, Yuan, Wu. AAAI 2021. doi 10.1609/aaai.v35i12.17289,
// https://arxiv.org/abs/2102.04830
// Description taken from the paper (§3: multimodal task and three unimodal subtasks sharing the
// modality representations; §3.3 the unimodal label generation module, ULGM, Eq. 4–10: unimodal
// labels shifted by the relative distances of a sample's representation to the positive and
// negative class centres; §3.4 momentum-based update) and from MMSA (thuiar/MMSA,
// src/MMSA/models/multiTask/SELF_MM.py and trains/multiTask/SELF_MM.py, PyPI mmsa 2.2.1), the
// authors' code; hyperparameters are MMSA's MOSI entry in config/config_regression.json:
//
//   t = Linear(LSTM(text)), a = Linear(LSTM(audio)), v = Linear(LSTM(vision))  (packed, last state)
//   F*_f = ReLU(W1_f dropout([t; a; v])),  y_f = W3_f ReLU(W2_f F*_f)      multimodal task
//   F*_m = ReLU(W1_m dropout(m)),          y_m = W3_m ReLU(W2_m F*_m)      unimodal subtasks
//
// ULGM (nn/self_mm_objective.h): every training sample i keeps unimodal labels y_m(i), initialised
// to its multimodal label y_f(i), and its last representations F*_s(i), as registered buffers of
// this module sized by InputSpec::train_size (so checkpoints and resumed runs carry them). From the
// second epoch on, after each step, with class centres C^p_s, C^n_s (mean F*_s over samples whose
// label y_s is > 0, resp. < 0), d^p = ||F* - C^p||, d^n = ||F* - C^n||, delta = (d^n - d^p) / d^p:
//   ŷ_m = y_f * delta_m / (2 delta_f) + (y_f + delta_m - delta_f) / 2,  clipped to [-H, H]
//   y_m <- (n-1)/(n+1) y_m + 2/(n+1) ŷ_m       n = the sample's epoch
// Loss: |y_f' - y_f| + sum_m tanh(|y_m - y_f|) |y_m' - y_m|  (batch means, as MMSA).
//
// Deviations:
//   - Text: MMSA fine-tunes BERT and takes [CLS]; our features are frozen. text_encoder "lstm"
//     (default) is an LSTM + Linear like MMSA's audio/vision subnets (text_hidden, text_out are our
//     choice: MMSA's sizes belong to BERT); "first" takes the first frame's features (the [CLS]
//     token of the MMSA layout's BERT features) as the text representation.
//   - n is the number of times the sample has been trained on (kept per sample in a buffer); with
//     the one trainer (every sample once per epoch) this equals MMSA's epoch counter.
//   - Centres use the samples seen so far (MMSA: all samples, with zero features for those not
//     yet seen in the first epoch, when centres are not used for updates anyway); an empty class
//     gives a zero centre; a non-finite new label (delta_f = -1e-8) is clipped to ±H.
//   - IEMOCAP: the ULGM is defined for a signed sentiment score; with the (B, 4, 2) head the three
//     unimodal subtasks are trained on the multimodal class labels with weight 1.
//   - MMSA's per-group learning rates (BERT 5e-5, audio/vision 5e-3, other 1e-3) are not
//     expressible in the one trainer: train.lr applies to all (configs/self_mm_mosi.json: 1e-3).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "config/options.h"
#include "nn/model.h"

namespace robustmsa {

struct SelfMmOptions {
  std::string text_encoder = "lstm";
  int64_t text_hidden = 128;  // ours (MMSA: BERT)
  int64_t text_out = 128;     // ours (MMSA: 768, BERT's width)
  int64_t a_lstm_hidden = 16;
  int64_t v_lstm_hidden = 32;
  int64_t audio_out = 16;
  int64_t video_out = 32;
  int64_t post_fusion_dim = 128;
  int64_t post_text_dim = 32;
  int64_t post_audio_dim = 16;
  int64_t post_video_dim = 32;
  double post_fusion_dropout = 0.0;
  double post_text_dropout = 0.1;
  double post_audio_dropout = 0.1;
  double post_video_dropout = 0.0;
  double label_bound = 3.0;  // MMSA's H
  bool exclude_zero = true;  // MMSA's excludeZero: positive centre from labels > 0

  template <class V>
  void visit(V& v) {
    v("text_encoder", text_encoder,
      "\"lstm\": LSTM + Linear over the text features; \"first\": the first frame's features "
      "(the [CLS] token of BERT features)");
    v("text_hidden", text_hidden, "hidden size of the text LSTM");
    v("text_out", text_out, "text representation size (text_encoder \"lstm\")");
    v("a_lstm_hidden", a_lstm_hidden, "hidden size of the audio LSTM");
    v("v_lstm_hidden", v_lstm_hidden, "hidden size of the vision LSTM");
    v("audio_out", audio_out, "audio representation size");
    v("video_out", video_out, "vision representation size");
    v("post_fusion_dim", post_fusion_dim, "width of the multimodal head (F*_f)");
    v("post_text_dim", post_text_dim, "width of the text head (F*_t)");
    v("post_audio_dim", post_audio_dim, "width of the audio head (F*_a)");
    v("post_video_dim", post_video_dim, "width of the vision head (F*_v)");
    v("post_fusion_dropout", post_fusion_dropout, "dropout before the multimodal head");
    v("post_text_dropout", post_text_dropout, "dropout before the text head");
    v("post_audio_dropout", post_audio_dropout, "dropout before the audio head");
    v("post_video_dropout", post_video_dropout, "dropout before the vision head");
    v("label_bound", label_bound, "generated unimodal labels are clipped to [-H, H] (MMSA H)");
    v("exclude_zero", exclude_zero, "positive class centre from labels > 0 (else >= 0)");
  }
  void validate() const;
};

class SelfMmImpl : public Model {
 public:
  SelfMmImpl(const SelfMmOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2) from the multimodal head; features "fused", "text", "audio",
  // "vision" (F*_s, B x post_*_dim) and "pred_text", "pred_audio", "pred_vision" (B, output_dim).
  ModelOutput forward(const Batch& batch) override;
  const SelfMmOptions& options() const { return options_; }
  const InputSpec& spec() const { return spec_; }

  // ULGM state, one row per training sample (index = Batch::index of a training batch).
  torch::Tensor labels;                   // (4, N): fusion, text, audio, vision labels
  torch::Tensor visits;                   // (N) long: training passes over each sample
  std::array<torch::Tensor, 4> features;  // (N, post_*_dim): last F*_s, fusion, t, a, v

 private:
  SelfMmOptions options_;
  InputSpec spec_;
  torch::nn::LSTM text_lstm_{nullptr}, audio_lstm_{nullptr}, video_lstm_{nullptr};
  torch::nn::Linear text_out_{nullptr}, audio_out_{nullptr}, video_out_{nullptr};
  std::array<torch::nn::Linear, 4> head1_{nullptr, nullptr, nullptr, nullptr};
  std::array<torch::nn::Linear, 4> head2_{nullptr, nullptr, nullptr, nullptr};
  std::array<torch::nn::Linear, 4> head3_{nullptr, nullptr, nullptr, nullptr};
};
TORCH_MODULE(SelfMm);

// ---- objective ----------------------------------------------------------------------------
// Self-MM's objective and its unimodal label generation module (Yu et al., AAAI 2021, §3.3–3.4;
// as MMSA's trains/multiTask/SELF_MM.py). The state lives in SelfMmImpl's buffers (nn/self_mm.h).

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
Losses self_mm_objective(SelfMmImpl& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa

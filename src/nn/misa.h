// MISA — Modality-Invariant and -Specific Representations for Multimodal Sentiment Analysis.
// Hazarika, Zimmermann, Poria. ACM Multimedia 2020. doi 10.1145/3394171.3413678,
// https://arxiv.org/abs/2005.03545
// Description taken from the paper (§3: utterance-level representations, shared and private
// projections, §3.4 fusion by a Transformer over the six vectors, §3.5 losses) and from MMSA
// (thuiar/MMSA, src/MMSA/models/singleTask/MISA.py and trains/singleTask/MISA.py, PyPI mmsa
// 2.2.1), which follows the authors' code (github.com/declare-lab/MISA); hyperparameters are MMSA's
// MOSI entry in config/config_regression.json (hidden 128, dropout 0.2, diff 0.1, sim 0.3,
// recon 1.0, CMD with 5 moments):
//
//   u_m = [h1_m; h2_m]          two stacked bidirectional LSTMs (hidden D_m) with a LayerNorm
//                               between them; final states of both, (B, 4 D_m)
//   o_m = LN(ReLU(W_m u_m))     projection to width h ("orig", the reconstruction target)
//   p_m = σ(P_m o_m)            private (modality-specific) encoder, one per modality
//   s_m = σ(S o_m)              shared (modality-invariant) encoder, one for all modalities
//   r_m = R_m (p_m + s_m)       reconstruction
//   f   = Transformer([p_t, p_v, p_a, s_t, s_v, s_a])  1 layer, 2 heads, flattened (B, 6h)
//   y   = W_2 ReLU(dropout(W_1 f))
//
// Objective (misa_objective, nn/misa_objective.h): L = L_task + 0.1 L_diff + 0.3 L_sim + 1.0
// L_recon with L_sim the central moment discrepancy between the shared vectors of each pair of
// modalities, L_diff the soft orthogonality ||A^T B||_F^2 between private and shared vectors and
// between private vectors, L_recon the MSE between r_m and o_m.
//
// Deviations:
//   - Text: MMSA feeds fine-tuned BERT (mean over tokens) into project_t; the features here are
//     frozen. text_encoder "lstm" (default) is the authors' non-BERT MISA (the same two bi-LSTMs as
//     audio and vision, for GloVe inputs); "mean" is MMSA's path (masked mean of the token
//     features, for the MMSA layout's BERT features).
//   - Each modality is read with its own valid length (MMSA packs audio and vision with the text
//     length, which only holds for aligned data); a row without valid frames is one zero frame.
//   - The shared/private discriminator of MMSA's module is not built: MMSA's trainer never puts
//     it in the loss (its parameters would get no gradient). The adversarial similarity
//     alternative (use_cmd_sim = false) is not implemented; CMD is MMSA's default.
//   - The CMD's norms are sqrt(x + 1e-12) so that identical moments (e.g. a batch of one) give a
//     finite gradient.
//   - The regression task loss is MSE as in MMSA's MISA trainer (not the L1 of the other models);
//     IEMOCAP uses the per-emotion cross-entropy of task_loss.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/modules/transformerlayer.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "config/options.h"
#include "nn/model.h"

namespace robustmsa {

struct MisaOptions {
  int64_t hidden = 128;  // MMSA MOSI hidden_size
  double dropout = 0.2;
  int64_t fusion_heads = 2;     // MISA's nn.TransformerEncoderLayer(d_model=hidden, nhead=2)
  int64_t fusion_ffn = 2048;    // PyTorch's default dim_feedforward, which MISA keeps
  double fusion_dropout = 0.1;  // PyTorch's default dropout, which MISA keeps
  std::string text_encoder = "lstm";
  double diff_weight = 0.1;
  double sim_weight = 0.3;
  double recon_weight = 1.0;
  int64_t cmd_moments = 5;

  template <class V>
  void visit(V& v) {
    v("hidden", hidden, "width h of the shared and private representations");
    v("dropout", dropout, "dropout in the fusion MLP");
    v("fusion_heads", fusion_heads, "attention heads of the fusion Transformer layer");
    v("fusion_ffn", fusion_ffn, "feed-forward width of the fusion Transformer layer");
    v("fusion_dropout", fusion_dropout, "dropout inside the fusion Transformer layer");
    v("text_encoder", text_encoder,
      "\"lstm\": two bi-LSTMs as for audio/vision (authors' GloVe MISA); \"mean\": masked mean "
      "of the token features (MMSA's BERT path)");
    v("diff_weight", diff_weight, "weight of the difference (soft orthogonality) loss");
    v("sim_weight", sim_weight, "weight of the similarity (CMD) loss");
    v("recon_weight", recon_weight, "weight of the reconstruction loss");
    v("cmd_moments", cmd_moments, "central moments matched by CMD (MISA: 5)");
  }
  void validate() const;
};

class MisaImpl : public Model {
 public:
  MisaImpl(const MisaOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "fused" (B, 6h) and, per modality m in text, audio,
  // vision: "orig_m", "private_m", "shared_m", "recon_m" (B, h); "text"/"audio"/"vision" are
  // p_m + s_m.
  ModelOutput forward(const Batch& batch) override;
  const MisaOptions& options() const { return options_; }

 private:
  MisaOptions options_;
  InputSpec spec_;
  torch::nn::ModuleList rnn1_, rnn2_, rnn_norm_;  // per modality (text's only with "lstm")
  torch::nn::ModuleList project_, project_norm_, private_, recon_;
  torch::nn::Linear shared_{nullptr};
  torch::nn::TransformerEncoderLayer fusion_layer_{nullptr};
  torch::nn::Linear fusion1_{nullptr}, fusion2_{nullptr};
};
TORCH_MODULE(Misa);

// ---- objective ----------------------------------------------------------------------------
// MISA's objective and its losses (Hazarika et al., ACM MM 2020, §3.5; as MMSA's
// trains/singleTask/MISA.py computes them). See nn/misa.h.

// Central moment discrepancy (Zellinger et al., ICLR 2017) between x1 (B, h) and x2 (B, h):
// ||E x1 - E x2|| + sum_{k=2..moments} ||E (x1 - E x1)^k - E (x2 - E x2)^k||, each norm
// sqrt(sum of squares + 1e-12).
torch::Tensor cmd_loss(const torch::Tensor& x1, const torch::Tensor& x2, int64_t moments);

// Soft orthogonality: rows of a and b (B, h) are centred over the batch and scaled to unit L2
// norm (the norm is treated as a constant, + 1e-6), then mean over (h, h) of (A^T B)^2.
torch::Tensor difference_loss(const torch::Tensor& a, const torch::Tensor& b);

// L = task + diff_weight * L_diff + sim_weight * L_sim + recon_weight * L_recon (MMSA's MISA
// trainer; task is MSE for regression). Parts: task, diff, sim, recon.
Losses misa_objective(MisaImpl& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa

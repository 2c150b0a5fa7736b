// TFR-Net — Transformer-based Feature Reconstruction Network.
// Yuan, Li, Xu, Yu, "Transformer-based Feature Reconstruction Network for Robust Multimodal
// Sentiment Analysis", ACM Multimedia 2021. doi 10.1145/3474085.3475585,
// https://dl.acm.org/doi/10.1145/3474085.3475585
// Description from MMSA (the authors' toolkit; PyPI mmsa 2.2.1, MMSA/models/missingTask/TFR_NET/
// {model,alignment,generator,fusion}.py, trains/missingTask/TFR_NET.py) and its MOSI defaults in
// config/config_regression.json ("tfr_net").
//
//   Z_m = Conv1d_m(X̂_m)                              temporal projection to width d (no bias)
//   intra:  S_m = SelfTransformer_m(Z_m)              `self_layers` layers
//   inter:  C_{m<-n} = CrossmodalTransformer_{m,n}(Z_m, Z_n), n != m, `levels` layers
//   H_m = [S_m; C_{m<-n1}; C_{m<-n2}]                 (B, T_m, 3d)
//   G_m = TemporalTransformer_m(H_m^T)^T               attention across the 3d channels, each a
//                                                      T_m-dim token (no positions)
//   reconstruction: X̃_m = Linear_m(G_m)              (B, T_m, D_m), the "linear" generator
//   fusion (c_gate per modality): R = BiGRU(H_m) (packed by valid length);
//     gate = σ(Conv1d_k3(R)); u = tanh(W[H_m; tanh(R) ⊙ gate]); max over valid frames; dropout
//   y = Linear(dropout(LeakyReLU(Linear(BatchNorm([u_l; u_a; u_v])))))
// Loss (objective, on the missing view X̂ of the complete batch X):
//   L = L_task + Σ_m w_m · REC(X̃_m, X_m, M_m),   M_m = frames valid in X but missing in X̂,
//   REC = (SmoothL1_sum(X̃ ⊙ M, X ⊙ M) + w_sim · CMD_3(X̃ ⊙ M, X ⊙ M)) / (|M| · D_m + 1e-4).
// Every attention masks its keys with valid & keep & present (MMSA masks none; MulT's causal
// attn_mask is kept and applies to the temporal transformer as in MMSA).
//
// Deviations:
//   - No BERT: the text is whatever frame features the file holds (MMSA fine-tunes BERT and
//     reconstructs BERT's outputs); the text projection is applied even when D_l == d.
//   - Conv1d uses "same" padding with odd kernels (MMSA's kernel 1/5/3 already are).
//   - The temporal transformer's head count is the largest divisor of T_m not above
//     temporal_heads (MMSA requires T_m % 25 == 0).
//   - Fusion pooling and the GRU lengths use the valid (non-padding) frames; MMSA max-pools over
//     the padded end as well.
//   - The reconstruction loss is exactly 0 when nothing is missing (MMSA's CMD adds sqrt(1e-12)
//     per moment over an empty mask).
//   - Training-time missing views come from robustmsa's uncertain-missing sampler (DESIGN §3)
//     rather than MMSA's per-modality frame-drop rates; a BatchNorm batch of one row uses the
//     running statistics.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <vector>

#include "config/options.h"
#include "nn/layers.h"
#include "nn/model.h"

namespace robustmsa {

struct TfrNetOptions {
  // MMSA config_regression.json, tfr_net, mosi.
  int64_t width = 30;  // dst_feature_dim_nheads [30, 6]
  int64_t heads = 6;
  int64_t levels = 3;           // crossmodal layers (nlevels)
  int64_t self_layers = 3;      // intra-modal transformer: max(nlevels, 3)
  int64_t temporal_layers = 3;  // "final" temporal transformer: max(nlevels, 3)
  int64_t temporal_heads = 25;  // num_temporal_head
  int64_t text_kernel = 1;
  int64_t audio_kernel = 5;
  int64_t vision_kernel = 3;
  double text_dropout = 0.2;
  double attn_dropout = 0.2;
  double attn_dropout_a = 0.1;
  double attn_dropout_v = 0.0;
  double relu_dropout = 0.2;
  double embed_dropout = 0.2;
  double res_dropout = 0.2;
  int64_t fusion_text_hidden = 36;
  int64_t fusion_audio_hidden = 20;
  int64_t fusion_vision_hidden = 48;
  int64_t fusion_gru_layers = 3;
  double fusion_dropout = 0.2;
  int64_t cls_hidden = 128;
  double cls_dropout = 0.0;
  std::vector<double> rec_weights = {5.0, 2.0, 20.0};  // weight_gen_loss (text, audio, vision)
  double sim_weight = 5.0;                             // weight_sim_loss (CMD)
  bool causal = true;                                  // attn_mask

  template <class V>
  void visit(V& v) {
    v("width", width, "hidden width d of the projections and crossmodal transformers");
    v("heads", heads, "attention heads of the modality transformers; must divide width");
    v("levels", levels, "layers of each crossmodal transformer (MMSA nlevels)");
    v("self_layers", self_layers, "layers of each intra-modal transformer");
    v("temporal_layers", temporal_layers, "layers of each temporal (channel-token) transformer");
    v("temporal_heads", temporal_heads,
      "heads of the temporal transformers (the largest divisor of T_m not above this)");
    v("text_kernel", text_kernel, "Conv1d kernel of the text projection (odd)");
    v("audio_kernel", audio_kernel, "Conv1d kernel of the audio projection (odd)");
    v("vision_kernel", vision_kernel, "Conv1d kernel of the vision projection (odd)");
    v("text_dropout", text_dropout, "dropout on the raw text features");
    v("attn_dropout", attn_dropout, "attention dropout with text keys and of self/temporal layers");
    v("attn_dropout_a", attn_dropout_a, "attention dropout of layers with audio keys");
    v("attn_dropout_v", attn_dropout_v, "attention dropout of layers with vision keys");
    v("relu_dropout", relu_dropout, "dropout inside the feed-forward blocks");
    v("embed_dropout", embed_dropout, "dropout on the transformer inputs");
    v("res_dropout", res_dropout, "dropout on each sublayer output before the residual sum");
    v("fusion_text_hidden", fusion_text_hidden, "c_gate hidden size for text");
    v("fusion_audio_hidden", fusion_audio_hidden, "c_gate hidden size for audio");
    v("fusion_vision_hidden", fusion_vision_hidden, "c_gate hidden size for vision");
    v("fusion_gru_layers", fusion_gru_layers, "layers of each c_gate bidirectional GRU");
    v("fusion_dropout", fusion_dropout, "dropout on each pooled c_gate representation");
    v("cls_hidden", cls_hidden, "hidden size of the classifier");
    v("cls_dropout", cls_dropout, "classifier dropout");
    v("rec_weights", rec_weights, "reconstruction loss weights for text, audio, vision");
    v("sim_weight", sim_weight, "weight of the CMD term inside the reconstruction loss");
    v("causal", causal, "MulT's attn_mask on every transformer (MMSA default on)");
  }
  void validate() const;
};

// Transformer over channel tokens: x (B, C, T) with token width T; sqrt(T) scaling, embedding
// dropout, pre-LN layers, final LayerNorm; no positions and no key mask.
class TemporalTransformerImpl : public torch::nn::Module {
 public:
  TemporalTransformerImpl(int64_t dim, int64_t heads, int64_t layers,
                          const TransformerDropouts& dropouts);
  torch::Tensor forward(const torch::Tensor& x, bool causal);

 private:
  int64_t dim_;
  double embed_dropout_;
  torch::nn::ModuleList layers_;
  torch::nn::LayerNorm final_norm_{nullptr};
};
TORCH_MODULE(TemporalTransformer);

// MMSA's c_gate: bidirectional GRU, convolutional gate, tanh projection, max over valid frames.
// (B, T, D) with valid (B, T) -> (B, hidden).
class CGateImpl : public torch::nn::Module {
 public:
  CGateImpl(int64_t in_dim, int64_t hidden, int64_t layers, double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& valid);

 private:
  double dropout_;
  torch::nn::GRU gru_{nullptr};
  torch::nn::Conv1d gate_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(CGate);

class TfrNetImpl : public Model {
 public:
  TfrNetImpl(const TfrNetOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "text"/"audio"/"vision" (pooled c_gate outputs) and
  // "fused" (their concatenation).
  ModelOutput forward(const Batch& batch) override;
  // forward plus the reconstructed features X̃_m (B, T_m, D_m).
  ModelOutput forward_reconstruct(const Batch& batch, std::array<torch::Tensor, 3>* reconstruction);
  const TfrNetOptions& options() const { return options_; }

 private:
  TfrNetOptions options_;
  InputSpec spec_;
  torch::nn::ModuleList projections_;  // FrameProjection per modality
  torch::nn::ModuleList self_;         // TransformerEncoder(d) per modality
  torch::nn::ModuleList crossmodal_;   // index m * 2 + k: target m, source (m + 1 + k) % 3
  torch::nn::ModuleList temporal_;     // TemporalTransformer(T_m) per modality
  torch::nn::ModuleList generators_;   // Linear(3d, D_m) per modality
  torch::nn::ModuleList gates_;        // CGate per modality
  torch::nn::BatchNorm1d cls_norm_{nullptr};
  torch::nn::Linear cls_hidden_{nullptr}, cls_out_{nullptr};
};
TORCH_MODULE(TfrNet);

// Reconstruction loss of MMSA's RECLoss ("combine"): masked SmoothL1 (sum) plus sim_weight times
// the central moment discrepancy (3 moments), divided by the number of masked values + 1e-4;
// exactly 0 when mask (B, T) selects nothing. pred, target (B, T, D).
torch::Tensor tfr_reconstruction_loss(const torch::Tensor& pred, const torch::Tensor& target,
                                      const torch::Tensor& mask, double sim_weight);

// L_task on the missing view + Σ_m w_m REC_m (parts "task", "rec").
Losses tfr_net_objective(TfrNetImpl& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa

// MMIN — Missing Modality Imagination Network.
// Zhao, Li, Jin, "Missing Modality Imagination Network for Emotion Recognition with Uncertain
// Missing Modalities", ACL 2021. doi 10.18653/v1/2021.acl-long.203,
// https://aclanthology.org/2021.acl-long.203
// Description from the paper and the authors' code (github.com/AIM3-RUC/MMIN: models/
// mmin_model.py, utt_fusion_model.py, networks/{autoencoder,lstm,textcnn,classifier}.py and
// scripts/CAP_mmin.sh for the defaults), read through the code search.
//
// Two networks, trained in two phases through the one trainer (Model::phase_of_epoch):
//   phase 0 ("utt_fusion" pre-training, the first pretrain_share of train.epochs): encoders
//     E'_a, E'_v (LSTM + max-pooling over frames, 128), E'_l (TextCNN: Conv kernels 3/4/5 with
//     128 channels, ReLU, max-pooling, dropout, Linear + ReLU to 128) and a classifier C' on
//     [E'_a; E'_l; E'_v], trained on complete batches with the task loss.
//   phase 1 (MMIN): encoders E_a, E_v, E_l initialised from E'_* (once, at the phase change);
//     E'_* frozen. On the missing view X̂:
//       f = [E_a(X̂_a); E_l(X̂_l); E_v(X̂_v)]            (B, 384)
//       r, z = CRA(f)                                  cascaded residual autoencoder, n blocks:
//                                                      x_i = x_{i-1} + o_{i-1}; z_i = Enc_i(x_i);
//                                                      o_i = Dec_i(z_i); r = T(x_n + o_n);
//                                                      z = [z_1; ...; z_n]
//       r_cycle = CRA_cycle(r)                         backward imagination
//       y = C(z)                                       FcClassifier (128, 128) + output layer
//     Loss: w_ce·L_task(y) + w_mse·MSE(r, t) + w_cycle·MSE(r_cycle, stopgrad(f)), where the
//     imagination target t = [E'_a; E'_l; E'_v] of the "reverse" view: the complete features at
//     exactly the frames the missing view lacks (forward imagination of what is missing).
//   Inference: one pass through E_*, CRA and C on whatever is present (phase 1); phase 0
//   validation uses the pre-trained utt-fusion model.
//
// Deviations:
//   - Pooling masks: max-pooling over the frames that exist and survived (0 when none); MMIN
//     pools over every frame, so a missing modality pools the LSTM's response to zeros.
//   - TextCNN windows: the sequence is end-padded by kernel - 1 zero frames so any length works,
//     and a window counts when its first frame is usable.
//   - The missing views come from robustmsa's uncertain-missing sampler (random subsets of
//     modalities plus frame drops, DESIGN §3) instead of MMIN's six fixed missing patterns per
//     sample; the target view generalises MMIN's "reverse" modality inputs to dropped frames.
//   - Regression uses the L1 task loss (MMSA); IEMOCAP uses 4 x 2-way heads (DESIGN §4), not one
//     4-class softmax.
//   - Both phases run in one training run and share its optimiser settings (MMIN pre-trains the
//     utt-fusion model as a separate run); MMIN's per-network gradient clipping becomes the
//     trainer's global clipping (train.grad_clip); no linear learning-rate decay (niter_decay):
//     the trainer keeps the rate constant.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "config/options.h"
#include "nn/model.h"

namespace robustmsa {

struct MminOptions {
  // Defaults: scripts/CAP_mmin.sh of the authors' code.
  int64_t embd_size_a = 128;
  int64_t embd_size_l = 128;
  int64_t embd_size_v = 128;
  int64_t text_channels = 128;  // TextCNN out_channels per kernel height
  double text_dropout = 0.5;    // TextCNN dropout
  std::vector<int64_t> ae_layers = {256, 128, 64};
  int64_t ae_blocks = 5;
  std::vector<int64_t> cls_layers = {128, 128};
  double dropout = 0.5;           // MMIN classifier dropout (dropout_rate, CAP_mmin.sh)
  double pretrain_dropout = 0.3;  // utt-fusion classifier dropout (CAP_utt_fusion.sh)
  double ce_weight = 1.0;
  double mse_weight = 4.0;
  double cycle_weight = 2.0;
  bool share_weight = false;     // the backward autoencoder shares the forward one's weights
  double pretrain_share = 0.25;  // phase 0: 20 utt-fusion epochs of 20 + 60 (the scripts)

  template <class V>
  void visit(V& v) {
    v("embd_size_a", embd_size_a, "audio encoder size (LSTM hidden, max-pooled)");
    v("embd_size_l", embd_size_l, "text encoder size (TextCNN output)");
    v("embd_size_v", embd_size_v, "vision encoder size (LSTM hidden, max-pooled)");
    v("text_channels", text_channels, "TextCNN channels per kernel height (3, 4, 5)");
    v("text_dropout", text_dropout, "dropout on the TextCNN pooled features");
    v("ae_layers", ae_layers, "encoder widths of each residual autoencoder block");
    v("ae_blocks", ae_blocks, "blocks of the cascaded residual autoencoder (n_blocks)");
    v("cls_layers", cls_layers, "hidden widths of the classifier");
    v("dropout", dropout, "classifier dropout (MMIN dropout_rate)");
    v("pretrain_dropout", pretrain_dropout, "dropout of the pre-training (utt-fusion) classifier");
    v("ce_weight", ce_weight, "weight of the task loss");
    v("mse_weight", mse_weight, "weight of the forward imagination loss");
    v("cycle_weight", cycle_weight, "weight of the backward (cycle) imagination loss");
    v("share_weight", share_weight, "share the forward and backward autoencoders' weights");
    v("pretrain_share", pretrain_share,
      "share of train.epochs spent on phase 0 (utt-fusion pre-training on complete data), "
      "rounded, at least one epoch for each phase when train.epochs >= 2; MMIN trains for the "
      "rest");
  }
  void validate() const;
};

// LSTM + masked max-pooling over time: (B, T, D) -> (B, H).
class LstmMaxEncoderImpl : public torch::nn::Module {
 public:
  LstmMaxEncoderImpl(int64_t in_dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  torch::nn::LSTM lstm_{nullptr};
};
TORCH_MODULE(LstmMaxEncoder);

// TextCNN: convolutions of heights 3, 4, 5 over frames, ReLU, masked max-pooling, dropout,
// Linear + ReLU: (B, T, D) -> (B, embd).
class TextCnnImpl : public torch::nn::Module {
 public:
  TextCnnImpl(int64_t in_dim, int64_t channels, int64_t embd, double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  double dropout_;
  torch::nn::ModuleList convs_;
  torch::nn::Linear embd_{nullptr};
};
TORCH_MODULE(TextCnn);

// MMIN's three encoders together: (batch, masks) -> [a; l; v] (B, embd_a + embd_l + embd_v).
class MminEncodersImpl : public torch::nn::Module {
 public:
  MminEncodersImpl(const MminOptions& o, const InputSpec& spec);
  torch::Tensor forward(const Batch& batch, const std::array<torch::Tensor, 3>& masks);

 private:
  LstmMaxEncoder audio_{nullptr}, vision_{nullptr};
  TextCnn text_{nullptr};
};
TORCH_MODULE(MminEncoders);

// Fully connected classifier: hidden Linear + ReLU + dropout layers, then Linear(out).
class FcClassifierImpl : public torch::nn::Module {
 public:
  FcClassifierImpl(int64_t in_dim, const std::vector<int64_t>& hidden, int64_t out, double dropout);
  torch::Tensor forward(torch::Tensor x);

 private:
  double dropout_;
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(FcClassifier);

// Cascaded residual autoencoder (CRA): returns the reconstruction (B, D) and the concatenated
// block latents (B, n_blocks * layers.back()).
class ResidualAeImpl : public torch::nn::Module {
 public:
  ResidualAeImpl(const std::vector<int64_t>& layers, int64_t blocks, int64_t in_dim);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

 private:
  torch::nn::ModuleList encoders_, decoders_;
  torch::nn::Sequential transition_{nullptr};
};
TORCH_MODULE(ResidualAe);

class MminImpl : public Model {
 public:
  MminImpl(const MminOptions& options, const InputSpec& spec);
  // Phase 0: the utt-fusion model; phase 1: MMIN. Features "fused" (phase 0: the encoders'
  // concatenation; phase 1: the CRA latents) and "imagined" (phase 1: the CRA reconstruction).
  ModelOutput forward(const Batch& batch) override;
  int64_t phase_of_epoch(int64_t epoch, int64_t epochs) const override;
  void begin_phase(int64_t phase) override;

  int64_t phase() const;
  const MminOptions& options() const { return options_; }

  // Phase-1 pieces for the objective: f, r, z, r_cycle and the prediction for `batch`.
  struct Imagination {
    torch::Tensor f, r, z, r_cycle, prediction;
  };
  Imagination imagine(const Batch& batch);
  // Imagination target: the frozen pre-trained encoders on `reverse` (no gradient).
  torch::Tensor target(const Batch& reverse);

 private:
  void check_batch(const Batch& batch) const;
  MminOptions options_;
  InputSpec spec_;
  MminEncoders pre_encoders_{nullptr}, encoders_{nullptr};
  FcClassifier pre_classifier_{nullptr}, classifier_{nullptr};
  ResidualAe ae_{nullptr}, ae_cycle_{nullptr};
  torch::Tensor phase_;  // buffer: () long
};
TORCH_MODULE(Mmin);

// Phase 0: task loss of the utt-fusion model on the complete batch. Phase 1: MMIN's loss on the
// missing view (parts "task", "imagination", "cycle").
Losses mmin_objective(MminImpl& model, const Batch& batch, ObjectiveContext& ctx);

// The "reverse" of a missing view: complete features at the valid frames `missing` lacks, every
// other frame zero and masked; present = the modality lost at least one valid frame.
Batch reverse_view(const Batch& complete, const Batch& missing);

}  // namespace robustmsa

// LF-DNN — late-fusion deep neural network baseline.
// Papers (as cited by MMSA's LF_DNN.py): Williams et al., "Recognizing Emotions in Video Using
// Multimodal DNN Feature Fusion", ACL 2018 Grand Challenge and Workshop on Human Multimodal
// Language; Cambria et al., "Benchmarking Multimodal Sentiment Analysis", CICLing 2017.
// Description taken from MMSA (thuiar/MMSA, src/MMSA/models/singleTask/LF_DNN.py and
// subNets/FeatureNets.py, read through the code search) and its MOSI defaults in
// config/config_regression.json: text -> 1-layer LSTM -> final hidden state -> Linear(text_out);
// audio and vision -> mean over time -> BatchNorm -> dropout -> 3 x (Linear + ReLU); concat ->
// dropout -> Linear + ReLU -> Linear + ReLU -> Linear.
//
// Deviations:
//   - MMSA averages audio/vision over all frames in its data loader; we take the masked mean over
//     the frames that exist and survived the missing protocol (0 when none did).
//   - The LSTM's output is read at the last valid (non-padding) frame instead of at the padded end.
//   - MMSA's config lists a text dropout of 0.2 but its TextSubNet resets it to 0 for a 1-layer
//     LSTM; our default text_dropout is therefore 0.0 (the effective MMSA value).
//   - A training batch of one row cannot give batch statistics; BatchNorm then normalises with its
//     running statistics instead of failing.
// Checked against MMSA 2.2.1's LF_DNN (tests/python/mmsa_reference.py): with the same weights and
// inputs without padding, eval-mode outputs agree to 1e-5.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

#include "config/options.h"
#include "nn/model.h"

namespace robustmsa {

struct LfDnnOptions {
  // MMSA MOSI defaults: hidden_dims [128, 16, 128], text_out 256, post_fusion_dim 128,
  // dropouts 0.2 (audio, vision, post-fusion).
  int64_t text_hidden = 128;
  int64_t audio_hidden = 16;
  int64_t vision_hidden = 128;
  int64_t text_out = 256;
  int64_t post_fusion_dim = 128;
  double text_dropout = 0.0;
  double audio_dropout = 0.2;
  double vision_dropout = 0.2;
  double post_fusion_dropout = 0.2;

  template <class V>
  void visit(V& v) {
    v("text_hidden", text_hidden, "hidden size of the text LSTM");
    v("audio_hidden", audio_hidden, "hidden size of the audio subnet");
    v("vision_hidden", vision_hidden, "hidden size of the vision subnet");
    v("text_out", text_out, "size of the text representation after the LSTM");
    v("post_fusion_dim", post_fusion_dim, "hidden size of the post-fusion MLP");
    v("text_dropout", text_dropout,
      "dropout on the LSTM state (MMSA's effective value for a 1-layer LSTM is 0)");
    v("audio_dropout", audio_dropout, "dropout in the audio subnet");
    v("vision_dropout", vision_dropout, "dropout in the vision subnet");
    v("post_fusion_dropout", post_fusion_dropout, "dropout on the fused representation");
  }
  void validate() const;
};

// TFN/LF-DNN pre-fusion subnet: BatchNorm -> dropout -> 3 x (Linear + ReLU). (B, D) -> (B, H).
class SubNetImpl : public torch::nn::Module {
 public:
  SubNetImpl(int64_t in_dim, int64_t hidden, double dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double dropout_;
  torch::nn::BatchNorm1d norm_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr}, linear3_{nullptr};
};
TORCH_MODULE(SubNet);

class LfDnnImpl : public Model {
 public:
  LfDnnImpl(const LfDnnOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "text" (B, text_out), "audio" (B, audio_hidden),
  // "vision" (B, vision_hidden), "fused" (their concatenation in MMSA's order: audio, vision,
  // text).
  ModelOutput forward(const Batch& batch) override;

 private:
  LfDnnOptions options_;
  InputSpec spec_;
  torch::nn::LSTM text_lstm_{nullptr};
  torch::nn::Linear text_out_{nullptr};
  SubNet audio_subnet_{nullptr}, vision_subnet_{nullptr};
  torch::nn::Linear fusion1_{nullptr}, fusion2_{nullptr}, fusion3_{nullptr};
};
TORCH_MODULE(LfDnn);

}  // namespace robustmsa

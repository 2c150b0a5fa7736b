// TFN — Tensor Fusion Network.
// Zadeh, Chen, Poria, Cambria, Morency. "Tensor Fusion Network for Multimodal Sentiment
// Analysis", EMNLP 2017. doi 10.18653/v1/D17-1115, https://aclanthology.org/D17-1115
// Description taken from the paper (§3: modality embedding subnetworks, tensor fusion layer
// z = [h_a; 1] ⊗ [h_v; 1] ⊗ [h_l; 1], sentiment inference subnetwork) and from MMSA (thuiar/MMSA,
// src/MMSA/models/singleTask/TFN.py and subNets/FeatureNets.py, PyPI mmsa 2.2.1); defaults are
// MMSA's MOSI entry in config/config_regression.json:
//
//   h_a = SubNet(mean_t audio), h_v = SubNet(mean_t vision)   BatchNorm, dropout, 3 x Linear+ReLU
//   h_l = Linear(LSTM(text) at the last frame)                 1-layer LSTM
//   z   = vec([1; h_a] ⊗ [1; h_v] ⊗ [1; h_l])                  (B, (a+1)(v+1)(l+1)), MMSA's order
//   y   = Linear(ReLU(Linear(ReLU(Linear(dropout(z))))))
//   regression: y = sigmoid(y) * 6 - 3 (MMSA's constrained output range)
//
// Checked against MMSA 2.2.1's TFN (tests/python/mmsa_reference.py): with the same weights and
// inputs without padding, eval-mode outputs agree to 1e-5.
//
// Deviations:
//   - Audio and vision are averaged over the frames that exist and survived the missing protocol
//     (MMSA averages every frame, padding included, in its data loader); 0 when none did.
//   - The LSTM state is read at the last valid (non-padding) frame, not at the padded end.
//   - The paper's subnetworks are described with 32-unit layers; we keep MMSA's tuned MOSI sizes.
//   - For SIMS the sigmoid range stays MMSA's (-3, 3) unless output_range/output_shift are set.
//   - A training batch of one row normalises with BatchNorm's running statistics (see lf_dnn.h).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

#include "config/options.h"
#include "nn/lf_dnn.h"
#include "nn/model.h"

namespace robustmsa {

struct TfnOptions {
  // MMSA MOSI: hidden_dims [128, 32, 128], text_out 32, post_fusion_dim 64,
  // dropouts [0.3, 0.3, 0.3, 0.5] (audio, vision, text, post-fusion).
  int64_t text_hidden = 128;
  int64_t audio_hidden = 32;
  int64_t vision_hidden = 128;
  int64_t text_out = 32;
  int64_t post_fusion_dim = 64;
  double text_dropout = 0.0;  // MMSA's TextSubNet sets it to 0 for a 1-layer LSTM
  double audio_dropout = 0.3;
  double vision_dropout = 0.3;
  double post_fusion_dropout = 0.5;
  double output_range = 6.0;
  double output_shift = -3.0;

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
    v("post_fusion_dropout", post_fusion_dropout, "dropout on the fusion tensor");
    v("output_range", output_range,
      "regression output = sigmoid(y) * output_range + output_shift (MMSA: 6, -3); 0 = linear");
    v("output_shift", output_shift, "see output_range");
  }
  void validate() const;
};

class TfnImpl : public Model {
 public:
  TfnImpl(const TfnOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "text" (B, text_out), "audio" (B, audio_hidden),
  // "vision" (B, vision_hidden), "fused" the flattened fusion tensor (B, (a+1)(v+1)(l+1)).
  ModelOutput forward(const Batch& batch) override;

 private:
  TfnOptions options_;
  InputSpec spec_;
  torch::nn::LSTM text_lstm_{nullptr};
  torch::nn::Linear text_out_{nullptr};
  SubNet audio_subnet_{nullptr}, vision_subnet_{nullptr};
  torch::nn::Linear fusion1_{nullptr}, fusion2_{nullptr}, fusion3_{nullptr};
};
TORCH_MODULE(Tfn);

}  // namespace robustmsa

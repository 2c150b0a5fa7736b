#include "nn/lf_dnn.h"

#include <torch/torch.h>

#include "nn/layers.h"
#include "util/error.h"

namespace robustmsa {

void LfDnnOptions::validate() const {
  const std::pair<const char*, int64_t> sizes[] = {{"model.text_hidden", text_hidden},
                                                   {"model.audio_hidden", audio_hidden},
                                                   {"model.vision_hidden", vision_hidden},
                                                   {"model.text_out", text_out},
                                                   {"model.post_fusion_dim", post_fusion_dim}};
  for (const auto& [key, n] : sizes) require(n >= 1, key, n, "an integer >= 1");
  const std::pair<const char*, double> rates[] = {
      {"model.text_dropout", text_dropout},
      {"model.audio_dropout", audio_dropout},
      {"model.vision_dropout", vision_dropout},
      {"model.post_fusion_dropout", post_fusion_dropout}};
  for (const auto& [key, p] : rates) require(p >= 0 && p < 1, key, p, "a number in [0, 1)");
}

SubNetImpl::SubNetImpl(int64_t in_dim, int64_t hidden, double dropout) : dropout_(dropout) {
  norm_ = register_module("norm", torch::nn::BatchNorm1d(in_dim));
  linear1_ = register_module("linear1", torch::nn::Linear(in_dim, hidden));
  linear2_ = register_module("linear2", torch::nn::Linear(hidden, hidden));
  linear3_ = register_module("linear3", torch::nn::Linear(hidden, hidden));
}

torch::Tensor SubNetImpl::forward(const torch::Tensor& x) {
  torch::Tensor normed;
  if (is_training() && x.size(0) < 2) {
    // Batch statistics of one row are undefined; use the running ones for this step.
    normed = torch::batch_norm(x, norm_->weight, norm_->bias, norm_->running_mean,
                               norm_->running_var, /*training=*/false, /*momentum=*/0.0,
                               norm_->options.eps(), /*cudnn_enabled=*/false);
  } else {
    normed = norm_(x);
  }
  auto h = torch::dropout(normed, dropout_, is_training());
  h = torch::relu(linear1_(h));
  h = torch::relu(linear2_(h));
  return torch::relu(linear3_(h));  // (B, hidden)
}

LfDnnImpl::LfDnnImpl(const LfDnnOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "lf_dnn");
  const auto& o = options_;
  text_lstm_ = register_module(
      "text_lstm",
      torch::nn::LSTM(torch::nn::LSTMOptions(spec.dim[kText], o.text_hidden).batch_first(true)));
  text_out_ = register_module("text_out", torch::nn::Linear(o.text_hidden, o.text_out));
  audio_subnet_ =
      register_module("audio_subnet", SubNet(spec.dim[kAudio], o.audio_hidden, o.audio_dropout));
  vision_subnet_ = register_module("vision_subnet",
                                   SubNet(spec.dim[kVision], o.vision_hidden, o.vision_dropout));
  const int64_t fused = o.audio_hidden + o.vision_hidden + o.text_out;
  fusion1_ = register_module("fusion1", torch::nn::Linear(fused, o.post_fusion_dim));
  fusion2_ = register_module("fusion2", torch::nn::Linear(o.post_fusion_dim, o.post_fusion_dim));
  fusion3_ = register_module("fusion3", torch::nn::Linear(o.post_fusion_dim, spec.output_dim()));
}

ModelOutput LfDnnImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("lf_dnn: modality '", kModalityNames[m], "' has shape ",
                          batch.x[m].sizes(), "; the model was built for (B, T, ", spec_.dim[m],
                          ")"));
  // Text: the LSTM reads the sequence as given (missing frames are zero, as in the papers) and
  // we take its state at the last frame that is not padding.
  auto states = std::get<0>(text_lstm_->forward(batch.x[kText]));  // (B, T_l, text_hidden)
  auto last = last_masked(states, batch.valid[kText]);             // (B, text_hidden)
  auto text_h = text_out_(torch::dropout(last, options_.text_dropout, is_training()));
  auto audio_h = audio_subnet_(masked_mean(batch.x[kAudio], frame_mask(batch, kAudio)));
  auto vision_h = vision_subnet_(masked_mean(batch.x[kVision], frame_mask(batch, kVision)));
  auto fused = torch::cat({audio_h, vision_h, text_h}, 1);  // (B, a + v + text_out), as MMSA
  auto h = torch::dropout(fused, options_.post_fusion_dropout, is_training());
  h = torch::relu(fusion1_(h));
  h = torch::relu(fusion2_(h));
  ModelOutput out;
  out.prediction = shape_prediction(fusion3_(h), spec_.task);
  out.features["text"] = text_h;
  out.features["audio"] = audio_h;
  out.features["vision"] = vision_h;
  out.features["fused"] = fused;
  return out;
}

}  // namespace robustmsa

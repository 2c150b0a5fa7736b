#include "nn/tfn.h"

#include <torch/torch.h>

#include "nn/layers.h"
#include "util/error.h"

namespace robustmsa {

void TfnOptions::validate() const {
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
  const double fused = static_cast<double>(audio_hidden + 1) *
                       static_cast<double>(vision_hidden + 1) * static_cast<double>(text_out + 1);
  if (fused > 5e7)
    throw ConfigError(str("config key 'model.text_out': the fusion tensor would have ", fused,
                          " entries per sample ((audio_hidden+1)(vision_hidden+1)(text_out+1)); "
                          "expected at most 5e7"));
}

TfnImpl::TfnImpl(const TfnOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "tfn");
  const auto& o = options_;
  text_lstm_ = register_module(
      "text_lstm",
      torch::nn::LSTM(torch::nn::LSTMOptions(spec.dim[kText], o.text_hidden).batch_first(true)));
  text_out_ = register_module("text_out", torch::nn::Linear(o.text_hidden, o.text_out));
  audio_subnet_ =
      register_module("audio_subnet", SubNet(spec.dim[kAudio], o.audio_hidden, o.audio_dropout));
  vision_subnet_ = register_module("vision_subnet",
                                   SubNet(spec.dim[kVision], o.vision_hidden, o.vision_dropout));
  const int64_t fused = (o.audio_hidden + 1) * (o.vision_hidden + 1) * (o.text_out + 1);
  fusion1_ = register_module("fusion1", torch::nn::Linear(fused, o.post_fusion_dim));
  fusion2_ = register_module("fusion2", torch::nn::Linear(o.post_fusion_dim, o.post_fusion_dim));
  fusion3_ = register_module("fusion3", torch::nn::Linear(o.post_fusion_dim, spec.output_dim()));
}

ModelOutput TfnImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("tfn: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
  const int64_t b = batch.x[kText].size(0);
  // Modality embedding subnetworks (paper §3.1).
  auto states = std::get<0>(text_lstm_->forward(batch.x[kText]));  // (B, T_l, text_hidden)
  auto last = last_masked(states, batch.valid[kText]);             // (B, text_hidden)
  auto text_h = text_out_(torch::dropout(last, options_.text_dropout, is_training()));
  auto audio_h = audio_subnet_(masked_mean(batch.x[kAudio], frame_mask(batch, kAudio)));
  auto vision_h = vision_subnet_(masked_mean(batch.x[kVision], frame_mask(batch, kVision)));
  // Tensor fusion layer (§3.2): the outer product of the 1-extended embeddings keeps unimodal,
  // bimodal and trimodal interactions; flattened audio-major, then vision, then text (as MMSA).
  auto one = torch::ones({b, 1}, audio_h.options());
  auto a1 = torch::cat({one, audio_h}, 1);                 // (B, a+1)
  auto v1 = torch::cat({one, vision_h}, 1);                // (B, v+1)
  auto l1 = torch::cat({one, text_h}, 1);                  // (B, l+1)
  auto av = torch::bmm(a1.unsqueeze(2), v1.unsqueeze(1));  // (B, a+1, v+1)
  auto fused = torch::bmm(av.reshape({b, -1, 1}), l1.unsqueeze(1)).reshape({b, -1});
  // Sentiment inference subnetwork (§3.3).
  auto h = torch::dropout(fused, options_.post_fusion_dropout, is_training());
  h = torch::relu(fusion1_(h));
  h = torch::relu(fusion2_(h));
  auto y = fusion3_(h);  // (B, output_dim)
  if (spec_.task != Task::kIemocap && options_.output_range != 0.0)
    y = torch::sigmoid(y) * options_.output_range + options_.output_shift;
  ModelOutput out;
  out.prediction = shape_prediction(y, spec_.task);
  out.features["text"] = text_h;
  out.features["audio"] = audio_h;
  out.features["vision"] = vision_h;
  out.features["fused"] = fused;
  return out;
}

}  // namespace robustmsa

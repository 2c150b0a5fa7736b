#include "nn/self_mm.h"

#include <torch/torch.h>

#include "nn/layers.h"
#include "nn/packed_rnn.h"
#include "util/error.h"

namespace robustmsa {

void SelfMmOptions::validate() const {
  const std::pair<const char*, int64_t> sizes[] = {{"model.text_hidden", text_hidden},
                                                   {"model.text_out", text_out},
                                                   {"model.a_lstm_hidden", a_lstm_hidden},
                                                   {"model.v_lstm_hidden", v_lstm_hidden},
                                                   {"model.audio_out", audio_out},
                                                   {"model.video_out", video_out},
                                                   {"model.post_fusion_dim", post_fusion_dim},
                                                   {"model.post_text_dim", post_text_dim},
                                                   {"model.post_audio_dim", post_audio_dim},
                                                   {"model.post_video_dim", post_video_dim}};
  for (const auto& [key, n] : sizes) require(n >= 1, key, n, "an integer >= 1");
  const std::pair<const char*, double> rates[] = {
      {"model.post_fusion_dropout", post_fusion_dropout},
      {"model.post_text_dropout", post_text_dropout},
      {"model.post_audio_dropout", post_audio_dropout},
      {"model.post_video_dropout", post_video_dropout}};
  for (const auto& [key, p] : rates) require(p >= 0 && p < 1, key, p, "a number in [0, 1)");
  require(label_bound > 0, "model.label_bound", label_bound, "a number > 0");
  if (text_encoder != "lstm" && text_encoder != "first")
    throw ConfigError(str("config key 'model.text_encoder': got '", text_encoder,
                          "'; expected \"lstm\" or \"first\""));
}

SelfMmImpl::SelfMmImpl(const SelfMmOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "self_mm");
  if (spec.train_size < 0)
    throw DataError(
        str("model 'self_mm': training split size ", spec.train_size, "; expected >= 0"));
  const auto& o = options_;
  auto lstm = [](int64_t in, int64_t hidden) {
    return torch::nn::LSTM(torch::nn::LSTMOptions(in, hidden).batch_first(true));
  };
  int64_t text_dim = spec.dim[kText];
  if (o.text_encoder == "lstm") {
    text_lstm_ = register_module("text_lstm", lstm(spec.dim[kText], o.text_hidden));
    text_out_ = register_module("text_out", torch::nn::Linear(o.text_hidden, o.text_out));
    text_dim = o.text_out;
  }
  audio_lstm_ = register_module("audio_lstm", lstm(spec.dim[kAudio], o.a_lstm_hidden));
  audio_out_ = register_module("audio_out", torch::nn::Linear(o.a_lstm_hidden, o.audio_out));
  video_lstm_ = register_module("video_lstm", lstm(spec.dim[kVision], o.v_lstm_hidden));
  video_out_ = register_module("video_out", torch::nn::Linear(o.v_lstm_hidden, o.video_out));
  const int64_t in[4] = {text_dim + o.audio_out + o.video_out, text_dim, o.audio_out, o.video_out};
  const int64_t width[4] = {o.post_fusion_dim, o.post_text_dim, o.post_audio_dim, o.post_video_dim};
  const char* names[4] = {"fusion", "text", "audio", "vision"};
  for (int k = 0; k < 4; ++k) {
    const std::string n = names[k];
    head1_[k] = register_module("post_" + n + "1", torch::nn::Linear(in[k], width[k]));
    head2_[k] = register_module("post_" + n + "2", torch::nn::Linear(width[k], width[k]));
    head3_[k] = register_module("post_" + n + "3", torch::nn::Linear(width[k], spec.output_dim()));
  }
  const int64_t n = spec.train_size;
  labels = register_buffer("ulgm_labels", torch::zeros({4, n}));
  visits = register_buffer("ulgm_visits", torch::zeros({n}, torch::kLong));
  for (int k = 0; k < 4; ++k)
    features[k] =
        register_buffer(std::string("ulgm_features_") + names[k], torch::zeros({n, width[k]}));
}

ModelOutput SelfMmImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("self_mm: modality '", kModalityNames[m], "' has shape ",
                          batch.x[m].sizes(), "; the model was built for (B, T, ", spec_.dim[m],
                          ")"));
  // Unimodal representations: the final LSTM state over the valid frames (AuViSubNet).
  auto last_state = [&batch](torch::nn::LSTM& rnn, int m) {
    return packed_lstm(*rnn, batch.x[m], batch.valid[m]).second.select(0, 0);  // (B, H)
  };
  torch::Tensor text = options_.text_encoder == "lstm"
                           ? text_out_(last_state(text_lstm_, kText))
                           : batch.x[kText].select(1, 0);  // [CLS] of BERT features
  auto audio = audio_out_(last_state(audio_lstm_, kAudio));
  auto video = video_out_(last_state(video_lstm_, kVision));
  const std::array<torch::Tensor, 4> in = {torch::cat({text, audio, video}, -1), text, audio,
                                           video};
  const double drop[4] = {options_.post_fusion_dropout, options_.post_text_dropout,
                          options_.post_audio_dropout, options_.post_video_dropout};
  ModelOutput out;
  const char* feature_names[4] = {"fused", "text", "audio", "vision"};
  const char* pred_names[4] = {"", "pred_text", "pred_audio", "pred_vision"};
  for (int k = 0; k < 4; ++k) {
    auto f = torch::relu(head1_[k](torch::dropout(in[k], drop[k], is_training())));  // F*_k
    auto y = head3_[k](torch::relu(head2_[k](f)));  // (B, output_dim)
    out.features[feature_names[k]] = f;
    if (k == 0)
      out.prediction = shape_prediction(y, spec_.task);
    else
      out.features[pred_names[k]] = y;
  }
  return out;
}

}  // namespace robustmsa

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

// ---- objective ----------------------------------------------------------------------------

namespace {

constexpr double kMin = 1e-8;  // MMSA's MIN

void check_index(const SelfMmImpl& model, const torch::Tensor& index) {
  const int64_t n = model.visits.size(0);
  if (index.numel() == 0) return;
  const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
  if (lo < 0 || hi >= n)
    throw RunError(str("self_mm: training sample index ", lo < 0 ? lo : hi,
                       " is outside the model's ", n,
                       " rows of unimodal-label state (InputSpec::train_size); expected indices "
                       "of the training split the model was built for"));
}

// Mean of the stored representations of samples whose label is positive / negative, over the
// samples trained on so far: (2, D) = [positive centre, negative centre]; an empty class gives 0.
torch::Tensor centres(const torch::Tensor& feats, const torch::Tensor& labels,
                      const torch::Tensor& seen, bool exclude_zero) {
  auto pos = (exclude_zero ? labels > 0 : labels >= 0) & seen;  // (N)
  auto neg = (labels < 0) & seen;
  auto mean = [&feats](const torch::Tensor& sel) {
    auto w = sel.to(feats.dtype());
    return (feats * w.unsqueeze(1)).sum(0) / w.sum().clamp_min(1.0);  // (D)
  };
  return torch::stack({mean(pos), mean(neg)});
}

// (d^n - d^p) / (d^p + MIN) of representations f (B, D) to the centres (2, D).
torch::Tensor relative_distance(const torch::Tensor& f, const torch::Tensor& c) {
  auto dp = (f - c[0]).norm(2, -1);
  auto dn = (f - c[1]).norm(2, -1);
  return (dn - dp) / (dp + kMin);
}

}  // namespace

void ulgm_init(SelfMmImpl& model, const torch::Tensor& index, const torch::Tensor& label) {
  torch::NoGradGuard no_grad;
  check_index(model, index);
  auto idx = index.to(model.visits.device(), torch::kLong);
  auto fresh = model.visits.index_select(0, idx) == 0;  // (B)
  auto y = label.reshape({-1}).to(model.labels.device(), model.labels.scalar_type());
  auto current = model.labels.index_select(1, idx);  // (4, B)
  auto init = torch::where(fresh.unsqueeze(0), y.unsqueeze(0).expand_as(current), current);
  model.labels.index_copy_(1, idx, init);
}

void ulgm_update(SelfMmImpl& model, const torch::Tensor& index,
                 const std::array<torch::Tensor, 4>& feats) {
  torch::NoGradGuard no_grad;
  check_index(model, index);
  auto idx = index.to(model.visits.device(), torch::kLong);
  const auto& o = model.options();
  auto seen = model.visits > 0;  // samples with stored representations, before this step
  auto n = (model.visits.index_select(0, idx) + 1).to(model.labels.dtype());  // this epoch (B)
  model.visits.index_add_(0, idx, torch::ones_like(idx));
  if ((n > 1).any().item<bool>()) {
    std::array<torch::Tensor, 4> delta;
    for (int k = 0; k < 4; ++k) {
      auto c = centres(model.features[k], model.labels[k], seen, o.exclude_zero);
      delta[k] = relative_distance(feats[k].detach().to(c.dtype()), c);  // (B)
    }
    auto y_f = model.labels[0].index_select(0, idx);  // multimodal labels (never change)
    for (int k = 1; k < 4; ++k) {
      auto alpha = delta[k] / (delta[0] + kMin);
      auto estimate = 0.5 * alpha * y_f + 0.5 * (y_f + delta[k] - delta[0]);  // Eq. 8–9
      estimate = torch::nan_to_num(estimate, 0.0, o.label_bound, -o.label_bound)
                     .clamp(-o.label_bound, o.label_bound);
      auto old = model.labels[k].index_select(0, idx);
      auto updated = (n - 1) / (n + 1) * old + 2.0 / (n + 1) * estimate;  // Eq. 10
      model.labels[k].index_copy_(0, idx, torch::where(n > 1, updated, old));
    }
  }
  for (int k = 0; k < 4; ++k)
    model.features[k].index_copy_(0, idx, feats[k].detach().to(model.features[k].dtype()));
}

Losses self_mm_objective(SelfMmImpl& model, const Batch& batch, ObjectiveContext& ctx) {
  ModelOutput out = model.forward(batch);
  const int64_t b = batch.size();
  const std::array<torch::Tensor, 4> pred = {out.prediction, out.features.at("pred_text"),
                                             out.features.at("pred_audio"),
                                             out.features.at("pred_vision")};
  const char* parts[4] = {"task", "text", "audio", "vision"};
  Losses losses;
  if (ctx.task == Task::kIemocap) {
    losses.total = torch::zeros({}, out.prediction.options());
    for (int k = 0; k < 4; ++k) {
      auto l = task_loss(shape_prediction(pred[k], Task::kIemocap), batch.label, ctx.task);
      losses.total = losses.total + l;
      losses.parts.emplace_back(parts[k], l.detach());
    }
    return losses;
  }
  if (!batch.label.defined()) throw RunError("self_mm_objective: the batch has no labels");
  ulgm_init(model, batch.index, batch.label);
  auto idx = batch.index.to(model.labels.device(), torch::kLong);
  auto target = model.labels.index_select(1, idx).to(out.prediction.device());  // (4, B)
  losses.total = torch::zeros({}, out.prediction.options());
  for (int k = 0; k < 4; ++k) {
    auto err = (pred[k].reshape({b}) - target[k]).abs();
    // The multimodal task has weight 1; a subtask counts more the further its label has moved.
    auto w = k == 0 ? torch::ones_like(err) : torch::tanh((target[k] - target[0]).abs());
    auto l = (w * err).mean();
    losses.total = losses.total + l;
    losses.parts.emplace_back(parts[k], l.detach());
  }
  ulgm_update(model, batch.index,
              {out.features.at("fused"), out.features.at("text"), out.features.at("audio"),
               out.features.at("vision")});
  return losses;
}

}  // namespace robustmsa

#include "nn/mctn.h"

#include <torch/torch.h>

#include <algorithm>

#include "nn/layers.h"
#include "nn/packed_rnn.h"
#include "util/error.h"

namespace robustmsa {

void MctnOptions::validate() const {
  require(hidden >= 1, "model.hidden", hidden, "an integer >= 1");
  const std::pair<const char*, double> weights[] = {
      {"model.translation_weight", translation_weight},
      {"model.cycle_weight", cycle_weight},
      {"model.second_weight", second_weight},
      {"model.task_weight", task_weight}};
  for (const auto& [key, w] : weights) require(w >= 0, key, w, "a number >= 0");
}

// ---- encoder / decoder ------------------------------------------------------------------------

MctnEncoderImpl::MctnEncoderImpl(int64_t in_dim, int64_t hidden)
    : in_dim_(in_dim), hidden_(hidden) {
  rnn_ = register_module(
      "rnn", torch::nn::LSTM(
                 torch::nn::LSTMOptions(in_dim, hidden).bidirectional(true).batch_first(true)));
  fc_ = register_module("fc",
                        torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
}

std::pair<torch::Tensor, torch::Tensor> MctnEncoderImpl::forward(const torch::Tensor& x,
                                                                 const torch::Tensor& valid) {
  // Inputs narrower than the encoder are zero-padded (MMSA pads every modality to one width).
  auto in = x.size(2) < in_dim_
                ? torch::nn::functional::pad(
                      x, torch::nn::functional::PadFuncOptions({0, in_dim_ - x.size(2)}))
                : x;
  auto [seq, h] = packed_lstm(*rnn_, in, valid);                              // (B,T,2H), (2,B,H)
  auto states = seq.narrow(2, 0, hidden_) + seq.narrow(2, hidden_, hidden_);  // (B, T, H)
  auto s = torch::tanh(fc_(h[0] + h[1]));                                     // (B, H)
  return {states, s};
}

MctnDecoderImpl::MctnDecoderImpl(int64_t out_dim, int64_t hidden) {
  rnn_ = register_module(
      "rnn", torch::nn::LSTM(torch::nn::LSTMOptions(out_dim, hidden).batch_first(true)));
  score_ = register_module("score",
                           torch::nn::Linear(torch::nn::LinearOptions(hidden, hidden).bias(false)));
  out_ = register_module("out", torch::nn::Linear(2 * hidden, out_dim));
}

torch::Tensor MctnDecoderImpl::forward(const torch::Tensor& target, const torch::Tensor& states,
                                       const torch::Tensor& s, const torch::Tensor& source_mask) {
  const int64_t b = target.size(0), t = target.size(1);
  // Teacher forcing: step t reads target frame t - 1 (a zero frame at t = 0).
  auto shifted = torch::cat(
      {torch::zeros({b, 1, target.size(2)}, target.options()), target.narrow(1, 0, t - 1)}, 1);
  auto h0 = s.unsqueeze(0).contiguous();  // (1, B, H)
  auto o = std::get<0>(rnn_->forward(shifted, std::make_tuple(h0, torch::zeros_like(h0))));
  auto scores = torch::bmm(o, score_(states).transpose(1, 2));  // (B, T_tgt, T_src)
  auto allowed = source_mask.unsqueeze(1);                      // (B, 1, T_src)
  auto weights = torch::softmax(scores.masked_fill(allowed.logical_not(), -1e9), -1) *
                 allowed.any(-1, /*keepdim=*/true).to(scores.dtype());  // rows without a source: 0
  auto context = torch::bmm(weights, states);                           // (B, T_tgt, H)
  return out_(torch::cat({o, context}, -1));                            // (B, T_tgt, D_tgt)
}

// ---- model --------------------------------------------------------------------------------------

MctnImpl::MctnImpl(const MctnOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "mctn");
  const int64_t h = options_.hidden;
  pad_dim_ = std::max({spec.dim[kText], spec.dim[kAudio], spec.dim[kVision]});
  encoder1_ = register_module("encoder1", MctnEncoder(pad_dim_, h));
  to_audio_ = register_module("to_audio", MctnDecoder(spec.dim[kAudio], h));
  to_text_ = register_module("to_text", MctnDecoder(spec.dim[kText], h));
  encoder2_ = register_module("encoder2", MctnEncoder(h, h));
  to_vision_ = register_module("to_vision", MctnDecoder(spec.dim[kVision], h));
  head_rnn_ =
      register_module("head_rnn", torch::nn::LSTM(torch::nn::LSTMOptions(h, h).batch_first(true)));
  head_attn_ = register_module("head_attn", torch::nn::Linear(h, 1));
  head_out_ = register_module("head_out", torch::nn::Linear(h, spec.output_dim()));
}

ModelOutput MctnImpl::forward(const Batch& batch) { return run(batch, false); }

ModelOutput MctnImpl::forward_with_translations(const Batch& batch) { return run(batch, true); }

ModelOutput MctnImpl::run(const Batch& batch, bool translate) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("mctn: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
  const auto& valid = batch.valid;
  auto text_mask = frame_mask(batch, kText);
  auto [joint1, s1] = encoder1_(batch.x[kText], valid[kText]);  // (B, T_l, H), (B, H)
  auto [joint2, s2] = encoder2_(joint1, valid[kText]);          // (B, T_l, H), (B, H)
  // Regression head: an LSTM over the joint representation, attention pooling over the valid
  // frames (MMSA's Regression: softmax over time of tanh(w · state)).
  auto acts = packed_lstm(*head_rnn_, joint2, valid[kText]).first;  // (B, T_l, H)
  auto score = torch::tanh(head_attn_(acts)).squeeze(-1);           // (B, T_l)
  auto usable = valid[kText];
  auto attn = torch::softmax(score.masked_fill(usable.logical_not(), -1e9), -1) *
              usable.any(-1, /*keepdim=*/true).to(score.dtype());
  auto pooled = (acts * attn.unsqueeze(-1)).sum(1);  // (B, H)
  ModelOutput out;
  out.prediction = shape_prediction(head_out_(pooled), spec_.task);
  out.features["fused"] = pooled;
  out.features["text"] = s1;
  if (translate) {
    auto audio_hat = to_audio_(batch.x[kAudio], joint1, s1, text_mask);  // text -> audio
    auto [back_states, back_s] = encoder1_(audio_hat, valid[kAudio]);    // cycle
    auto text_hat = to_text_(batch.x[kText], back_states, back_s, valid[kAudio]);
    auto vision_hat = to_vision_(batch.x[kVision], joint2, s2, text_mask);  // joint -> vision
    out.features["audio_hat"] = audio_hat;
    out.features["text_hat"] = text_hat;
    out.features["vision_hat"] = vision_hat;
  }
  return out;
}

// ---- objective ----------------------------------------------------------------------------

torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target,
                         const torch::Tensor& valid) {
  auto w = valid.to(pred.dtype()).unsqueeze(-1);  // (B, T, 1)
  auto count = w.sum() * static_cast<double>(pred.size(2));
  return ((pred - target).pow(2) * w).sum() / count.clamp_min(1.0);
}

Losses mctn_objective(MctnImpl& mctn, const Batch& batch, ObjectiveContext& ctx) {
  const MctnOptions& o = mctn.options();
  ModelOutput out = mctn.forward_with_translations(batch);
  auto task = task_loss(out.prediction, batch.label, ctx.task);
  auto translation = masked_mse(out.features.at("audio_hat"), batch.x[kAudio], batch.valid[kAudio]);
  auto cycle = masked_mse(out.features.at("text_hat"), batch.x[kText], batch.valid[kText]);
  auto second = masked_mse(out.features.at("vision_hat"), batch.x[kVision], batch.valid[kVision]);
  Losses losses;
  losses.total = o.task_weight * task + o.translation_weight * translation +
                 o.cycle_weight * cycle + o.second_weight * second;
  losses.parts = {{"task", task.detach()},
                  {"translation", translation.detach()},
                  {"cycle", cycle.detach()},
                  {"second", second.detach()}};
  return losses;
}

}  // namespace robustmsa

#include "nn/tfr_net.h"

#include <torch/torch.h>

#include <cmath>

#include "nn/packed_rnn.h"
#include "util/error.h"

namespace robustmsa {

namespace {

// Largest divisor of n that is <= cap (at least 1).
int64_t divisor_at_most(int64_t n, int64_t cap) {
  for (int64_t h = std::min(n, cap); h > 1; --h)
    if (n % h == 0) return h;
  return 1;
}

// Central moment discrepancy with 3 moments (Zellinger et al. 2017), as MMSA's CMD.
torch::Tensor cmd(const torch::Tensor& a, const torch::Tensor& b) {
  auto x1 = a.reshape({-1, a.size(-1)});
  auto x2 = b.reshape({-1, b.size(-1)});
  auto m1 = x1.mean(0), m2 = x2.mean(0);
  auto norm = [](const torch::Tensor& u, const torch::Tensor& v) {
    return ((u - v).pow(2).sum() + 1e-12).sqrt();
  };
  auto s1 = x1 - m1, s2 = x2 - m2;
  auto total = norm(m1, m2);
  for (int k = 2; k <= 3; ++k) total = total + norm(s1.pow(k).mean(0), s2.pow(k).mean(0));
  return total;
}

}  // namespace

void TfrNetOptions::validate() const {
  require(width >= 1, "model.width", width, "an integer >= 1");
  require(heads >= 1, "model.heads", heads, "an integer >= 1");
  if (width % heads != 0)
    throw ConfigError(str("config key 'model.heads': hidden width ", width,
                          " is not divisible by heads ", heads, "; expected a divisor of ", width));
  const std::pair<const char*, int64_t> counts[] = {
      {"model.levels", levels},
      {"model.self_layers", self_layers},
      {"model.temporal_layers", temporal_layers},
      {"model.temporal_heads", temporal_heads},
      {"model.fusion_text_hidden", fusion_text_hidden},
      {"model.fusion_audio_hidden", fusion_audio_hidden},
      {"model.fusion_vision_hidden", fusion_vision_hidden},
      {"model.fusion_gru_layers", fusion_gru_layers},
      {"model.cls_hidden", cls_hidden}};
  for (const auto& [key, n] : counts) require(n >= 1, key, n, "an integer >= 1");
  const std::pair<const char*, int64_t> kernels[] = {{"model.text_kernel", text_kernel},
                                                     {"model.audio_kernel", audio_kernel},
                                                     {"model.vision_kernel", vision_kernel}};
  for (const auto& [key, k] : kernels) require(k >= 1 && k % 2 == 1, key, k, "an odd integer >= 1");
  const std::pair<const char*, double> rates[] = {
      {"model.text_dropout", text_dropout},     {"model.attn_dropout", attn_dropout},
      {"model.attn_dropout_a", attn_dropout_a}, {"model.attn_dropout_v", attn_dropout_v},
      {"model.relu_dropout", relu_dropout},     {"model.embed_dropout", embed_dropout},
      {"model.res_dropout", res_dropout},       {"model.fusion_dropout", fusion_dropout},
      {"model.cls_dropout", cls_dropout}};
  for (const auto& [key, p] : rates) require(p >= 0 && p < 1, key, p, "a number in [0, 1)");
  require(rec_weights.size() == 3, "model.rec_weights", rec_weights.size(),
          "3 weights (text, audio, vision)");
  for (double w : rec_weights) require(w >= 0, "model.rec_weights", w, "numbers >= 0");
  require(sim_weight >= 0, "model.sim_weight", sim_weight, "a number >= 0");
}

// ---- blocks -------------------------------------------------------------------------------------

TemporalTransformerImpl::TemporalTransformerImpl(int64_t dim, int64_t heads, int64_t layers,
                                                 const TransformerDropouts& dropouts)
    : dim_(dim), embed_dropout_(dropouts.embed) {
  for (int64_t i = 0; i < layers; ++i) layers_->push_back(TransformerLayer(dim, heads, dropouts));
  layers_ = register_module("layers", layers_);
  final_norm_ =
      register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

torch::Tensor TemporalTransformerImpl::forward(const torch::Tensor& x, bool causal) {
  auto h = torch::dropout(x * std::sqrt(static_cast<double>(dim_)), embed_dropout_, is_training());
  auto all = torch::ones({x.size(0), x.size(1)}, x.options().dtype(torch::kBool));  // (B, C)
  for (const auto& layer : *layers_)
    h = layer->as<TransformerLayerImpl>()->forward(h, torch::Tensor(), all, causal);
  return final_norm_(h);  // (B, C, T)
}

CGateImpl::CGateImpl(int64_t in_dim, int64_t hidden, int64_t layers, double dropout)
    : dropout_(dropout) {
  gru_ = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(in_dim, hidden)
                                                   .num_layers(layers)
                                                   .bidirectional(true)
                                                   .batch_first(true)));
  gate_ = register_module("gate",
                          torch::nn::Conv1d(torch::nn::Conv1dOptions(2 * hidden, 1, 3).padding(1)));
  fc_ = register_module("fc", torch::nn::Linear(2 * hidden + in_dim, hidden));
}

torch::Tensor CGateImpl::forward(const torch::Tensor& x, const torch::Tensor& valid) {
  const int64_t t = x.size(1);
  // Valid frames first, in order (the MulT layout pads at the front, MMSA's at the end); the
  // result is pooled over valid frames only, so the order of the rest does not matter.
  auto order = valid_first_order(valid);                                             // (B, T)
  auto xs = x.gather(1, order.unsqueeze(-1).expand_as(x));                           // (B, T, D)
  auto count = valid.sum(1);                                                         // (B)
  auto first = torch::arange(t, count.options()).unsqueeze(0) < count.unsqueeze(1);  // (B, T)
  // The GRU reads each row up to its last valid frame (packed), so the backward direction starts
  // at the row's real end; empty rows read one (zero) frame and are pooled to 0 below.
  auto lengths = sequence_lengths(valid);  // (B)
  auto packed = torch::nn::utils::rnn::pack_padded_sequence(xs, lengths, /*batch_first=*/true,
                                                            /*enforce_sorted=*/false);
  auto states = std::get<0>(gru_->forward_with_packed_input(packed));
  auto r = std::get<0>(torch::nn::utils::rnn::pad_packed_sequence(states, /*batch_first=*/true,
                                                                  /*padding_value=*/0.0, t));
  auto gate = torch::sigmoid(gate_(r.transpose(1, 2)).transpose(1, 2));  // (B, T, 1)
  auto gated = torch::tanh(r) * gate;                                    // (B, T, 2h)
  auto u = torch::tanh(fc_(torch::cat({xs, gated}, -1)));                // (B, T, h)
  return torch::dropout(masked_max(u, first), dropout_, is_training());  // (B, h)
}

// ---- the model ----------------------------------------------------------------------------------

TfrNetImpl::TfrNetImpl(const TfrNetOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "tfr_net");
  const auto& o = options_;
  const int64_t kernels[3] = {o.text_kernel, o.audio_kernel, o.vision_kernel};
  const double key_attn_dropout[3] = {o.attn_dropout, o.attn_dropout_a, o.attn_dropout_v};
  const int64_t fusion_hidden[3] = {o.fusion_text_hidden, o.fusion_audio_hidden,
                                    o.fusion_vision_hidden};
  TransformerDropouts own{o.attn_dropout, o.relu_dropout, o.res_dropout, o.embed_dropout};
  for (int m = 0; m < kNumModalities; ++m) {
    projections_->push_back(FrameProjection(spec.dim[m], o.width, kernels[m]));
    // MMSA gives each intra-modal transformer the attention dropout of its own modality's keys.
    TransformerDropouts self{key_attn_dropout[m], o.relu_dropout, o.res_dropout, o.embed_dropout};
    self_->push_back(TransformerEncoder(o.width, o.heads, o.self_layers, self));
    for (int k = 0; k < 2; ++k) {
      const int n = (m + 1 + k) % 3;
      TransformerDropouts d{key_attn_dropout[n], o.relu_dropout, o.res_dropout, o.embed_dropout};
      crossmodal_->push_back(TransformerEncoder(o.width, o.heads, o.levels, d));
    }
    temporal_->push_back(TemporalTransformer(
        spec.len[m], divisor_at_most(spec.len[m], o.temporal_heads), o.temporal_layers, own));
    generators_->push_back(torch::nn::Linear(3 * o.width, spec.dim[m]));
    gates_->push_back(CGate(3 * o.width, fusion_hidden[m], o.fusion_gru_layers, o.fusion_dropout));
  }
  projections_ = register_module("projections", projections_);
  self_ = register_module("self", self_);
  crossmodal_ = register_module("crossmodal", crossmodal_);
  temporal_ = register_module("temporal", temporal_);
  generators_ = register_module("generators", generators_);
  gates_ = register_module("gates", gates_);
  const int64_t pooled = fusion_hidden[0] + fusion_hidden[1] + fusion_hidden[2];
  cls_norm_ = register_module("cls_norm", torch::nn::BatchNorm1d(pooled));
  cls_hidden_ = register_module("cls_hidden", torch::nn::Linear(pooled, o.cls_hidden));
  cls_out_ = register_module("cls_out", torch::nn::Linear(o.cls_hidden, spec.output_dim()));
}

ModelOutput TfrNetImpl::forward(const Batch& batch) { return forward_reconstruct(batch, nullptr); }

ModelOutput TfrNetImpl::forward_reconstruct(const Batch& batch,
                                            std::array<torch::Tensor, 3>* reconstruction) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m] ||
        batch.x[m].size(1) != spec_.len[m])
      throw DataError(str("tfr_net: modality '", kModalityNames[m], "' has shape ",
                          batch.x[m].sizes(), "; the model was built for (B, ", spec_.len[m], ", ",
                          spec_.dim[m], ") (its temporal transformer is as wide as T)"));
  const auto& o = options_;
  const auto mask = frame_masks(batch);
  std::array<torch::Tensor, 3> z;
  for (int m = 0; m < kNumModalities; ++m) {
    auto x = m == kText ? torch::dropout(batch.x[m], o.text_dropout, is_training()) : batch.x[m];
    z[m] = projections_[m]->as<FrameProjectionImpl>()->forward(x);  // (B, T_m, d)
  }
  ModelOutput out;
  std::array<torch::Tensor, 3> pooled;
  for (int m = 0; m < kNumModalities; ++m) {
    auto s = self_[m]->as<TransformerEncoderImpl>()->forward(z[m], mask[m], o.causal);
    std::array<torch::Tensor, 2> cross;
    for (int k = 0; k < 2; ++k) {
      const int n = (m + 1 + k) % 3;
      cross[k] = crossmodal_[m * 2 + k]->as<TransformerEncoderImpl>()->forward_cross(
          z[m], z[n], mask[n], o.causal);  // (B, T_m, d)
    }
    auto h = torch::cat({s, cross[0], cross[1]}, -1);  // (B, T_m, 3d)
    if (reconstruction != nullptr) {
      auto g = temporal_[m]
                   ->as<TemporalTransformerImpl>()
                   ->forward(h.transpose(1, 2), o.causal)
                   .transpose(1, 2);  // (B, T_m, 3d)
      (*reconstruction)[m] = generators_[m]->as<torch::nn::LinearImpl>()->forward(g);  // (B,T,D)
    }
    pooled[m] = gates_[m]->as<CGateImpl>()->forward(h, batch.valid[m]);  // (B, h_m)
    out.features[kModalityNames[m]] = pooled[m];
  }
  auto fused = torch::cat({pooled[0], pooled[1], pooled[2]}, 1);
  torch::Tensor normed;
  if (is_training() && fused.size(0) < 2) {
    // Batch statistics of one row are undefined; use the running ones for this step.
    normed = torch::batch_norm(fused, cls_norm_->weight, cls_norm_->bias, cls_norm_->running_mean,
                               cls_norm_->running_var, /*training=*/false, /*momentum=*/0.0,
                               cls_norm_->options.eps(), /*cudnn_enabled=*/false);
  } else {
    normed = cls_norm_(fused);
  }
  auto hidden = torch::leaky_relu(cls_hidden_(normed));
  auto y = cls_out_(torch::dropout(hidden, o.cls_dropout, is_training()));
  out.prediction = shape_prediction(y, spec_.task);
  out.features["fused"] = fused;
  return out;
}

torch::Tensor tfr_reconstruction_loss(const torch::Tensor& pred, const torch::Tensor& target,
                                      const torch::Tensor& mask, double sim_weight) {
  auto m = mask.unsqueeze(-1).to(pred.dtype()).expand_as(pred);  // (B, T, D)
  auto count = m.sum();
  auto p = pred * m, t = target * m;
  auto loss = torch::smooth_l1_loss(p, t, at::Reduction::Sum);
  if (sim_weight != 0) loss = loss + sim_weight * cmd(p, t);
  // Nothing missing, nothing to reconstruct: exactly 0 (and a zero gradient).
  return loss / (count + 1e-4) * (count > 0).to(pred.dtype());
}

Losses tfr_net_objective(TfrNetImpl& tfr, const Batch& batch, ObjectiveContext& ctx) {
  if (!ctx.missing_view)
    throw RunError(
        "tfr_net objective: ObjectiveContext.missing_view is not set; expected the trainer's "
        "uncertain-missing sampler");
  const TfrNetOptions& o = tfr.options();
  const Batch missing = ctx.missing_view(batch);
  std::array<torch::Tensor, 3> rec;
  ModelOutput out = tfr.forward_reconstruct(missing, &rec);
  auto task = task_loss(out.prediction, batch.label, ctx.task);
  torch::Tensor total_rec = torch::zeros({}, task.options());
  for (int m = 0; m < kNumModalities; ++m) {
    // Frames that exist in the complete batch but not in the view the model saw.
    auto lost = frame_mask(batch, m) & frame_mask(missing, m).logical_not();  // (B, T_m)
    total_rec = total_rec +
                o.rec_weights[m] * tfr_reconstruction_loss(rec[m], batch.x[m], lost, o.sim_weight);
  }
  Losses losses;
  losses.total = task + total_rec;
  losses.parts.emplace_back("task", task.detach());
  losses.parts.emplace_back("rec", total_rec.detach());
  return losses;
}

}  // namespace robustmsa

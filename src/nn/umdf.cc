// UMDF reconstruction; see umdf.h for the paper, what is sourced and what is inferred, and
// docs/umdf.md for the equations and switches.
#include "nn/umdf.h"

#include <torch/torch.h>

#include "data/protocol.h"
#include "util/error.h"

namespace robustmsa {

namespace {

torch::nn::LayerNorm layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}));
}

TransformerDropouts dropouts_of(const UmdfOptions& o) {
  TransformerDropouts d;
  d.attn = o.attn_dropout;
  d.relu = o.relu_dropout;
  d.res = o.res_dropout;
  d.embed = o.embed_dropout;
  return d;
}

bool equal_lengths(const InputSpec& spec) {
  return spec.len[0] == spec.len[1] && spec.len[1] == spec.len[2];
}

// Concatenates two tensors along the batch; undefined stays undefined (labels in predict).
torch::Tensor cat_rows(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined()) return torch::Tensor();
  return torch::cat({a, b}, 0);
}

// Both views in one batch: rows [0, B) are the complete view, rows [B, 2B) the missing view.
// One forward pass over 2B rows is faster than two passes over B rows on every backend.
Batch stack_views(const Batch& complete, const Batch& missing) {
  Batch both;
  for (int m = 0; m < kNumModalities; ++m) {
    if (!complete.x[m].sizes().equals(missing.x[m].sizes()))
      throw RunError(str("umdf objective: the missing view changed the shape of modality '",
                         kModalityNames[m], "' from ", complete.x[m].sizes(), " to ",
                         missing.x[m].sizes(), "; expected the same shape"));
    both.x[m] = torch::cat({complete.x[m], missing.x[m]}, 0);
    both.valid[m] = torch::cat({complete.valid[m], missing.valid[m]}, 0);
    both.keep[m] = torch::cat({complete.keep[m], missing.keep[m]}, 0);
  }
  both.present = torch::cat({complete.present, missing.present}, 0);
  both.label = cat_rows(complete.label, missing.label);
  both.index = cat_rows(complete.index, missing.index);
  return both;
}

torch::Tensor maybe_detach(const torch::Tensor& t, bool detach) { return detach ? t.detach() : t; }

}  // namespace

void UmdfOptions::validate() const {
  require(width >= 1, "model.width", width, "an integer >= 1");
  require(heads >= 1, "model.heads", heads, "an integer >= 1");
  if (width % heads != 0)
    throw ConfigError(str("config key 'model.heads': hidden width ", width,
                          " is not divisible by heads ", heads, "; expected a divisor of ", width));
  require(kernel >= 1 && kernel % 2 == 1, "model.kernel", kernel, "an odd integer >= 1");
  require(encoder_layers >= 1, "model.encoder_layers", encoder_layers, "an integer >= 1");
  require(mcim_blocks >= 0, "model.mcim_blocks", mcim_blocks, "an integer >= 0");
  const std::pair<const char*, double> rates[] = {{"model.attn_dropout", attn_dropout},
                                                  {"model.relu_dropout", relu_dropout},
                                                  {"model.res_dropout", res_dropout},
                                                  {"model.embed_dropout", embed_dropout},
                                                  {"model.output_dropout", output_dropout}};
  for (const auto& [key, p] : rates) require(p >= 0 && p < 1, key, p, "a number in [0, 1)");
  require(dfim_concat == "auto" || dfim_concat == "feature" || dfim_concat == "time",
          "model.dfim_concat", dfim_concat, "auto, feature or time");
  require(alpha >= 0, "model.alpha", alpha, "a number >= 0");
  require(beta >= 0, "model.beta", beta, "a number >= 0");
  require(tau > 0, "model.tau", tau, "a number > 0");
  require(feature_loss_kind == "mse" || feature_loss_kind == "kl" || feature_loss_kind == "mmd",
          "model.feature_loss_kind", feature_loss_kind, "mse, kl or mmd");
  require(teacher == "joint" || teacher == "eval" || teacher == "ema", "model.teacher", teacher,
          "joint, eval or ema");
  require(ema_decay >= 0 && ema_decay < 1, "model.ema_decay", ema_decay, "a number in [0, 1)");
  require(warmup_epochs >= 0, "model.warmup_epochs", warmup_epochs, "an integer >= 0");
  require(ramp_epochs >= 0, "model.ramp_epochs", ramp_epochs, "an integer >= 0");
  require(pred_loss_kind == "mse" || pred_loss_kind == "l1", "model.pred_loss_kind", pred_loss_kind,
          "mse or l1");
  require(curriculum_epochs >= 0, "model.curriculum_epochs", curriculum_epochs, "an integer >= 0");
  if (stop_grad_complete && teacher != "joint")
    throw ConfigError(
        str("config key 'model.stop_grad_complete': applies to teacher=joint only; "
            "found it set with teacher=",
            teacher, " (whose targets never receive gradients)"));
}

// ---- MCIM ---------------------------------------------------------------------------------------

McimBlockImpl::McimBlockImpl(const UmdfOptions& o) : res_dropout_(o.res_dropout) {
  const int64_t d = o.width;
  if (o.coarse) {
    coarse_norm_ = register_module("coarse_norm", layer_norm(d));
    coarse_attn_ = register_module("coarse_attn", MaskedAttention(d, o.heads, o.attn_dropout));
  }
  if (o.fine) {
    fine_norm_ = register_module("fine_norm", layer_norm(d));
    fine_memory_norm_ = register_module("fine_memory_norm", layer_norm(d));
    fine_attn_ = register_module("fine_attn", MaskedAttention(d, o.heads, o.attn_dropout));
  }
  self_norm_ = register_module("self_norm", layer_norm(d));
  self_attn_ = register_module("self_attn", MaskedAttention(d, o.heads, o.attn_dropout));
  ffn_norm_ = register_module("ffn_norm", layer_norm(d));
  ffn_ = register_module("ffn", FeedForward(d, o.relu_dropout));
}

torch::Tensor McimBlockImpl::forward(const torch::Tensor& x_in, const torch::Tensor& x_mask,
                                     const torch::Tensor& summaries,
                                     const torch::Tensor& summary_mask, const torch::Tensor& others,
                                     const torch::Tensor& others_mask) {
  auto drop = [&](const torch::Tensor& h) {
    return torch::dropout(h, res_dropout_, is_training());
  };
  torch::Tensor x = x_in;  // (B, T_m, d)
  // Coarse: every frame of m looks at the other modalities as whole utterances (one key each),
  // deciding how much of each modality's gist to take before looking at individual frames.
  if (!coarse_attn_.is_empty())
    x = x + drop(coarse_attn_(coarse_norm_(x), coarse_norm_(summaries), summary_mask));
  // Fine: frame-to-frame crossmodal attention over the frames of both other modalities.
  if (!fine_attn_.is_empty())
    x = x + drop(fine_attn_(fine_norm_(x), fine_memory_norm_(others), others_mask));
  // Intra-modality dynamics.
  auto q = self_norm_(x);
  x = x + drop(self_attn_(q, q, x_mask));
  return x + drop(ffn_(ffn_norm_(x)));  // (B, T_m, d)
}

McimImpl::McimImpl(const UmdfOptions& o) : blocks_(o.mcim_blocks) {
  for (int64_t b = 0; b < blocks_; ++b)
    for (int m = 0; m < kNumModalities; ++m) block_list_->push_back(McimBlock(o));
  block_list_ = register_module("blocks", block_list_);
  for (int m = 0; m < kNumModalities; ++m) final_norms_->push_back(layer_norm(o.width));
  final_norms_ = register_module("final_norms", final_norms_);
}

std::array<torch::Tensor, 3> McimImpl::forward(std::array<torch::Tensor, 3> h,
                                               const std::array<torch::Tensor, 3>& mask) {
  std::array<torch::Tensor, 3> avail;  // (B): modality has a usable frame
  for (int m = 0; m < kNumModalities; ++m) avail[m] = mask[m].any(1);
  for (int64_t b = 0; b < blocks_; ++b) {
    std::array<torch::Tensor, 3> summary;  // (B, d) utterance-level masked means
    for (int m = 0; m < kNumModalities; ++m) summary[m] = masked_mean(h[m], mask[m]);
    std::array<torch::Tensor, 3> next;
    for (int m = 0; m < kNumModalities; ++m) {
      const int n1 = (m + 1) % 3, n2 = (m + 2) % 3;
      auto summaries = torch::stack({summary[n1], summary[n2]}, 1);  // (B, 2, d)
      auto summary_mask = torch::stack({avail[n1], avail[n2]}, 1);   // (B, 2)
      auto others = torch::cat({h[n1], h[n2]}, 1);                   // (B, T_n1 + T_n2, d)
      auto others_mask = torch::cat({mask[n1], mask[n2]}, 1);        // (B, T_n1 + T_n2)
      next[m] = block_list_[b * 3 + m]->as<McimBlockImpl>()->forward(
          h[m], mask[m], summaries, summary_mask, others, others_mask);
    }
    h = std::move(next);  // all modalities advance together from the same round
  }
  for (int m = 0; m < kNumModalities; ++m)
    h[m] = final_norms_[m]->as<torch::nn::LayerNormImpl>()->forward(h[m]);
  return h;
}

// ---- DFIM ---------------------------------------------------------------------------------------

DfimImpl::DfimImpl(int64_t width, bool by_feature) : by_feature_(by_feature) {
  for (int m = 0; m < kNumModalities; ++m) enhance_->push_back(torch::nn::Linear(width, width));
  enhance_ = register_module("enhance", enhance_);
  const int64_t in = by_feature ? 3 * width : width;
  filter_ = register_module("filter", torch::nn::Linear(in, 3 * width));
  project_ = register_module("project", torch::nn::Linear(in, 3 * width));
}

DfimOutput DfimImpl::forward(const std::array<torch::Tensor, 3>& h,
                             const std::array<torch::Tensor, 3>& mask) {
  DfimOutput out;
  std::array<torch::Tensor, 3> enhanced;
  for (int m = 0; m < kNumModalities; ++m) {
    // Frame-level self-enhancement: H' = H ⊕ (σ(W_g H) ⊙ H) amplifies the useful dimensions of
    // each frame of an (possibly incomplete) modality.
    auto gate = torch::sigmoid(enhance_[m]->as<torch::nn::LinearImpl>()->forward(h[m]));
    auto e = h[m] + gate * h[m];                            // (B, T_m, d)
    out.pooled[m] = masked_mean(e, mask[m]);                // (B, d)
    enhanced[m] = e * mask[m].unsqueeze(-1).to(e.dtype());  // missing frames -> 0
  }
  torch::Tensor joined, joined_mask;
  if (by_feature_) {
    const int64_t t = h[0].size(1);
    if (h[1].size(1) != t || h[2].size(1) != t)
      throw RunError(str("umdf DFIM: feature concatenation needs equal sequence lengths, got ",
                         h[0].size(1), "/", h[1].size(1), "/", h[2].size(1),
                         "; set model.dfim_concat=time"));
    joined = torch::cat({enhanced[0], enhanced[1], enhanced[2]}, -1);  // (B, T, 3d)
    joined_mask = mask[0] | mask[1] | mask[2];                         // (B, T)
  } else {
    joined = torch::cat({enhanced[0], enhanced[1], enhanced[2]}, 1);  // (B, ΣT, d)
    joined_mask = torch::cat({mask[0], mask[1], mask[2]}, 1);         // (B, ΣT)
  }
  // Selective filtering: F = σ(W_f C) ⊙ (W_p C) keeps what the joint view of all modalities at a
  // frame deems informative and suppresses redundant or missing-induced content.
  auto filtered = torch::sigmoid(filter_(joined)) * project_(joined);  // (B, T', 3d)
  out.fused = masked_mean(filtered, joined_mask);                      // (B, 3d)
  return out;
}

// ---- model --------------------------------------------------------------------------------------

UmdfImpl::UmdfImpl(const UmdfOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "umdf");
  if (options_.dfim_concat == "feature" && !equal_lengths(spec))
    throw ConfigError(
        str("config key 'model.dfim_concat': feature concatenation needs equal "
            "sequence lengths, found ",
            spec.len[0], "/", spec.len[1], "/", spec.len[2],
            " (text/audio/vision); expected time or auto"));
  by_feature_ =
      options_.dfim_concat == "feature" || (options_.dfim_concat == "auto" && equal_lengths(spec));
  EncoderOptions enc;
  enc.width = options_.width;
  enc.heads = options_.heads;
  enc.layers = options_.encoder_layers;
  enc.kernel = options_.kernel;
  enc.dropouts = dropouts_of(options_);
  for (int m = 0; m < kNumModalities; ++m) encoders_->push_back(ModalityEncoder(spec.dim[m], enc));
  encoders_ = register_module("encoders", encoders_);
  if (options_.mcim_blocks > 0) mcim_ = register_module("mcim", Mcim(options_));
  if (options_.dfim) dfim_ = register_module("dfim", Dfim(options_.width, by_feature_));
  head_ = register_module(
      "head", ResidualHead(3 * options_.width, spec.output_dim(), options_.output_dropout));
  if (options_.distill && options_.teacher == "ema") {
    ema_params_ = parameters();
    for (std::size_t i = 0; i < ema_params_.size(); ++i)
      ema_.push_back(register_buffer(str("ema_", i), ema_params_[i].detach().clone()));
    ema_updates_ = register_buffer("ema_updates", torch::zeros({}, torch::kLong));
  }
}

void UmdfImpl::update_ema() {
  if (ema_.empty()) throw RunError("umdf: update_ema needs model.teacher=ema (and distill=true)");
  torch::NoGradGuard no_grad;
  const double t = static_cast<double>(ema_updates_.item<int64_t>());
  // Mean-teacher warm-up of the decay: early averages follow the fast-moving weights closely.
  const double decay = std::min(options_.ema_decay, (1.0 + t) / (10.0 + t));
  for (std::size_t i = 0; i < ema_.size(); ++i)
    ema_[i].mul_(decay).add_(ema_params_[i].detach(), 1.0 - decay);
  ema_updates_.add_(1);
}

ModelOutput UmdfImpl::teacher_forward(const Batch& batch) {
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  std::vector<torch::Tensor> live;
  for (std::size_t i = 0; i < ema_.size(); ++i) {  // swap the averages in
    live.push_back(ema_params_[i].detach().clone());
    ema_params_[i].detach().copy_(ema_[i]);
  }
  ModelOutput out;
  try {
    out = forward(batch);
  } catch (...) {
    for (std::size_t i = 0; i < live.size(); ++i) ema_params_[i].detach().copy_(live[i]);
    train(was_training);
    throw;
  }
  for (std::size_t i = 0; i < live.size(); ++i) ema_params_[i].detach().copy_(live[i]);
  train(was_training);
  return out;
}

double distill_schedule(const UmdfOptions& o, int64_t epoch) {
  if (epoch < o.warmup_epochs) return 0.0;
  if (o.ramp_epochs <= 0) return 1.0;
  return std::min(1.0, static_cast<double>(epoch - o.warmup_epochs + 1) /
                           static_cast<double>(o.ramp_epochs + 1));
}

ModelOutput UmdfImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("umdf: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
  const auto mask = frame_masks(batch);
  std::array<torch::Tensor, 3> h;
  for (int m = 0; m < kNumModalities; ++m)
    h[m] = encoders_[m]->as<ModalityEncoderImpl>()->forward(batch.x[m], mask[m]);  // (B, T_m, d)
  if (!mcim_.is_empty()) h = mcim_(h, mask);
  ModelOutput out;
  DfimOutput fused;
  if (!dfim_.is_empty()) {
    fused = dfim_->forward(h, mask);
  } else {
    for (int m = 0; m < kNumModalities; ++m) fused.pooled[m] = masked_mean(h[m], mask[m]);
    fused.fused = torch::cat({fused.pooled[0], fused.pooled[1], fused.pooled[2]}, 1);  // (B, 3d)
  }
  out.prediction = shape_prediction(head_(fused.fused), spec_.task);
  out.features["fused"] = fused.fused;
  for (int m = 0; m < kNumModalities; ++m) out.features[kModalityNames[m]] = fused.pooled[m];
  return out;
}

// ---- objective ----------------------------------------------------------------------------------

torch::Tensor feature_consistency(const torch::Tensor& teacher, const torch::Tensor& student,
                                  const std::string& kind, double tau) {
  if (teacher.size(0) == 0) return torch::zeros({}, student.options());
  if (kind == "mse") return torch::mse_loss(student, teacher);
  if (kind == "kl") {
    // Each feature's softmax over the batch is a distribution of that feature across samples;
    // matching them aligns the two views' feature distributions rather than single values.
    auto lt = torch::log_softmax(teacher / tau, 0);  // (N, H)
    auto ls = torch::log_softmax(student / tau, 0);  // (N, H)
    auto kl_ts = (lt.exp() * (lt - ls)).sum(0);      // (H)
    auto kl_st = (ls.exp() * (ls - lt)).sum(0);      // (H)
    return 0.5 * (kl_ts + kl_st).mean() * (tau * tau);
  }
  if (kind == "mmd") {
    const int64_t n = teacher.size(0);
    auto z = torch::cat({teacher, student}, 0);  // (2N, H)
    auto sq = (z * z).sum(1);                    // (2N)
    // Squared distances without sqrt, so identical rows give a finite (zero) gradient.
    auto d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * torch::matmul(z, z.t())).clamp_min(0);
    const int64_t m = 2 * n;
    auto base = m > 1 ? d2.detach().sum() / static_cast<double>(m * (m - 1))
                      : torch::ones({}, d2.options());
    base = base.clamp_min(1e-6);
    torch::Tensor k = torch::zeros_like(d2);  // (2N, 2N), sum of RBF kernels
    for (double f : {0.25, 0.5, 1.0, 2.0, 4.0}) k = k + torch::exp(-d2 / (base * f));
    auto ktt = k.narrow(0, 0, n).narrow(1, 0, n);
    auto kss = k.narrow(0, n, n).narrow(1, n, n);
    auto kts = k.narrow(0, 0, n).narrow(1, n, n);
    return ktt.mean() + kss.mean() - 2 * kts.mean();
  }
  throw ConfigError(
      str("config key 'model.feature_loss_kind': expected mse, kl or mmd, found ", kind));
}

torch::Tensor prediction_consistency(const torch::Tensor& teacher, const torch::Tensor& student,
                                     Task task, double tau) {
  if (task != Task::kIemocap) return torch::mse_loss(student, teacher);
  auto lt = torch::log_softmax(teacher / tau, -1);  // (B, 4, 2)
  auto ls = torch::log_softmax(student / tau, -1);  // (B, 4, 2)
  auto kl_ts = (lt.exp() * (lt - ls)).sum(-1);      // (B, 4)
  auto kl_st = (ls.exp() * (ls - lt)).sum(-1);      // (B, 4)
  // tau^2 keeps the gradient scale independent of the temperature (Hinton et al. 2015).
  return 0.5 * (kl_ts + kl_st).mean() * (tau * tau);
}

namespace {

// Missing-rate curriculum: rows of the missing view replaced by their complete rows, each with
// probability 1 - (epoch+1)/(epochs+1), drawn from (epoch, sample index) so a resumed run sees the
// same rows.
Batch ease_missing_view(const Batch& complete, const Batch& missing, int64_t epoch,
                        int64_t epochs) {
  const double keep_complete =
      1.0 - static_cast<double>(epoch + 1) / static_cast<double>(epochs + 1);
  const auto index = complete.index.to(torch::kCPU).contiguous();
  const int64_t b = complete.size();
  auto rows = torch::zeros({b}, torch::kBool);
  auto r = rows.accessor<bool, 1>();
  const auto idx = index.accessor<int64_t, 1>();
  constexpr uint64_t kTagUmdfCurriculum = 201;
  for (int64_t i = 0; i < b; ++i)
    r[i] = hash_uniform(hash_words({kTagUmdfCurriculum, static_cast<uint64_t>(epoch),
                                    static_cast<uint64_t>(idx[i])})) < keep_complete;
  rows = rows.to(complete.present.device());
  Batch out = missing;
  for (int m = 0; m < kNumModalities; ++m) {
    const auto row3 = rows.view({b, 1, 1});
    out.x[m] = torch::where(row3, complete.x[m], missing.x[m]);
    out.keep[m] = torch::where(rows.view({b, 1}), complete.keep[m], missing.keep[m]);
  }
  out.present = torch::where(rows.view({b, 1}), complete.present, missing.present);
  return out;
}

}  // namespace

Losses umdf_objective(UmdfImpl& model, const Batch& complete, ObjectiveContext& ctx) {
  if (!ctx.missing_view)
    throw RunError(
        "umdf objective: ObjectiveContext.missing_view is not set; expected the "
        "trainer's uncertain-missing sampler");
  const UmdfOptions& o = model.options();
  Batch missing = ctx.missing_view(complete);
  const int64_t b = complete.size();
  if (missing.size() != b)
    throw RunError(
        str("umdf objective: the missing view has ", missing.size(), " rows; expected ", b));
  if (ctx.epoch < o.curriculum_epochs)
    missing = ease_missing_view(complete, missing, ctx.epoch, o.curriculum_epochs);
  const bool separate_teacher = o.distill && o.teacher != "joint";
  if (o.distill && o.teacher == "ema") model.update_ema();  // towards the last step's weights
  // The schedule's factor; during the warm-up the terms are logged as 0 and not computed.
  const double factor = o.distill ? distill_schedule(o, ctx.epoch) : 0.0;
  // A separate teacher runs before the training pass: teacher = ema swaps the averaged weights in
  // and out in place, which must not happen while the training pass's graph holds them.
  ModelOutput teacher_out;
  if (separate_teacher && factor > 0.0) teacher_out = model.teacher_forward(complete);
  ModelOutput out = model.forward(stack_views(complete, missing));
  auto first = [b](const torch::Tensor& t) { return t.narrow(0, 0, b); };
  auto second = [b](const torch::Tensor& t) { return t.narrow(0, b, b); };

  Losses losses;
  auto task_complete = task_loss(first(out.prediction), complete.label, ctx.task);
  auto task_missing = task_loss(second(out.prediction), complete.label, ctx.task);
  losses.total = task_complete + task_missing;
  losses.parts.emplace_back("task", task_complete.detach());
  losses.parts.emplace_back("task_missing", task_missing.detach());
  if (!o.distill) return losses;

  const auto zero = torch::zeros({}, out.prediction.options());
  if (factor == 0.0) {
    losses.parts.emplace_back("pred", zero);
    if (o.feature_loss) losses.parts.emplace_back("feat", zero);
    return losses;
  }
  // Targets. joint: the complete rows of this pass — bidirectional unless stop_grad_complete,
  // so the complete view is pulled towards what survives the holes as much as the other way
  // round. eval / ema: the separate no-gradient pass above, so only the missing view learns.
  const bool detach = o.stop_grad_complete;
  auto target = [&](const std::string& feature) -> torch::Tensor {
    if (separate_teacher)
      return feature.empty() ? teacher_out.prediction : teacher_out.features.at(feature);
    return maybe_detach(first(feature.empty() ? out.prediction : out.features.at(feature)), detach);
  };
  // Relative weighting: the term's value, rescaled to the size of the missing view's task loss
  // (the ratio is a constant for the gradient).
  auto weight = [&](const torch::Tensor& term) {
    if (!o.scale_to_task) return torch::ones({}, term.options());
    return (task_missing.detach() / term.detach().clamp_min(1e-8));
  };

  torch::Tensor pred;
  if (ctx.task != Task::kIemocap && o.pred_loss_kind == "l1")
    pred = torch::l1_loss(second(out.prediction), target(""));
  else
    pred = prediction_consistency(target(""), second(out.prediction), ctx.task, o.tau);
  losses.total = losses.total + (o.alpha * factor) * weight(pred) * pred;
  losses.parts.emplace_back("pred", pred.detach());
  if (!o.feature_loss) return losses;

  const auto& fused = out.features.at("fused");
  auto feat = feature_consistency(target("fused"), second(fused), o.feature_loss_kind, o.tau);
  if (o.per_modality) {
    // Per-modality terms only over samples where the modality survives in both views: a modality
    // the missing view lacks pools to 0 and must not pull the complete view's features to 0.
    torch::Tensor per_modality = torch::zeros({}, fused.options());
    for (int m = 0; m < kNumModalities; ++m) {
      auto both = frame_mask(complete, m).any(1) & frame_mask(missing, m).any(1);  // (B)
      auto rows = both.nonzero().squeeze(1);                                       // (N)
      const std::string name = kModalityNames[m];
      per_modality =
          per_modality + feature_consistency(target(name).index_select(0, rows),
                                             second(out.features.at(name)).index_select(0, rows),
                                             o.feature_loss_kind, o.tau);
    }
    feat = feat + per_modality / 3.0;
  }
  losses.total = losses.total + (o.beta * factor) * weight(feat) * feat;
  losses.parts.emplace_back("feat", feat.detach());
  return losses;
}

}  // namespace robustmsa

#include "nn/teacher_student.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace robustmsa {

void TeacherStudentOptions::validate() const {
  require(width >= 1, "model.width", width, "an integer >= 1");
  require(heads >= 1, "model.heads", heads, "an integer >= 1");
  if (width % heads != 0)
    throw ConfigError(str("config key 'model.heads': hidden width ", width,
                          " is not divisible by heads ", heads, "; expected a divisor of ", width));
  require(encoder_layers >= 1, "model.encoder_layers", encoder_layers, "an integer >= 1");
  require(kernel >= 1 && kernel % 2 == 1, "model.kernel", kernel, "an odd integer >= 1");
  require(teacher_share > 0 && teacher_share < 1, "model.teacher_share", teacher_share,
          "a number in (0, 1)");
  const std::pair<const char*, double> rates[] = {{"model.attn_dropout", attn_dropout},
                                                  {"model.relu_dropout", relu_dropout},
                                                  {"model.res_dropout", res_dropout},
                                                  {"model.embed_dropout", embed_dropout},
                                                  {"model.output_dropout", output_dropout}};
  for (const auto& [key, p] : rates) require(p >= 0 && p < 1, key, p, "a number in [0, 1)");
  require(alpha >= 0, "model.alpha", alpha, "a number >= 0");
  require(beta >= 0, "model.beta", beta, "a number >= 0");
  require(tau > 0, "model.tau", tau, "a number > 0");
}

KdNetworkImpl::KdNetworkImpl(const TeacherStudentOptions& o, const InputSpec& spec) : spec_(spec) {
  EncoderOptions enc{
      o.width, o.heads, o.encoder_layers, o.kernel,
      TransformerDropouts{o.attn_dropout, o.relu_dropout, o.res_dropout, o.embed_dropout}};
  for (int m = 0; m < kNumModalities; ++m) encoders_->push_back(ModalityEncoder(spec.dim[m], enc));
  encoders_ = register_module("encoders", encoders_);
  head_ = register_module("head", ResidualHead(3 * o.width, spec.output_dim(), o.output_dropout));
}

ModelOutput KdNetworkImpl::forward(const Batch& batch) {
  ModelOutput out;
  std::array<torch::Tensor, 3> pooled;
  for (int m = 0; m < kNumModalities; ++m) {
    const auto mask = frame_mask(batch, m);                                       // (B, T_m)
    auto h = encoders_[m]->as<ModalityEncoderImpl>()->forward(batch.x[m], mask);  // (B, T_m, d)
    pooled[m] = masked_mean(h, mask);                                             // (B, d)
    out.features[kModalityNames[m]] = pooled[m];
  }
  auto fused = torch::cat({pooled[0], pooled[1], pooled[2]}, 1);  // (B, 3d)
  out.prediction = shape_prediction(head_(fused), spec_.task);
  out.features["fused"] = fused;
  return out;
}

TeacherStudentImpl::TeacherStudentImpl(const TeacherStudentOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "teacher_student");
  teacher_ = register_module("teacher", KdNetwork(options_, spec));
  student_ = register_module("student", KdNetwork(options_, spec));
  phase_ = register_buffer("phase", torch::zeros({}, torch::kLong));
}

void TeacherStudentImpl::check_batch(const Batch& batch) const {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("teacher_student: modality '", kModalityNames[m], "' has shape ",
                          batch.x[m].sizes(), "; the model was built for (B, T, ", spec_.dim[m],
                          ")"));
}

int64_t TeacherStudentImpl::phase() const { return phase_.item<int64_t>(); }

ModelOutput TeacherStudentImpl::forward(const Batch& batch) {
  check_batch(batch);
  return phase() == 0 ? teacher_->forward(batch) : student_->forward(batch);
}

int64_t phase_boundary(double share, int64_t epochs) {
  const int64_t b = std::llround(share * static_cast<double>(epochs));
  return epochs >= 2 ? std::clamp<int64_t>(b, 1, epochs - 1) : epochs;
}

int64_t TeacherStudentImpl::phase_of_epoch(int64_t epoch, int64_t epochs) const {
  return epoch < phase_boundary(options_.teacher_share, epochs) ? 0 : 1;
}

void TeacherStudentImpl::begin_phase(int64_t phase) {
  if (phase < 0 || phase > 1)
    throw RunError(str("teacher_student: phase ", phase, "; expected 0 (teacher) or 1 (student)"));
  phase_.fill_(phase);
  // Phase 1 freezes the teacher: no gradient, and no gradient tensor left for the optimiser to
  // step with (Adam would otherwise keep moving it by its momentum).
  for (auto& p : teacher_->parameters()) {
    p.requires_grad_(phase == 0);
    if (phase == 1) p.mutable_grad() = torch::Tensor();
  }
}

torch::Tensor logit_distillation(const torch::Tensor& teacher, const torch::Tensor& student,
                                 Task task, double tau) {
  if (task != Task::kIemocap) return torch::mse_loss(student, teacher);
  auto lt = torch::log_softmax(teacher / tau, -1);  // (B, 4, 2)
  auto ls = torch::log_softmax(student / tau, -1);  // (B, 4, 2)
  // KL(teacher || student) per emotion; tau^2 keeps the gradient scale (Hinton et al. 2015).
  return (lt.exp() * (lt - ls)).sum(-1).mean() * (tau * tau);
}

Losses teacher_student_objective(TeacherStudentImpl& ts, const Batch& batch,
                                 ObjectiveContext& ctx) {
  if (ctx.phase != ts.phase())
    throw RunError(str("teacher_student objective: the trainer is in phase ", ctx.phase,
                       " but the model is in phase ", ts.phase(),
                       "; expected Model::begin_phase to be called first"));
  Losses losses;
  if (ctx.phase == 0) {
    ModelOutput t = ts.teacher()->forward(batch);
    losses.total = task_loss(t.prediction, batch.label, ctx.task);
    losses.parts.emplace_back("teacher_task", losses.total.detach());
    return losses;
  }
  if (!ctx.missing_view)
    throw RunError(
        "teacher_student objective: ObjectiveContext.missing_view is not set; expected the "
        "trainer's uncertain-missing sampler");
  const TeacherStudentOptions& o = ts.options();
  ModelOutput t;
  {
    // The frozen teacher sees the complete batch, in eval mode (no dropout).
    torch::NoGradGuard no_grad;
    const bool was_training = ts.teacher()->is_training();
    ts.teacher()->eval();
    t = ts.teacher()->forward(batch);
    ts.teacher()->train(was_training);
  }
  const Batch missing = ctx.missing_view(batch);
  ModelOutput s = ts.student()->forward(missing);
  auto task = task_loss(s.prediction, batch.label, ctx.task);
  auto logit = logit_distillation(t.prediction, s.prediction, ctx.task, o.tau);
  auto feat = torch::mse_loss(s.features.at("fused"), t.features.at("fused"));
  torch::Tensor per_modality = torch::zeros({}, feat.options());
  for (int m = 0; m < kNumModalities; ++m) {
    // Only rows where the student still has the modality: a missing one pools to 0 and cannot
    // match the teacher's representation.
    auto rows = frame_mask(missing, m).any(1).nonzero().squeeze(1);  // (N)
    if (rows.size(0) == 0) continue;
    const auto name = kModalityNames[m];
    per_modality = per_modality + torch::mse_loss(s.features.at(name).index_select(0, rows),
                                                  t.features.at(name).index_select(0, rows));
  }
  feat = feat + per_modality / 3.0;
  losses.total = task + o.alpha * logit + o.beta * feat;
  losses.parts.emplace_back("task", task.detach());
  losses.parts.emplace_back("logit_kd", logit.detach());
  losses.parts.emplace_back("feat_kd", feat.detach());
  return losses;
}

}  // namespace robustmsa

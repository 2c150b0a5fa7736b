// Model-specific tests of the missing-modality baselines MMIN, TFR-Net and the teacher–student
// distillation baseline (the common shape/gradient/save-load tests run in registry_test.cc).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "../common/model_fixtures.h"
#include "nn/mmin.h"
#include "nn/teacher_student.h"
#include "nn/tfr_net.h"
#include "util/error.h"

namespace robustmsa {
namespace {

using test_util::random_batch;
using test_util::tiny_spec;

// Every odd frame of every modality dropped (features zeroed, keep false).
Batch drop_odd_frames(const Batch& in) {
  Batch out = in;
  for (int m = 0; m < kNumModalities; ++m) {
    auto keep = in.keep[m].clone();
    keep.slice(1, 1, keep.size(1), 2).fill_(false);
    out.keep[m] = keep;
    out.x[m] = in.x[m] * (keep & in.valid[m]).unsqueeze(-1);
  }
  return out;
}

// Only text kept.
Batch text_only(const Batch& in) {
  Batch out = in;
  out.present = in.present.clone();
  for (int m = 1; m < kNumModalities; ++m) {
    out.keep[m] = torch::zeros_like(in.keep[m]);
    out.x[m] = torch::zeros_like(in.x[m]);
    out.present.select(1, m).fill_(false);
  }
  return out;
}

double part(const Losses& l, const std::string& name) {
  for (const auto& [n, v] : l.parts)
    if (n == name) return v.item<double>();
  ADD_FAILURE() << "no loss part '" << name << "'";
  return 0;
}

std::vector<torch::Tensor> snapshot(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

bool unchanged(const std::vector<torch::Tensor>& now, const std::vector<torch::Tensor>& before) {
  for (std::size_t i = 0; i < now.size(); ++i)
    if (!torch::equal(now[i], before[i])) return false;
  return true;
}

TeacherStudentOptions tiny_ts() {
  TeacherStudentOptions o;
  o.width = 8;
  o.heads = 2;
  o.encoder_layers = 1;
  return o;
}

// ---- teacher-student ----------------------------------------------------------------------------

TEST(TeacherStudentTest, PhasesSplitTheEpochsAndForwardSwitchesNetworks) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  torch::manual_seed(1);
  TeacherStudent model(tiny_ts(), spec);
  EXPECT_EQ(model->phase_of_epoch(0, 4), 0);
  EXPECT_EQ(model->phase_of_epoch(1, 4), 0);
  EXPECT_EQ(model->phase_of_epoch(2, 4), 1);
  EXPECT_EQ(model->phase_of_epoch(49, 100), 0);
  EXPECT_EQ(model->phase_of_epoch(50, 100), 1);
  // Each phase gets at least one epoch.
  EXPECT_EQ(phase_boundary(0.01, 10), 1);
  EXPECT_EQ(phase_boundary(0.99, 10), 9);
  EXPECT_EQ(phase_boundary(0.5, 1), 1);
  model->eval();
  torch::NoGradGuard no_grad;
  const Batch batch = random_batch(spec, 4, 3, 3, 1.0);
  auto teacher = model->teacher()->forward(batch).prediction;
  auto student = model->student()->forward(batch).prediction;
  EXPECT_FALSE(torch::equal(teacher, student)) << "separately parameterised";
  EXPECT_TRUE(torch::equal(model->forward(batch).prediction, teacher));
  model->begin_phase(1);
  EXPECT_TRUE(torch::equal(model->forward(batch).prediction, student));
  EXPECT_THROW(model->begin_phase(2), RunError);
}

TEST(TeacherStudentTest, PhaseZeroTrainsOnlyTheTeacherOnCompleteData) {
  const InputSpec spec = tiny_spec(Task::kIemocap);
  torch::manual_seed(2);
  TeacherStudent model(tiny_ts(), spec);
  model->train();
  ObjectiveContext ctx;
  ctx.task = spec.task;
  bool sampled = false;
  ctx.missing_view = [&sampled](const Batch& b) {
    sampled = true;
    return b;
  };
  Losses l = teacher_student_objective(*model, random_batch(spec, 4, 5, 3, 1.0), ctx);
  l.total.backward();
  EXPECT_FALSE(sampled) << "the teacher sees complete data only";
  for (const auto& p : model->teacher()->parameters()) EXPECT_TRUE(p.grad().defined());
  for (const auto& p : model->student()->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(TeacherStudentTest, TeacherIsFrozenInPhaseOneAndOptimiserStepsLeaveItUnchanged) {
  for (Task task : {Task::kRegression, Task::kIemocap}) {
    SCOPED_TRACE(task_name(task));
    const InputSpec spec = tiny_spec(task);
    torch::manual_seed(3);
    TeacherStudent model(tiny_ts(), spec);
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
    model->train();
    ObjectiveContext ctx;
    ctx.task = task;
    ctx.missing_view = drop_odd_frames;
    const Batch batch = random_batch(spec, 4, 7, 3, 1.0);
    // Phase 0: one teacher step, so Adam holds momentum for the teacher.
    Losses l0 = teacher_student_objective(*model, batch, ctx);
    opt.zero_grad();
    l0.total.backward();
    opt.step();
    model->begin_phase(1);
    ctx.phase = 1;
    auto teacher_before = snapshot(model->teacher()->parameters());
    auto student_before = snapshot(model->student()->parameters());
    for (int step = 0; step < 2; ++step) {
      Losses l1 = teacher_student_objective(*model, batch, ctx);
      EXPECT_GT(part(l1, "logit_kd"), 0);
      EXPECT_GT(part(l1, "feat_kd"), 0);
      opt.zero_grad();
      l1.total.backward();
      for (const auto& p : model->teacher()->parameters()) {
        EXPECT_FALSE(p.requires_grad());
        EXPECT_FALSE(p.grad().defined());
      }
      opt.step();
    }
    EXPECT_TRUE(unchanged(model->teacher()->parameters(), teacher_before));
    EXPECT_FALSE(unchanged(model->student()->parameters(), student_before));
  }
}

TEST(TeacherStudentTest, ObjectiveRefusesAPhaseTheModelIsNotIn) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  TeacherStudent model(tiny_ts(), spec);
  ObjectiveContext ctx;
  ctx.phase = 1;
  ctx.missing_view = drop_odd_frames;
  EXPECT_THROW(teacher_student_objective(*model, random_batch(spec, 2, 1, 3, 1.0), ctx), RunError);
}

TEST(TeacherStudentTest, LogitDistillationIsZeroForEqualOutputsAndPositiveOtherwise) {
  auto t = torch::randn({4, 4, 2});
  EXPECT_NEAR(logit_distillation(t, t, Task::kIemocap, 2.0).item<double>(), 0.0, 1e-7);
  EXPECT_GT(logit_distillation(t, -t, Task::kIemocap, 2.0).item<double>(), 0.0);
  auto y = torch::tensor({1.0f, 2.0f});
  EXPECT_NEAR(logit_distillation(y, y + 1, Task::kRegression, 2.0).item<double>(), 1.0, 1e-6);
}

// ---- TFR-Net ------------------------------------------------------------------------------------

TfrNetOptions tiny_tfr() {
  TfrNetOptions o;
  o.width = 8;
  o.heads = 2;
  o.levels = o.self_layers = o.temporal_layers = 1;
  o.fusion_text_hidden = o.fusion_audio_hidden = o.fusion_vision_hidden = 4;
  o.fusion_gru_layers = 1;
  o.cls_hidden = 8;
  return o;
}

TEST(TfrNetTest, ReconstructionLossIsZeroWhenNothingIsMissing) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  torch::manual_seed(4);
  TfrNet model(tiny_tfr(), spec);
  model->train();
  ObjectiveContext ctx;
  ctx.missing_view = [](const Batch& b) { return b; };
  const Batch batch = random_batch(spec, 4, 9, 3, 1.0);
  EXPECT_EQ(part(tfr_net_objective(*model, batch, ctx), "rec"), 0.0);
  ctx.missing_view = drop_odd_frames;
  EXPECT_GT(part(tfr_net_objective(*model, batch, ctx), "rec"), 0.0);
  ctx.missing_view = text_only;
  EXPECT_GT(part(tfr_net_objective(*model, batch, ctx), "rec"), 0.0);
}

TEST(TfrNetTest, ReconstructionLossMatchesAHandComputation) {
  // One masked frame of two values: SmoothL1 summed over it, divided by its 2 values (+1e-4);
  // CMD switched off.
  auto pred = torch::tensor({0.0f, 0.5f, 9.0f, 9.0f}).view({1, 2, 2});
  auto target = torch::tensor({2.0f, 0.0f, 0.0f, 0.0f}).view({1, 2, 2});
  auto mask = torch::tensor({true, false}).view({1, 2});
  const double smooth = (2.0 - 0.5) + 0.5 * 0.25;  // |d| - 0.5 for |d| >= 1, d^2 / 2 below
  EXPECT_NEAR(tfr_reconstruction_loss(pred, target, mask, 0.0).item<double>(), smooth / (2 + 1e-4),
              1e-6);
  // The unmasked frame never counts, with or without the CMD term.
  auto pred2 = pred.clone();
  pred2[0][1].fill_(-5.0f);
  EXPECT_NEAR(tfr_reconstruction_loss(pred2, target, mask, 5.0).item<double>(),
              tfr_reconstruction_loss(pred, target, mask, 5.0).item<double>(), 1e-6);
  auto none = torch::zeros({1, 2}, torch::kBool);
  EXPECT_EQ(tfr_reconstruction_loss(pred, target, none, 5.0).item<double>(), 0.0);
}

TEST(TfrNetTest, ReconstructionHasTheInputShapes) {
  const InputSpec spec = tiny_spec(Task::kIemocap);
  torch::manual_seed(5);
  TfrNet model(tiny_tfr(), spec);
  model->eval();
  torch::NoGradGuard no_grad;
  const Batch batch = random_batch(spec, 3, 2, 3, 1.0);
  std::array<torch::Tensor, 3> rec;
  auto out = model->forward_reconstruct(batch, &rec);
  for (int m = 0; m < kNumModalities; ++m)
    EXPECT_EQ(rec[m].sizes(), batch.x[m].sizes()) << kModalityNames[m];
  EXPECT_TRUE(torch::equal(out.prediction, model->forward(batch).prediction));
  Batch shorter = batch;
  shorter.x[kAudio] = batch.x[kAudio].narrow(1, 0, 4);
  EXPECT_THROW(model->forward(shorter), DataError);
}

TEST(TfrNetTest, CGateReadsTheSameFramesWhetherPaddedAtTheFrontOrTheEnd) {
  torch::manual_seed(7);
  CGate gate(5, 4, 2, 0.0);
  gate->eval();
  torch::NoGradGuard no_grad;
  const int64_t t = 6;
  auto x = torch::randn({3, t, 5});
  auto lengths = torch::tensor({6, 4, 0});
  auto end_valid = torch::arange(t).unsqueeze(0) < lengths.unsqueeze(1);           // (3, 6)
  auto front_valid = torch::arange(t).unsqueeze(0) >= (t - lengths).unsqueeze(1);  // (3, 6)
  auto end_x = x * end_valid.unsqueeze(-1);
  auto front_x = torch::zeros_like(x);
  for (int64_t i = 0; i < 3; ++i)
    front_x[i] = torch::roll(end_x[i], t - lengths[i].item<int64_t>(), 0);
  auto a = gate->forward(end_x, end_valid);
  auto b = gate->forward(front_x, front_valid);
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6)) << a << b;
  EXPECT_TRUE(torch::equal(a[2], torch::zeros({4}))) << "no valid frame pools to 0";
}

// ---- MMIN ---------------------------------------------------------------------------------------

MminOptions tiny_mmin() {
  MminOptions o;
  o.embd_size_a = o.embd_size_l = o.embd_size_v = 6;
  o.text_channels = 4;
  o.ae_layers = {8, 4};
  o.ae_blocks = 2;
  o.cls_layers = {8};
  return o;
}

TEST(MminTest, ReverseViewHoldsExactlyTheLostFrames) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  const Batch full = random_batch(spec, 3, 4, 3, 1.0);
  const Batch missing = text_only(drop_odd_frames(full));
  const Batch rev = reverse_view(full, missing);
  // Text: the odd frames are lost; audio and vision: every valid frame.
  auto text_lost = full.valid[kText].clone();
  text_lost.slice(1, 0, text_lost.size(1), 2).fill_(false);
  EXPECT_TRUE(torch::equal(rev.keep[kText] & rev.valid[kText], text_lost));
  EXPECT_TRUE(torch::equal(rev.keep[kAudio] & rev.valid[kAudio], full.valid[kAudio]));
  EXPECT_TRUE(torch::equal(rev.x[kAudio], full.x[kAudio]));
  EXPECT_TRUE(torch::equal(rev.x[kText], full.x[kText] * text_lost.unsqueeze(-1)));
  EXPECT_TRUE(rev.present.all().item<bool>());
  // Nothing missing: nothing to imagine.
  EXPECT_FALSE(reverse_view(full, full).present.any().item<bool>());
}

TEST(MminTest, PhaseOneStartsFromThePretrainedEncodersOnceAndFreezesThem) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  torch::manual_seed(6);
  Mmin model(tiny_mmin(), spec);
  EXPECT_EQ(model->phase_of_epoch(19, 80), 0);
  EXPECT_EQ(model->phase_of_epoch(20, 80), 1);
  auto params = model->named_parameters();
  const std::string pre = "pre_encoders.audio.lstm.weight_ih_l0";
  const std::string own = "encoders.audio.lstm.weight_ih_l0";
  ASSERT_TRUE(params.contains(pre));
  ASSERT_TRUE(params.contains(own));
  EXPECT_FALSE(torch::equal(params[pre], params[own]));
  model->begin_phase(1);
  EXPECT_TRUE(torch::equal(params[pre], params[own]));
  EXPECT_FALSE(params[pre].requires_grad());
  // A later begin_phase(1) (every epoch, or after a resume) does not copy again.
  {
    torch::NoGradGuard no_grad;
    params[own].add_(1.0);
  }
  model->begin_phase(1);
  EXPECT_FALSE(torch::equal(params[pre], params[own]));

  model->train();
  ObjectiveContext ctx;
  ctx.phase = 1;
  ctx.missing_view = [](const Batch& b) { return text_only(b); };
  Losses l = mmin_objective(*model, random_batch(spec, 4, 8, 3, 1.0), ctx);
  EXPECT_GT(part(l, "imagination"), 0);
  EXPECT_GT(part(l, "cycle"), 0);
  l.total.backward();
  for (const auto& p : model->named_parameters()) {
    const bool frozen = p.key().rfind("pre_", 0) == 0;
    EXPECT_EQ(p.value().grad().defined(), !frozen) << p.key();
  }
}

}  // namespace
}  // namespace robustmsa

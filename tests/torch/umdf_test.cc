// UMDF-specific tests: option validation, the loss parts each switch produces, bidirectional vs
// stop-gradient distillation, every ablation switch, masking of absent modalities and the
// consistency measures. The common model tests run from registry_test.cc.
#include "nn/umdf.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

#include "../common/model_fixtures.h"
#include "nn/lf_dnn.h"
#include "nn/model.h"
#include "util/error.h"

namespace robustmsa {
namespace {

InputSpec spec_of(Task task, bool aligned) { return test_util::tiny_spec(task, aligned); }

Batch batch_of(const InputSpec& spec, int64_t b, uint64_t seed) {
  return test_util::random_batch(spec, b, seed, /*pad_period=*/2, /*label_scale=*/1.0);
}

// Row i loses modality i % 3 entirely (masks, presence and features).
Batch drop_one_modality_per_row(const Batch& in) {
  Batch out = in;
  out.present = in.present.clone();
  for (int m = 0; m < kNumModalities; ++m) {
    out.keep[m] = in.keep[m].clone();
    out.x[m] = in.x[m].clone();
  }
  for (int64_t i = 0; i < in.size(); ++i) {
    const int m = static_cast<int>(i % 3);
    out.keep[m][i].fill_(false);
    out.x[m][i].zero_();
    out.present[i][m] = false;
  }
  return out;
}

nlohmann::json tiny(nlohmann::json extra = nlohmann::json::object(), bool no_dropout = false) {
  nlohmann::json j = {{"width", 8}, {"heads", 2}, {"encoder_layers", 1}, {"mcim_blocks", 1}};
  if (no_dropout)
    for (const char* k :
         {"attn_dropout", "relu_dropout", "res_dropout", "embed_dropout", "output_dropout"})
      j[k] = 0.0;
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

std::shared_ptr<UmdfImpl> make_umdf(const nlohmann::json& options, const InputSpec& spec,
                                    uint64_t seed = 4) {
  torch::manual_seed(seed);
  UmdfOptions o;
  options_from_json(o, options, "model");
  return std::make_shared<UmdfImpl>(o, spec);
}

std::vector<std::string> part_names(const Losses& l) {
  std::vector<std::string> names;
  for (const auto& p : l.parts) names.push_back(p.first);
  return names;
}

double part(const Losses& l, const std::string& name) {
  for (const auto& p : l.parts)
    if (p.first == name) return p.second.item<double>();
  ADD_FAILURE() << "no part " << name;
  return 0;
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

ObjectiveContext context(Task task) {
  ObjectiveContext ctx;
  ctx.task = task;
  ctx.missing_view = drop_one_modality_per_row;
  return ctx;
}

// A context whose "missing" view is the complete batch itself.
ObjectiveContext identity_context(Task task) {
  ObjectiveContext ctx = context(task);
  ctx.missing_view = [](const Batch& b) { return b; };
  return ctx;
}

std::vector<torch::Tensor> gradients(Model& model) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : model.parameters())
    grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return grads;
}

TEST(UmdfOptionsTest, DefaultsFollowTheSiblingProtocol) {
  const nlohmann::json d = find_model("umdf").default_options();
  EXPECT_EQ(d.at("width"), 40);
  EXPECT_EQ(d.at("heads"), 10);
  EXPECT_EQ(d.at("kernel"), 3);
  for (const char* k : {"coarse", "fine", "dfim", "distill", "feature_loss"})
    EXPECT_EQ(d.at(k), true) << k;
  EXPECT_EQ(d.at("stop_grad_complete"), false);
  EXPECT_EQ(d.at("feature_loss_kind"), "mse");
}

TEST(UmdfOptionsTest, HeadsMustDivideTheWidth) {
  try {
    find_model("umdf").make({{"heads", 3}}, spec_of(Task::kRegression, true));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("hidden width 40 is not divisible by heads 3"),
              std::string::npos)
        << e.what();
  }
}

TEST(UmdfOptionsTest, ImpossibleValuesAreConfigErrors) {
  const InputSpec spec = spec_of(Task::kRegression, false);
  const auto& e = find_model("umdf");
  for (const nlohmann::json& bad :
       {nlohmann::json{{"feature_loss_kind", "l2"}}, nlohmann::json{{"dfim_concat", "stack"}},
        nlohmann::json{{"tau", 0.0}}, nlohmann::json{{"kernel", 4}},
        nlohmann::json{{"attn_dropout", 1.0}}, nlohmann::json{{"alpha", -1.0}},
        nlohmann::json{{"encoder_layers", 0}}, nlohmann::json{{"coarse", 1}},
        nlohmann::json{{"teacher", "frozen"}}, nlohmann::json{{"ema_decay", 1.0}},
        nlohmann::json{{"warmup_epochs", -1}}, nlohmann::json{{"ramp_epochs", -2}},
        nlohmann::json{{"pred_loss_kind", "huber"}}, nlohmann::json{{"curriculum_epochs", -1}},
        nlohmann::json{{"teacher", "eval"}, {"stop_grad_complete", true}}})
    EXPECT_THROW(e.make(bad, spec), ConfigError) << bad.dump();
  // Per-frame feature concatenation is impossible for unaligned lengths.
  EXPECT_THROW(e.make({{"dfim_concat", "feature"}}, spec), ConfigError);
}

TEST(UmdfOptionsTest, AutoConcatenationDependsOnAlignment) {
  EXPECT_TRUE(make_umdf(tiny(), spec_of(Task::kRegression, true))->dfim_by_feature());
  EXPECT_FALSE(make_umdf(tiny(), spec_of(Task::kRegression, false))->dfim_by_feature());
  EXPECT_FALSE(make_umdf(tiny({{"dfim_concat", "time"}}), spec_of(Task::kRegression, true))
                   ->dfim_by_feature());
}

TEST(UmdfObjectiveTest, LossPartsFollowTheSwitches) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 6, 1);
  struct Case {
    nlohmann::json options;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {tiny(), {"task", "task_missing", "pred", "feat"}},
      {tiny({{"feature_loss", false}}), {"task", "task_missing", "pred"}},
      {tiny({{"distill", false}}), {"task", "task_missing"}},
      {tiny({{"distill", false}, {"feature_loss", true}}), {"task", "task_missing"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.options.dump());
    auto model = make_umdf(c.options, spec);
    model->train();
    ObjectiveContext ctx = context(Task::kRegression);
    Losses l = umdf_objective(*model, batch, ctx);
    EXPECT_EQ(part_names(l), c.parts);
    const UmdfOptions& o = model->options();
    double expected = part(l, "task") + part(l, "task_missing");
    if (o.distill) expected += o.alpha * part(l, "pred");
    if (o.distill && o.feature_loss) expected += o.beta * part(l, "feat");
    EXPECT_NEAR(l.total.item<double>(), expected, 1e-5);
  }
}

TEST(UmdfObjectiveTest, IdenticalViewsHaveZeroConsistencyAndMatchSeparatePasses) {
  const InputSpec spec = spec_of(Task::kIemocap, false);
  const Batch batch = batch_of(spec, 5, 2);
  for (const char* kind : {"mse", "kl", "mmd"}) {
    SCOPED_TRACE(kind);
    auto model = make_umdf(tiny({{"feature_loss_kind", kind}}, /*no_dropout=*/true), spec);
    model->train();  // no dropout: both halves of the stacked batch see the same function
    ObjectiveContext ctx = identity_context(Task::kIemocap);
    Losses l = umdf_objective(*model, batch, ctx);
    EXPECT_NEAR(part(l, "pred"), 0.0, 1e-6);
    EXPECT_NEAR(part(l, "feat"), 0.0, 1e-5);
    EXPECT_NEAR(part(l, "task"), part(l, "task_missing"), 1e-6);
    // Rows do not interact: the stacked pass equals a pass over the batch alone.
    torch::NoGradGuard no_grad;
    auto alone = model->forward(batch).prediction;
    auto task_alone = task_loss(alone, batch.label, Task::kIemocap).item<double>();
    EXPECT_NEAR(task_alone, part(l, "task"), 1e-5);
  }
}

TEST(UmdfObjectiveTest, StopGradOnTheCompleteViewChangesOnlyTheConsistencyGradients) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 6, 3);
  auto grads_with = [&](nlohmann::json extra) {
    auto model = make_umdf(tiny(extra, /*no_dropout=*/true), spec, 9);
    model->train();
    ObjectiveContext ctx = context(Task::kRegression);
    umdf_objective(*model, batch, ctx).total.backward();
    return gradients(*model);
  };
  auto same = [](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!torch::allclose(a[i], b[i], 1e-5, 1e-7)) return false;
    return true;
  };
  auto bidirectional = grads_with({{"beta", 1.0}});
  auto stopped = grads_with({{"beta", 1.0}, {"stop_grad_complete", true}});
  EXPECT_FALSE(same(bidirectional, stopped));
  // Without consistency terms the switch has nothing to act on.
  auto plain = grads_with({{"alpha", 0.0}, {"beta", 0.0}});
  auto plain_stopped = grads_with({{"alpha", 0.0}, {"beta", 0.0}, {"stop_grad_complete", true}});
  EXPECT_TRUE(same(plain, plain_stopped));
}

TEST(UmdfObjectiveTest, EveryAblationSwitchBuildsAndTrains) {
  std::vector<nlohmann::json> variants;
  for (bool coarse : {true, false})
    for (bool fine : {true, false})
      for (bool dfim : {true, false})
        variants.push_back(tiny({{"coarse", coarse}, {"fine", fine}, {"dfim", dfim}}));
  variants.push_back(tiny({{"mcim_blocks", 0}}));
  variants.push_back(tiny({{"mcim_blocks", 2}, {"encoder_layers", 2}}));
  variants.push_back(tiny({{"dfim_concat", "time"}}));
  variants.push_back(tiny({{"stop_grad_complete", true}}));
  variants.push_back(tiny({{"feature_loss_kind", "kl"}}));
  variants.push_back(tiny({{"feature_loss_kind", "mmd"}}));
  variants.push_back(tiny({{"teacher", "eval"}}));
  variants.push_back(tiny({{"teacher", "ema"}, {"per_modality", false}}));
  variants.push_back(tiny({{"pred_loss_kind", "l1"}, {"scale_to_task", true}}));
  variants.push_back(tiny({{"curriculum_epochs", 3}, {"teacher", "eval"}}));
  for (Task task : {Task::kRegression, Task::kIemocap}) {
    const InputSpec spec = spec_of(task, true);
    const Batch batch = batch_of(spec, 4, 5);
    for (const auto& v : variants) {
      SCOPED_TRACE(v.dump() + " " + task_name(task));
      auto model = make_umdf(v, spec);
      model->train();
      ObjectiveContext ctx = context(task);
      Losses l = umdf_objective(*model, batch, ctx);
      ASSERT_TRUE(all_finite(l.total));
      l.total.backward();
      for (const auto& p : model->named_parameters()) {
        ASSERT_TRUE(p.value().grad().defined()) << p.key();
        EXPECT_TRUE(all_finite(p.value().grad())) << p.key();
      }
      model->eval();
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(all_finite(model->forward(drop_one_modality_per_row(batch)).prediction));
    }
  }
}

// teacher = eval / ema: the targets come from a separate pass without gradients, so the complete
// rows are trained by their task loss only; with identical views and no dropout the targets equal
// the student's own outputs, so both consistency terms are 0.
TEST(UmdfTeacherTest, SeparateTeachersGiveTargetsWithoutGradients) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 6, 3);
  for (const char* teacher : {"eval", "ema"}) {
    SCOPED_TRACE(teacher);
    auto model = make_umdf(tiny({{"teacher", teacher}, {"beta", 1.0}}, /*no_dropout=*/true), spec);
    model->train();
    ObjectiveContext same = identity_context(Task::kRegression);
    Losses l = umdf_objective(*model, batch, same);
    EXPECT_NEAR(part(l, "pred"), 0.0, 1e-10);
    EXPECT_NEAR(part(l, "feat"), 0.0, 1e-10);
    EXPECT_TRUE(model->is_training()) << "the teacher pass must restore training mode";
    // With holes the terms are positive.
    ObjectiveContext ctx = context(Task::kRegression);
    Losses with = umdf_objective(*model, batch, ctx);
    EXPECT_GT(part(with, "pred"), 0.0);
    EXPECT_GT(part(with, "feat"), 0.0);
  }
}

TEST(UmdfTeacherTest, EmaAveragesTheWeightsAndTheTeacherPassRestoresThem) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 4, 8);
  auto model = make_umdf(tiny({{"teacher", "ema"}, {"ema_decay", 0.5}}, true), spec);
  std::set<std::string> buffers;
  for (const auto& b : model->named_buffers()) buffers.insert(b.key());
  EXPECT_TRUE(buffers.count("ema_0") && buffers.count("ema_updates"));
  EXPECT_FALSE(make_umdf(tiny(), spec)->named_buffers().contains("ema_0"));
  model->eval();
  torch::NoGradGuard no_grad;
  const auto before = model->forward(batch).prediction.clone();
  EXPECT_TRUE(torch::allclose(model->teacher_forward(batch).prediction, before));
  // Move every weight by +1: the first update uses decay min(0.5, 1/10) = 0.1, the second
  // min(0.5, 2/11) = 2/11, so the average is p0 + 0.9 and then p0 + 0.9 * 2/11 + 9/11.
  std::vector<torch::Tensor> p0;
  for (auto& p : model->parameters()) {
    p0.push_back(p.detach().clone());
    p.add_(1.0);
  }
  model->update_ema();
  model->update_ema();
  const double expect = 0.9 * 2.0 / 11.0 + 9.0 / 11.0;
  const auto moved = model->forward(batch).prediction.clone();
  int64_t i = 0;
  for (const auto& b : model->named_buffers()) {
    if (b.key() == "ema_updates") {
      EXPECT_EQ(b.value().item<int64_t>(), 2);
      continue;
    }
    if (b.key().rfind("ema_", 0) != 0) continue;
    const auto idx = std::stoll(b.key().substr(4));
    EXPECT_TRUE(torch::allclose(b.value(), p0[idx] + expect, 1e-5, 1e-6)) << b.key();
    ++i;
  }
  EXPECT_EQ(i, static_cast<int64_t>(p0.size()));
  const auto taught = model->teacher_forward(batch).prediction;
  EXPECT_FALSE(torch::allclose(taught, moved));
  EXPECT_TRUE(torch::allclose(model->forward(batch).prediction, moved))
      << "the live weights must be back after the teacher pass";
  EXPECT_THROW(make_umdf(tiny(), spec)->update_ema(), RunError);
}

TEST(UmdfScheduleTest, WarmupRampAndWeights) {
  UmdfOptions o;
  EXPECT_EQ(distill_schedule(o, 0), 1.0);
  o.warmup_epochs = 2;
  o.ramp_epochs = 3;
  EXPECT_EQ(distill_schedule(o, 0), 0.0);
  EXPECT_EQ(distill_schedule(o, 1), 0.0);
  EXPECT_DOUBLE_EQ(distill_schedule(o, 2), 0.25);
  EXPECT_DOUBLE_EQ(distill_schedule(o, 4), 0.75);
  EXPECT_EQ(distill_schedule(o, 5), 1.0);
  EXPECT_EQ(distill_schedule(o, 50), 1.0);

  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 6, 4);
  auto run = [&](const nlohmann::json& extra, int64_t epoch) {
    auto model = make_umdf(tiny(extra, true), spec, 5);
    model->train();
    ObjectiveContext ctx = context(Task::kRegression);
    ctx.epoch = epoch;
    return umdf_objective(*model, batch, ctx);
  };
  // In the warm-up the terms are off (logged as 0); afterwards they are weighted by the ramp.
  Losses warm = run({{"warmup_epochs", 2}, {"ramp_epochs", 3}}, 1);
  EXPECT_EQ(part_names(warm), (std::vector<std::string>{"task", "task_missing", "pred", "feat"}));
  EXPECT_EQ(part(warm, "pred"), 0.0);
  EXPECT_NEAR(warm.total.item<double>(), part(warm, "task") + part(warm, "task_missing"), 1e-6);
  Losses ramp = run({{"warmup_epochs", 2}, {"ramp_epochs", 3}, {"alpha", 1.0}, {"beta", 1.0}}, 3);
  EXPECT_NEAR(ramp.total.item<double>(),
              part(ramp, "task") + part(ramp, "task_missing") +
                  0.5 * (part(ramp, "pred") + part(ramp, "feat")),
              1e-5);
  // L1 prediction consistency; weights relative to the missing view's task loss.
  Losses mse = run(nlohmann::json::object(), 0), l1 = run({{"pred_loss_kind", "l1"}}, 0);
  EXPECT_NE(part(mse, "pred"), part(l1, "pred"));
  Losses scaled = run({{"scale_to_task", true}, {"alpha", 0.5}, {"beta", 0.25}}, 0);
  EXPECT_NEAR(scaled.total.item<double>(),
              part(scaled, "task") + (1 + 0.5 + 0.25) * part(scaled, "task_missing"), 1e-5);
  // Without the per-modality terms L_feat is the fused term alone (smaller here).
  Losses fused_only = run({{"per_modality", false}}, 0);
  EXPECT_LT(part(fused_only, "feat"), part(mse, "feat"));
  EXPECT_NEAR(part(fused_only, "pred"), part(mse, "pred"), 1e-7);
}

// In epoch e < curriculum_epochs a missing-view row is the complete row with probability
// 1 - (e+1)/(curriculum_epochs+1): with a very long curriculum every row of this batch is
// complete in epoch 0 (consistency 0 without dropout); after it, the holes are back.
TEST(UmdfScheduleTest, CurriculumEasesTheMissingView) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 6, 4);
  auto pred_at = [&](int64_t curriculum, int64_t epoch) {
    auto model =
        make_umdf(tiny({{"teacher", "eval"}, {"curriculum_epochs", curriculum}}, true), spec, 5);
    model->train();
    ObjectiveContext ctx = context(Task::kRegression);
    ctx.epoch = epoch;
    return part(umdf_objective(*model, batch, ctx), "pred");
  };
  EXPECT_NEAR(pred_at(100000, 0), 0.0, 1e-10);
  EXPECT_GT(pred_at(0, 0), 0.0);
  EXPECT_EQ(pred_at(3, 3), pred_at(0, 3));
}

TEST(UmdfModelTest, SwitchedOffPartsHaveNoParameters) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  auto count = [&](const nlohmann::json& o) {
    std::set<std::string> names;
    for (const auto& p : make_umdf(o, spec)->named_parameters()) names.insert(p.key());
    return names;
  };
  auto has = [](const std::set<std::string>& names, const std::string& part) {
    for (const auto& n : names)
      if (n.find(part) != std::string::npos) return true;
    return false;
  };
  const auto full = count(tiny());
  EXPECT_TRUE(has(full, "coarse_attn") && has(full, "fine_attn") && has(full, "dfim."));
  EXPECT_FALSE(has(count(tiny({{"coarse", false}})), "coarse_attn"));
  EXPECT_FALSE(has(count(tiny({{"fine", false}})), "fine_attn"));
  EXPECT_FALSE(has(count(tiny({{"dfim", false}})), "dfim."));
  EXPECT_FALSE(has(count(tiny({{"mcim_blocks", 0}})), "mcim."));
  // Checkpoint names follow the paper's parts.
  EXPECT_TRUE(has(full, "encoders.0.") && has(full, "mcim.blocks.") && has(full, "head."));
}

TEST(UmdfModelTest, AnAbsentModalityCannotLeakIntoTheOutput) {
  for (bool aligned : {true, false}) {
    const InputSpec spec = spec_of(Task::kRegression, aligned);
    auto model = make_umdf(tiny(), spec);
    model->eval();
    torch::NoGradGuard no_grad;
    const Batch batch = batch_of(spec, 3, 6);
    for (int m = 0; m < kNumModalities; ++m) {
      SCOPED_TRACE(str(kModalityNames[m], aligned ? " aligned" : " unaligned"));
      Batch zeros = batch;
      zeros.present = batch.present.clone();
      zeros.present.select(1, m).fill_(false);
      zeros.keep[m] = torch::zeros_like(batch.keep[m]);
      zeros.x[m] = torch::zeros_like(batch.x[m]);
      Batch garbage = zeros;
      garbage.x[m] = torch::randn(batch.x[m].sizes()) * 100;
      auto a = model->forward(zeros), b = model->forward(garbage);
      EXPECT_TRUE(torch::allclose(a.prediction, b.prediction, 1e-5, 1e-6));
      EXPECT_TRUE(torch::allclose(a.features["fused"], b.features["fused"], 1e-5, 1e-6));
      EXPECT_EQ(a.features[kModalityNames[m]].abs().sum().item<float>(), 0.0f);
    }
  }
}

TEST(UmdfObjectiveTest, MisuseIsARunError) {
  const InputSpec spec = spec_of(Task::kRegression, true);
  const Batch batch = batch_of(spec, 2, 1);
  auto umdf = make_umdf(tiny(), spec);
  ObjectiveContext no_view;
  EXPECT_THROW(umdf_objective(*umdf, batch, no_view), RunError);
  torch::manual_seed(1);
  auto lf = find_model("lf_dnn").make(nlohmann::json::object(), spec);
  ObjectiveContext ctx = context(Task::kRegression);
  EXPECT_THROW(find_model("umdf").objective(*lf, batch, ctx), RunError);  // the registry's cast
}

TEST(UmdfConsistencyTest, FeatureMeasuresAreZeroOnIdenticalInputsAndPositiveOtherwise) {
  torch::manual_seed(0);
  auto a = torch::randn({6, 5});
  auto b = a + 0.5 * torch::randn({6, 5});
  for (const char* kind : {"mse", "kl", "mmd"}) {
    SCOPED_TRACE(kind);
    EXPECT_NEAR(feature_consistency(a, a, kind, 2.0).item<double>(), 0.0, 1e-6);
    EXPECT_GT(feature_consistency(a, b, kind, 2.0).item<double>(), 1e-4);
    EXPECT_EQ(feature_consistency(a.narrow(0, 0, 0), b.narrow(0, 0, 0), kind, 2.0).item<double>(),
              0.0);
  }
  EXPECT_NEAR(feature_consistency(a, b, "kl", 1.0).item<double>(),
              feature_consistency(b, a, "kl", 1.0).item<double>(), 1e-6);
  EXPECT_NEAR(feature_consistency(a, b, "mse", 1.0).item<double>(),
              (a - b).pow(2).mean().item<double>(), 1e-6);
  // Identical rows: the MMD's distance computation must not produce NaN gradients.
  auto z = torch::zeros({3, 4}, torch::requires_grad());
  feature_consistency(z, z * 1.0, "mmd", 1.0).backward();
  EXPECT_TRUE(all_finite(z.grad()));
  EXPECT_THROW(feature_consistency(a, b, "cosine", 1.0), ConfigError);
}

TEST(UmdfConsistencyTest, PredictionConsistencyIsMseOrSymmetricSoftenedKl) {
  auto p = torch::tensor({1.0f, 2.0f}), q = torch::tensor({0.0f, 2.0f});
  EXPECT_NEAR(prediction_consistency(p, q, Task::kRegression, 2.0).item<double>(), 0.5, 1e-6);
  torch::manual_seed(1);
  auto s = torch::randn({3, 4, 2}), t = torch::randn({3, 4, 2});
  const double st = prediction_consistency(s, t, Task::kIemocap, 2.0).item<double>();
  EXPECT_GT(st, 0.0);
  EXPECT_NEAR(st, prediction_consistency(t, s, Task::kIemocap, 2.0).item<double>(), 1e-6);
  EXPECT_NEAR(prediction_consistency(s, s, Task::kIemocap, 2.0).item<double>(), 0.0, 1e-7);
  // By hand for one emotion: KL between softmax(z / tau) of [0, 0] and [2, 0] at tau = 2.
  auto a = torch::zeros({1, 1, 2}), b = torch::tensor({2.0f, 0.0f}).view({1, 1, 2});
  const double p1 = 1 / (1 + std::exp(-1.0));  // softmax([1, 0])[0]
  const double kl_ab = 0.5 * std::log(0.5 / p1) + 0.5 * std::log(0.5 / (1 - p1));
  const double kl_ba = p1 * std::log(p1 / 0.5) + (1 - p1) * std::log((1 - p1) / 0.5);
  EXPECT_NEAR(prediction_consistency(a, b, Task::kIemocap, 2.0).item<double>(),
              0.5 * (kl_ab + kl_ba) * 4.0, 1e-6);
}

}  // namespace
}  // namespace robustmsa

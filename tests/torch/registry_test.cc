// Registry-driven model tests: every model listed in model_registry() gets the same shape,
// missing-pattern, gradient, checkpoint, determinism and option tests, at tiny sizes. A new model
// is tested the moment it is listed. Also tests the shared layers, task_loss and find_model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../common/model_fixtures.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "util/error.h"

namespace robustmsa {
namespace {

// Tiny, deliberately unaligned sizes keep the whole suite fast (tests/common/model_fixtures.h).
using test_util::tiny_spec;

// Random features, end padding of 0, 1 or 2 frames per row, nothing missing.
Batch make_batch(const InputSpec& spec, int64_t b, uint64_t seed) {
  return test_util::random_batch(spec, b, seed, /*pad_period=*/3, /*label_scale=*/2.0);
}

Batch copy_batch(const Batch& in) {
  Batch out = in;
  for (int m = 0; m < kNumModalities; ++m) {
    out.x[m] = in.x[m].clone();
    out.valid[m] = in.valid[m].clone();
    out.keep[m] = in.keep[m].clone();
  }
  out.present = in.present.clone();
  return out;
}

// Features zero and masks false wherever a frame is dropped (DESIGN §2.4).
void apply_keep(Batch& batch, int m, const torch::Tensor& keep) {
  batch.keep[m] = batch.keep[m] & keep;
  batch.x[m] = batch.x[m] * (batch.keep[m] & batch.valid[m]).unsqueeze(-1);
}

// Only the modalities whose bit is set in `subset` (bit m = modality m) stay present.
Batch only_modalities(const Batch& in, int subset) {
  Batch out = copy_batch(in);
  for (int m = 0; m < kNumModalities; ++m) {
    if (subset & (1 << m)) continue;
    apply_keep(out, m, torch::zeros_like(out.keep[m]));
    out.present.select(1, m).fill_(false);
  }
  return out;
}

Batch drop_frames(const Batch& in, double p, uint64_t seed) {
  Batch out = copy_batch(in);
  torch::manual_seed(seed);
  for (int m = 0; m < kNumModalities; ++m)
    apply_keep(out, m, torch::rand(out.keep[m].sizes()) >= p);
  return out;
}

// Deterministic "uncertain" missing view for objective tests: row i keeps the modality subset
// (i % 7) + 1 and loses every other frame of what it keeps when i is odd.
Batch deterministic_missing(const Batch& in) {
  Batch out = copy_batch(in);
  const int64_t b = in.size();
  for (int64_t i = 0; i < b; ++i) {
    const int subset = static_cast<int>(i % 7) + 1;
    for (int m = 0; m < kNumModalities; ++m) {
      auto keep = out.keep[m][i];
      if (!(subset & (1 << m))) {
        keep.fill_(false);
        out.present[i][m] = false;
      } else if (i % 2 == 1) {
        keep.slice(0, 0, keep.size(0), 2).fill_(false);
      }
      out.x[m][i] *= (out.keep[m][i] & out.valid[m][i]).unsqueeze(-1);
    }
  }
  return out;
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

std::shared_ptr<Model> build(const ModelEntry& entry, const InputSpec& spec, uint64_t seed = 7) {
  torch::manual_seed(seed);
  return entry.make(entry.test_options, spec);  // the entry's own tiny options
}

ModelOutput eval_forward(Model& model, const Batch& batch) {
  torch::NoGradGuard no_grad;
  model.eval();
  return model.forward(batch);
}

void expect_output(const ModelOutput& out, const InputSpec& spec, int64_t b,
                   const std::string& what) {
  SCOPED_TRACE(what);
  if (spec.task == Task::kIemocap) {
    EXPECT_EQ(out.prediction.sizes(), (std::vector<int64_t>{b, 4, 2}));
  } else {
    EXPECT_EQ(out.prediction.sizes(), (std::vector<int64_t>{b}));
  }
  EXPECT_TRUE(all_finite(out.prediction)) << out.prediction;
  EXPECT_TRUE(out.features.count("fused")) << "every model exposes a fused representation";
  for (const auto& [name, f] : out.features) {
    EXPECT_EQ(f.size(0), b) << name;
    EXPECT_TRUE(all_finite(f)) << name;
  }
}

std::vector<std::string> registered_names() {
  std::vector<std::string> names;
  for (const auto& e : model_registry()) names.push_back(e.name);
  return names;
}

class RegistryModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  const ModelEntry& entry() const { return find_model(GetParam()); }
};

TEST_P(RegistryModelTest, ShapesForRegressionAndIemocapAtBatchOneAndFour) {
  for (Task task : {Task::kRegression, Task::kIemocap}) {
    const InputSpec spec = tiny_spec(task);
    auto model = build(entry(), spec);
    for (int64_t b : {1, 4}) {
      auto out = eval_forward(*model, make_batch(spec, b, 3));
      expect_output(out, spec, b, str(task_name(task), " B=", b));
    }
  }
}

TEST_P(RegistryModelTest, EveryMissingPatternGivesFiniteOutputs) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  auto model = build(entry(), spec);
  const Batch full = make_batch(spec, 4, 11);
  std::vector<std::pair<std::string, Batch>> cases;
  for (int subset = 1; subset < 8; ++subset)
    cases.emplace_back(str("present subset ", subset), only_modalities(full, subset));
  for (int m = 0; m < kNumModalities; ++m) {
    // Every frame dropped but the modality still flagged present: masks alone must protect.
    Batch b = copy_batch(full);
    apply_keep(b, m, torch::zeros_like(b.keep[m]));
    cases.emplace_back(str("all frames of ", kModalityNames[m], " missing"), b);
    // No valid frame at all (an empty sequence after padding).
    Batch e = copy_batch(full);
    e.valid[m].fill_(false);
    e.x[m].zero_();
    cases.emplace_back(str("no valid frame of ", kModalityNames[m]), e);
  }
  cases.emplace_back("frame drop 0.5", drop_frames(full, 0.5, 5));
  cases.emplace_back("frame drop 1.0", drop_frames(full, 1.0, 5));
  cases.emplace_back("deterministic mix", deterministic_missing(full));
  for (const auto& [what, batch] : cases) {
    expect_output(eval_forward(*model, batch), spec, 4, "eval: " + what);
    model->train();
    expect_output(model->forward(batch), spec, 4, "train: " + what);
  }
}

TEST_P(RegistryModelTest, ObjectiveGradientsAreFiniteForEveryParameter) {
  for (Task task : {Task::kRegression, Task::kIemocap}) {
    SCOPED_TRACE(task_name(task));
    const InputSpec spec = tiny_spec(task);
    auto model = build(entry(), spec);
    model->train();
    ObjectiveContext ctx;
    ctx.task = task;
    ctx.missing_view = deterministic_missing;
    Batch batch = drop_frames(make_batch(spec, 8, 21), 0.3, 2);
    // A model trained in phases (a teacher, then a student) trains different parameters in each:
    // every parameter must get a gradient in some phase.
    const int64_t phases = model->phase_of_epoch(99, 100) + 1;
    std::map<std::string, std::pair<bool, bool>> seen;  // defined, non-zero
    for (int64_t phase = 0; phase < phases; ++phase) {
      SCOPED_TRACE(str("phase ", phase));
      model->begin_phase(phase);
      ctx.phase = phase;
      Losses losses = entry().objective(*model, batch, ctx);
      ASSERT_TRUE(losses.total.defined());
      EXPECT_EQ(losses.total.dim(), 0);
      EXPECT_TRUE(all_finite(losses.total));
      ASSERT_FALSE(losses.parts.empty());
      for (const auto& [name, value] : losses.parts) EXPECT_TRUE(all_finite(value)) << name;
      model->zero_grad();
      losses.total.backward();
      for (const auto& p : model->named_parameters()) {
        const auto& g = p.value().grad();
        auto& s = seen[p.key()];
        if (!g.defined()) continue;
        s.first = true;
        EXPECT_TRUE(all_finite(g)) << p.key();
        if (g.abs().sum().item<double>() > 0) s.second = true;
      }
    }
    int64_t with_grad = 0, nonzero = 0;
    for (const auto& [name, s] : seen) {
      EXPECT_TRUE(s.first) << name << " gets no gradient (an unused parameter?)";
      with_grad += s.first;
      nonzero += s.second;
    }
    EXPECT_GT(with_grad, 0);
    EXPECT_GT(nonzero, with_grad / 2) << "most parameters should receive a non-zero gradient";
  }
}

TEST_P(RegistryModelTest, GradientsStayFiniteWhenAModalityIsEntirelyMissing) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  auto model = build(entry(), spec);
  model->train();
  ObjectiveContext ctx;
  ctx.missing_view = [](const Batch& b) { return drop_frames(b, 1.0, 3); };
  for (int subset : {1, 2, 4}) {
    model->zero_grad();
    Batch batch = only_modalities(make_batch(spec, 4, 9), subset);
    Losses losses = entry().objective(*model, batch, ctx);
    losses.total.backward();
    EXPECT_TRUE(all_finite(losses.total)) << "subset " << subset;
    for (const auto& p : model->named_parameters()) {
      if (p.value().grad().defined()) {
        EXPECT_TRUE(all_finite(p.value().grad())) << p.key() << " subset " << subset;
      }
    }
  }
}

TEST_P(RegistryModelTest, SaveLoadRestoresIdenticalOutputs) {
  const InputSpec spec = tiny_spec(Task::kIemocap);
  auto a = build(entry(), spec, 1);
  // Train a step's worth of BatchNorm statistics so buffers differ from a fresh model too.
  a->train();
  a->forward(make_batch(spec, 4, 2));
  std::stringstream bytes;
  {
    torch::serialize::OutputArchive archive;
    a->save(archive);
    archive.save_to(bytes);
  }
  auto b = build(entry(), spec, 2);
  const Batch batch = make_batch(spec, 4, 5);
  auto before = eval_forward(*b, batch).prediction;
  {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes);
    b->load(archive);
  }
  auto expected = eval_forward(*a, batch).prediction;
  auto loaded = eval_forward(*b, batch).prediction;
  EXPECT_TRUE(torch::equal(expected, loaded));
  EXPECT_FALSE(torch::equal(before, loaded)) << "different seeds should give different weights";
}

TEST_P(RegistryModelTest, EvalIsDeterministicAndInitFollowsTheSeed) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  auto a = build(entry(), spec, 3);
  auto b = build(entry(), spec, 3);
  const Batch batch = make_batch(spec, 4, 8);
  auto first = eval_forward(*a, batch).prediction;
  EXPECT_TRUE(torch::equal(first, eval_forward(*a, batch).prediction));
  EXPECT_TRUE(torch::equal(first, eval_forward(*b, batch).prediction));
}

TEST_P(RegistryModelTest, OptionsRoundTripAndUnknownKeysFail) {
  const ModelEntry& e = entry();
  const nlohmann::json defaults = e.default_options();
  ASSERT_TRUE(defaults.is_object());
  EXPECT_FALSE(defaults.empty());
  const InputSpec spec = tiny_spec(Task::kRegression);
  EXPECT_NO_THROW(e.make(defaults, spec));
  EXPECT_NO_THROW(e.make(nlohmann::json::object(), spec));
  nlohmann::json unknown = defaults;
  unknown["no_such_option"] = 1;
  try {
    e.make(unknown, spec);
    ADD_FAILURE() << "unknown key accepted";
  } catch (const ConfigError& err) {
    EXPECT_NE(std::string(err.what()).find("model.no_such_option"), std::string::npos)
        << err.what();
  }
  // A wrong type is a ConfigError too (no silent conversion).
  nlohmann::json wrong = nlohmann::json::object();
  wrong[defaults.begin().key()] = "not a value";
  if (!defaults.begin()->is_string()) {
    EXPECT_THROW(e.make(wrong, spec), ConfigError);
  }
  EXPECT_FALSE(e.paper.empty());
  EXPECT_TRUE(static_cast<bool>(e.objective));
}

INSTANTIATE_TEST_SUITE_P(Registry, RegistryModelTest, ::testing::ValuesIn(registered_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ---- the registry itself ----------------------------------------------------------------------

TEST(RegistryTest, ListsTheModelsInReportOrderWithUniqueNames) {
  EXPECT_EQ(registered_names(),
            (std::vector<std::string>{"umdf", "lf_dnn", "mult", "tfn", "misa", "self_mm", "mctn",
                                      "mmin", "tfr_net", "teacher_student"}));
}

TEST(RegistryTest, UnknownModelIsAUsageErrorListingTheKnownOnes) {
  try {
    find_model("x");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown model 'x'; expected one of: umdf, lf_dnn, mult, tfn, misa, self_mm, mctn, "
              "mmin, tfr_net, teacher_student");
  }
}

TEST(RegistryTest, BadInputSpecIsADataError) {
  InputSpec spec = tiny_spec(Task::kRegression);
  spec.dim[1] = 0;
  for (const auto& e : model_registry())
    EXPECT_THROW(e.make(nlohmann::json::object(), spec), DataError) << e.name;
}

// ---- task loss ------------------------------------------------------------------------------

TEST(TaskLossTest, RegressionIsL1) {
  auto p = torch::tensor({0.5f, -1.0f, 2.0f});
  auto y = torch::tensor({1.0f, -1.0f, 0.0f});
  EXPECT_NEAR(task_loss(p, y, Task::kRegression).item<double>(), (0.5 + 0.0 + 2.0) / 3, 1e-6);
  EXPECT_NEAR(task_loss(p, y, Task::kSims).item<double>(), (0.5 + 0.0 + 2.0) / 3, 1e-6);
}

TEST(TaskLossTest, IemocapIsCrossEntropyPerEmotion) {
  auto logits = torch::zeros({1, 4, 2});
  logits[0][0][1] = std::log(3.0);  // p(class 1) = 0.75 for emotion 0
  auto label = torch::tensor({{1, 0, 1, 0}}, torch::kLong);
  const double expected = (-std::log(0.75) + 3 * std::log(2.0)) / 4;
  EXPECT_NEAR(task_loss(logits, label, Task::kIemocap).item<double>(), expected, 1e-6);
}

TEST(TaskLossTest, ShapeMismatchIsARunErrorNamingTheShapes) {
  try {
    task_loss(torch::zeros({4, 8}), torch::zeros({4, 4}, torch::kLong), Task::kIemocap);
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("(4, 8)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(task_loss(torch::zeros({4}), torch::zeros({3}), Task::kRegression), RunError);
}

TEST(TaskLossTest, SupervisedObjectiveReportsTheTaskPart) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  auto model = build(find_model("lf_dnn"), spec);
  ObjectiveContext ctx;
  Losses l = supervised_objective(*model, make_batch(spec, 4, 1), ctx);
  ASSERT_EQ(l.parts.size(), 1u);
  EXPECT_EQ(l.parts[0].first, "task");
  EXPECT_NEAR(l.parts[0].second.item<double>(), l.total.item<double>(), 1e-7);
}

// ---- shared layers ------------------------------------------------------------------------------

TEST(LayersTest, MaskedMeanIgnoresMaskedFramesAndIsZeroWhenAllAreMasked) {
  auto x = torch::tensor({1.0f, 2.0f, 30.0f, 5.0f, 6.0f, 7.0f}).view({2, 3, 1});
  auto mask = torch::tensor({true, true, false, false, false, false}).view({2, 3});
  auto mean = masked_mean(x, mask);
  EXPECT_FLOAT_EQ(mean[0][0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(mean[1][0].item<float>(), 0.0f);
}

TEST(LayersTest, LastMaskedPicksTheLastTrueFrame) {
  auto x = torch::arange(6, torch::kFloat).view({2, 3, 1});
  auto mask = torch::tensor({true, true, false, false, false, false}).view({2, 3});
  auto last = last_masked(x, mask);
  EXPECT_FLOAT_EQ(last[0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(last[1][0].item<float>(), 0.0f);
}

TEST(LayersTest, SinusoidalPositionsStartAtOneWithSinThenCos) {
  auto table = sinusoidal_positions(3, 4, torch::kFloat);
  ASSERT_EQ(table.sizes(), (std::vector<int64_t>{3, 4}));
  // Column 0 has frequency 1, column 1 frequency 1e-4; position 1 is the first row.
  EXPECT_NEAR(table[0][0].item<double>(), std::sin(1.0), 1e-6);
  EXPECT_NEAR(table[0][2].item<double>(), std::cos(1.0), 1e-6);
  EXPECT_NEAR(table[2][1].item<double>(), std::sin(3e-4), 1e-6);
  EXPECT_EQ(sinusoidal_positions(2, 5, torch::kFloat)[1][4].item<float>(), 0.0f);
}

// Reference: one head at a time with explicit loops over masked keys.
TEST(LayersTest, MaskedAttentionMatchesAReferenceAndIsSafeWhenEveryKeyIsMasked) {
  torch::manual_seed(0);
  MaskedAttention attn(8, 2, 0.0);
  auto q = torch::randn({2, 3, 8});
  auto kv = torch::randn({2, 4, 8}, torch::requires_grad());
  auto mask = torch::tensor({true, false, true, true, false, false, false, false}).view({2, 4});
  auto out = attn->forward(q, kv, mask);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 3, 8}));
  // Row 0 by hand.
  auto params = attn->named_parameters();
  auto wq = params["q_proj.weight"], bq = params["q_proj.bias"];
  auto wkv = params["kv_proj.weight"], bkv = params["kv_proj.bias"];
  auto wo = params["out_proj.weight"], bo = params["out_proj.bias"];
  auto qq = torch::matmul(q[0], wq.t()) + bq;     // (3, 8)
  auto kk = torch::matmul(kv[0], wkv.t()) + bkv;  // (4, 16)
  auto keys = kk.narrow(1, 0, 8), values = kk.narrow(1, 8, 8);
  auto idx = torch::tensor({0, 2, 3});
  std::vector<torch::Tensor> heads;
  for (int h = 0; h < 2; ++h) {
    auto qh = qq.narrow(1, h * 4, 4), kh = keys.index_select(0, idx).narrow(1, h * 4, 4);
    auto vh = values.index_select(0, idx).narrow(1, h * 4, 4);
    heads.push_back(torch::matmul(torch::softmax(torch::matmul(qh, kh.t()) / 2.0, -1), vh));
  }
  auto expected = torch::matmul(torch::cat(heads, 1), wo.t()) + bo;
  EXPECT_TRUE(torch::allclose(out[0], expected, 1e-5, 1e-6));
  // Row 1 has no usable key: the output is the projection bias, and gradients are finite zeros.
  EXPECT_TRUE(torch::allclose(out[1], bo.expand({3, 8})));
  out.sum().backward();
  EXPECT_TRUE(all_finite(kv.grad()));
  EXPECT_EQ(kv.grad()[1].abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(kv.grad()[0][1].abs().sum().item<float>(), 0.0f) << "masked key got a gradient";
}

TEST(LayersTest, CausalMaskFollowsMulT) {
  torch::manual_seed(0);
  MaskedAttention attn(4, 1, 0.0);
  auto x = torch::randn({1, 3, 4});
  auto mask = torch::ones({1, 3}, torch::kBool);
  auto causal = attn->forward(x, x, mask, true);
  // Query 0 sees only key 0: changing later keys leaves it unchanged.
  auto y = x.clone();
  y[0][2] += 5.0;
  auto causal_y = attn->forward(x, y, mask, true);
  EXPECT_TRUE(torch::allclose(causal[0][0], causal_y[0][0]));
  EXPECT_FALSE(torch::allclose(causal[0][2], causal_y[0][2]));
}

TEST(LayersTest, OddKernelAndDivisibleHeadsAreRequired) {
  EXPECT_THROW(FrameProjection(3, 4, 2), ConfigError);
  EXPECT_THROW(MaskedAttention(10, 3, 0.0), ConfigError);
}

}  // namespace
}  // namespace robustmsa

// Model-specific tests of the baselines TFN, MISA, Self-MM and MCTN (the registry tests cover
// shapes, missing patterns, gradients, checkpoints and determinism for every model).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "../common/model_fixtures.h"
#include "nn/mctn.h"
#include "nn/misa.h"
#include "nn/model.h"
#include "nn/mult.h"
#include "nn/packed_rnn.h"
#include "nn/self_mm.h"
#include "nn/tfn.h"
#include "util/error.h"

namespace robustmsa {
namespace {

using test_util::random_batch;
using test_util::tiny_spec;

Batch batch_of(const InputSpec& spec, int64_t b, uint64_t seed) {
  return random_batch(spec, b, seed, /*pad_period=*/3, /*label_scale=*/2.0);
}

// The same rows with their padding moved from the end to the front (the MulT/CMU layout).
Batch front_padded(const Batch& in) {
  Batch out = in;
  for (int m = 0; m < kNumModalities; ++m) {
    const int64_t t = in.x[m].size(1);
    out.x[m] = torch::zeros_like(in.x[m]);
    out.valid[m] = torch::zeros_like(in.valid[m]);
    for (int64_t i = 0; i < in.size(); ++i) {
      const int64_t shift = t - in.valid[m][i].sum().item<int64_t>();
      out.x[m][i] = torch::roll(in.x[m][i], shift, 0);
      out.valid[m][i] = torch::roll(in.valid[m][i], shift, 0);
    }
  }
  return out;
}

// ---- packed recurrent encoders ------------------------------------------------------------------

TEST(PackedLstmTest, ReadsTheValidFramesInOrderWhereverThePaddingIs) {
  torch::manual_seed(3);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(4, 3).bidirectional(true).batch_first(true));
  torch::NoGradGuard no_grad;
  const int64_t t = 6;
  auto lengths = torch::tensor({6, 4, 1, 0});
  auto end_valid = torch::arange(t).unsqueeze(0) < lengths.unsqueeze(1);           // (4, 6)
  auto front_valid = torch::arange(t).unsqueeze(0) >= (t - lengths).unsqueeze(1);  // (4, 6)
  auto end_x = torch::randn({4, t, 4}) * end_valid.unsqueeze(-1);
  auto front_x = torch::zeros_like(end_x);
  for (int64_t i = 0; i < 4; ++i)
    front_x[i] = torch::roll(end_x[i], t - lengths[i].item<int64_t>(), 0);
  auto [end_out, end_h] = packed_lstm(*lstm, end_x, end_valid);
  auto [front_out, front_h] = packed_lstm(*lstm, front_x, front_valid);
  EXPECT_TRUE(torch::allclose(end_h, front_h, 1e-6, 1e-6)) << end_h << front_h;
  for (int64_t i = 0; i < 3; ++i) {  // row 3 has no valid frame
    const int64_t n = lengths[i].item<int64_t>();
    EXPECT_TRUE(
        torch::allclose(end_out[i].narrow(0, 0, n), front_out[i].narrow(0, t - n, n), 1e-6, 1e-6))
        << "row " << i;
    EXPECT_TRUE(torch::equal(front_out[i].narrow(0, 0, t - n), torch::zeros({t - n, 6})))
        << "padding outputs are zero, row " << i;
  }
  // The last valid frame's forward output is the final forward state, also for front padding.
  EXPECT_TRUE(torch::allclose(front_out.select(1, t - 1).narrow(1, 0, 3).narrow(0, 0, 3),
                              front_h[0].narrow(0, 0, 3), 1e-6, 1e-6));
  // A hole in the valid frames: the LSTM reads the frames on both sides as neighbours.
  auto holed_valid = end_valid.clone();
  holed_valid[0][2] = false;
  auto holed_x = end_x * holed_valid.unsqueeze(-1);
  auto squeezed = torch::cat({holed_x[0].narrow(0, 0, 2), holed_x[0].narrow(0, 3, 3)}).unsqueeze(0);
  auto [holed_out, holed_h] = packed_lstm(*lstm, holed_x, holed_valid);
  auto plain = std::get<0>(lstm->forward(squeezed));  // (1, 5, 6)
  EXPECT_TRUE(torch::allclose(holed_out[0].index_select(0, torch::tensor({0, 1, 3, 4, 5})),
                              plain[0], 1e-6, 1e-6));
}

// MISA, Self-MM and MCTN read every modality (MCTN: the text) with packed LSTMs, so moving the
// padding from the end to the front must not change their predictions.
class PaddingSideTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PaddingSideTest, PredictionDoesNotDependOnWhereThePaddingIs) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  const std::string name = GetParam();
  nlohmann::json options = nlohmann::json::object();
  if (name != "mctn") options["text_encoder"] = "lstm";
  torch::manual_seed(5);
  auto model = find_model(name).make(options, spec);
  model->eval();
  torch::NoGradGuard no_grad;
  const Batch end = batch_of(spec, 5, 11);
  const Batch front = front_padded(end);
  ASSERT_FALSE(torch::equal(end.valid[kText], front.valid[kText]));
  auto a = model->forward(end).prediction;
  auto b = model->forward(front).prediction;
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6)) << a << b;
}

INSTANTIATE_TEST_SUITE_P(Baselines, PaddingSideTest, ::testing::Values("misa", "self_mm", "mctn"),
                         [](const auto& info) { return std::string(info.param); });

// ---- TFN ----------------------------------------------------------------------------------------

TEST(TfnTest, FusionTensorHoldsTheOneExtendedUnimodalEmbeddings) {
  TfnOptions o;
  o.text_hidden = 6;
  o.audio_hidden = 3;
  o.vision_hidden = 4;
  o.text_out = 5;
  o.post_fusion_dim = 7;
  torch::manual_seed(0);
  Tfn model(o, tiny_spec(Task::kRegression));
  model->eval();
  torch::NoGradGuard no_grad;
  ModelOutput out = model->forward(batch_of(tiny_spec(Task::kRegression), 3, 1));
  const auto& z = out.features.at("fused");
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{3, 4 * 5 * 6}));
  auto cube = z.view({3, 4, 5, 6});  // (audio+1, vision+1, text+1), MMSA's flattening order
  EXPECT_TRUE(torch::allclose(cube.select(1, 0).select(1, 0).select(1, 0), torch::ones({3})));
  EXPECT_TRUE(
      torch::allclose(cube.select(1, 0).select(1, 0).narrow(1, 1, 5), out.features.at("text")));
  EXPECT_TRUE(
      torch::allclose(cube.select(2, 0).select(2, 0).narrow(1, 1, 3), out.features.at("audio")));
  EXPECT_TRUE(
      torch::allclose(cube.select(1, 0).select(2, 0).narrow(1, 1, 4), out.features.at("vision")));
  // Regression output is MMSA's sigmoid range (-3, 3).
  EXPECT_TRUE((out.prediction.abs() < 3).all().item<bool>());
}

// ---- MISA losses --------------------------------------------------------------------------------

TEST(MisaLossTest, CmdIsZeroForEqualBatchesAndMatchesAHandComputation) {
  auto x = torch::tensor({{0.0f, 1.0f}, {2.0f, 3.0f}});
  EXPECT_NEAR(cmd_loss(x, x, 5).item<double>(), 5 * std::sqrt(1e-12), 1e-9);
  // y = x + 1: means differ by (1, 1), central moments are equal.
  EXPECT_NEAR(cmd_loss(x, x + 1, 5).item<double>(), std::sqrt(2.0), 1e-5);
  // z has the same mean as x but central moments (+-2)^k instead of (+-1)^k.
  auto z = torch::tensor({{-1.0f, 0.0f}, {3.0f, 4.0f}});
  // k = 2: |4 - 1| per dim -> sqrt(18); k = 3, 5: odd moments 0; k = 4: |16 - 1| -> sqrt(450).
  const double expected = std::sqrt(18.0) + std::sqrt(450.0) + 3 * std::sqrt(1e-12);
  EXPECT_NEAR(cmd_loss(x, z, 5).item<double>(), expected, 1e-4);
}

TEST(MisaLossTest, DifferenceLossIsZeroForOrthogonalAndPositiveForEqualRepresentations) {
  // Centred columns: a varies only in dim 0, b only in dim 1 -> A^T B = 0.
  auto a = torch::tensor({{1.0f, 0.0f}, {-1.0f, 0.0f}});
  auto b = torch::tensor({{0.0f, 1.0f}, {0.0f, 1.0f}});
  EXPECT_NEAR(difference_loss(a, b).item<double>(), 0.0, 1e-9);
  // a with itself: rows (+-1, 0) normalised, A^T A = [[2, 0], [0, 0]] -> mean of squares 1.
  EXPECT_NEAR(difference_loss(a, a).item<double>(), 1.0, 1e-4);
}

TEST(MisaObjectiveTest, ReportsEveryLossAndUsesMseForRegression) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  MisaOptions o;
  o.hidden = 8;
  o.fusion_ffn = 16;
  torch::manual_seed(2);
  Misa model(o, spec);
  model->eval();  // no dropout: the task part is reproducible
  const Batch batch = batch_of(spec, 6, 3);
  ObjectiveContext ctx;
  Losses l = misa_objective(*model, batch, ctx);
  ASSERT_EQ(l.parts.size(), 4u);
  EXPECT_EQ(l.parts[0].first, "task");
  EXPECT_EQ(l.parts[1].first, "diff");
  EXPECT_EQ(l.parts[2].first, "sim");
  EXPECT_EQ(l.parts[3].first, "recon");
  torch::NoGradGuard no_grad;
  auto pred = model->forward(batch).prediction;
  EXPECT_NEAR(l.parts[0].second.item<double>(), torch::mse_loss(pred, batch.label).item<double>(),
              1e-5);
  double total = l.parts[0].second.item<double>() + 0.1 * l.parts[1].second.item<double>() +
                 0.3 * l.parts[2].second.item<double>() + 1.0 * l.parts[3].second.item<double>();
  EXPECT_NEAR(l.total.item<double>(), total, 1e-5);
  EXPECT_GT(l.parts[3].second.item<double>(), 0.0);
}

TEST(MisaTest, MeanTextEncoderBuildsWithoutTextLstms) {
  MisaOptions o;
  o.hidden = 8;
  o.fusion_ffn = 16;
  o.text_encoder = "mean";
  Misa model(o, tiny_spec(Task::kIemocap));
  for (const auto& p : model->named_parameters())
    EXPECT_EQ(p.key().find("rnn1.2"), std::string::npos) << "two recurrent encoders expected";
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model->forward(batch_of(tiny_spec(Task::kIemocap), 2, 1)).prediction.sizes(),
            (std::vector<int64_t>{2, 4, 2}));
  o.text_encoder = "bert";
  EXPECT_THROW(Misa(o, tiny_spec(Task::kRegression)), ConfigError);
}

// ---- Self-MM unimodal label generation ----------------------------------------------------------

SelfMmOptions tiny_self_mm() {
  SelfMmOptions o;
  o.text_hidden = o.text_out = 4;
  o.a_lstm_hidden = o.v_lstm_hidden = o.audio_out = o.video_out = 3;
  o.post_fusion_dim = o.post_text_dim = o.post_audio_dim = o.post_video_dim = 2;
  return o;
}

TEST(SelfMmTest, LabelsStartAtTheMultimodalLabelAndOnlyMoveFromTheSecondEpoch) {
  InputSpec spec = tiny_spec(Task::kRegression);
  spec.train_size = 4;
  SelfMm model(tiny_self_mm(), spec);
  auto index = torch::tensor({0, 1, 2, 3}, torch::kLong);
  auto y = torch::tensor({1.0f, -2.0f, 0.5f, -0.5f});
  ulgm_init(*model, index, y);
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(torch::equal(model->labels[k], y));
  // First epoch: features are stored, labels stay.
  std::array<torch::Tensor, 4> f;
  for (int k = 0; k < 4; ++k)
    f[k] = torch::tensor({{1.0f, 0.0f}, {-1.0f, 0.0f}, {1.0f, 0.0f}, {-1.0f, 0.0f}});
  ulgm_update(*model, index, f);
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(torch::equal(model->labels[k], y));
  EXPECT_TRUE(torch::equal(model->visits, torch::ones({4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(model->features[1], f[1]));
  // A second init leaves the labels alone (the samples are not new).
  ulgm_init(*model, index, torch::zeros({4}));
  EXPECT_TRUE(torch::equal(model->labels[1], y));
}

TEST(SelfMmTest, SecondEpochUpdateFollowsTheCentreDistanceFormulaWithMomentum) {
  InputSpec spec = tiny_spec(Task::kRegression);
  spec.train_size = 2;
  SelfMm model(tiny_self_mm(), spec);
  auto index = torch::tensor({0, 1}, torch::kLong);
  auto y = torch::tensor({2.0f, -1.0f});
  ulgm_init(*model, index, y);
  // Epoch 1: positive sample at (1, 0), negative at (-1, 0) for every representation.
  auto f1 = torch::tensor({{1.0f, 0.0f}, {-1.0f, 0.0f}});
  ulgm_update(*model, index, {f1, f1, f1, f1});
  // Epoch 2, sample 0 (label 2): centres (1, 0) and (-1, 0) from the stored epoch-1 features.
  // fusion at (0.5, 0): d_p = 0.5, d_n = 1.5 -> delta_f = 2; text at (0, 0): delta_t = 0;
  // audio at (0.5, 0): delta_a = 2; vision at (3, 0): d_p = 2, d_n = 4 -> delta_v = 1.
  auto at = [](float x0) { return torch::tensor({{x0, 0.0f}, {-1.0f, 0.0f}}); };
  ulgm_update(*model, index, {at(0.5f), at(0.0f), at(0.5f), at(3.0f)});
  // estimate = y_f delta_m / (2 delta_f) + (y_f + delta_m - delta_f) / 2; n = 2:
  // y_m = 1/3 y_m + 2/3 estimate.
  // text: 0 + (2 + 0 - 2) / 2 = 0 -> 2/3.
  EXPECT_NEAR(model->labels[1][0].item<double>(), 2.0 / 3.0, 1e-5);
  // audio: 2 * 2 / 4 + (2 + 2 - 2) / 2 = 2 -> 2.
  EXPECT_NEAR(model->labels[2][0].item<double>(), 2.0, 1e-5);
  // vision: 2 * 1 / 4 + (2 + 1 - 2) / 2 = 1 -> 2/3 + 2/3 = 4/3.
  EXPECT_NEAR(model->labels[3][0].item<double>(), 4.0 / 3.0, 1e-5);
  // Fusion labels never move.
  EXPECT_TRUE(torch::equal(model->labels[0], y));
  EXPECT_TRUE(torch::equal(model->visits, torch::full({2}, 2, torch::kLong)));
}

TEST(SelfMmTest, ObjectiveUpdatesTheStateAndCheckpointsCarryIt) {
  InputSpec spec = tiny_spec(Task::kRegression);
  spec.train_size = 8;
  torch::manual_seed(4);
  SelfMm model(tiny_self_mm(), spec);
  model->train();
  ObjectiveContext ctx;
  Batch batch = batch_of(spec, 8, 5);
  for (int epoch = 0; epoch < 3; ++epoch) {
    Losses l = self_mm_objective(*model, batch, ctx);
    ASSERT_EQ(l.parts.size(), 4u);
    EXPECT_TRUE(torch::isfinite(l.total).item<bool>());
    l.total.backward();
  }
  EXPECT_TRUE(torch::equal(model->visits, torch::full({8}, 3, torch::kLong)));
  EXPECT_FALSE(torch::equal(model->labels[1], model->labels[0]))
      << "unimodal labels should have moved away from the multimodal ones";
  EXPECT_TRUE(torch::equal(model->labels[0], batch.label));
  std::stringstream bytes;
  {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    archive.save_to(bytes);
  }
  SelfMm restored(tiny_self_mm(), spec);
  torch::serialize::InputArchive archive;
  archive.load_from(bytes);
  restored->load(archive);
  EXPECT_TRUE(torch::equal(restored->labels, model->labels));
  EXPECT_TRUE(torch::equal(restored->visits, model->visits));
  for (int k = 0; k < 4; ++k) EXPECT_TRUE(torch::equal(restored->features[k], model->features[k]));
}

TEST(SelfMmTest, IndexOutsideTheTrainingSplitIsARunError) {
  InputSpec spec = tiny_spec(Task::kRegression);
  spec.train_size = 2;
  SelfMm model(tiny_self_mm(), spec);
  ObjectiveContext ctx;
  EXPECT_THROW(self_mm_objective(*model, batch_of(spec, 4, 1), ctx), RunError);
}

// ---- MCTN ---------------------------------------------------------------------------------------

TEST(MctnTest, PredictionNeedsOnlyTheSourceModality) {
  const InputSpec spec = tiny_spec(Task::kRegression);
  MctnOptions o;
  o.hidden = 6;
  torch::manual_seed(1);
  Mctn model(o, spec);
  model->eval();
  torch::NoGradGuard no_grad;
  Batch batch = batch_of(spec, 4, 2);
  auto before = model->forward(batch).prediction;
  batch.x[kAudio] = torch::randn_like(batch.x[kAudio]);
  batch.x[kVision].zero_();
  EXPECT_TRUE(torch::equal(before, model->forward(batch).prediction));
  auto full = model->forward_with_translations(batch);
  EXPECT_EQ(full.features.at("audio_hat").sizes(), batch.x[kAudio].sizes());
  EXPECT_EQ(full.features.at("text_hat").sizes(), batch.x[kText].sizes());
  EXPECT_EQ(full.features.at("vision_hat").sizes(), batch.x[kVision].sizes());
}

TEST(MctnTest, MaskedMseAveragesOverValidFramesOnly) {
  auto pred = torch::zeros({1, 3, 2});
  auto target = torch::tensor({{{1.0f, 1.0f}, {2.0f, 2.0f}, {100.0f, 100.0f}}});
  auto valid = torch::tensor({{true, true, false}});
  EXPECT_NEAR(masked_mse(pred, target, valid).item<double>(), (1 + 1 + 4 + 4) / 4.0, 1e-6);
  EXPECT_EQ(masked_mse(pred, target, torch::zeros({1, 3}, torch::kBool)).item<double>(), 0.0);
}

// ---- MulT's MMSA padding ------------------------------------------------------------------------

TEST(MultTest, ValidPaddingShortensSequencesAndNeedsKernelSizedInputs) {
  MultOptions o;
  o.width = 8;
  o.heads = 2;
  o.levels = 1;
  o.mem_layers = 1;
  o.text_kernel = o.audio_kernel = o.vision_kernel = 3;
  o.conv_padding = "valid";
  InputSpec spec = tiny_spec(Task::kRegression);
  Mult model(o, spec);
  model->eval();
  torch::NoGradGuard no_grad;
  auto out = model->forward(batch_of(spec, 3, 1));
  EXPECT_TRUE(torch::isfinite(out.prediction).all().item<bool>());
  spec.len[kVision] = 2;
  EXPECT_THROW(Mult(o, spec), DataError);
  o.conv_padding = "full";
  EXPECT_THROW(Mult(o, tiny_spec(Task::kRegression)), ConfigError);
}

}  // namespace
}  // namespace robustmsa

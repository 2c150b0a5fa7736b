// Metrics: hand-computed cases (ties, zero labels, one-class vectors, rounding half to even,
// SIMS bin edges) and agreement with scikit-learn / NumPy (tests/python/sklearn_metrics.py).
#include "metrics/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {
namespace {

TEST(RoundHalfEven, MatchesNumPyRound) {
  EXPECT_EQ(round_half_even(2.5), 2.0);
  EXPECT_EQ(round_half_even(-2.5), -2.0);
  EXPECT_EQ(round_half_even(0.5), 0.0);
  EXPECT_EQ(round_half_even(1.5), 2.0);
  EXPECT_EQ(round_half_even(-0.5), 0.0);
  EXPECT_EQ(round_half_even(3.5), 4.0);
  EXPECT_EQ(round_half_even(-1.5), -2.0);
  EXPECT_EQ(round_half_even(2.4999), 2.0);
  EXPECT_EQ(round_half_even(-1.6), -2.0);
  EXPECT_EQ(round_half_even(0.0), 0.0);
}

TEST(WeightedF1, HandComputedAndNotSymmetric) {
  // truth {1,1,1,0}, pred {1,0,1,0}: class 0 F1 = 2/3 (support 1), class 1 F1 = 4/5 (support 3).
  const std::vector<int> truth = {1, 1, 1, 0}, pred = {1, 0, 1, 0};
  EXPECT_NEAR(weighted_f1(truth, pred), (2.0 / 3.0 * 1 + 0.8 * 3) / 4, 1e-12);
  // Swapped, the supports are 2 and 2: (2/3 * 2 + 4/5 * 2) / 4.
  EXPECT_NEAR(weighted_f1(pred, truth), (2.0 / 3.0 * 2 + 0.8 * 2) / 4, 1e-12);
  EXPECT_NEAR(accuracy(truth, pred), 0.75, 1e-12);
}

TEST(WeightedF1, OneClassVectors) {
  EXPECT_DOUBLE_EQ(weighted_f1({1, 1, 1}, {1, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(weighted_f1({1, 1, 1}, {0, 0, 0}), 0.0);
  // Class 1 only predicted: F1 of class 0 is 0 (support 2), of class 1 2/(2+2) (support 1).
  EXPECT_NEAR(weighted_f1({0, 0, 1}, {1, 1, 1}), 0.5 / 3.0, 1e-12);
  // Labels need not be 0/1 (SIMS 3- and 5-class bins use the same function).
  EXPECT_NEAR(weighted_f1({2, 2, 4}, {2, 4, 4}), (2.0 / 3.0 * 2 + 2.0 / 3.0 * 1) / 3, 1e-12);
}

TEST(WeightedF1, EmptyIsZeroAndLengthsMustMatch) {
  EXPECT_EQ(weighted_f1({}, {}), 0.0);
  EXPECT_EQ(accuracy({}, {}), 0.0);
  EXPECT_THROW(weighted_f1({1}, {1, 0}), DataError);
  EXPECT_THROW(accuracy({1, 0}, {1}), DataError);
}

TEST(Pearson, DegenerateCasesAreZero) {
  EXPECT_EQ(pearson({1.0, 1.0, 1.0}, {1.0, 2.0, 3.0}), 0.0);  // constant
  EXPECT_EQ(pearson({1.0, 2.0, 3.0}, {5.0, 5.0, 5.0}), 0.0);
  EXPECT_EQ(pearson({1.0}, {2.0}), 0.0);  // one sample
  EXPECT_EQ(pearson({}, {}), 0.0);
  EXPECT_NEAR(pearson({1.0, 2.0, 3.0}, {2.0, 4.0, 6.0}), 1.0, 1e-12);
  EXPECT_NEAR(pearson({1.0, 2.0, 3.0}, {3.0, 2.0, 1.0}), -1.0, 1e-12);
  EXPECT_THROW(pearson({1.0}, {1.0, 2.0}), DataError);
}

// Seven samples with exact zeros, a .5 tie, a value beyond the ±2 clip and a zero prediction.
TEST(RegressionMetrics, HandComputed) {
  const std::vector<double> label = {0.0, 1.0, -2.0, 2.5, -0.5, 0.0, -2.8};
  const std::vector<double> pred = {0.3, -0.2, -1.6, 2.5, 0.0, -0.4, -2.2};
  const MetricMap m = regression_metrics(pred, label);
  ASSERT_EQ(m.size(), 9u);
  // Has0 (y >= 0 vs p >= 0, all 7): truth 1101010, pred 1001100 -> 4 agree.
  EXPECT_NEAR(m.at("Has0_acc_2"), 4.0 / 7.0, 1e-12);
  // Class 0: support 3, tp 2, fp 2, fn 1 -> 4/7; class 1: support 4, tp 2, fp 1, fn 2 -> 4/7.
  EXPECT_NEAR(m.at("Has0_F1_score"), 4.0 / 7.0, 1e-12);
  // Non0 keeps samples 1, 2, 3, 4, 6: truth (y > 0) 10100, pred (p > 0) 00100 (p = 0 is not > 0).
  EXPECT_NEAR(m.at("Non0_acc_2"), 0.8, 1e-12);
  // Class 0: support 3, tp 3, fp 1 -> 6/7; class 1: support 2, tp 1, fn 1 -> 2/3.
  EXPECT_NEAR(m.at("Non0_F1_score"), (6.0 / 7.0 * 3 + 2.0 / 3.0 * 2) / 5, 1e-12);
  // Swapped (MulT): supports from the predictions, 4 and 1.
  EXPECT_NEAR(m.at("Non0_F1_score_mult"), (6.0 / 7.0 * 4 + 2.0 / 3.0 * 1) / 5, 1e-12);
  // Rounded: labels 0 1 -2 2 -0 0 -3 | preds 0 -0 -2 2 0 -0 -2 (2.5 -> 2, -0.5 -> -0).
  EXPECT_NEAR(m.at("Mult_acc_7"), 5.0 / 7.0, 1e-12);
  // With the ±2 clip, -2.8 and -2.2 both become -2.
  EXPECT_NEAR(m.at("Mult_acc_5"), 6.0 / 7.0, 1e-12);
  EXPECT_NEAR(m.at("MAE"), 3.4 / 7.0, 1e-12);
  EXPECT_NEAR(m.at("Corr"), 0.9369647910971429, 1e-12);  // np.corrcoef
}

TEST(RegressionMetrics, HalfValuesRoundToEven) {
  // 2.5 and 1.5 are both "2" after rounding half to even; 0.5 and -0.5 are both 0.
  const MetricMap m = regression_metrics({2.5, 0.5, -2.5, 3.5}, {1.5, -0.5, -1.5, 4.0});
  // -2.5 -> -2 and -1.5 -> -2 agree; 3.5 clipped to 3 stays 3, 4.0 clipped to 3.
  EXPECT_DOUBLE_EQ(m.at("Mult_acc_7"), 1.0);
  // With the ±2 clip: 2 vs 1.5 -> 2 vs 2; 3.5 -> 2 vs 4 -> 2.
  EXPECT_DOUBLE_EQ(m.at("Mult_acc_5"), 1.0);
}

TEST(RegressionMetrics, AllLabelsZeroGiveDefinedValues) {
  const MetricMap m = regression_metrics({0.4, -0.3, 0.0}, {0.0, 0.0, 0.0});
  for (const auto& [name, value] : m) EXPECT_TRUE(std::isfinite(value)) << name;
  EXPECT_EQ(m.at("Non0_acc_2"), 0.0);
  EXPECT_EQ(m.at("Non0_F1_score"), 0.0);
  EXPECT_EQ(m.at("Non0_F1_score_mult"), 0.0);
  EXPECT_EQ(m.at("Corr"), 0.0);  // constant labels
  EXPECT_NEAR(m.at("Has0_acc_2"), 2.0 / 3.0, 1e-12);
}

TEST(RegressionMetrics, RejectsBadInput) {
  EXPECT_THROW(regression_metrics({}, {}), DataError);
  EXPECT_THROW(regression_metrics({1.0, 2.0}, {1.0}), DataError);
  EXPECT_THROW(regression_metrics({NAN, 1.0}, {1.0, 1.0}), DataError);
  EXPECT_THROW(regression_metrics({1.0, 1.0}, {1.0, INFINITY}), DataError);
  try {
    regression_metrics({1.0, NAN}, {1.0, 1.0});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("prediction 1"), std::string::npos) << e.what();
  }
}

TEST(SimsMetrics, BinEdges) {
  const std::vector<double> label = {-0.1, 0.1, 0.0, 0.7, -0.7, 1.5};
  const std::vector<double> pred = {-0.09, 0.11, 0.01, 0.69, -0.71, 0.9};
  const MetricMap m = sims_metrics(pred, label);
  ASSERT_EQ(m.size(), 6u);
  // 2 classes [-1,0] (0,1]: labels 010101, preds 011101.
  EXPECT_NEAR(m.at("Mult_acc_2"), 5.0 / 6.0, 1e-12);
  // 3 classes: labels 0 1 1 2 0 2, preds 1 2 1 2 0 2 (edges belong to the lower class).
  EXPECT_NEAR(m.at("Mult_acc_3"), 4.0 / 6.0, 1e-12);
  // 5 classes: labels 1 2 2 3 0 4, preds 2 3 2 3 0 4.
  EXPECT_NEAR(m.at("Mult_acc_5"), 4.0 / 6.0, 1e-12);
  // Class 0: support 3, tp 2, fn 1 -> 4/5; class 1: support 3, tp 3, fp 1 -> 6/7.
  EXPECT_NEAR(m.at("F1_score"), (0.8 + 6.0 / 7.0) / 2, 1e-12);
  // Clipped: 1.5 -> 1.0, so the last error is 0.1.
  EXPECT_NEAR(m.at("MAE"), 0.15 / 6.0, 1e-12);
}

TEST(SimsMetrics, Float32LabelsOnAnEdgeStayInTheLowerClass) {
  // A label stored as float32 0.1f is 0.10000000149 as a double; MMSA compares in float32, where
  // it equals the edge 0.1 and so belongs to (-0.1, 0.1] like the prediction 0.0. Compared in
  // double it would fall into the next class and both accuracies below would be 2/3.
  const std::vector<double> label = {static_cast<double>(0.1f), static_cast<double>(0.7f),
                                     static_cast<double>(-0.1f)};
  const std::vector<double> pred = {0.0, 0.5, -0.5};
  const MetricMap m = sims_metrics(pred, label);
  EXPECT_DOUBLE_EQ(m.at("Mult_acc_3"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("Mult_acc_5"), 1.0);
}

TEST(IemocapMetrics, HandComputed) {
  // Three samples, emotions (neutral, happy, sad, angry).
  const std::vector<int> label = {1, 0, 0, 0,  //
                                  0, 1, 0, 0,  //
                                  0, 0, 1, 0};
  const std::vector<int> pred = {1, 0, 0, 1,  //
                                 0, 0, 0, 0,  //
                                 1, 0, 1, 0};
  const MetricMap m = iemocap_metrics(pred, label);
  ASSERT_EQ(m.size(), 10u);
  // Neutral: truth 100, pred 101 -> acc 2/3; class 0 (support 2) tp 1 fn 1 -> 2/3; class 1
  // (support 1) tp 1 fp 1 -> 2/3.
  EXPECT_NEAR(m.at("Neutral_Acc"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.at("Neutral_F1"), 2.0 / 3.0, 1e-12);
  // Happy: truth 010, pred 000 -> acc 2/3; class 0 F1 4/5 (support 2), class 1 F1 0.
  EXPECT_NEAR(m.at("Happy_Acc"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.at("Happy_F1"), 0.8 * 2 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(m.at("Sad_Acc"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("Sad_F1"), 1.0);
  // Angry: truth 000, pred 100 -> acc 2/3; only class 0 has support: F1 = 4/5.
  EXPECT_NEAR(m.at("Angry_F1"), 0.8, 1e-12);
  EXPECT_NEAR(m.at("Avg_Acc"), (2.0 / 3 + 2.0 / 3 + 1.0 + 2.0 / 3) / 4, 1e-12);
  EXPECT_NEAR(m.at("Avg_F1"), (2.0 / 3 + 1.6 / 3 + 1.0 + 0.8) / 4, 1e-12);
}

TEST(IemocapMetrics, RejectsBadInput) {
  EXPECT_THROW(iemocap_metrics({}, {}), DataError);
  EXPECT_THROW(iemocap_metrics({0, 1, 0}, {0, 1, 0}), DataError);        // not N * 4
  EXPECT_THROW(iemocap_metrics({0, 1, 0, 2}, {0, 1, 0, 0}), DataError);  // class 2
  EXPECT_THROW(iemocap_metrics({0, 1, 0, 0}, {0, 1, 0, 0, 1, 1, 1, 1}), DataError);
}

TEST(MeanStd, SampleStandardDeviation) {
  const MeanStd a = mean_std({1.0, 2.0, 3.0, 4.0});
  EXPECT_DOUBLE_EQ(a.mean, 2.5);
  EXPECT_NEAR(a.std, std::sqrt(5.0 / 3.0), 1e-12);  // n - 1 = 3
  EXPECT_EQ(a.n, 4);
  const MeanStd one = mean_std({0.7});
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_EQ(one.std, 0.0);
  EXPECT_EQ(one.n, 1);
  const MeanStd none = mean_std({});
  EXPECT_EQ(none.n, 0);
  EXPECT_TRUE(std::isnan(none.mean));
}

TEST(StudentT, QuantilesMatchScipy) {
  // scipy.stats.t.ppf(p, df), SciPy 1.x.
  const struct {
    double p;
    int df;
    double want;
  } cases[] = {{0.975, 1, 12.706204736174694},   {0.975, 2, 4.302652729749462},
               {0.975, 4, 2.7764451051977934},   {0.975, 19, 2.0930240544083087},
               {0.975, 100, 1.9839715185235518}, {0.995, 7, 3.4994832973504924},
               {0.9995, 1, 636.6192487687897},   {0.6, 3, 0.2766706623326898}};
  for (const auto& c : cases) {
    EXPECT_NEAR(student_t_quantile(c.p, c.df), c.want, 1e-7 * c.want) << c.p << " " << c.df;
    EXPECT_NEAR(student_t_quantile(1 - c.p, c.df), -c.want, 1e-7 * c.want);
  }
  EXPECT_EQ(student_t_quantile(0.5, 3), 0.0);
  EXPECT_THROW(student_t_quantile(1.0, 3), ConfigError);
  EXPECT_THROW(student_t_quantile(0.9, 0), ConfigError);
  EXPECT_TRUE(lower_is_better("MAE"));
  EXPECT_FALSE(lower_is_better("Non0_F1_score"));
}

TEST(Auilc, TrapezoidOverSpan) {
  EXPECT_NEAR(auilc({0.0, 0.5, 1.0}, {1.0, 0.5, 0.0}), 0.5, 1e-12);
  // Uneven spacing: area 0.1 * (0.8 + 0.6) / 2 + 0.8 * (0.6 + 0.2) / 2 = 0.39 over span 0.9.
  EXPECT_NEAR(auilc({0.0, 0.1, 0.9}, {0.8, 0.6, 0.2}), 0.39 / 0.9, 1e-12);
  // A constant curve's AUILC is that constant.
  EXPECT_NEAR(auilc({0.0, 0.3, 0.6, 0.9}, {0.7, 0.7, 0.7, 0.7}), 0.7, 1e-12);
  EXPECT_THROW(auilc({0.0}, {1.0}), DataError);
  EXPECT_THROW(auilc({0.0, 0.0}, {1.0, 1.0}), DataError);
  EXPECT_THROW(auilc({0.5, 0.1}, {1.0, 1.0}), DataError);
  EXPECT_THROW(auilc({0.0, 0.1}, {1.0}), DataError);
}

// ---- against scikit-learn -----------------------------------------------------------------------

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string source_dir() {
  const char* env = std::getenv("ROBUSTMSA_SOURCE_DIR");
  if (env != nullptr && *env != '\0') return env;
  // tests/core/metrics_test.cc -> the repository root.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

void expect_same(const MetricMap& got, const nlohmann::json& expected, const std::string& name) {
  ASSERT_EQ(got.size(), expected.size()) << name;
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    ASSERT_TRUE(got.count(it.key())) << name << ": robustmsa lacks " << it.key();
    EXPECT_NEAR(got.at(it.key()), it.value().get<double>(), 1e-6) << name << ": " << it.key();
  }
}

TEST(MetricsVsSklearn, EveryMetricAgrees) {
  const char* python = std::getenv("ROBUSTMSA_PYTHON");
  if (python == nullptr || *python == '\0') GTEST_SKIP() << "ROBUSTMSA_PYTHON is not set";
  const std::string script = source_dir() + "/tests/python/sklearn_metrics.py";
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("robustmsa_sklearn_" + std::to_string(::getpid()) + ".json"))
                              .string();
  const std::string command =
      shell_quote(python) + " " + shell_quote(script) + " --out " + shell_quote(out);
  const int status = std::system(command.c_str());
  ASSERT_NE(status, -1) << "could not run: " << command;
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 3) GTEST_SKIP() << "NumPy or scikit-learn is missing for " << python;
  if (rc == 127) GTEST_SKIP() << "python not found: " << python;
  ASSERT_EQ(rc, 0) << command;
  const nlohmann::json doc = nlohmann::json::parse(read_file(out));
  std::filesystem::remove(out);
  const nlohmann::json& cases = doc.at("cases");
  ASSERT_GE(cases.size(), 10u);
  int regression = 0, sims = 0, iemocap = 0;
  for (const nlohmann::json& c : cases) {
    const std::string kind = c.at("kind"), name = c.at("name");
    if (kind == "iemocap") {
      expect_same(iemocap_metrics(c.at("pred_class").get<std::vector<int>>(),
                                  c.at("label_class").get<std::vector<int>>()),
                  c.at("expected"), name);
      ++iemocap;
      continue;
    }
    const auto pred = c.at("pred").get<std::vector<double>>();
    const auto label = c.at("label").get<std::vector<double>>();
    if (kind == "regression") {
      expect_same(regression_metrics(pred, label), c.at("expected"), name);
      ++regression;
    } else {
      ASSERT_EQ(kind, "sims");
      expect_same(sims_metrics(pred, label), c.at("expected"), name);
      ++sims;
    }
  }
  EXPECT_GE(regression, 6);
  EXPECT_GE(sims, 3);
  EXPECT_GE(iemocap, 3);
}

}  // namespace
}  // namespace robustmsa

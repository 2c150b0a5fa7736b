// The field's metrics under MMSA's exact names and definitions (DESIGN §4; docs/metrics.md).
// Torch-free: predictions and labels are plain vectors.
//
// Usage:
//   robustmsa::MetricMap m = robustmsa::regression_metrics(pred, label);  // MOSI / MOSEI
//   double f1 = m.at("Non0_F1_score");
#pragma once

#include <map>
#include <string>
#include <vector>

namespace robustmsa {

// Metric name -> value. Ordered by name so that every report lists them in the same order.
using MetricMap = std::map<std::string, double>;

// MOSI / MOSEI regression in [-3, 3]: Has0_acc_2, Has0_F1_score, Non0_acc_2, Non0_F1_score,
// Non0_F1_score_mult (MulT's swapped-argument F1), Mult_acc_5, Mult_acc_7, MAE, Corr.
MetricMap regression_metrics(const std::vector<double>& pred, const std::vector<double>& label);

// CH-SIMS regression in [-1, 1]: Mult_acc_2, Mult_acc_3, Mult_acc_5, F1_score, MAE, Corr.
MetricMap sims_metrics(const std::vector<double>& pred, const std::vector<double>& label);

// IEMOCAP: four binary emotions in the order neutral, happy, sad, angry. pred_class and
// label_class are (N * 4) row-major class indices in {0, 1}. Keys: "<Emotion>_Acc",
// "<Emotion>_F1" (weighted F1) for Neutral, Happy, Sad, Angry, plus "Avg_Acc" and "Avg_F1".
MetricMap iemocap_metrics(const std::vector<int>& pred_class, const std::vector<int>& label_class);

// Building blocks, exposed for tests.
// Support-weighted F1 with `truth` as the reference (scikit-learn f1_score(truth, pred,
// average='weighted')); labels are arbitrary ints.
double weighted_f1(const std::vector<int>& truth, const std::vector<int>& pred);
double accuracy(const std::vector<int>& truth, const std::vector<int>& pred);
double pearson(const std::vector<double>& a, const std::vector<double>& b);  // 0 if degenerate
double round_half_even(double x);                                            // NumPy's round

// Across seeds and conditions.
struct MeanStd {
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation (n - 1); 0 for a single value
  int n = 0;
};
MeanStd mean_std(const std::vector<double>& values);
// Area under the metric-vs-rate curve by the trapezoid rule, divided by the rate span (AUILC).
// rates strictly increasing, same length as values, at least two points.
double auilc(const std::vector<double>& rates, const std::vector<double>& values);

// Whether a smaller value of the metric is better: MAE; every other metric here grows with quality.
bool lower_is_better(const std::string& metric);

// The p-quantile of Student's t distribution with df degrees of freedom, p in (0, 1), df >= 1
// (e.g. 2.7764 for p = 0.975, df = 4): bisection on the CDF, whose density is integrated by
// Simpson's rule; within 1e-7 (relative) of scipy.stats.t.ppf in the tests. ConfigError outside
// the domain.
double student_t_quantile(double p, int df);

}  // namespace robustmsa

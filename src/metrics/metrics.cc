// The field's metrics under MMSA's names (DESIGN §4). Every definition is spelled out in
// docs/metrics.md; tests/core/metrics_test.cc checks them by hand and against scikit-learn.
#include "metrics/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "util/error.h"

namespace robustmsa {
namespace {

// Predictions and labels must pair up one to one and be usable numbers: a NaN prediction would
// otherwise turn MAE and Corr into NaN without anybody noticing.
void check_regression_inputs(const char* function, const std::vector<double>& pred,
                             const std::vector<double>& label) {
  if (pred.size() != label.size()) {
    throw DataError(str(function, ": predictions and labels differ in length: ", pred.size(),
                        " predictions vs ", label.size(), " labels"));
  }
  if (pred.empty()) {
    throw DataError(str(function, ": no samples (0 predictions); metrics need at least one"));
  }
  for (size_t i = 0; i < pred.size(); ++i) {
    if (!std::isfinite(pred[i])) {
      throw DataError(str(function, ": prediction ", i, " is not finite (", pred[i],
                          "); expected a finite number"));
    }
    if (!std::isfinite(label[i])) {
      throw DataError(str(function, ": label ", i, " is not finite (", label[i],
                          "); expected a finite number"));
    }
  }
}

double clip(double x, double lo, double hi) { return std::min(std::max(x, lo), hi); }

double mean_abs_error(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::fabs(a[i] - b[i]);
  return sum / static_cast<double>(a.size());
}

// Fraction of samples whose rounded (half to even) values agree — MMSA's __multiclass_acc on
// values clipped to [-bound, bound].
double clipped_rounded_accuracy(const std::vector<double>& pred, const std::vector<double>& label,
                                double bound) {
  size_t hits = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    if (round_half_even(clip(pred[i], -bound, bound)) ==
        round_half_even(clip(label[i], -bound, bound))) {
      ++hits;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

// CH-SIMS bins as MMSA draws them: intervals closed on the right, the lowest one closed on both
// sides. MMSA compares float32 tensors with Python floats, which NumPy evaluates in float32, so a
// stored label of 0.1f sits in (-0.1, 0.1]; comparing in float32 here reproduces that exactly.
int sims_bin(double clipped, const float* upper_edges, int num_edges) {
  const float v = static_cast<float>(clipped);
  for (int k = 0; k < num_edges; ++k) {
    if (v <= upper_edges[k]) return k;
  }
  return num_edges;
}

}  // namespace

double round_half_even(double x) {
  // std::nearbyint rounds in the current rounding mode, which is round-to-nearest-even unless a
  // program changes it (robustmsa never does); NumPy's np.round(x) uses the same rint.
  return std::nearbyint(x);
}

double accuracy(const std::vector<int>& truth, const std::vector<int>& pred) {
  if (truth.size() != pred.size()) {
    throw DataError(str("accuracy: truth and prediction differ in length: ", truth.size(), " vs ",
                        pred.size()));
  }
  // Defined choice for an empty set (e.g. every label is exactly 0 for the Non0 metrics):
  // scikit-learn raises there; we return 0, the value its zero_division convention gives to a
  // score that cannot be computed. docs/metrics.md says so.
  if (truth.empty()) return 0.0;
  size_t hits = 0;
  for (size_t i = 0; i < truth.size(); ++i) hits += truth[i] == pred[i] ? 1 : 0;
  return static_cast<double>(hits) / static_cast<double>(truth.size());
}

double weighted_f1(const std::vector<int>& truth, const std::vector<int>& pred) {
  if (truth.size() != pred.size()) {
    throw DataError(str("weighted_f1: truth and prediction differ in length: ", truth.size(),
                        " vs ", pred.size()));
  }
  if (truth.empty()) return 0.0;  // see accuracy()
  // scikit-learn's label set is the sorted union of both vectors; a label that only occurs in
  // `pred` has support 0 and so weight 0, which the loop below reproduces.
  std::vector<int> labels(truth);
  labels.insert(labels.end(), pred.begin(), pred.end());
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  double weighted = 0.0;
  for (int label : labels) {
    size_t tp = 0, fp = 0, fn = 0, support = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const bool is_true = truth[i] == label;
      const bool is_pred = pred[i] == label;
      support += is_true ? 1 : 0;
      if (is_true && is_pred) ++tp;
      if (!is_true && is_pred) ++fp;
      if (is_true && !is_pred) ++fn;
    }
    if (support == 0) continue;
    // F1 = 2 tp / (2 tp + fp + fn); the denominator is >= support > 0 here.
    const double f1 = 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
    weighted += f1 * static_cast<double>(support);
  }
  return weighted / static_cast<double>(truth.size());
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) {
    throw DataError(str("pearson: vectors differ in length: ", a.size(), " vs ", b.size()));
  }
  const size_t n = a.size();
  if (n < 2) return 0.0;
  double mean_a = 0.0, mean_b = 0.0;
  for (size_t i = 0; i < n; ++i) {
    mean_a += a[i];
    mean_b += b[i];
  }
  mean_a /= static_cast<double>(n);
  mean_b /= static_cast<double>(n);
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double da = a[i] - mean_a, db = b[i] - mean_b;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // A constant vector has no correlation with anything: np.corrcoef returns NaN there, we
  // return 0 (documented in docs/metrics.md) so that means over seeds stay defined.
  if (!(saa > 0.0) || !(sbb > 0.0)) return 0.0;
  const double r = sab / std::sqrt(saa * sbb);
  return clip(r, -1.0, 1.0);  // as np.corrcoef, guard against rounding just outside [-1, 1]
}

MetricMap regression_metrics(const std::vector<double>& pred, const std::vector<double>& label) {
  check_regression_inputs("regression_metrics", pred, label);
  const size_t n = pred.size();
  MetricMap m;

  // Has0: negative vs non-negative, every sample.
  std::vector<int> has0_truth(n), has0_pred(n);
  for (size_t i = 0; i < n; ++i) {
    has0_truth[i] = label[i] >= 0.0 ? 1 : 0;
    has0_pred[i] = pred[i] >= 0.0 ? 1 : 0;
  }
  m["Has0_acc_2"] = accuracy(has0_truth, has0_pred);
  m["Has0_F1_score"] = weighted_f1(has0_truth, has0_pred);

  // Non0: negative vs positive, only samples whose label is not exactly 0.
  std::vector<int> non0_truth, non0_pred;
  for (size_t i = 0; i < n; ++i) {
    if (label[i] == 0.0) continue;
    non0_truth.push_back(label[i] > 0.0 ? 1 : 0);
    non0_pred.push_back(pred[i] > 0.0 ? 1 : 0);
  }
  m["Non0_acc_2"] = accuracy(non0_truth, non0_pred);
  m["Non0_F1_score"] = weighted_f1(non0_truth, non0_pred);
  // MulT's eval_mosei_senti passes (pred, truth): weights come from the predicted classes.
  m["Non0_F1_score_mult"] = weighted_f1(non0_pred, non0_truth);

  m["Mult_acc_7"] = clipped_rounded_accuracy(pred, label, 3.0);
  m["Mult_acc_5"] = clipped_rounded_accuracy(pred, label, 2.0);
  m["MAE"] = mean_abs_error(pred, label);
  m["Corr"] = pearson(pred, label);
  return m;
}

MetricMap sims_metrics(const std::vector<double>& pred, const std::vector<double>& label) {
  check_regression_inputs("sims_metrics", pred, label);
  const size_t n = pred.size();
  std::vector<double> p(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    p[i] = clip(pred[i], -1.0, 1.0);
    y[i] = clip(label[i], -1.0, 1.0);
  }
  static constexpr float kEdges2[] = {0.0f};
  static constexpr float kEdges3[] = {-0.1f, 0.1f};
  static constexpr float kEdges5[] = {-0.7f, -0.1f, 0.1f, 0.7f};
  std::array<std::vector<int>, 3> truth, guess;  // 2-, 3- and 5-class versions
  for (size_t i = 0; i < n; ++i) {
    truth[0].push_back(sims_bin(y[i], kEdges2, 1));
    guess[0].push_back(sims_bin(p[i], kEdges2, 1));
    truth[1].push_back(sims_bin(y[i], kEdges3, 2));
    guess[1].push_back(sims_bin(p[i], kEdges3, 2));
    truth[2].push_back(sims_bin(y[i], kEdges5, 4));
    guess[2].push_back(sims_bin(p[i], kEdges5, 4));
  }
  MetricMap m;
  m["Mult_acc_2"] = accuracy(truth[0], guess[0]);
  m["Mult_acc_3"] = accuracy(truth[1], guess[1]);
  m["Mult_acc_5"] = accuracy(truth[2], guess[2]);
  m["F1_score"] = weighted_f1(truth[0], guess[0]);
  m["MAE"] = mean_abs_error(p, y);
  m["Corr"] = pearson(p, y);
  return m;
}

MetricMap iemocap_metrics(const std::vector<int>& pred_class, const std::vector<int>& label_class) {
  static const char* const kEmotions[] = {"Neutral", "Happy", "Sad", "Angry"};
  if (pred_class.size() != label_class.size()) {
    throw DataError(str("iemocap_metrics: predictions and labels differ in length: ",
                        pred_class.size(), " vs ", label_class.size()));
  }
  if (pred_class.empty() || pred_class.size() % 4 != 0) {
    throw DataError(
        str("iemocap_metrics: expected N * 4 class indices with N >= 1 (neutral, "
            "happy, sad, angry per sample), got ",
            pred_class.size()));
  }
  for (size_t i = 0; i < pred_class.size(); ++i) {
    if ((pred_class[i] != 0 && pred_class[i] != 1) ||
        (label_class[i] != 0 && label_class[i] != 1)) {
      throw DataError(str("iemocap_metrics: sample ", i / 4, " emotion ", kEmotions[i % 4],
                          ": expected class indices 0 or 1, got prediction ", pred_class[i],
                          " and label ", label_class[i]));
    }
  }
  const size_t n = pred_class.size() / 4;
  MetricMap m;
  double acc_sum = 0.0, f1_sum = 0.0;
  for (size_t e = 0; e < 4; ++e) {
    std::vector<int> truth(n), pred(n);
    for (size_t i = 0; i < n; ++i) {
      truth[i] = label_class[i * 4 + e];
      pred[i] = pred_class[i * 4 + e];
    }
    const double acc = accuracy(truth, pred);
    const double f1 = weighted_f1(truth, pred);  // MulT's eval_iemocap: (truth, pred)
    m[str(kEmotions[e], "_Acc")] = acc;
    m[str(kEmotions[e], "_F1")] = f1;
    acc_sum += acc;
    f1_sum += f1;
  }
  m["Avg_Acc"] = acc_sum / 4.0;
  m["Avg_F1"] = f1_sum / 4.0;
  return m;
}

bool lower_is_better(const std::string& metric) { return metric == "MAE"; }

namespace {

// P(0 <= T <= x) for Student's t with df degrees of freedom, x >= 0: Simpson's rule on the density
// (smooth and bounded; panels of at most 0.005 wide).
double student_t_central_mass(double x, int df) {
  const double nu = df;
  const double log_norm =
      std::lgamma((nu + 1) / 2) - std::lgamma(nu / 2) - 0.5 * std::log(nu * M_PI);
  auto density = [&](double t) {
    return std::exp(log_norm - (nu + 1) / 2 * std::log1p(t * t / nu));
  };
  const int panels = 2 * static_cast<int>(std::ceil(std::max(1000.0, 100 * x)));  // even
  const double h = x / panels;
  double sum = density(0) + density(x);
  for (int i = 1; i < panels; ++i) sum += (i % 2 ? 4 : 2) * density(i * h);
  return sum * h / 3;
}

}  // namespace

double student_t_quantile(double p, int df) {
  if (!(p > 0 && p < 1) || df < 1)
    throw ConfigError(
        str("student_t_quantile: expected p in (0, 1) and df >= 1, got p = ", p, ", df = ", df));
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  const double target = p - 0.5;
  // The mass grows with x; widen the bracket until it holds the target (df = 1, p = 0.9995 needs
  // about 637).
  double lo = 0, hi = 1;
  while (student_t_central_mass(hi, df) < target) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6)
      throw ConfigError(str("student_t_quantile: p = ", p, " is too close to 1 for df = ", df));
  }
  for (int i = 0; i < 60 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_central_mass(mid, df) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd out;
  out.n = static_cast<int>(values.size());
  if (values.empty()) {
    // No value is not the value 0: make an accidental use visible.
    out.mean = out.std = std::numeric_limits<double>::quiet_NaN();
    return out;
  }
  double sum = 0.0;
  for (double v : values) sum += v;
  out.mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) {
    out.std = 0.0;
    return out;
  }
  double ss = 0.0;
  for (double v : values) ss += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
  return out;
}

double auilc(const std::vector<double>& rates, const std::vector<double>& values) {
  if (rates.size() != values.size()) {
    throw DataError(str("auilc: ", rates.size(), " rates but ", values.size(), " values"));
  }
  if (rates.size() < 2) {
    throw DataError(str("auilc: needs at least two rates, got ", rates.size()));
  }
  for (size_t i = 0; i < rates.size(); ++i) {
    if (!std::isfinite(rates[i]) || !std::isfinite(values[i])) {
      throw DataError(
          str("auilc: point ", i, " is not finite (rate ", rates[i], ", value ", values[i], ")"));
    }
    if (i > 0 && !(rates[i] > rates[i - 1])) {
      throw DataError(str("auilc: rates must increase strictly; rate ", i, " is ", rates[i],
                          " after ", rates[i - 1]));
    }
  }
  double area = 0.0;
  for (size_t i = 1; i < rates.size(); ++i) {
    area += 0.5 * (values[i] + values[i - 1]) * (rates[i] - rates[i - 1]);
  }
  return area / (rates.back() - rates.front());
}

}  // namespace robustmsa

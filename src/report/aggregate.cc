// build_report (report/report.h): the runs of one suite aggregated over seeds into tables, a
// long-format summary, paired differences and the list of what is missing. The suite's layout
// (fixed table, grid, curve) is data/protocol.h's Suite.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "data/protocol.h"
#include "report/report.h"
#include "report/report_parts.h"
#include "util/error.h"

namespace robustmsa {

using report_detail::join;
using report_detail::kAuilc;
using report_detail::kAvg;
using report_detail::kComplete;

namespace {

// The grid value of a condition name such as "frame=0.3", or nullopt.
std::optional<double> grid_value(const std::string& name, const std::string& prefix) {
  if (prefix.empty() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string rest = name.substr(prefix.size());
  if (rest.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(rest.c_str(), &end);
  if (end != rest.c_str() + rest.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string describe_source(const RunResult& r) {
  return r.source.empty() ? std::string("a run built in memory") : str("file '", r.source, "'");
}

template <class T>
void add_unique(std::vector<T>& items, const T& item) {
  if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
}

// The paired statistics of `variant` − `reference` over the seeds both cells have (the two cells
// belong to rows with the same expected seeds).
PairedEntry paired_difference(const ReportCell& variant, const ReportCell& reference,
                              const std::string& metric) {
  std::vector<double> diff;
  PairedEntry e;
  for (size_t i = 0; i < variant.values.size() && i < reference.values.size(); ++i) {
    if (!variant.values[i] || !reference.values[i]) continue;
    const double d = *variant.values[i] - *reference.values[i];
    diff.push_back(d);
    if (d == 0)
      ++e.ties;
    else if ((d < 0) == lower_is_better(metric))
      ++e.better;
  }
  const MeanStd stat = mean_std(diff);
  e.n = stat.n;
  e.mean = stat.mean;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  e.std = e.ci_low = e.ci_high = nan;
  if (e.n >= 2) {
    e.std = stat.std;
    const double half = student_t_quantile(0.975, e.n - 1) * stat.std / std::sqrt(e.n);
    e.ci_low = stat.mean - half;
    e.ci_high = stat.mean + half;
  }
  return e;
}

// build_report, one section per method, in the order they run.
class ReportBuilder {
 public:
  ReportBuilder(const std::optional<RunResult>& oracle, const ReportOptions& options)
      : oracle_(oracle ? &*oracle : nullptr), options_(options) {
    report_.decimals = options.decimals;
  }

  Report build(const std::vector<RunResult>& all_runs) {
    select_runs(all_runs);
    describe_data();
    index_variants();
    note_oracle();
    note_mask_seeds();
    lay_out_conditions();
    choose_metrics();
    make_rows();
    make_tables();
    make_summary();
    make_paired();
    find_missing();
    return std::move(report_);
  }

 private:
  // Suite: the one all runs share (or options.suite); runs of other suites or seeds are left out
  // and the notes say how many.
  void select_runs(const std::vector<RunResult>& all_runs) {
    std::vector<std::string> suites;
    for (const RunResult& r : all_runs) add_unique(suites, r.suite);
    if (options_.suite.empty()) {
      if (suites.size() > 1) {
        throw DataError(str("report: the results mix suites (", join(suites, ", "),
                            "); report one suite at a time (ReportOptions::suite / --suite)"));
      }
      report_.suite = suites.front();
    } else {
      report_.suite = options_.suite;
    }
    suite_ = find_suite(report_.suite);
    const std::vector<int64_t>& seeds = options_.seeds;
    size_t other_suite = 0, other_seed = 0;
    for (const RunResult& r : all_runs) {
      if (r.suite != report_.suite) {
        ++other_suite;
        continue;
      }
      if (!seeds.empty() && std::find(seeds.begin(), seeds.end(), r.seed) == seeds.end()) {
        ++other_seed;
        continue;
      }
      runs_.push_back(&r);
    }
    if (runs_.empty()) {
      throw DataError(str("report: no runs of suite \"", report_.suite, "\"",
                          seeds.empty() ? "" : " with the requested seeds",
                          " (suites found: ", join(suites, ", "), ")"));
    }
    if (other_suite > 0) {
      report_.notes.push_back(str(other_suite, " run(s) of other suites (", join(suites, ", "),
                                  ") are not part of this report."));
    }
    if (other_seed > 0) {
      report_.notes.push_back(str(other_seed, " run(s) with seeds outside the requested list (",
                                  join(seeds, ", "), ") are not part of this report."));
    }
  }

  // Task (one for all runs), split and data files (warnings when they differ).
  void describe_data() {
    std::vector<std::string> splits;
    const RunResult& first = *runs_.front();
    for (const RunResult* r : runs_) {
      if (r->task != first.task) {
        throw DataError(
            str("report: runs of different tasks cannot share a table: ", describe_source(first),
                " is \"", first.task, "\", ", describe_source(*r), " is \"", r->task, "\""));
      }
      add_unique(splits, r->split);
      add_unique(report_.data_sha256, r->data_sha256);
    }
    report_.task = first.task;
    report_.split = join(splits, ", ");
    if (splits.size() > 1) {
      report_.notes.push_back(str("WARNING: the runs evaluated different splits (", report_.split,
                                  "); their numbers are not comparable."));
    }
    if (report_.data_sha256.size() > 1) {
      report_.notes.push_back(str("WARNING: the runs used ", report_.data_sha256.size(),
                                  " different data files (sha256 ", join(report_.data_sha256, ", "),
                                  "); rows may not be comparable."));
    }
  }

  // Variants in first-seen order, the seeds each has (a duplicate is an error) and the seeds
  // every variant is expected to have.
  void index_variants() {
    for (const RunResult* r : runs_) {
      if (oracle_ && r->variant == "oracle") {
        throw DataError(str("report: a run in ", describe_source(*r),
                            " is called \"oracle\", which is the name of the oracle row"));
      }
      auto& by_seed = by_variant_[r->variant];
      if (by_seed.empty()) report_.variants.push_back(r->variant);
      const auto [it, inserted] = by_seed.emplace(r->seed, r);
      if (!inserted) {
        throw DataError(str("report: variant \"", r->variant, "\" seed ", r->seed, " suite \"",
                            report_.suite, "\" appears twice: ", describe_source(*it->second),
                            " and ", describe_source(*r)));
      }
      report_.seeds_found[r->variant].push_back(r->seed);
    }
    for (auto& [variant, seeds] : report_.seeds_found) std::sort(seeds.begin(), seeds.end());
    if (!options_.seeds.empty()) {
      report_.seeds = options_.seeds;
    } else {
      std::set<int64_t> all;
      for (const RunResult* r : runs_) all.insert(r->seed);
      report_.seeds.assign(all.begin(), all.end());
    }
  }

  void note_oracle() {
    if (!oracle_) return;
    report_.has_oracle = true;
    if (!oracle_->task.empty() && oracle_->task != report_.task) {
      report_.notes.push_back(str("WARNING: the oracle is for task \"", oracle_->task,
                                  "\" but the runs are \"", report_.task, "\"."));
    }
    const auto& shas = report_.data_sha256;
    if (!oracle_->data_sha256.empty() &&
        std::find(shas.begin(), shas.end(), oracle_->data_sha256) == shas.end()) {
      report_.notes.push_back(str("WARNING: the oracle was computed for data sha256 ",
                                  oracle_->data_sha256, ", which no run used."));
    }
  }

  void note_mask_seeds() {
    std::set<int64_t> mask_seeds;
    for (const RunResult* r : runs_) {
      for (const ConditionResult& c : r->conditions) mask_seeds.insert(c.mask_seed);
    }
    report_.mask_seeds.assign(mask_seeds.begin(), mask_seeds.end());
    if (report_.mask_seeds.size() > 1) {
      report_.notes.push_back(str("WARNING: conditions were evaluated with different mask seeds (",
                                  join(report_.mask_seeds, ", "),
                                  "); the models did not all see identical inputs."));
    }
  }

  // Conditions: the suite's fixed table and grid first (the grid sorted by value), then
  // whatever else the runs hold.
  void lay_out_conditions() {
    std::vector<std::string> fixed;  // the fixed table's evaluated conditions
    if (suite_) {
      for (const std::string& k : suite_->fixed_keys)
        if (k != kAvg) fixed.push_back(k);
    }
    const std::string grid_prefix = suite_ ? suite_->grid_prefix : "";
    std::vector<std::pair<double, std::string>> grid;
    for (const RunResult* r : runs_) {
      for (const ConditionResult& c : r->conditions) {
        if (std::find(fixed.begin(), fixed.end(), c.name) != fixed.end()) continue;
        if (const std::optional<double> x = grid_value(c.name, grid_prefix)) {
          if (std::find_if(grid.begin(), grid.end(),
                           [&](const auto& g) { return g.second == c.name; }) == grid.end()) {
            grid.emplace_back(*x, c.name);
          }
        } else {
          add_unique(others_, c.name);
        }
      }
    }
    std::stable_sort(grid.begin(), grid.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [x, name] : grid) {
      grid_.push_back(name);
      grid_x_.push_back(x);
    }
    for (size_t i = 1; i < grid_x_.size(); ++i) {
      if (grid_x_[i] == grid_x_[i - 1]) {
        throw DataError(str("report: conditions \"", grid_[i - 1], "\" and \"", grid_[i],
                            "\" denote the same grid point"));
      }
    }
    if (suite_) {
      report_.conditions = suite_->fixed_keys;
      evaluated_ = fixed;
    }
    for (const std::string& g : grid_) {
      report_.conditions.push_back(g);
      evaluated_.push_back(g);
    }
    if (suite_ && suite_->auilc) {
      if (grid_.size() >= 2) {
        report_.conditions.push_back(kAuilc);
      } else {
        report_.notes.push_back(str("AUILC needs at least two rates; found ", grid_.size(), "."));
      }
    }
    if (!suite_) {
      evaluated_ = others_;
      report_.notes.push_back(str("Suite \"", report_.suite,
                                  "\" has no known layout; every condition is shown as found."));
    } else if (!others_.empty()) {
      report_.notes.push_back(
          str("Conditions outside the ", report_.suite, " layout (", join(others_, ", "),
              ") are not in the tables; report.csv and report.json hold them."));
    }
    for (const std::string& o : others_) report_.conditions.push_back(o);
  }

  // Table metrics (requested, else the task's defaults, else all found), then every other metric.
  void choose_metrics() {
    for (const RunResult* r : runs_) {
      for (const ConditionResult& c : r->conditions) {
        for (const auto& [name, v] : c.metrics) found_metrics_.insert(name);
      }
    }
    if (oracle_) {
      for (const ConditionResult& c : oracle_->conditions) {
        for (const auto& [name, v] : c.metrics) found_metrics_.insert(name);
      }
    }
    report_.metrics = options_.metrics.empty() ? default_metrics(report_.task) : options_.metrics;
    if (report_.metrics.empty())
      report_.metrics.assign(found_metrics_.begin(), found_metrics_.end());
    for (const std::string& m : report_.metrics) {
      if (found_metrics_.count(m) == 0) {
        report_.notes.push_back(
            str("Metric \"", m, "\" is in no results file (found: ",
                join(std::vector<std::string>(found_metrics_.begin(), found_metrics_.end()), ", "),
                ")."));
      }
    }
    report_.all_metrics = report_.metrics;
    for (const std::string& m : found_metrics_) add_unique(report_.all_metrics, m);
  }

  // Rows: variants in first-seen order, then the oracle.
  void make_rows() {
    for (const std::string& v : report_.variants) {
      ReportRow row;
      row.variant = v;
      row.seeds = report_.seeds;
      for (int64_t s : report_.seeds) row.seeds_found += by_variant_[v].count(s) ? 1 : 0;
      rows_.push_back(std::move(row));
    }
    if (oracle_) {
      ReportRow row;
      row.variant = "oracle";
      row.oracle = true;
      row.seeds = {oracle_->seed};
      row.seeds_found = 1;
      rows_.push_back(std::move(row));
    }
  }

  void make_table(const std::string& id, const std::string& title, const std::string& metric,
                  const std::vector<std::string>& keys, const std::vector<std::string>& columns) {
    ReportTable t;
    t.id = id;
    t.title = title;
    t.metric = metric;
    t.keys = keys;
    t.columns = columns;
    for (const ReportRow& proto : rows_) {
      ReportRow row = proto;
      for (const std::string& k : keys) row.cells.push_back(cell(row, k, metric));
      t.rows.push_back(std::move(row));
    }
    report_.tables.push_back(std::move(t));
  }

  // One table per metric: the fixed table, the grid table (with its curve), or for an unknown
  // suite every condition as found.
  void make_tables() {
    if (suite_ && !suite_->fixed_keys.empty()) {
      for (const std::string& m : report_.metrics)
        make_table("conditions", suite_->fixed_title, m, suite_->fixed_keys, suite_->fixed_columns);
    }
    if (suite_ && !grid_.empty()) {
      std::vector<std::string> keys = grid_, columns;
      for (const std::string& g : grid_) {
        columns.push_back(suite_->grid_header + g.substr(suite_->grid_prefix.size()));
      }
      if (suite_->auilc && grid_.size() >= 2) {
        keys.push_back(kAuilc);
        columns.push_back(kAuilc);
      }
      for (const std::string& m : report_.metrics)
        make_table(suite_->grid_table, suite_->grid_title, m, keys, columns);
      ReportCurve curve;
      curve.id = suite_->curve_id;
      curve.x_label = suite_->curve_x_label;
      curve.table_id = suite_->grid_table;
      curve.x = grid_x_;
      curve.keys = grid_;
      report_.curve = std::move(curve);
    }
    if (!suite_ && !others_.empty()) {
      for (const std::string& m : report_.metrics)
        make_table("all", "Conditions", m, others_, others_);
    }
  }

  // Long format: every row × condition × metric.
  void make_summary() {
    for (const ReportRow& row : rows_) {
      for (const std::string& c : report_.conditions) {
        for (const std::string& m : report_.all_metrics) {
          SummaryEntry e;
          e.variant = row.variant;
          e.oracle = row.oracle;
          e.condition = c;
          e.metric = m;
          e.seeds = row.seeds;
          e.cell = cell(row, c, m);
          report_.summary.push_back(std::move(e));
        }
      }
    }
  }

  // Paired differences against the first variant on the summary conditions.
  void make_paired() {
    std::vector<std::string> summary_keys;
    for (const char* key : {kAvg, kComplete, kAuilc}) {
      if (std::find(report_.conditions.begin(), report_.conditions.end(), key) !=
          report_.conditions.end())
        summary_keys.push_back(key);
    }
    for (size_t v = 1; v < report_.variants.size(); ++v) {
      for (const std::string& c : summary_keys) {
        for (const std::string& m : report_.metrics) {
          report_.paired.push_back(
              paired_difference(cell(rows_[v], c, m), cell(rows_[0], c, m), m));
          PairedEntry& e = report_.paired.back();
          e.variant = report_.variants[v];
          e.reference = report_.variants[0];
          e.condition = c;
          e.metric = m;
        }
      }
    }
  }

  // What is missing, at the coarsest level that explains it.
  void find_missing() {
    for (const ReportRow& row : rows_) {
      for (int64_t seed : row.seeds) {
        const RunResult* run = run_for(row, seed);
        const std::optional<int64_t> seed_id = row.oracle ? std::nullopt : std::optional(seed);
        if (run == nullptr) {
          report_.missing.push_back(
              {row.variant, seed_id, "", "",
               str("no results for seed ", seed, " (suite ", report_.suite, ")")});
          continue;
        }
        for (const std::string& c : evaluated_) {
          const ConditionResult* cr = run->find(c);
          if (cr == nullptr) {
            report_.missing.push_back(
                {row.variant, seed_id, c, "",
                 str("condition ", c, " not evaluated (", describe_source(*run), ")")});
            continue;
          }
          for (const std::string& m : report_.metrics) {
            // A metric in no file at all is one note above, not an entry per cell.
            if (cr->metrics.count(m) == 0 && found_metrics_.count(m) != 0) {
              report_.missing.push_back({row.variant, seed_id, c, m,
                                         str("metric ", m, " absent from condition ", c, " (",
                                             describe_source(*run), ")")});
            }
          }
        }
      }
    }
  }

  // ---- cells ----

  std::optional<double> plain_value(const RunResult* run, const std::string& condition,
                                    const std::string& metric) const {
    if (run == nullptr) return std::nullopt;
    const ConditionResult* c = run->find(condition);
    if (c == nullptr) return std::nullopt;
    const auto it = c->metrics.find(metric);
    if (it == c->metrics.end()) return std::nullopt;
    return it->second;
  }

  // A condition's value for one seed, derived keys included.
  std::optional<double> value(const RunResult* run, const std::string& key,
                              const std::string& metric) const {
    if (key == kAvg && suite_ && !suite_->averaged.empty()) {
      // Avg needs all averaged conditions of this seed; a mean over fewer would not be comparable.
      double sum = 0.0;
      for (const std::string& c : suite_->averaged) {
        const std::optional<double> v = plain_value(run, c, metric);
        if (!v) return std::nullopt;
        sum += *v;
      }
      return sum / static_cast<double>(suite_->averaged.size());
    }
    if (key == kAuilc) {
      if (grid_.size() < 2) return std::nullopt;
      std::vector<double> values;
      for (const std::string& c : grid_) {
        const std::optional<double> v = plain_value(run, c, metric);
        if (!v) return std::nullopt;
        values.push_back(*v);
      }
      return auilc(grid_x_, values);
    }
    return plain_value(run, key, metric);
  }

  const RunResult* run_for(const ReportRow& row, int64_t seed) const {
    if (row.oracle) return oracle_;
    const auto v = by_variant_.find(row.variant);
    if (v == by_variant_.end()) return nullptr;
    const auto s = v->second.find(seed);
    return s == v->second.end() ? nullptr : s->second;
  }

  ReportCell cell(const ReportRow& row, const std::string& key, const std::string& metric) const {
    ReportCell c;
    c.expected = static_cast<int>(row.seeds.size());
    std::vector<double> present;
    for (int64_t seed : row.seeds) {
      const std::optional<double> v = value(run_for(row, seed), key, metric);
      c.values.push_back(v);
      if (v) present.push_back(*v);
    }
    c.stat = mean_std(present);
    return c;
  }

  const RunResult* oracle_;
  const ReportOptions& options_;
  Report report_;
  const Suite* suite_ = nullptr;        // nullptr: a suite without a known layout
  std::vector<const RunResult*> runs_;  // the runs of the report's suite and seeds
  std::map<std::string, std::map<int64_t, const RunResult*>> by_variant_;  // variant -> seed
  std::vector<std::string> grid_;  // grid condition names sorted by value
  std::vector<double> grid_x_;
  std::vector<std::string> others_;     // conditions outside the suite's layout
  std::vector<std::string> evaluated_;  // layout conditions checked for missing values
  std::set<std::string> found_metrics_;
  std::vector<ReportRow> rows_;
};

}  // namespace

Report build_report(const std::vector<RunResult>& runs, const std::optional<RunResult>& oracle,
                    const ReportOptions& options) {
  if (runs.empty()) throw DataError("report: no results to report (0 runs)");
  if (options.decimals < 0 || options.decimals > 12) {
    throw ConfigError(str("report: decimals must be in [0, 12], got ", options.decimals));
  }
  return ReportBuilder(oracle, options).build(runs);
}

}  // namespace robustmsa

// Results files, aggregation over seeds and the report writers (DESIGN §3, §4, §6, §7).
#include "report/report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "report/format.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

using nlohmann::json;

const ConditionResult* RunResult::find(const std::string& name) const {
  for (const ConditionResult& c : conditions) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// ---- results.json and the oracle file ----------------------------------------------------------

namespace {

std::string join_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

// Typed access to a parsed JSON document; every failure names the document and the key path.
class JsonReader {
 public:
  explicit JsonReader(std::string what) : what_(std::move(what)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw DataError(str(what_, ": key \"", key, "\": ", message));
  }

  // nullptr when absent and not required.
  const json* get(const json& object, const std::string& prefix, const char* key,
                  bool required) const {
    const auto it = object.find(key);
    if (it == object.end()) {
      if (required) fail(join_key(prefix, key), "missing");
      return nullptr;
    }
    return &*it;
  }

  std::string string(const json& object, const std::string& prefix, const char* key,
                     const std::optional<std::string>& fallback) const {
    const json* v = get(object, prefix, key, !fallback.has_value());
    if (v == nullptr) return *fallback;
    if (!v->is_string())
      fail(join_key(prefix, key), str("expected a string, got ", v->type_name()));
    return v->get<std::string>();
  }

  int64_t integer(const json& object, const std::string& prefix, const char* key,
                  const std::optional<int64_t>& fallback) const {
    const json* v = get(object, prefix, key, !fallback.has_value());
    if (v == nullptr) return *fallback;
    if (v->is_number_unsigned()) {
      const auto u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail(join_key(prefix, key), str("integer ", u, " is out of range"));
      }
      return static_cast<int64_t>(u);
    }
    if (!v->is_number_integer()) {
      fail(join_key(prefix, key), str("expected an integer, got ", v->type_name(), " ", v->dump()));
    }
    return v->get<int64_t>();
  }

  double number(const json& value, const std::string& key) const {
    if (!value.is_number()) fail(key, str("expected a number, got ", value.type_name()));
    return value.get<double>();
  }

  const json& object(const json& parent, const std::string& prefix, const char* key) const {
    const json& v = *get(parent, prefix, key, true);
    if (!v.is_object()) fail(join_key(prefix, key), str("expected an object, got ", v.type_name()));
    return v;
  }

  const json& array(const json& parent, const std::string& prefix, const char* key) const {
    const json& v = *get(parent, prefix, key, true);
    if (!v.is_array()) fail(join_key(prefix, key), str("expected an array, got ", v.type_name()));
    return v;
  }

  void expect_format(const json& j, const char* expected) const {
    if (!j.is_object()) {
      throw DataError(str(what_, ": expected a JSON object at the top level, got ", j.type_name()));
    }
    const std::string format = string(j, "", "format", std::nullopt);
    if (format != expected) {
      fail("format", str("expected \"", expected, "\", got \"", format, "\""));
    }
  }

 private:
  std::string what_;
};

std::vector<ConditionResult> conditions_from_json(const JsonReader& reader, const json& j,
                                                  bool mask_seed_required) {
  std::vector<ConditionResult> out;
  std::set<std::string> names;
  const json& list = reader.array(j, "", "conditions");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string prefix = str("conditions[", i, "]");
    const json& c = list[i];
    if (!c.is_object()) reader.fail(prefix, str("expected an object, got ", c.type_name()));
    ConditionResult cr;
    cr.name = reader.string(c, prefix, "name", std::nullopt);
    if (cr.name.empty()) reader.fail(prefix + ".name", "empty condition name");
    if (!names.insert(cr.name).second) {
      reader.fail(prefix + ".name", str("condition \"", cr.name, "\" appears twice"));
    }
    cr.protocol = reader.string(c, prefix, "protocol", std::nullopt);
    cr.parameter = reader.string(c, prefix, "parameter", std::string());
    cr.mask_seed = reader.integer(c, prefix, "mask_seed",
                                  mask_seed_required ? std::nullopt : std::optional<int64_t>(0));
    const json& metrics = reader.object(c, prefix, "metrics");
    for (auto it = metrics.begin(); it != metrics.end(); ++it) {
      cr.metrics[it.key()] = reader.number(it.value(), prefix + ".metrics." + it.key());
    }
    out.push_back(std::move(cr));
  }
  return out;
}

json conditions_to_json(const RunResult& run) {
  json list = json::array();
  for (const ConditionResult& c : run.conditions) {
    json metrics = json::object();
    for (const auto& [name, value] : c.metrics) {
      // JSON has no NaN; nlohmann would write null and the file would not read back.
      if (!std::isfinite(value)) {
        throw RunError(str("results of variant \"", run.variant, "\" seed ", run.seed,
                           ": condition \"", c.name, "\" metric \"", name, "\" is ", value,
                           "; only finite values can be written"));
      }
      metrics[name] = value;
    }
    list.push_back({{"name", c.name},
                    {"protocol", c.protocol},
                    {"parameter", c.parameter},
                    {"mask_seed", c.mask_seed},
                    {"metrics", std::move(metrics)}});
  }
  return list;
}

json parse_json_file(const std::string& path, const char* kind) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw DataError(str(kind, " '", path, "': not valid JSON: ", e.what()));
  }
}

bool is_results_file_name(const std::string& name) {
  const std::string prefix = "results", suffix = ".json";
  return name.size() >= prefix.size() + suffix.size() &&
         name.compare(0, prefix.size(), prefix) == 0 &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

json results_to_json(const RunResult& run) {
  return json{{"format", kResultsFormat},
              {"variant", run.variant},
              {"model", run.model.empty() ? run.variant : run.model},
              {"seed", run.seed},
              {"suite", run.suite},
              {"split", run.split},
              {"task", run.task},
              {"data", {{"path", run.data_path}, {"sha256", run.data_sha256}}},
              {"metric_definitions", "docs/metrics.md"},
              {"conditions", conditions_to_json(run)}};
}

RunResult results_from_json(const json& j, const std::string& source) {
  const JsonReader reader(str("results file '", source, "'"));
  reader.expect_format(j, kResultsFormat);
  RunResult r;
  r.source = source;
  r.variant = reader.string(j, "", "variant", std::nullopt);
  if (r.variant.empty()) reader.fail("variant", "empty variant name");
  r.model = reader.string(j, "", "model", r.variant);
  r.seed = reader.integer(j, "", "seed", std::nullopt);
  r.suite = reader.string(j, "", "suite", std::nullopt);
  r.split = reader.string(j, "", "split", std::string("test"));
  r.task = reader.string(j, "", "task", std::nullopt);
  const json& data = reader.object(j, "", "data");
  r.data_path = reader.string(data, "data", "path", std::string());
  r.data_sha256 = reader.string(data, "data", "sha256", std::nullopt);
  r.conditions = conditions_from_json(reader, j, /*mask_seed_required=*/true);
  return r;
}

RunResult read_results(const std::string& path) {
  return results_from_json(parse_json_file(path, "results file"), path);
}

void write_results(const RunResult& run, const std::string& path) {
  write_file_atomic(path, results_to_json(run).dump(2) + "\n");
}

RunResult oracle_from_json(const json& j, const std::string& source) {
  const JsonReader reader(str("oracle file '", source, "'"));
  // The format key is optional here because callers may pass one suite's object out of a file
  // holding several ({"suites": {"paper": {...}}}); when present it must be ours.
  if (!j.is_object()) {
    throw DataError(str("oracle file '", source, "': expected a JSON object, got ", j.type_name()));
  }
  if (j.contains("format")) reader.expect_format(j, kOracleFormat);
  RunResult r;
  r.source = source;
  r.variant = "oracle";
  r.model = "oracle";
  r.seed = reader.integer(j, "", "seed", int64_t{0});
  r.suite = reader.string(j, "", "suite", std::string());
  r.task = reader.string(j, "", "task", std::string());
  r.split = reader.string(j, "", "split", std::string("test"));
  if (const json* data = reader.get(j, "", "data", false)) {
    if (!data->is_object()) reader.fail("data", str("expected an object, got ", data->type_name()));
    r.data_path = reader.string(*data, "data", "path", std::string());
    r.data_sha256 = reader.string(*data, "data", "sha256", std::string());
  }
  r.conditions = conditions_from_json(reader, j, /*mask_seed_required=*/false);
  return r;
}

RunResult read_oracle(const std::string& path) {
  return oracle_from_json(parse_json_file(path, "oracle file"), path);
}

std::vector<RunResult> collect_results(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError(str("cannot collect results from '", dir,
                        "': ", ec ? ec.message() : std::string("not a directory")));
  }
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw DataError(str("cannot list '", dir, "': ", ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw DataError(str("cannot list '", dir, "': ", ec.message()));
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (is_results_file_name(name) && it->is_regular_file(type_ec)) {
      files.push_back(it->path().string());
    }
  }
  if (ec) throw DataError(str("cannot list '", dir, "': ", ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<RunResult> runs;
  runs.reserve(files.size());
  for (const std::string& f : files) runs.push_back(read_results(f));
  return runs;
}

std::vector<std::string> default_metrics(const std::string& task) {
  if (task == "regression") {
    return {"Non0_F1_score", "Non0_acc_2", "MAE", "Corr", "Mult_acc_7", "Has0_F1_score"};
  }
  if (task == "iemocap") return {"Happy_F1", "Sad_F1", "Angry_F1", "Neutral_F1"};
  if (task == "sims") return {"Mult_acc_2", "F1_score", "Mult_acc_3", "Mult_acc_5", "MAE", "Corr"};
  return {};
}

// ---- aggregation -------------------------------------------------------------------------------

namespace {

// The six incomplete conditions of the UMDF/CorrKD tables, in their column order.
const std::vector<std::string> kSixConditions = {"{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}"};
constexpr char kComplete[] = "complete";
constexpr char kAvg[] = "Avg";
constexpr char kAuilc[] = "AUILC";

// How a suite lays out its conditions.
struct SuiteLayout {
  bool known = false;
  std::vector<std::string> fixed;  // paper: the six conditions and "complete"
  std::string grid_prefix;         // "frame=", "rate=", "MR="
  std::string grid_table;          // "frame", "rate", "mr"
  std::string grid_title;
  std::string grid_header;  // column header prefix: "p=", "r=", "MR="
  std::string curve_id;
  std::string curve_x_label;
};

SuiteLayout layout_for(const std::string& suite) {
  SuiteLayout l;
  if (suite == "paper") {
    l.known = true;
    l.fixed = kSixConditions;
    l.fixed.push_back(kComplete);
    l.grid_prefix = "frame=";
    l.grid_table = "frame";
    l.grid_title = "Frame-level missing (each valid frame dropped with probability p)";
    l.grid_header = "p=";
    l.curve_id = "frame_curve";
    l.curve_x_label = "frame drop ratio p";
  } else if (suite == "mmsa") {
    l.known = true;
    l.grid_prefix = "rate=";
    l.grid_table = "rate";
    l.grid_title = "Random missing rate r (frame_rate, equal rates), with AUILC";
    l.grid_header = "r=";
    l.curve_id = "rate_curve";
    l.curve_x_label = "missing rate r";
  } else if (suite == "gcnet") {
    l.known = true;
    l.grid_prefix = "MR=";
    l.grid_table = "mr";
    l.grid_title = "Modality drop (MR = fraction of missing sample-modality slots)";
    l.grid_header = "MR=";
    l.curve_id = "mr_curve";
    l.curve_x_label = "missing rate MR";
  }
  return l;
}

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
std::string join(const std::vector<T>& items, const std::string& sep) {
  std::ostringstream out;
  for (size_t i = 0; i < items.size(); ++i) out << (i ? sep : "") << items[i];
  return out.str();
}

// Everything build_report needs while it fills cells.
struct Builder {
  SuiteLayout layout;
  std::vector<std::string> grid;  // grid condition names sorted by value
  std::vector<double> grid_x;
  std::map<std::string, std::map<int64_t, const RunResult*>> runs;  // variant -> seed -> run
  const RunResult* oracle = nullptr;

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
    if (key == kAvg) {
      // Avg needs all six conditions of this seed; a mean over fewer would not be comparable.
      double sum = 0.0;
      for (const std::string& c : kSixConditions) {
        const std::optional<double> v = plain_value(run, c, metric);
        if (!v) return std::nullopt;
        sum += *v;
      }
      return sum / static_cast<double>(kSixConditions.size());
    }
    if (key == kAuilc) {
      if (grid.size() < 2) return std::nullopt;
      std::vector<double> values;
      for (const std::string& c : grid) {
        const std::optional<double> v = plain_value(run, c, metric);
        if (!v) return std::nullopt;
        values.push_back(*v);
      }
      return auilc(grid_x, values);
    }
    return plain_value(run, key, metric);
  }

  const RunResult* run_for(const ReportRow& row, int64_t seed) const {
    if (row.oracle) return oracle;
    const auto v = runs.find(row.variant);
    if (v == runs.end()) return nullptr;
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
};

}  // namespace

namespace {

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

}  // namespace

Report build_report(const std::vector<RunResult>& all_runs, const std::optional<RunResult>& oracle,
                    const ReportOptions& options) {
  if (all_runs.empty()) throw DataError("report: no results to report (0 runs)");
  if (options.decimals < 0 || options.decimals > 12) {
    throw ConfigError(str("report: decimals must be in [0, 12], got ", options.decimals));
  }
  Report report;
  report.decimals = options.decimals;

  // Suite.
  std::vector<std::string> suites;
  for (const RunResult& r : all_runs) {
    if (std::find(suites.begin(), suites.end(), r.suite) == suites.end()) suites.push_back(r.suite);
  }
  if (options.suite.empty()) {
    if (suites.size() > 1) {
      throw DataError(str("report: the results mix suites (", join(suites, ", "),
                          "); report one suite at a time (ReportOptions::suite / --suite)"));
    }
    report.suite = suites.front();
  } else {
    report.suite = options.suite;
  }
  std::vector<const RunResult*> runs;
  size_t other_suite = 0, other_seed = 0;
  for (const RunResult& r : all_runs) {
    if (r.suite != report.suite) {
      ++other_suite;
      continue;
    }
    if (!options.seeds.empty() &&
        std::find(options.seeds.begin(), options.seeds.end(), r.seed) == options.seeds.end()) {
      ++other_seed;
      continue;
    }
    runs.push_back(&r);
  }
  if (runs.empty()) {
    throw DataError(str("report: no runs of suite \"", report.suite, "\"",
                        options.seeds.empty() ? "" : " with the requested seeds",
                        " (suites found: ", join(suites, ", "), ")"));
  }
  if (other_suite > 0) {
    report.notes.push_back(str(other_suite, " run(s) of other suites (", join(suites, ", "),
                               ") are not part of this report."));
  }
  if (other_seed > 0) {
    report.notes.push_back(str(other_seed, " run(s) with seeds outside the requested list (",
                               join(options.seeds, ", "), ") are not part of this report."));
  }

  // Task, split, data.
  std::vector<std::string> splits;
  for (const RunResult* r : runs) {
    if (r->task != runs.front()->task) {
      throw DataError(str(
          "report: runs of different tasks cannot share a table: ", describe_source(*runs.front()),
          " is \"", runs.front()->task, "\", ", describe_source(*r), " is \"", r->task, "\""));
    }
    if (std::find(splits.begin(), splits.end(), r->split) == splits.end()) {
      splits.push_back(r->split);
    }
    if (std::find(report.data_sha256.begin(), report.data_sha256.end(), r->data_sha256) ==
        report.data_sha256.end()) {
      report.data_sha256.push_back(r->data_sha256);
    }
  }
  report.task = runs.front()->task;
  report.split = join(splits, ", ");
  if (splits.size() > 1) {
    report.notes.push_back(str("WARNING: the runs evaluated different splits (", report.split,
                               "); their numbers are not comparable."));
  }
  if (report.data_sha256.size() > 1) {
    report.notes.push_back(str("WARNING: the runs used ", report.data_sha256.size(),
                               " different data files (sha256 ", join(report.data_sha256, ", "),
                               "); rows may not be comparable."));
  }

  // Variants, seeds, duplicates.
  Builder b;
  b.layout = layout_for(report.suite);
  for (const RunResult* r : runs) {
    if (oracle && r->variant == "oracle") {
      throw DataError(str("report: a run in ", describe_source(*r),
                          " is called \"oracle\", which is the name of the oracle row"));
    }
    auto& by_seed = b.runs[r->variant];
    if (by_seed.empty()) report.variants.push_back(r->variant);
    const auto [it, inserted] = by_seed.emplace(r->seed, r);
    if (!inserted) {
      throw DataError(str("report: variant \"", r->variant, "\" seed ", r->seed, " suite \"",
                          report.suite, "\" appears twice: ", describe_source(*it->second), " and ",
                          describe_source(*r)));
    }
    report.seeds_found[r->variant].push_back(r->seed);
  }
  for (auto& [variant, seeds] : report.seeds_found) std::sort(seeds.begin(), seeds.end());
  if (!options.seeds.empty()) {
    report.seeds = options.seeds;
  } else {
    std::set<int64_t> all;
    for (const RunResult* r : runs) all.insert(r->seed);
    report.seeds.assign(all.begin(), all.end());
  }
  if (oracle) {
    b.oracle = &*oracle;
    report.has_oracle = true;
    if (!oracle->task.empty() && oracle->task != report.task) {
      report.notes.push_back(str("WARNING: the oracle is for task \"", oracle->task,
                                 "\" but the runs are \"", report.task, "\"."));
    }
    if (!oracle->data_sha256.empty() &&
        std::find(report.data_sha256.begin(), report.data_sha256.end(), oracle->data_sha256) ==
            report.data_sha256.end()) {
      report.notes.push_back(str("WARNING: the oracle was computed for data sha256 ",
                                 oracle->data_sha256, ", which no run used."));
    }
  }

  // Mask seeds.
  std::set<int64_t> mask_seeds;
  for (const RunResult* r : runs) {
    for (const ConditionResult& c : r->conditions) mask_seeds.insert(c.mask_seed);
  }
  report.mask_seeds.assign(mask_seeds.begin(), mask_seeds.end());
  if (report.mask_seeds.size() > 1) {
    report.notes.push_back(str("WARNING: conditions were evaluated with different mask seeds (",
                               join(report.mask_seeds, ", "),
                               "); the models did not all see identical inputs."));
  }

  // Conditions: the suite's layout first, then whatever else the runs hold.
  std::vector<std::pair<double, std::string>> grid;
  std::vector<std::string> others;
  for (const RunResult* r : runs) {
    for (const ConditionResult& c : r->conditions) {
      const bool fixed =
          std::find(b.layout.fixed.begin(), b.layout.fixed.end(), c.name) != b.layout.fixed.end();
      if (fixed) continue;
      if (const std::optional<double> x = grid_value(c.name, b.layout.grid_prefix)) {
        if (std::find_if(grid.begin(), grid.end(),
                         [&](const auto& g) { return g.second == c.name; }) == grid.end()) {
          grid.emplace_back(*x, c.name);
        }
      } else if (std::find(others.begin(), others.end(), c.name) == others.end()) {
        others.push_back(c.name);
      }
    }
  }
  std::stable_sort(grid.begin(), grid.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [x, name] : grid) {
    b.grid.push_back(name);
    b.grid_x.push_back(x);
  }
  for (size_t i = 1; i < b.grid_x.size(); ++i) {
    if (b.grid_x[i] == b.grid_x[i - 1]) {
      throw DataError(str("report: conditions \"", b.grid[i - 1], "\" and \"", b.grid[i],
                          "\" denote the same grid point"));
    }
  }
  std::vector<std::string> layout_conditions;  // evaluated ones, checked for missing values
  if (report.suite == "paper") {
    report.conditions = kSixConditions;
    report.conditions.push_back(kAvg);
    report.conditions.push_back(kComplete);
    layout_conditions = b.layout.fixed;
  }
  for (const std::string& g : b.grid) {
    report.conditions.push_back(g);
    layout_conditions.push_back(g);
  }
  if (report.suite == "mmsa" && b.grid.size() >= 2) report.conditions.push_back(kAuilc);
  if (report.suite == "mmsa" && b.grid.size() < 2) {
    report.notes.push_back(str("AUILC needs at least two rates; found ", b.grid.size(), "."));
  }
  if (!b.layout.known) {
    layout_conditions = others;
    report.notes.push_back(str("Suite \"", report.suite,
                               "\" has no known layout; every condition is shown as found."));
  } else if (!others.empty()) {
    report.notes.push_back(str("Conditions outside the ", report.suite, " layout (",
                               join(others, ", "),
                               ") are not in the tables; report.csv and report.json hold them."));
  }
  for (const std::string& o : others) report.conditions.push_back(o);

  // Metrics.
  std::set<std::string> found_metrics;
  for (const RunResult* r : runs) {
    for (const ConditionResult& c : r->conditions) {
      for (const auto& [name, v] : c.metrics) found_metrics.insert(name);
    }
  }
  if (oracle) {
    for (const ConditionResult& c : oracle->conditions) {
      for (const auto& [name, v] : c.metrics) found_metrics.insert(name);
    }
  }
  report.metrics = options.metrics.empty() ? default_metrics(report.task) : options.metrics;
  if (report.metrics.empty()) report.metrics.assign(found_metrics.begin(), found_metrics.end());
  for (const std::string& m : report.metrics) {
    if (found_metrics.count(m) == 0) {
      report.notes.push_back(str(
          "Metric \"", m, "\" is in no results file (found: ",
          join(std::vector<std::string>(found_metrics.begin(), found_metrics.end()), ", "), ")."));
    }
  }
  report.all_metrics = report.metrics;
  for (const std::string& m : found_metrics) {
    if (std::find(report.all_metrics.begin(), report.all_metrics.end(), m) ==
        report.all_metrics.end()) {
      report.all_metrics.push_back(m);
    }
  }

  // Rows: variants in first-seen order, then the oracle.
  std::vector<ReportRow> rows;
  for (const std::string& v : report.variants) {
    ReportRow row;
    row.variant = v;
    row.seeds = report.seeds;
    for (int64_t s : report.seeds) row.seeds_found += b.runs[v].count(s) ? 1 : 0;
    rows.push_back(std::move(row));
  }
  if (oracle) {
    ReportRow row;
    row.variant = "oracle";
    row.oracle = true;
    row.seeds = {oracle->seed};
    row.seeds_found = 1;
    rows.push_back(std::move(row));
  }

  // Tables.
  auto make_table = [&](const std::string& id, const std::string& title, const std::string& metric,
                        const std::vector<std::string>& keys,
                        const std::vector<std::string>& columns) {
    ReportTable t;
    t.id = id;
    t.title = title;
    t.metric = metric;
    t.keys = keys;
    t.columns = columns;
    for (const ReportRow& proto : rows) {
      ReportRow row = proto;
      for (const std::string& k : keys) row.cells.push_back(b.cell(row, k, metric));
      t.rows.push_back(std::move(row));
    }
    report.tables.push_back(std::move(t));
  };
  if (report.suite == "paper") {
    std::vector<std::string> keys = kSixConditions, columns = kSixConditions;
    keys.push_back(kAvg);
    columns.push_back(kAvg);
    keys.push_back(kComplete);
    columns.push_back("{l,a,v}");
    for (const std::string& m : report.metrics) {
      make_table("conditions", "Missing modalities (only the listed modalities present)", m, keys,
                 columns);
    }
  }
  if (b.layout.known && !b.grid.empty()) {
    std::vector<std::string> keys = b.grid, columns;
    for (const std::string& g : b.grid) {
      columns.push_back(b.layout.grid_header + g.substr(b.layout.grid_prefix.size()));
    }
    if (report.suite == "mmsa" && b.grid.size() >= 2) {
      keys.push_back(kAuilc);
      columns.push_back(kAuilc);
    }
    for (const std::string& m : report.metrics) {
      make_table(b.layout.grid_table, b.layout.grid_title, m, keys, columns);
    }
    ReportCurve curve;
    curve.id = b.layout.curve_id;
    curve.x_label = b.layout.curve_x_label;
    curve.table_id = b.layout.grid_table;
    curve.x = b.grid_x;
    curve.keys = b.grid;
    report.curve = std::move(curve);
  }
  if (!b.layout.known && !others.empty()) {
    for (const std::string& m : report.metrics) make_table("all", "Conditions", m, others, others);
  }

  // Long-format summary: every row × condition × metric.
  for (const ReportRow& row : rows) {
    for (const std::string& c : report.conditions) {
      for (const std::string& m : report.all_metrics) {
        SummaryEntry e;
        e.variant = row.variant;
        e.oracle = row.oracle;
        e.condition = c;
        e.metric = m;
        e.seeds = row.seeds;
        e.cell = b.cell(row, c, m);
        report.summary.push_back(std::move(e));
      }
    }
  }

  // Paired differences against the first variant on the summary conditions.
  std::vector<std::string> summary_keys;
  for (const char* key : {kAvg, kComplete, kAuilc}) {
    if (std::find(report.conditions.begin(), report.conditions.end(), key) !=
        report.conditions.end())
      summary_keys.push_back(key);
  }
  for (size_t v = 1; v < report.variants.size(); ++v) {
    for (const std::string& c : summary_keys) {
      for (const std::string& m : report.metrics) {
        report.paired.push_back(paired_difference(b.cell(rows[v], c, m), b.cell(rows[0], c, m), m));
        PairedEntry& e = report.paired.back();
        e.variant = report.variants[v];
        e.reference = report.variants[0];
        e.condition = c;
        e.metric = m;
      }
    }
  }

  // What is missing, at the coarsest level that explains it.
  for (const ReportRow& row : rows) {
    for (int64_t seed : row.seeds) {
      const RunResult* run = b.run_for(row, seed);
      const std::optional<int64_t> seed_id = row.oracle ? std::nullopt : std::optional(seed);
      if (run == nullptr) {
        report.missing.push_back(
            {row.variant, seed_id, "", "",
             str("no results for seed ", seed, " (suite ", report.suite, ")")});
        continue;
      }
      for (const std::string& c : layout_conditions) {
        const ConditionResult* cr = run->find(c);
        if (cr == nullptr) {
          report.missing.push_back(
              {row.variant, seed_id, c, "",
               str("condition ", c, " not evaluated (", describe_source(*run), ")")});
          continue;
        }
        for (const std::string& m : report.metrics) {
          // A metric in no file at all is one note above, not an entry per cell.
          if (cr->metrics.count(m) == 0 && found_metrics.count(m) != 0) {
            report.missing.push_back({row.variant, seed_id, c, m,
                                      str("metric ", m, " absent from condition ", c, " (",
                                          describe_source(*run), ")")});
          }
        }
      }
    }
  }
  return report;
}

// ---- formatting --------------------------------------------------------------------------------

namespace {

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string seeds_column(const ReportRow& row) {
  if (row.oracle) return "—";
  const int expected = static_cast<int>(row.seeds.size());
  return row.seeds_found == expected ? str(expected) : str(row.seeds_found, "/", expected);
}

std::string missing_line(const MissingEntry& m) {
  std::string who = m.variant;
  if (m.seed) who += str(" seed ", *m.seed);
  return str(who, ": ", m.what);
}

std::string markdown_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string protocol_description(const Report& r) {
  if (r.suite == "paper") {
    return "complete; `condition` {l}, {a}, {v}, {l,a}, {l,v}, {a,v} (only the listed modalities "
           "present for every sample) and their Avg; `frame` p (every valid frame of every "
           "modality dropped independently with probability p)";
  }
  if (r.suite == "mmsa") {
    return "`frame_rate` with equal rates r for text, audio and vision (MMSA's rule: text "
           "tokens replaced, [CLS] and the last token kept), AUILC over the rates";
  }
  if (r.suite == "gcnet") {
    return "`modality_drop` MR: whole modalities dropped per sample so that a fraction MR of the "
           "(sample, modality) slots is missing, never all three";
  }
  return "unknown suite";
}

}  // namespace

std::string format_cell(const ReportCell& cell, int decimals) {
  if (cell.missing()) return "missing";
  std::string s = fixed(cell.stat.mean, decimals);
  if (cell.stat.n >= 2) s += " ± " + fixed(cell.stat.std, decimals);
  if (cell.partial()) s += str(" [", cell.stat.n, "/", cell.expected, "]");
  return s;
}

namespace {

std::string signed_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "—";
  return (v >= 0 ? "+" : "−") + fixed(std::fabs(v), decimals);
}

std::string condition_header(const std::string& condition) {
  return condition == kComplete ? "{l,a,v}" : condition;
}

std::string paired_interval(const PairedEntry& e, int decimals) {
  if (e.n < 2) return "—";
  return "[" + signed_fixed(e.ci_low, decimals) + ", " + signed_fixed(e.ci_high, decimals) + "]";
}

std::string paired_better(const PairedEntry& e) {
  std::string s = str(e.better, " of ", e.n);
  if (e.ties > 0) s += str(" (", e.ties, " tied)");
  return s;
}

const char kPairedExplanation[] =
    "Per seed, the variant's value minus the reference's on the same seed (seeds both have), "
    "then the mean of these differences and its 95% confidence interval (Student t, n − 1 "
    "degrees of freedom). *Better on* counts the seeds on which the variant is better (lower for "
    "MAE, higher for every other metric). An interval that contains 0 means these seeds do not "
    "separate the two.";

}  // namespace

std::string format_terminal_table(const Report& r) {
  std::ostringstream out;
  out << "suite " << r.suite << " · task " << r.task << " · split " << r.split << " · seeds "
      << join(r.seeds, ",") << " · mask seed " << join(r.mask_seeds, ",")
      << " · mean ± std (n-1) over seeds\n";
  for (const ReportTable& t : r.tables) {
    std::vector<std::vector<std::string>> grid;
    std::vector<std::string> header = {"variant", "seeds"};
    header.insert(header.end(), t.columns.begin(), t.columns.end());
    grid.push_back(header);
    for (const ReportRow& row : t.rows) {
      std::vector<std::string> line = {row.variant, seeds_column(row)};
      for (const ReportCell& c : row.cells) line.push_back(format_cell(c, r.decimals));
      grid.push_back(std::move(line));
    }
    out << "\n" << t.title << " — " << t.metric << "\n";
    out << format_text_grid(grid, 2);
  }
  if (!r.paired.empty()) {
    const std::string& metric = r.metrics.front();
    out << "\nPaired against " << r.paired.front().reference << " — " << metric
        << " (variant − reference per seed):\n";
    std::vector<std::vector<std::string>> grid = {
        {"variant", "condition", "mean", "95% CI", "better on"}};
    for (const PairedEntry& e : r.paired) {
      if (e.metric != metric) continue;
      grid.push_back({e.variant, condition_header(e.condition), signed_fixed(e.mean, r.decimals),
                      paired_interval(e, r.decimals), paired_better(e)});
    }
    out << format_text_grid(grid, 2);
  }
  if (r.reported) out << format_reported_terminal(*r.reported);
  if (!r.missing.empty()) {
    out << "\nMissing (" << r.missing.size() << "):\n";
    const size_t shown = std::min<size_t>(r.missing.size(), 20);
    for (size_t i = 0; i < shown; ++i) out << "  " << missing_line(r.missing[i]) << "\n";
    if (shown < r.missing.size()) {
      out << "  ... and " << r.missing.size() - shown << " more (report.md lists all)\n";
    }
  }
  for (const std::string& n : r.notes) out << "note: " << n << "\n";
  return out.str();
}

std::string format_markdown(const Report& r, const std::string& plot_note) {
  std::ostringstream out;
  out << "# robustmsa report — suite `" << r.suite << "`\n\n";
  out << "- **Protocol** (DESIGN §3): " << protocol_description(r) << ".\n";
  out << "- **Task**: " << r.task << "; **split**: " << r.split
      << "; **data** sha256: " << join(r.data_sha256, ", ") << ".\n";
  out << "- **Mask seed**: " << join(r.mask_seeds, ", ")
      << (r.mask_seeds.size() == 1 ? " (the same for every condition and run)" : "") << ".\n";
  out << "- **Seeds** expected: " << join(r.seeds, ", ") << " (" << r.seeds.size() << ").";
  for (const std::string& v : r.variants) {
    const auto it = r.seeds_found.find(v);
    const std::vector<int64_t> found =
        it == r.seeds_found.end() ? std::vector<int64_t>() : it->second;
    std::vector<int64_t> lacking;
    for (int64_t s : r.seeds) {
      if (std::find(found.begin(), found.end(), s) == found.end()) lacking.push_back(s);
    }
    out << (v == r.variants.front() ? " Found: " : ", ") << "`" << v << "` "
        << (r.seeds.size() - lacking.size()) << "/" << r.seeds.size();
    if (!lacking.empty()) out << " (missing " << join(lacking, ", ") << ")";
  }
  out << ".\n";
  out << "- **Cells**: mean ± sample standard deviation (n − 1) over seeds of the values as the "
         "metrics return them (fractions, not percentages), shown to "
      << r.decimals
      << " decimals. `[k/n]` marks a cell computed from only k of the n expected seeds; `missing` "
         "marks a cell with no value. Both are listed under *Missing values*.\n";
  if (r.suite == "paper") {
    out << "- **Avg**: per seed, the mean of the six incomplete conditions {l} … {a,v} (only when "
           "all six are present for that seed), then mean ± std over seeds. {l,a,v} is the "
           "complete condition.\n";
  }
  if (r.suite == "mmsa") {
    out << "- **AUILC**: per seed, the trapezoid area under the metric-vs-rate curve divided by "
           "the rate span (a mean level), then mean ± std over seeds.\n";
  }
  if (r.reported) {
    out << "- **Reported numbers**: the section *" << kReportedTitle
        << "* holds published numbers for " << r.reported->dataset
        << ", in percent as printed, with their sources. They were not measured here and are in "
           "no table, mean or std of this report's own rows.\n";
  }
  if (r.has_oracle) {
    out << "- **Row `oracle`**: not a trained model — the synthetic benchmark's oracle, the best "
           "score any model can reach given what survives the masks (one value, no seeds).\n";
  }
  out << "- **Metric definitions**: docs/metrics.md (MMSA's names and definitions). ";
  if (r.task == "iemocap") {
    out << "Per emotion, `<Emotion>_Acc` and `<Emotion>_F1` compare the argmax of the two logits "
           "with the label; F1 is scikit-learn's support-weighted F1 with the label as the truth, "
           "`f1_score(y, p, average='weighted')`, as MulT's eval_iemocap.\n";
  } else if (r.task == "sims") {
    out << "Values clipped to [-1, 1]; `Mult_acc_2` bins [-1,0] / (0,1], `Mult_acc_3` "
           "[-1,-0.1] / (-0.1,0.1] / (0.1,1], `Mult_acc_5` [-1,-0.7] / (-0.7,-0.1] / (-0.1,0.1] / "
           "(0.1,0.7] / (0.7,1]; `F1_score` is the support-weighted F1 of the 2-class version with "
           "the label as the truth.\n";
  } else {
    out << "`Non0_F1_score` is scikit-learn's support-weighted F1 with the labels as the truth, "
           "`f1_score(y > 0, p > 0, average='weighted')` over samples with y ≠ 0; "
           "`Non0_F1_score_mult` is the same with the arguments swapped, as MulT's code computes "
           "it (weighted F1 is not symmetric). `Has0_*` use y ≥ 0 vs p ≥ 0 over all samples. "
           "`Mult_acc_7`/`Mult_acc_5` clip to ±3/±2 and round half to even. We read the "
           "UMDF/CorrKD tables' \"F1\" as `Non0_F1_score`.\n";
  }

  std::string section;
  for (const ReportTable& t : r.tables) {
    if (t.title != section) {
      out << "\n## " << t.title << "\n";
      section = t.title;
    }
    out << "\n### " << t.metric << "\n\n| variant | seeds |";
    for (const std::string& c : t.columns) out << " " << markdown_escape(c) << " |";
    out << "\n|---|---|";
    for (size_t i = 0; i < t.columns.size(); ++i) out << "---:|";
    out << "\n";
    for (const ReportRow& row : t.rows) {
      out << "| " << (row.oracle ? "*oracle*" : markdown_escape(row.variant)) << " | "
          << seeds_column(row) << " |";
      for (const ReportCell& c : row.cells) out << " " << format_cell(c, r.decimals) << " |";
      out << "\n";
    }
  }
  if (!r.paired.empty()) {
    out << "\n## Paired differences against `" << markdown_escape(r.paired.front().reference)
        << "`\n\n"
        << kPairedExplanation << "\n\n"
        << "| variant | condition | metric | mean difference | 95% CI | better on |\n"
        << "|---|---|---|---:|---:|---:|\n";
    for (const PairedEntry& e : r.paired) {
      out << "| " << markdown_escape(e.variant) << " | " << condition_header(e.condition) << " | "
          << e.metric << " | " << signed_fixed(e.mean, r.decimals) << " | "
          << paired_interval(e, r.decimals) << " | " << paired_better(e) << " |\n";
    }
  }
  if (r.reported) out << format_reported_markdown(*r.reported);
  if (!plot_note.empty()) out << "\n## Plots\n\n" << plot_note << "\n";
  out << "\n## Missing values\n\n";
  if (r.missing.empty()) {
    out << "None: every variant has every expected seed, condition and table metric.\n";
  } else {
    for (const MissingEntry& m : r.missing) out << "- " << markdown_escape(missing_line(m)) << "\n";
  }
  if (!r.notes.empty()) {
    out << "\n## Notes\n\n";
    for (const std::string& n : r.notes) out << "- " << n << "\n";
  }
  if (!r.discussion.empty()) {
    out << "\n## Discussion\n\n" << r.discussion;
    if (r.discussion.back() != '\n') out << "\n";
  }
  out << "\nFiles: report.csv (mean/std/n per variant, condition, metric — all metrics), "
         "report_seeds.csv (every value per seed), report.json (everything)"
      << (r.reported ? "; report_reported.csv (the reported numbers, not measured)" : "") << ".\n";
  return out.str();
}

std::string format_summary_csv(const Report& r) {
  std::ostringstream out;
  out << "variant,condition,metric,mean,std,n,expected\n";
  for (const SummaryEntry& e : r.summary) {
    out << csv_field(e.variant) << "," << csv_field(e.condition) << "," << csv_field(e.metric)
        << "," << (e.cell.missing() ? "" : exact(e.cell.stat.mean)) << ","
        << (e.cell.stat.n >= 2 ? exact(e.cell.stat.std) : "") << "," << e.cell.stat.n << ","
        << e.cell.expected << "\n";
  }
  return out.str();
}

std::string format_seeds_csv(const Report& r) {
  std::ostringstream out;
  out << "variant,seed,condition,metric,value\n";
  for (const SummaryEntry& e : r.summary) {
    for (size_t i = 0; i < e.seeds.size(); ++i) {
      out << csv_field(e.variant) << "," << (e.oracle ? "" : str(e.seeds[i])) << ","
          << csv_field(e.condition) << "," << csv_field(e.metric) << ","
          << (e.cell.values[i] ? exact(*e.cell.values[i]) : "") << "\n";
    }
  }
  return out.str();
}

namespace {

json cell_to_json(const ReportCell& c, const std::vector<int64_t>& seeds, bool oracle) {
  json values = json::array();
  for (size_t i = 0; i < seeds.size(); ++i) {
    values.push_back({{"seed", oracle ? json(nullptr) : json(seeds[i])},
                      {"value", c.values[i] ? json(*c.values[i]) : json(nullptr)}});
  }
  return {{"mean", number_or_null(c.stat.mean)},
          {"std", c.stat.n >= 2 ? number_or_null(c.stat.std) : json(nullptr)},
          {"n", c.stat.n},
          {"expected", c.expected},
          {"values", std::move(values)}};
}

}  // namespace

json report_to_json(const Report& r) {
  json variants = json::array();
  for (const std::string& v : r.variants) {
    const auto it = r.seeds_found.find(v);
    variants.push_back(
        {{"name", v},
         {"seeds_found", it == r.seeds_found.end() ? json::array() : json(it->second)}});
  }
  json tables = json::array();
  for (const ReportTable& t : r.tables) {
    json rows = json::array();
    for (const ReportRow& row : t.rows) {
      json cells = json::array();
      for (const ReportCell& c : row.cells) cells.push_back(cell_to_json(c, row.seeds, row.oracle));
      rows.push_back({{"variant", row.variant},
                      {"oracle", row.oracle},
                      {"seeds", row.seeds},
                      {"seeds_found", row.seeds_found},
                      {"cells", std::move(cells)}});
    }
    tables.push_back({{"id", t.id},
                      {"title", t.title},
                      {"metric", t.metric},
                      {"columns", t.columns},
                      {"keys", t.keys},
                      {"rows", std::move(rows)}});
  }
  json summary = json::array();
  for (const SummaryEntry& e : r.summary) {
    json entry = cell_to_json(e.cell, e.seeds, e.oracle);
    entry["variant"] = e.variant;
    entry["oracle"] = e.oracle;
    entry["condition"] = e.condition;
    entry["metric"] = e.metric;
    summary.push_back(std::move(entry));
  }
  json missing = json::array();
  for (const MissingEntry& m : r.missing) {
    missing.push_back({{"variant", m.variant},
                       {"seed", m.seed ? json(*m.seed) : json(nullptr)},
                       {"condition", m.condition},
                       {"metric", m.metric},
                       {"what", m.what}});
  }
  json paired = json::array();
  for (const PairedEntry& e : r.paired) {
    paired.push_back({{"variant", e.variant},
                      {"reference", e.reference},
                      {"condition", e.condition},
                      {"metric", e.metric},
                      {"n", e.n},
                      {"mean", number_or_null(e.mean)},
                      {"std", number_or_null(e.std)},
                      {"ci95", {number_or_null(e.ci_low), number_or_null(e.ci_high)}},
                      {"better", e.better},
                      {"ties", e.ties}});
  }
  json out = {{"format", kReportFormat},
              {"suite", r.suite},
              {"task", r.task},
              {"split", r.split},
              {"metrics", r.metrics},
              {"all_metrics", r.all_metrics},
              {"variants", std::move(variants)},
              {"seeds", r.seeds},
              {"mask_seeds", r.mask_seeds},
              {"data_sha256", r.data_sha256},
              {"has_oracle", r.has_oracle},
              {"conditions", r.conditions},
              {"tables", std::move(tables)},
              {"summary", std::move(summary)},
              {"missing", std::move(missing)},
              {"paired", std::move(paired)},
              {"paired_definition",
               "per seed variant minus reference (the first variant) over the seeds both have; "
               "mean, sample std, 95% Student-t interval of the mean; better = seeds on which the "
               "variant is better (lower MAE, higher otherwise)"},
              {"notes", r.notes},
              {"discussion", r.discussion},
              {"metric_definitions", "docs/metrics.md"},
              {"aggregation",
               "mean and sample std (n-1) over seeds; Avg per seed over the six incomplete "
               "conditions; AUILC per seed = trapezoid area / rate span"}};
  if (r.reported) out["reported"] = reported_to_json(*r.reported);
  if (r.curve) {
    out["curve"] = {{"id", r.curve->id},
                    {"x_label", r.curve->x_label},
                    {"x", r.curve->x},
                    {"conditions", r.curve->keys}};
  }
  return out;
}

// ---- curves and gnuplot ------------------------------------------------------------------------

namespace {

std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
  return out;
}

// gnuplot single-quoted string: only '' needs escaping.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

struct CurveFiles {
  std::string csv, dat, script;
  std::vector<std::string> metrics;  // metrics that have something to plot, in output order
};

CurveFiles make_curve_files(const Report& r) {
  CurveFiles f;
  const ReportCurve& curve = *r.curve;
  std::ostringstream csv, dat, gp;
  csv << "metric,variant,x,condition,mean,std,n,expected\n";
  gp << "# robustmsa report: " << curve.id << " — one plot per metric. Run in this directory:\n"
     << "#   gnuplot " << curve.id << ".gp                           (SVG)\n"
     << "#   gnuplot -e \"term='pngcairo'; ext='png'\" " << curve.id << ".gp   (PNG)\n"
     << "if (!exists(\"term\")) term = 'svg'\n"
     << "if (!exists(\"ext\")) ext = 'svg'\n"
     << "eval('set terminal ' . term . ' size 760,460')\n"
     << "set grid\nset key outside right noenhanced\n"
     << "set xlabel " << gp_quote(curve.x_label) << " noenhanced\n";
  int block = 0;
  for (const ReportTable& t : r.tables) {
    if (t.id != curve.table_id) continue;
    std::vector<std::string> plots;
    for (const ReportRow& row : t.rows) {
      std::ostringstream points;
      int count = 0;
      for (size_t i = 0; i < curve.keys.size(); ++i) {
        // The table's columns start with the grid keys in curve order (AUILC may follow).
        const ReportCell& c = row.cells[i];
        csv << csv_field(t.metric) << "," << csv_field(row.variant) << "," << exact(curve.x[i])
            << "," << csv_field(curve.keys[i]) << "," << (c.missing() ? "" : exact(c.stat.mean))
            << "," << (c.stat.n >= 2 ? exact(c.stat.std) : "") << "," << c.stat.n << ","
            << c.expected << "\n";
        if (c.missing()) continue;
        points << exact(curve.x[i]) << " " << exact(c.stat.mean) << " "
               << (c.stat.n >= 2 ? exact(c.stat.std) : "0") << "\n";
        ++count;
      }
      if (count == 0) continue;
      dat << "# metric " << t.metric << " variant " << row.variant << "\n"
          << points.str() << "\n\n";
      const std::string title = row.oracle ? "oracle" : row.variant;
      plots.push_back(str("'", curve.id, ".dat' index ", block,
                          row.oracle ? " using 1:2 with linespoints dashtype 2 lw 2"
                                     : " using 1:2:3 with yerrorlines",
                          " title ", gp_quote(title)));
      ++block;
    }
    if (plots.empty()) continue;
    f.metrics.push_back(t.metric);
    gp << "\nset output '" << curve.id << "_" << file_safe(t.metric) << ".' . ext\n"
       << "set title " << gp_quote(t.metric + " vs " + curve.x_label) << " noenhanced\n"
       << "set ylabel " << gp_quote(t.metric) << " noenhanced\n"
       << "plot " << join(plots, ", \\\n     ") << "\n"
       << "unset output\n";
  }
  f.csv = csv.str();
  f.dat = dat.str();
  f.script = gp.str();
  return f;
}

// The program's path when it can be executed: `name` itself if it has a '/', else searched on
// PATH. Empty when not found.
std::string find_program(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return executable(name) ? name : "";
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return "";
}

// Runs program with args in `cwd`, stdin from /dev/null, stdout and stderr into `log_path`.
// Returns the exit status, or -1 when it could not be started or did not exit normally.
int run_program(const std::string& program, const std::vector<std::string>& args,
                const std::string& cwd, const std::string& log_path) {
  std::vector<std::string> storage = {program};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: the parent may have threads.
    const int in = ::open("/dev/null", O_RDONLY);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || log < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string first_lines(const std::string& text, int n) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) out += "    " + line + "\n";
  return out;
}

// Runs gnuplot on the curve script; returns the paragraph report.md shows about the plots.
std::string plot_curves(const Report& r, const CurveFiles& files, const std::string& out_dir,
                        const WriteOptions& options) {
  const std::string id = r.curve->id;
  const std::string rerun =
      str("`", id, ".csv` holds the curve; `gnuplot ", id, ".gp` in this directory draws it.");
  if (files.metrics.empty()) return "No curve values to plot (every cell is missing).";
  if (options.gnuplot.empty()) return str("Plotting was not requested. ", rerun);
  const std::string gnuplot = find_program(options.gnuplot);
  if (gnuplot.empty()) {
    return str("gnuplot (`", options.gnuplot, "`) was not found on PATH, so no SVG/PNG was made. ",
               rerun);
  }
  const std::string log_path = out_dir + "/" + id + ".gnuplot.log";
  ::unlink(log_path.c_str());
  auto outputs = [&](const std::string& ext) {
    std::vector<std::string> names;
    for (const std::string& m : files.metrics)
      names.push_back(str(id, "_", file_safe(m), ".", ext));
    return names;
  };
  const int svg_rc = run_program(gnuplot, {id + ".gp"}, out_dir, log_path);
  if (svg_rc != 0) {
    std::string log;
    try {
      log = read_file(log_path);
    } catch (const DataError&) {
    }
    return str("gnuplot (`", gnuplot, "`) failed (exit status ", svg_rc, "); its messages are in `",
               id, ".gnuplot.log`:\n\n", first_lines(log, 8), "\n", rerun);
  }
  std::ostringstream note;
  note << "Made with `" << gnuplot << "` from `" << id << ".gp` (data: `" << id << ".csv`).\n\n";
  for (const std::string& f : outputs("svg")) note << "![" << f << "](" << f << ")\n";
  // PNG only when this gnuplot has a PNG terminal; probing is the only reliable way to know.
  std::string png_term;
  for (const char* term : {"pngcairo", "png"}) {
    if (run_program(gnuplot, {"-e", str("set terminal ", term)}, out_dir, log_path) == 0) {
      png_term = term;
      break;
    }
  }
  if (png_term.empty()) {
    note << "\nNo PNG: this gnuplot has neither the pngcairo nor the png terminal.\n";
  } else if (run_program(gnuplot, {"-e", str("term='", png_term, "'; ext='png'"), id + ".gp"},
                         out_dir, log_path) == 0) {
    note << "\nPNG copies: " << join(outputs("png"), ", ") << ".\n";
  } else {
    note << "\ngnuplot failed to write the PNG copies; see `" << id << ".gnuplot.log`.\n";
    return note.str();
  }
  ::unlink(log_path.c_str());
  return note.str();
}

}  // namespace

void write_report(const Report& r, const std::string& out_dir, const WriteOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_directory(out_dir)) {
    throw RunError(str("cannot create report directory '", out_dir,
                       "': ", ec ? ec.message() : std::string("not a directory")));
  }
  const std::string dir = out_dir + "/";
  write_file_atomic(dir + "report.csv", format_summary_csv(r));
  write_file_atomic(dir + "report_seeds.csv", format_seeds_csv(r));
  write_file_atomic(dir + "report.json", report_to_json(r).dump(2) + "\n");
  write_file_atomic(dir + "report.txt", format_terminal_table(r));
  if (r.reported) {
    write_file_atomic(dir + "report_reported.csv", format_reported_csv(*r.reported));
  } else {
    std::error_code stale_ec;  // a rerun without --reported must not leave the old numbers
    std::filesystem::remove(dir + "report_reported.csv", stale_ec);
  }
  std::string plot_note;
  if (r.curve) {
    const CurveFiles files = make_curve_files(r);
    write_file_atomic(dir + r.curve->id + ".csv", files.csv);
    write_file_atomic(dir + r.curve->id + ".dat", files.dat);
    write_file_atomic(dir + r.curve->id + ".gp", files.script);
    plot_note = plot_curves(r, files, out_dir, options);
  }
  write_file_atomic(dir + "report.md", format_markdown(r, plot_note));
}

}  // namespace robustmsa

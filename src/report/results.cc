// Results files (results.json) and the synthetic benchmark's oracle file: reading, writing and
// collecting them (report/report.h).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "report/report.h"
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

std::optional<RunResult> read_oracle(const std::string& path, const std::string& suite) {
  const json j = parse_json_file(path, "oracle file");
  if (j.is_object() && j.value("suite", std::string("paper")) == suite)
    return oracle_from_json(j, path);
  if (j.is_object() && j.contains("suites") && j["suites"].is_object() &&
      j["suites"].contains(suite))
    return oracle_from_json(j["suites"][suite], path + " (suite " + suite + ")");
  return std::nullopt;
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

}  // namespace robustmsa

#include "run/run_dir.h"

#include <algorithm>
#include <filesystem>

#include "config/experiment.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace fs = std::filesystem;

namespace {

std::string in_dir(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

// Dotted path of the first difference between two JSON values ("config.train.epochs"), "" when
// they are equal; objects are compared key by key, anything else as a whole. A differing "name"
// is reported before the other keys (another model explains all its other options).
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b,
                             const std::string& prefix = "") {
  auto path = [&](const std::string& key) { return prefix.empty() ? key : prefix + "." + key; };
  if (!a.is_object() || !b.is_object()) return a == b ? "" : prefix;
  if (a.contains("name") && b.contains("name") && a["name"] != b["name"]) return path("name");
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!b.contains(it.key())) return path(it.key());
    std::string d = first_difference(it.value(), b[it.key()], path(it.key()));
    if (!d.empty()) return d;
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) return path(it.key());
  return "";
}

}  // namespace

RunPaths::RunPaths(const std::string& run_dir)
    : dir(run_dir),
      config(in_dir(run_dir, kRunConfigFile)),
      checkpoint(in_dir(run_dir, kCheckpointFile)),
      metrics(in_dir(run_dir, kMetricsFile)),
      results(in_dir(run_dir, kResultsFile)) {}

std::string RunPaths::results_for(const std::string& suite,
                                  const std::string& trained_suite) const {
  return suite == trained_suite ? results
                                : (fs::path(dir) / ("results_" + suite + ".json")).string();
}

std::string seed_dir(const std::string& base, int64_t seed) {
  return (fs::path(base) / ("seed_" + std::to_string(seed))).string();
}

std::string report_dir(const std::string& dir, const std::string& suite) {
  return (fs::path(dir) / (suite.empty() ? std::string("report") : "report_" + suite)).string();
}

void refuse_overwrite(const RunPaths& p, bool resume) {
  if (resume) return;
  if (fs::exists(p.results))
    throw RunError(str("run directory '", p.dir,
                       "' already holds results.json; refusing to "
                       "overwrite it (choose another --out, or --resume to finish the run)"));
  if (fs::exists(p.checkpoint))
    throw RunError(str("run directory '", p.dir,
                       "' already holds checkpoint.pt; pass --resume "
                       "to continue it, or choose another --out"));
}

EvaluationWrite write_evaluation(const RunResult& result, const std::string& path) {
  const std::string text = results_to_json(result).dump(2) + "\n";
  EvaluationWrite w;
  w.kept_old = fs::exists(path) && read_file(path) != text;
  w.path = w.kept_old ? path + ".new" : path;
  write_file_atomic(w.path, text);
  return w;
}

nlohmann::json read_run_info(const std::string& run_dir) {
  const std::string path = in_dir(run_dir, kRunConfigFile);
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(str("run config '", path, "': invalid JSON (", e.what(), ")"));
  }
}

nlohmann::json run_identity(const nlohmann::json& info) {
  nlohmann::json id = info;
  // The configuration read back through the config parser, so that a key added since the run was
  // saved reads as its default rather than as a difference. A saved configuration the parser
  // refuses (a key since removed) is compared as it is, and the difference is reported.
  if (id.contains("config") && id["config"].is_object()) {
    try {
      ExperimentConfig c;
      c.apply_json(id["config"], "saved run");
      id["config"] = c.to_json();
    } catch (const ConfigError&) {
    }
  }
  const nlohmann::json::json_pointer seeds("/config/train/seeds");
  if (id.contains(seeds)) id["config"]["train"].erase("seeds");
  return id;
}

void require_same_run(const nlohmann::json& saved_info, const nlohmann::json& now_info,
                      const std::string& what) {
  const nlohmann::json saved = run_identity(saved_info), now = run_identity(now_info);
  std::string diff = first_difference(saved, now);
  if (diff.empty()) return;
  std::string pointer = "/" + diff;  // "config.model" -> "/config/model"
  std::replace(pointer.begin(), pointer.end(), '.', '/');
  const nlohmann::json::json_pointer at(pointer);
  auto shown = [&](const nlohmann::json& j) {
    std::string text = j.contains(at) ? j[at].dump() : std::string("nothing");
    return text.size() > 160 ? text.substr(0, 157) + "..." : text;
  };
  throw ConfigError(str(what, " was made with a different '", diff, "' (saved ", shown(saved),
                        ", now ", shown(now), "); expected the same configuration, data and seed"));
}

std::vector<std::string> find_runs(const std::string& path) {
  std::vector<std::string> runs;
  if (!fs::is_directory(path))
    throw UsageError(str("--run '", path, "': expected a run directory (or a directory of runs)"));
  if (fs::exists(fs::path(path) / kRunConfigFile)) return {path};
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file() && e.path().filename() == kRunConfigFile)
      runs.push_back(e.path().parent_path().string());
  std::sort(runs.begin(), runs.end());
  if (runs.empty())
    throw UsageError(str("--run '", path, "': no run directory (with config.json) found under it"));
  return runs;
}

std::optional<RunResult> find_oracle(const std::string& data_path, const std::string& suite,
                                     const std::string& explicit_path) {
  if (!explicit_path.empty()) return read_oracle(explicit_path, suite);
  const std::string beside = data_path + ".oracle.json";
  if (data_path.empty() || !fs::exists(beside)) return std::nullopt;
  return read_oracle(beside, suite);
}

}  // namespace robustmsa

// The run-directory schema (DESIGN §6), torch-free: the only place that knows what a run
// directory holds, where seeds go, when a finished run is the run asked for, and when a file may
// be written. The trainer, `eval`, `compare`, `sweep` and `report` all go through it.
//
// A run directory (one seed of one variant; compare: OUT/<slug(variant)>/seed_<seed>):
//   config.json           the run's identity: variant, seed, resolved config, input, data file
//   metrics.jsonl         one line per finished epoch
//   checkpoint.pt         model, optimiser, selected weights, selection state (train/checkpoint.h)
//   results.json          test results on the suite it was trained for (eval.suite)
//   results_<suite>.json  `eval --suite <suite>` on another suite
// Reports of the runs under a directory DIR go to DIR/report (report_dir).
//
// Usage:
//   robustmsa::RunPaths p(robustmsa::seed_dir("runs/umdf", 1111));   // runs/umdf/seed_1111
//   robustmsa::refuse_overwrite(p, /*resume=*/false);                 // RunError if it holds a run
//   for (const std::string& dir : robustmsa::find_runs("runs/umdf")) { ... }
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "report/report.h"

namespace robustmsa {

inline constexpr char kRunConfigFile[] = "config.json";
inline constexpr char kCheckpointFile[] = "checkpoint.pt";
inline constexpr char kMetricsFile[] = "metrics.jsonl";
inline constexpr char kResultsFile[] = "results.json";

// The files of one run directory.
struct RunPaths {
  explicit RunPaths(const std::string& run_dir);
  std::string dir, config, checkpoint, metrics, results;
  // results.json for the suite the run was trained for, results_<suite>.json for another one.
  std::string results_for(const std::string& suite, const std::string& trained_suite) const;
};

// base/seed_<seed>: where one seed of a variant lives.
std::string seed_dir(const std::string& base, int64_t seed);
// DIR/report: where train, compare, report and sweep write the report of the runs under DIR;
// DIR/report_<suite> when `suite` is given (`eval --suite`).
std::string report_dir(const std::string& dir, const std::string& suite = "");

// ---- the no-overwrite rule -------------------------------------------------------------------
// Nothing a run directory holds is ever overwritten with something else. Training (train_run)
// calls refuse_overwrite before it starts: without `resume`, a directory holding results.json or
// checkpoint.pt is a RunError (with `resume` the checkpoint is continued and a finished run is
// read, when it is the same run: require_same_run). Evaluation (`eval`) calls write_evaluation: an
// earlier results file with other contents (another data file or mask seed) is kept and the new
// results go to <file>.new.
void refuse_overwrite(const RunPaths& paths, bool resume);
struct EvaluationWrite {
  std::string path;       // the file written
  bool kept_old = false;  // an earlier, different file was kept; `path` is <file>.new
};
EvaluationWrite write_evaluation(const RunResult& result, const std::string& path);

// ---- identity of a run -----------------------------------------------------------------------
// A run's stored description (config.json): {"variant", "seed", "config" (resolved), "input",
// "data": {"path", "sha256", "layout"}}. DataError naming the file when it is missing or not JSON.
nlohmann::json read_run_info(const std::string& run_dir);
// What must match for a directory to hold "the same run": the description without
// config.train.seeds (the list of seeds a train/compare call runs is not part of one seed's run,
// so growing --seeds over an existing output reuses the finished seeds), with the configuration's
// data/train/eval keys that the saved run lacks (added by a later version) read as their defaults.
nlohmann::json run_identity(const nlohmann::json& info);
// ConfigError unless run_identity(saved) == run_identity(now), naming the first differing key and
// both values: "<what> was made with a different 'config.train.epochs' (saved 2, now 3); ...".
void require_same_run(const nlohmann::json& saved, const nlohmann::json& now,
                      const std::string& what);

// ---- finding runs ----------------------------------------------------------------------------
// The run directories (holding config.json) at or under `path`, sorted. UsageError when `path`
// is not a directory or holds none.
std::vector<std::string> find_runs(const std::string& path);

// The synthetic benchmark's oracle for `suite`: from `explicit_path` when given (DataError when it
// cannot be read), else from <data_path>.oracle.json when that exists. nullopt when there is none
// or the file has no entry for that suite.
std::optional<RunResult> find_oracle(const std::string& data_path, const std::string& suite,
                                     const std::string& explicit_path = "");

}  // namespace robustmsa

// One seed of one variant, trained into its run directory (DESIGN §6), and the pieces around it:
// the dataset loaded once for every run, model options and models from the registry, and loading
// trained runs back. The training loop itself is train/fit.h (Trainer); the run-directory schema
// is run/run_dir.h. Selection and early stopping use the validation split only; the test split is
// evaluated once, with the selected weights.
//
// Usage:
//   robustmsa::PreparedData data = robustmsa::prepare_data(config.data);
//   robustmsa::RunResult r =
//       robustmsa::train_run(config, "umdf", 1111, data, "runs/umdf/seed_1111", /*resume=*/false);
#pragma once

#include <torch/types.h>

#include <array>
#include <memory>
#include <string>

#include "config/experiment.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "report/report.h"
#include "robustmsa/observer.h"
#include "train/tensors.h"

namespace robustmsa {

// A dataset loaded once and shared by every run of a compare/sweep: metadata (the Dataset with
// its feature vectors moved into tensors), the tensors, and the model input spec.
struct PreparedData {
  Dataset info;
  std::array<SplitTensors, 3> tensors;
  InputSpec spec;
  const Split& split(SplitId s) const { return info.split(s); }
  const SplitTensors& tensor(SplitId s) const { return tensors[static_cast<int>(s)]; }
};
PreparedData prepare_data(const DataSection& data);

// The resolved model options: the registry defaults overlaid with what the config set.
nlohmann::json resolved_model_options(const ExperimentConfig& config);

// Builds the model named by the config for `spec` (seeded by `seed`).
std::shared_ptr<Model> build_model(const ExperimentConfig& config, const InputSpec& spec,
                                   int64_t seed);

// The run's stored description (its config.json, run/run_dir.h): variant, seed, the resolved
// config (model options merged with the model's defaults, the missing sampler's options), the
// input spec and the data file.
nlohmann::json run_info_json(const ExperimentConfig& config, const std::string& variant,
                             int64_t seed, const PreparedData& data);

// Trains one seed into `run_dir` (config.json, metrics.jsonl, checkpoint.pt, results.json) and
// returns the test results of the selected weights on config.eval.suite. With `resume`, an
// existing checkpoint.pt is continued and a finished run of the same configuration is read
// instead of trained; without it, an existing checkpoint or results file is an error (nothing is
// ever overwritten: run/run_dir.h). `observer` (may be null) sees the progress. With
// `tensorboard`, the run's curves go to run_dir/tensorboard (run/tensorboard_log.h).
RunResult train_run(const ExperimentConfig& config, const std::string& variant, int64_t seed,
                    PreparedData& data, const std::string& run_dir, bool resume,
                    FitObserver* observer = nullptr, bool tensorboard = true);

// Loads the selected weights of a finished or interrupted run directory.
struct LoadedRun {
  ExperimentConfig config;
  std::string variant;
  int64_t seed = 0;
  std::shared_ptr<Model> model;
};
LoadedRun load_run(const std::string& run_dir, const InputSpec& spec);
// Reads a run directory's config.json into an ExperimentConfig (plus variant and seed). What a
// saved run names (its model, the model's options) is checked against this build: a name or key
// it does not know is a DataError naming the file, never a usage error.
LoadedRun read_run_config(const std::string& run_dir);

// Sets LibTorch's intra-op threads (0 = number of cores); returns the count in use.
int configure_threads(int64_t threads);

}  // namespace robustmsa

// robustmsa's training API: the models, training runs (one run directory per seed), compare's
// variant x seed grid, evaluation of trained runs on a suite, prediction, text features and
// sweeps. Implemented in the robustmsa library (CMake target `robustmsa`, which links LibTorch),
// but this header includes no LibTorch header: models and data are handled through
// PreparedData and the results are plain C++ types and nlohmann::json, so that bindings (e.g.
// pybind11) can call it as it is.
//
// Devices: RunOptions::device names where training and evaluation run. This build implements
// "cpu" only; any other name is a UsageError (the seam a CUDA device will use).
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "robustmsa/core.h"
#include "robustmsa/observer.h"

namespace robustmsa {

struct PreparedData;  // a dataset loaded for training (tensors; train/trainer.h)

// ---- models and configurations ---------------------------------------------------------------

struct ModelInfo {
  std::string name;        // "umdf", "mult", ...: what --model and --models take
  std::string paper;       // "Li, Yang, et al., AAAI 2024"
  nlohmann::json options;  // default options
  std::string help;        // every option: "  model.<key> (<type>, default <v>)\n      <help>\n"
};
std::vector<ModelInfo> list_models();  // in the registry's order
std::vector<std::string> model_names();
// Every configuration key of the data, train, missing and eval sections and of `model`'s
// options, with type, default and help text ("" model: the sections only).
std::string config_help(const std::string& model = "");
// The resolved configuration as saved in run directories (model options merged with the
// model's defaults, the missing sampler's options with theirs): --dump-config.
nlohmann::json resolved_config(const ExperimentConfig& config);
// Fails (ConfigError / UsageError) on what the configuration names but this build lacks: an
// unknown model or model option, a bad missing-sampler option, an unknown suite. Cheap: called
// before any data is read.
void check_config(const ExperimentConfig& config);

// ---- running ---------------------------------------------------------------------------------

struct RunOptions {
  bool resume = false;              // train: continue interrupted runs, read finished ones
  std::string device = "cpu";       // "cpu" only in this build (UsageError otherwise)
  FitObserver* observer = nullptr;  // progress events (robustmsa/observer.h); may be null
  // train, compare: TensorBoard event files in every run directory's tensorboard/ (per epoch
  // the training losses, validation metrics and learning rate; at the end the test metrics of
  // every suite condition: run/tensorboard_log.h). The CLI's --no-tensorboard sets it false.
  bool tensorboard = true;
};

// LibTorch's intra-op threads (0 = the number of cores); returns the count in use.
int set_threads(int64_t threads);
// Whether this process is the main one of a data-parallel job (always true with one process):
// only it writes results and reports.
bool is_main_process();

// Loads the data file of `data` once for any number of runs (DataError naming the file).
std::shared_ptr<PreparedData> load_data(const DataSection& data);
struct DataSummary {
  std::string path, sha256, task;
  std::array<int64_t, 3> samples{};  // train, valid, test
};
DataSummary summarize(const PreparedData& data);

// `train`: one run per seed of config.train.seeds into out/seed_<seed> (run/run_dir.h), each
// returning its test results on config.eval.suite.
std::vector<RunResult> train_seeds(const ExperimentConfig& config, PreparedData& data,
                                   const std::string& out, const RunOptions& options);
// `train --nproc N`: this program again as N data-parallel ranks on this machine (ConfigError
// unless 1 <= N <= train.shards; RunError when a rank fails).
void train_local_ranks(const ExperimentConfig& config, int64_t nproc);

// `compare`: the variants (run/variant.h) of `models`, each with its configuration (the layers,
// the variant's model options, then eval.suite = `suite` when given), every seed at
// out/<slug(variant)>/seed_<seed>. Every configuration is checked before anything trains
// (UsageError for an empty `out`).
struct ComparePlan {
  std::vector<Variant> variants;
  std::vector<ExperimentConfig> configs;  // one per variant
  std::string out;
};
ComparePlan plan_compare(const std::string& models, const ConfigLayers& layers,
                         const std::string& suite, const std::string& out);
// Trains (or reads, when finished with the same configuration) every cell, variant by variant,
// seed by seed; an interrupted cell continues from its checkpoint. Growing the seed list over an
// existing output trains only the new seeds.
std::vector<RunResult> run_compare(const ComparePlan& plan, PreparedData& data,
                                   const RunOptions& options);

// `eval`: every run directory at or under `run` on `suite`, with the data file each run was
// trained on (or `data`) and its mask seed (or `mask_seed` >= 0). Results go to the run directory
// (results.json for the run's own suite, results_<suite>.json otherwise) under the no-overwrite
// rule: an earlier file that differs is kept and the new one written beside it as <file>.new.
struct EvalRequest {
  std::string run;
  std::string suite = "paper";
  std::string data;
  int64_t mask_seed = -1;
};
struct EvaluatedRun {
  std::string dir, variant;
  int64_t seed = 0;
  std::size_t conditions = 0;
  EvaluationWrite written;
};
struct EvalOutcome {
  std::vector<RunResult> results;
  std::string data_path;   // the data file of the last run evaluated
  std::string report_dir;  // <run>/report_<suite>
};
EvalOutcome evaluate_runs(const EvalRequest& request, const RunOptions& options,
                          const std::function<void(const EvaluatedRun&)>& on_run = {});

// `predict`: a trained run on new features (any subset of modalities), from a JSON or pickle
// file (`input`) or sentences (`texts`, encoded by the run's or the given text encoder). Returns
// {"predictions": [...]} (train/predict_input.h).
struct PredictRequest {
  std::string run;
  std::string input;
  std::string split = "test";  // of a pickle input
  std::vector<std::string> texts;
  std::string text_encoder;  // for texts; default: the run's data.text_encoder
};
nlohmann::json predict_run(const PredictRequest& request, const RunOptions& options);

// `features`: transcripts with labels and splits (MMSA-FET's label.csv) -> an MMSA-layout pickle
// whose text is the encoder's token features, with text_bert rows and audio and vision absent.
struct FeaturesRequest {
  std::string csv, text_encoder, out;
  int64_t max_length = 50, batch_size = 64;
};
struct FeaturesSummary {
  int64_t transcripts = 0, max_length = 0, hidden = 0;
  double seconds = 0;
};
FeaturesSummary make_text_features(
    const FeaturesRequest& request,
    const std::function<void(const std::string& split, int64_t transcripts)>& on_split = {});

// `sweep`: the grid of `models` (as compare takes them) x `suites` (default: eval.suite) x the
// data files of layers.data (comma-separated) x the seeds, each cell a one-seed compare run by
// this program with the same --config and --set layers. Threads per cell: layers.threads when
// set, else the cores shared among the workers (Slurm: cpus_per_task). Resolves and checks every
// cell's configuration, writes OUT/sweep.json and returns the plan (UsageError without data files
// or `out`).
struct SweepRequest {
  ConfigLayers layers;
  std::string models = "umdf";
  std::string suites;  // comma-separated
  std::string out;
  int64_t workers = 1;        // cells at once on this machine
  bool slurm = false;         // the cells run as a Slurm job array instead
  int64_t cpus_per_task = 1;  // Slurm: cores per cell
};
SweepPlan plan_sweep_request(const SweepRequest& request);

// ---- the commands as the CLI runs them -------------------------------------------------------

// train, compare and eval end with a report of their results, built and written to report_dir
// (report.md, report.json, ...: report/report.h). `log` receives the lines the CLI prints to
// stderr on the way (the data summary, timings), without a trailing newline; may be empty.
using LogLine = std::function<void(const std::string& line)>;
struct CommandResult {
  std::vector<RunResult> results;  // one per run, in the order trained or evaluated
  Report report;                   // empty on a data-parallel rank other than the main one
  std::string report_dir;
};

// `train --model M --out RUN`: the configuration resolved from the layers (UsageError without
// `out`, ConfigError for an unknown model key before any data is read), train.threads set, the
// data loaded, train_seeds, the report in RUN/report.
struct TrainRequest {
  ConfigLayers layers;
  std::string model;  // "" = the configuration's model
  std::string out;
};
// The configuration train_command trains (UsageError without `out`, ConfigError for a bad key):
// also what `train --nproc N` hands to train_local_ranks.
ExperimentConfig train_config(const TrainRequest& request);
CommandResult train_command(const TrainRequest& request, const RunOptions& options,
                            const LogLine& log = {});

// `compare --models M --out DIR`: plan_compare, the report request checked before anything
// trains (a discussion file that cannot be read, --reported against a synthetic file), the data
// loaded once, run_compare, the report in DIR/report.
struct CompareRequest {
  ConfigLayers layers;
  std::string models = "umdf";
  std::string suite;  // "" = eval.suite
  std::string out;
  std::string discussion;    // Markdown file for the report's Discussion section
  ReportedRequest reported;  // --reported DATASET [--reported-file FILE]
};
CommandResult compare_command(const CompareRequest& request, const RunOptions& options,
                              const LogLine& log = {});

// `eval --run RUN --suite S`: evaluate_runs (logging every run evaluated and every result file
// kept because it differed), the report in RUN/report_<suite>.
CommandResult eval_command(const EvalRequest& request, const RunOptions& options,
                           const LogLine& log = {});

// ---- errors ----------------------------------------------------------------------------------

// How a command-line program reports an exception: the exit code (2 for UsageError and
// ConfigError, 1 for anything else) and one line without a trailing newline, e.g.
// "robustmsa: data error: file 'x.pkl': does not exist; expected a pickle file". A LibTorch
// error (c10::Error) is shown with its message only; its C++ backtrace is appended when the
// environment variable ROBUSTMSA_BACKTRACE is set to a value other than "" and "0".
struct ErrorReport {
  int exit_code = 1;
  std::string message;
};
ErrorReport describe_error(const std::exception& error);

// What `robustmsa --version` prints: the version, the LibTorch and C++ standard it was built
// with, and the attention kernel CPU float32 runs use (nn/layers.h), e.g.
// "robustmsa 0.1.0\nLibTorch 1.13.1, C++17\nCPU attention: robustmsa's fused kernel (AVX2 + FMA)".
std::string build_info();

}  // namespace robustmsa

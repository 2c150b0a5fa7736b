#include "train/trainer.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "data/data_options.h"
#include "robustmsa/train.h"
#include "run/tensorboard_log.h"
#include "run/config_layers.h"
#include "run/run_dir.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/fit.h"
#include "train/text_encoder.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace fs = std::filesystem;

namespace {

nlohmann::json spec_json(const InputSpec& s) {
  return {
      {"dim", s.dim}, {"len", s.len}, {"task", task_name(s.task)}, {"train_size", s.train_size}};
}

}  // namespace

int configure_threads(int64_t threads) {
  int n = threads > 0 ? static_cast<int>(threads)
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  // LibTorch parallelises over its own intra-op threads and calls BLAS from inside them; an
  // OpenBLAS that also starts its own threads oversubscribes the cores (measured here: a UMDF
  // step took 2x longer with 2 + 2 threads than with 1). Keep BLAS single-threaded when the
  // library is OpenBLAS (looked up at run time, so other BLAS builds are unaffected).
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(1);
  return n;
}

PreparedData prepare_data(const DataSection& data) {
  if (data.path.empty())
    throw UsageError("no data file: pass --data FILE (or data.path in --config)");
  PreparedData out;
  out.info = load_dataset(data.path, data_options(data));  // realmosi: utterance-set options
  // Replaced NaN/inf and clamped values are reported, never silent (DESIGN §2.3).
  if (const std::string note = sanitize_summary(out.info); !note.empty())
    std::fprintf(stderr, "%s\n", note.c_str());
  if (data.text_finetune && data.text_encoder.empty())
    throw ConfigError(
        "data.text_finetune = true needs data.text_encoder (the model folder to fine-tune; "
        "--text-encoder DIR)");
  for (int s = 0; s < 3; ++s) out.tensors[s] = to_tensors(out.info.splits[s], out.info.task);
  if (!data.text_encoder.empty())
    apply_text_encoder(out, data.text_encoder, 64, data.text_finetune);
  const Split& train = out.info.split(SplitId::kTrain);
  for (int m = 0; m < kNumModalities; ++m) {
    out.spec.dim[m] = train.modality[m].d;
    out.spec.len[m] = train.modality[m].t;
  }
  out.spec.task = out.info.task;
  out.spec.train_size = train.n;
  return out;
}

nlohmann::json resolved_model_options(const ExperimentConfig& config) {
  const ModelEntry& entry = find_model(config.model);
  nlohmann::json options = entry.default_options();
  for (auto it = config.model_options.begin(); it != config.model_options.end(); ++it) {
    if (!options.contains(it.key())) {
      std::string known;
      for (auto k = options.begin(); k != options.end(); ++k)
        known += (known.empty() ? "" : ", ") + k.key();
      throw ConfigError(str("config: unknown key 'model.", it.key(), "' for model '", config.model,
                            "'; expected one of: ", known));
    }
    options[it.key()] = it.value();
  }
  return options;
}

std::shared_ptr<Model> build_model(const ExperimentConfig& config, const InputSpec& spec,
                                   int64_t seed) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  std::shared_ptr<Model> model =
      find_model(config.model).make(resolved_model_options(config), spec);
  if (config.data.text_finetune) attach_text_encoder(*model, config.data.text_encoder, spec);
  return model;
}

nlohmann::json run_info_json(const ExperimentConfig& config, const std::string& variant,
                             int64_t seed, const PreparedData& data) {
  nlohmann::json info = {{"variant", variant},
                         {"seed", seed},
                         {"config", resolved_config(config)},
                         {"input", spec_json(data.spec)},
                         {"data",
                          {{"path", data.info.path},
                           {"sha256", data.info.sha256},
                           {"layout", layout_name(data.info.layout)}}}};
  // The splits robustmsa made (utterance-level sets: labels file, validation videos).
  if (!data.info.split_info.is_null()) info["data"]["split"] = data.info.split_info;
  return info;
}

RunResult train_run(const ExperimentConfig& config, const std::string& variant, int64_t seed,
                    PreparedData& data, const std::string& run_dir, bool resume,
                    FitObserver* observer, bool tensorboard) {
  validate_config(config);
  const nlohmann::json run_info = run_info_json(config, variant, seed, data);
  const RunPaths paths(run_dir);
  fs::create_directories(run_dir);
  refuse_overwrite(paths, resume);

  // A finished run is read, not trained again, but only when it is the run asked for: results
  // from another configuration, data file or seed in this directory are an error, not a result.
  Distributed& dist = default_distributed();
  // The TensorBoard curves (rank 0 only), in front of the caller's observer.
  std::unique_ptr<TensorBoardLog> tensorboard_log;
  if (tensorboard && dist.is_main()) {
    tensorboard_log = std::make_unique<TensorBoardLog>(observer);
    observer = tensorboard_log.get();
  }
  if (resume && fs::exists(paths.results)) {
    require_same_run(read_run_info(run_dir), run_info, str("finished run '", run_dir, "'"));
    if (observer && dist.is_main()) observer->on_finished_run({variant, seed, paths.results});
    return read_results(paths.results);
  }

  Trainer trainer(config, variant, seed, data, run_dir);
  if (resume) trainer.resume(run_info);
  if (tensorboard_log)
    tensorboard_log->set_history(trainer.history().get<std::vector<nlohmann::json>>());
  if (dist.is_main()) write_file_atomic(paths.config, run_info.dump(2) + "\n");
  if (dist.is_main() && dist.world_size() > 1)
    std::fprintf(stderr,
                 "data parallel: %ld ranks (%s), train.shards %ld, %ld gradient values in %ld "
                 "bucket(s)\n",
                 static_cast<long>(dist.world_size()), dist.env().backend.c_str(),
                 static_cast<long>(config.train.shards),
                 static_cast<long>(trainer.reducer().numel()),
                 static_cast<long>(trainer.reducer().buckets()));
  trainer.fit(run_info, observer);

  // The test split, once, with the selected weights (by rank 0; the others return no results).
  if (!dist.is_main()) return RunResult();
  RunResult result = trainer.test();
  // The observers first: the TensorBoard test curves must be on disk before results.json marks
  // the run finished (a finished run is read, never logged again).
  if (observer) observer->on_test(result);
  write_results(result, paths.results);
  return result;
}

LoadedRun read_run_config(const std::string& run_dir) {
  const RunPaths paths(run_dir);
  const nlohmann::json info = read_run_info(run_dir);
  LoadedRun run;
  try {
    run.variant = info.at("variant").get<std::string>();
    run.seed = info.at("seed").get<int64_t>();
    run.config.apply_json(info.at("config"), paths.config);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(str("run config '", paths.config, "': expected keys variant, seed, config (",
                        e.what(), ")"));
  } catch (const Error& e) {    // a key or value this build does not accept: the file is at fault
    throw DataError(e.what());  // apply_json's message names the file
  }
  try {
    resolved_model_options(run.config);
    validate_config(run.config);  // e.g. a suite this build does not know
  } catch (const Error& e) {      // an unknown model, model option or suite named by the saved run
    throw DataError(str("run config '", paths.config, "': ", e.what()));
  }
  return run;
}

LoadedRun load_run(const std::string& run_dir, const InputSpec& spec) {
  LoadedRun run = read_run_config(run_dir);
  const std::string ckpt_path = RunPaths(run_dir).checkpoint;
  Checkpoint ckpt = read_checkpoint(ckpt_path);
  run.model = build_model(run.config, spec, run.seed);
  load_state(*run.model, ckpt.best, "checkpoint '" + ckpt_path + "'");
  run.model->eval();
  return run;
}

}  // namespace robustmsa

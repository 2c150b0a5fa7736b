// The training API of include/robustmsa/train.h: what each command of the tool does, as
// library calls.
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "io/pickle_write.h"
#include "nn/layers.h"
#include "robustmsa/train.h"
#include "text/label_csv.h"
#include "train/distributed.h"
#include "train/evaluate.h"
#include "train/predict_input.h"
#include "train/text_encoder.h"
#include "train/trainer.h"
#include "util/fs.h"
#include "util/process.h"

namespace robustmsa {

namespace fs = std::filesystem;

namespace {

void check_device(const RunOptions& options) {
  if (options.device != "cpu")
    throw UsageError(str("device '", options.device,
                         "': this build of robustmsa runs on the CPU only; expected \"cpu\""));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

// ---- models and configurations ---------------------------------------------------------------

std::vector<ModelInfo> list_models() {
  std::vector<ModelInfo> out;
  for (const ModelEntry& e : model_registry())
    out.push_back({e.name, e.paper, e.default_options(), e.help()});
  return out;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelEntry& e : model_registry()) names.push_back(e.name);
  return names;
}

std::string config_help(const std::string& model) {
  std::string out = "data:\n" + options_help<DataSection>("data");
  out += "train:\n" + options_help<TrainSection>("train");
  out += "missing (the training-time uncertain-missing sampler):\n" +
         options_help<UncertainOptions>("missing");
  out += "eval:\n" + options_help<EvalSection>("eval");
  if (!model.empty()) out += "model (" + model + "):\n" + find_model(model).help();
  return out;
}

nlohmann::json resolved_config(const ExperimentConfig& config) {
  UncertainOptions uncertain;
  options_from_json(uncertain, config.missing, "missing");
  nlohmann::json j = config.to_json();
  j["model"] = resolved_model_options(config);
  j["model"]["name"] = config.model;
  j["missing"] = options_to_json(uncertain);
  return j;
}

void check_config(const ExperimentConfig& config) {
  validate_config(config);
  resolved_config(config);
}

// ---- running ---------------------------------------------------------------------------------

int set_threads(int64_t threads) { return configure_threads(threads); }

bool is_main_process() { return default_distributed().is_main(); }

std::shared_ptr<PreparedData> load_data(const DataSection& data) {
  return std::make_shared<PreparedData>(prepare_data(data));
}

DataSummary summarize(const PreparedData& data) {
  DataSummary s;
  s.path = data.info.path;
  s.sha256 = data.info.sha256;
  s.task = task_name(data.info.task);
  for (int i = 0; i < 3; ++i) s.samples[i] = data.tensors[i].n;
  return s;
}

std::vector<RunResult> train_seeds(const ExperimentConfig& config, PreparedData& data,
                                   const std::string& out, const RunOptions& options) {
  check_device(options);
  std::vector<RunResult> results;
  for (int64_t seed : config.train.seeds)
    results.push_back(train_run(config, config.model, seed, data, seed_dir(out, seed),
                                options.resume, options.observer, options.tensorboard));
  return results;
}

void train_local_ranks(const ExperimentConfig& config, int64_t nproc) {
  if (nproc < 1 || nproc > config.train.shards)
    throw ConfigError(str("--nproc ", nproc, ": expected 1 ... train.shards (", config.train.shards,
                          "); set --set train.shards=", nproc));
  if (int code = launch_local(nproc, own_arguments_without("--nproc")))
    throw RunError(str("train --nproc ", nproc, ": a rank failed (exit code ", code, ")"));
}

ComparePlan plan_compare(const std::string& models, const ConfigLayers& layers,
                         const std::string& suite, const std::string& out) {
  if (out.empty()) throw UsageError("compare: --out DIR is required");
  ComparePlan plan;
  plan.out = out;
  plan.variants = parse_variants(models, model_names());
  for (const Variant& v : plan.variants) {
    ExperimentConfig cfg = resolve_config(layers, v.model);
    for (const auto& s : v.sets) cfg.apply_set(s);
    if (!suite.empty()) cfg.apply_set("eval.suite=" + suite);
    check_config(cfg);  // fail on bad options before any training
    plan.configs.push_back(cfg);
  }
  return plan;
}

std::vector<RunResult> run_compare(const ComparePlan& plan, PreparedData& data,
                                   const RunOptions& options) {
  check_device(options);
  std::vector<RunResult> results;
  for (std::size_t i = 0; i < plan.variants.size(); ++i) {
    const std::string base = (fs::path(plan.out) / slug(plan.variants[i].label)).string();
    for (int64_t seed : plan.configs[i].train.seeds) {
      // A finished run of the same configuration is read, an interrupted one goes on.
      results.push_back(train_run(plan.configs[i], plan.variants[i].label, seed, data,
                                  seed_dir(base, seed), /*resume=*/true, options.observer,
                                  options.tensorboard));
    }
  }
  return results;
}

EvalOutcome evaluate_runs(const EvalRequest& request, const RunOptions& options,
                          const std::function<void(const EvaluatedRun&)>& on_run) {
  check_device(options);
  std::vector<Condition> conditions = suite_conditions(request.suite);
  std::vector<std::string> runs = find_runs(request.run);
  std::unique_ptr<PreparedData> data;
  EvalOutcome out;
  for (const auto& dir : runs) {
    LoadedRun cfg_only = read_run_config(dir);
    std::string path = request.data.empty() ? cfg_only.config.data.path : request.data;
    if (!data || data->info.path != path) {
      DataSection ds = cfg_only.config.data;
      ds.path = path;
      data = std::make_unique<PreparedData>(prepare_data(ds));
    }
    LoadedRun run = load_run(dir, data->spec);
    const int64_t mask_seed =
        request.mask_seed >= 0 ? request.mask_seed : run.config.eval.mask_seed;
    RunResult r;
    r.variant = run.variant;
    r.model = run.config.model;
    r.seed = run.seed;
    r.suite = request.suite;
    r.split = "test";
    r.task = task_name(data->info.task);
    r.data_path = data->info.path;
    r.data_sha256 = data->info.sha256;
    r.conditions = evaluate_conditions(
        *run.model, data->split(SplitId::kTest),
        with_text_features(*run.model, data->tensor(SplitId::kTest), run.config.eval.batch_size),
        conditions, static_cast<uint64_t>(mask_seed), run.config.eval.batch_size, data->info.task);
    EvaluatedRun done;
    done.dir = dir;
    done.variant = run.variant;
    done.seed = run.seed;
    done.conditions = conditions.size();
    done.written =
        write_evaluation(r, RunPaths(dir).results_for(request.suite, run.config.eval.suite));
    if (on_run) on_run(done);
    out.results.push_back(std::move(r));
  }
  out.data_path = data ? data->info.path : "";
  out.report_dir = report_dir(request.run, request.suite);
  return out;
}

// ---- the commands as the CLI runs them -------------------------------------------------------

namespace {

void say(const LogLine& log, const std::string& line) {
  if (log) log(line);
}

// The report of `results` into `request.out_dir`, on the main process only.
CommandResult reported_outcome(std::vector<RunResult> results, const ReportRequest& request) {
  CommandResult out;
  out.report_dir = request.out_dir;
  if (is_main_process()) out.report = report_results(results, request);
  out.results = std::move(results);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ExperimentConfig train_config(const TrainRequest& request) {
  ExperimentConfig cfg = resolve_config(request.layers, request.model);
  if (request.out.empty()) throw UsageError("train: --out RUN is required");
  check_config(cfg);  // unknown model keys fail before any data is read
  return cfg;
}

CommandResult train_command(const TrainRequest& request, const RunOptions& options,
                            const LogLine& log) {
  const ExperimentConfig cfg = train_config(request);
  check_device(options);
  const int threads = set_threads(cfg.train.threads);
  std::shared_ptr<PreparedData> data = load_data(cfg.data);
  const DataSummary d = summarize(*data);
  say(log, str("data ", cfg.data.path, ": ", d.samples[0], "/", d.samples[1], "/", d.samples[2],
               " samples, ", d.task, ", threads ", threads));
  std::vector<RunResult> results = train_seeds(cfg, *data, request.out, options);
  ReportRequest req;
  req.out_dir = report_dir(request.out);
  req.data_path = cfg.data.path;
  return reported_outcome(std::move(results), req);
}

CommandResult compare_command(const CompareRequest& request, const RunOptions& options,
                              const LogLine& log) {
  ReportRequest req;
  req.out_dir = report_dir(request.out);
  req.discussion_path = request.discussion;
  req.reported = request.reported;
  check_report_request(req);  // a bad discussion path or --reported fails before training
  ComparePlan plan = plan_compare(request.models, request.layers, request.suite, request.out);
  check_device(options);
  const ExperimentConfig& first = plan.configs.front();
  // --reported: a synthetic file, another suite or a bad numbers file fail before the data is
  // read, a task that is not the dataset's before any training.
  if (req.reported.on()) {
    for (const auto& c : plan.configs) req.reported.load(c.eval.suite, "", {c.data.path});
  }
  const int threads = set_threads(first.train.threads);
  std::shared_ptr<PreparedData> data = load_data(first.data);
  if (req.reported.on())
    req.reported.load(first.eval.suite, summarize(*data).task, {first.data.path});
  say(log, str("compare: ", plan.variants.size(), " variant(s) x ", first.train.seeds.size(),
               " seed(s) on ", first.data.path, " (threads ", threads, ")"));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<RunResult> results = run_compare(plan, *data, options);
  say(log, str("compare finished in ", static_cast<int64_t>(seconds_since(t0) + 0.5), " s"));
  req.data_path = first.data.path;
  return reported_outcome(std::move(results), req);
}

CommandResult eval_command(const EvalRequest& request, const RunOptions& options,
                           const LogLine& log) {
  suite_named(request.suite);  // an unknown suite fails before anything is read
  EvalOutcome out = evaluate_runs(request, options, [&log](const EvaluatedRun& r) {
    if (r.written.kept_old) {
      const std::string old = r.written.path.substr(0, r.written.path.size() - 4);
      say(log, str("note: ", old, " differs from this evaluation; kept the old file, wrote ",
                   r.written.path));
    }
    say(log, str("evaluated ", r.dir, " (", r.variant, " seed ", r.seed, ") on ", r.conditions,
                 " conditions"));
  });
  ReportRequest req;
  req.out_dir = out.report_dir;
  req.data_path = out.data_path;
  return reported_outcome(std::move(out.results), req);
}

nlohmann::json predict_run(const PredictRequest& request, const RunOptions& options) {
  check_device(options);
  std::vector<std::string> runs = find_runs(request.run);
  if (runs.size() != 1)
    throw UsageError(
        str("predict --run '", request.run, "': expected one run directory, found ", runs.size()));
  InputSpec spec = run_input_spec(runs[0]);
  if (request.input.empty() == request.texts.empty())
    throw UsageError("predict: pass exactly one of --input FILE and --text \"...\"");
  LoadedRun run = load_run(runs[0], spec);
  if (!request.texts.empty()) {
    const std::string dir =
        request.text_encoder.empty() ? run.config.data.text_encoder : request.text_encoder;
    if (dir.empty())
      throw UsageError(str("predict --text: run '", runs[0],
                           "' was not trained with data.text_encoder; pass --text-encoder DIR "
                           "(the model that made its text features)"));
    TextEncoder enc = load_text_encoder(dir);  // a fine-tuned run: its tokenizer only
    PredictInput in = text_predict_input(enc, request.texts, spec, run.model.get());
    return predict_json(*run.model, in, spec);
  }
  if (run.model->text_encoder)
    throw UsageError(str("predict --input: run '", runs[0],
                         "' fine-tuned its text encoder (data.text_finetune), so text features "
                         "from elsewhere do not fit it; score text with --text \"...\""));
  PredictInput in = read_predict_input(request.input, request.split, spec, run.config.data);
  return predict_json(*run.model, in, spec);
}

FeaturesSummary make_text_features(
    const FeaturesRequest& request,
    const std::function<void(const std::string& split, int64_t transcripts)>& on_split) {
  if (request.max_length < 2)
    throw UsageError(str("--max-length ", request.max_length, ": expected >= 2"));
  if (request.batch_size < 1)
    throw UsageError(str("--batch-size ", request.batch_size, ": expected >= 1"));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<text::LabelRow> rows = text::read_label_csv(request.csv);
  TextEncoder enc = load_text_encoder(request.text_encoder);
  const int64_t hidden = enc.bert->config().hidden_size;
  std::array<std::vector<const text::LabelRow*>, 3> by_split;
  for (const auto& r : rows) {
    if (!(r.label >= -3.0 && r.label <= 3.0))
      throw DataError(str("file '", request.csv, "' line ", r.line, ": label ", r.label,
                          " is outside [-3, 3] (MOSI/MOSEI sentiment)"));
    by_split[static_cast<std::size_t>(r.split)].push_back(&r);
  }
  for (int s = 0; s < 3; ++s)
    if (by_split[s].empty())
      throw DataError(str("file '", request.csv, "': no row has mode ", kSplitNames[s],
                          "; expected train, valid (or dev) and test rows"));

  // The MMSA layout (DESIGN §2.1): one dict per split.
  pickle::Writer w(request.out);
  w.begin_dict();
  for (int s = 0; s < 3; ++s) {
    const auto& split = by_split[s];
    const int64_t n = static_cast<int64_t>(split.size());
    std::vector<std::string> texts, ids;
    std::vector<float> labels;
    for (const auto* r : split) {
      texts.push_back(r->text);
      ids.push_back(r->id);
      labels.push_back(static_cast<float>(r->label));
    }
    torch::Tensor tb = tokenize_texts(enc, texts, request.max_length);  // (N, 3, L) int64
    torch::Tensor h = encode_token_rows(enc, tb, request.batch_size).contiguous();
    w.key(kSplitNames[s]);
    w.begin_dict();
    w.key("id");
    w.string_array({n}, ids);
    w.key("raw_text");
    w.string_array({n}, texts);
    w.key("regression_labels");
    w.array(pickle::DType::kFloat32, {n}, labels.data());
    w.key("text");
    w.array(pickle::DType::kFloat32, {n, request.max_length, hidden}, h.data_ptr<float>());
    w.key("text_bert");
    w.array(pickle::DType::kInt64, {n, 3, request.max_length}, tb.contiguous().data_ptr<int64_t>());
    // Absent modalities: empty arrays with N rows (data/dataset.h, ModalityData::absent).
    for (const char* m : {"audio", "vision"}) {
      w.key(m);
      w.array(pickle::DType::kFloat32, {n, 0, 0}, nullptr);
    }
    w.end_dict();
    if (on_split) on_split(kSplitNames[s], n);
  }
  w.end_dict();
  w.finish();
  FeaturesSummary summary;
  summary.transcripts = static_cast<int64_t>(rows.size());
  summary.max_length = request.max_length;
  summary.hidden = hidden;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

SweepPlan plan_sweep_request(const SweepRequest& request) {
  if (request.layers.data.empty()) throw UsageError("sweep: --data FILE[,FILE...] is required");
  if (request.out.empty()) throw UsageError("sweep: --out DIR is required");
  SweepGrid grid;
  grid.data = split_list(request.layers.data);
  for (const Variant& v : parse_variants(request.models, model_names())) {
    // Resolve every cell's configuration now, so that a bad option fails before any cell runs.
    ConfigLayers one = request.layers;
    one.data = grid.data.front();
    ExperimentConfig cfg = resolve_config(one, v.model);
    for (const auto& s : v.sets) cfg.apply_set(s);
    check_config(cfg);
    if (grid.seeds.empty()) grid.seeds = cfg.train.seeds;
    if (grid.suites.empty())
      grid.suites = request.suites.empty() ? std::vector<std::string>{cfg.eval.suite}
                                           : split_list(request.suites);
    grid.variants.push_back({v.label, slug(v.label)});
  }
  for (const auto& s : grid.suites) suite_named(s);  // UsageError for an unknown suite
  grid.out = request.out;
  grid.program = own_executable();
  // Every cell gets the same configuration layers (but its own data file, suite, variant and
  // seed) and the threads per cell.
  for (const auto& c : request.layers.configs) {
    grid.forwarded.push_back("--config");
    grid.forwarded.push_back(fs::absolute(c).string());
  }
  for (const auto& s : request.layers.sets) {
    grid.forwarded.push_back("--set");
    grid.forwarded.push_back(s);
  }
  int64_t threads = request.layers.threads;
  if (threads < 0)
    threads = request.slurm ? request.cpus_per_task
                            : std::max<int64_t>(1, std::thread::hardware_concurrency() /
                                                       std::max<int64_t>(1, request.workers));
  grid.forwarded.push_back("--threads");
  grid.forwarded.push_back(std::to_string(threads));
  for (auto& d : grid.data) d = fs::absolute(d).string();
  SweepPlan plan = plan_sweep(grid);
  write_sweep_plan(plan);
  return plan;
}

std::string build_info() {
  return str("robustmsa ", ROBUSTMSA_VERSION, "\nLibTorch ", TORCH_VERSION, ", C++",
             __cplusplus / 100 % 100, "\nCPU attention: ", cpu_attention_kernel());
}

}  // namespace robustmsa

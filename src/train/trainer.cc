#include "train/trainer.h"

#include <dlfcn.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>
#include <utility>

#include "data/data_options.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/evaluate.h"
#include "train/text_encoder.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace fs = std::filesystem;

namespace {

uint64_t mix64(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The order of training samples in an epoch: a pure function of (seed, epoch), so a resumed run
// sees the same batches.
std::vector<int64_t> epoch_order(int64_t n, int64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = mix64(static_cast<uint64_t>(seed), 0x5eed0000ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    state = mix64(state, static_cast<uint64_t>(i));
    int64_t j = static_cast<int64_t>(state % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

// Fault injection for the tests (docs/security.md): ROBUSTMSA_FAULT_NAN_GRAD="EPOCH:STEP" (1-based)
// makes the first defined parameter gradient NaN at that step, just before the gradient-norm check,
// as an overflow in the backward pass would. Returns {-1, -1} when the variable is unset.
std::pair<int64_t, int64_t> nan_grad_fault() {
  const char* env = std::getenv("ROBUSTMSA_FAULT_NAN_GRAD");
  if (env == nullptr || *env == '\0') return {-1, -1};
  const std::string spec = env;
  const auto colon = spec.find(':');
  const auto is_count = [](const std::string& t) {
    return !t.empty() && t.size() < 10 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (colon == std::string::npos || !is_count(spec.substr(0, colon)) ||
      !is_count(spec.substr(colon + 1)) || std::stoll(spec.substr(0, colon)) < 1 ||
      std::stoll(spec.substr(colon + 1)) < 1)
    throw UsageError(str("environment variable ROBUSTMSA_FAULT_NAN_GRAD='", spec,
                         "': expected EPOCH:STEP, both integers >= 1"));
  return {std::stoll(spec.substr(0, colon)) - 1, std::stoll(spec.substr(colon + 1)) - 1};
}

std::string format_seconds(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", static_cast<long>(t / 3600),
                  static_cast<long>(t / 60 % 60));
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", static_cast<long>(t / 60),
                  static_cast<long>(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%lds", static_cast<long>(t));
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One parameter group at train.lr; a fine-tuned text encoder (data.text_finetune) gets a second
// group at train.text_lr, as MMSA trains BERT beside its heads.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainSection& t, Model& model) {
  const bool adamw = t.optimizer == "adamw";
  auto options = [&](double lr) -> std::unique_ptr<torch::optim::OptimizerOptions> {
    if (adamw)
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(lr).weight_decay(t.weight_decay));
    return std::make_unique<torch::optim::AdamOptions>(
        torch::optim::AdamOptions(lr).weight_decay(t.weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!model.text_encoder) {
    groups.emplace_back(model.parameters(), options(t.lr));
  } else {
    std::vector<torch::Tensor> head, text;
    for (const auto& p : model.named_parameters())
      (p.key().rfind("text_encoder.", 0) == 0 ? text : head).push_back(p.value());
    groups.emplace_back(head, options(t.lr));
    groups.emplace_back(text, options(t.text_lr));
  }
  if (adamw) return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(t.lr));
  return std::make_unique<torch::optim::Adam>(groups, torch::optim::AdamOptions(t.lr));
}

nlohmann::json spec_json(const InputSpec& s) {
  return {
      {"dim", s.dim}, {"len", s.len}, {"task", task_name(s.task)}, {"train_size", s.train_size}};
}

// Validation conditions used for model selection.
std::vector<Condition> selection_conditions(const std::string& select_on) {
  std::vector<Condition> out = {parse_condition("complete")};
  if (select_on == "paper")
    for (const char* c : {"l", "a", "v", "l,a", "l,v", "a,v"})
      out.push_back(parse_condition(std::string("condition:") + c));
  return out;
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

// The stored description of the run in run_dir (its config.json: variant, seed, resolved config,
// input, data). DataError naming the file when it is missing or not JSON.
nlohmann::json read_run_info(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "config.json").string();
  try {
    return nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(str("run config '", path, "': invalid JSON (", e.what(), ")"));
  }
}

// A run's description without config.train.seeds: the seed list belongs to the invocation
// (compare --seeds 10, a sweep's one-seed cells), the run's own seed is "seed".
nlohmann::json without_seed_list(nlohmann::json run) {
  if (run.contains("config") && run["config"].contains("train"))
    run["config"]["train"].erase("seeds");
  return run;
}

// Throws ConfigError when `saved` (a run's stored description: variant, seed, resolved config,
// input, data) differs from `now`, naming the first differing key and both values. The seed list
// is not compared: a run finished by `compare --seeds 10` is the same run when a one-seed compare
// or a sweep cell asks for it.
void require_same_run(const nlohmann::json& saved_run, const nlohmann::json& now_run,
                      const std::string& what) {
  const nlohmann::json saved = without_seed_list(saved_run), now = without_seed_list(now_run);
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

struct Selection {
  std::vector<Condition> conditions;
  std::vector<MaskTensors> masks;
};

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

RunResult train_run(const ExperimentConfig& config, const std::string& variant, int64_t seed,
                    PreparedData& data, const std::string& run_dir, bool resume) {
  const TrainSection& tc = config.train;
  const ModelEntry& entry = find_model(config.model);
  UncertainOptions uncertain;
  options_from_json(uncertain, config.missing, "missing");
  const Task task = data.info.task;

  fs::create_directories(run_dir);
  const std::string ckpt_path = (fs::path(run_dir) / "checkpoint.pt").string();
  const std::string results_path = (fs::path(run_dir) / "results.json").string();
  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  if (fs::exists(results_path) && !resume)
    throw RunError(str("run directory '", run_dir,
                       "' already holds results.json; refusing to "
                       "overwrite it (choose another --out, or --resume to finish the run)"));
  if (fs::exists(ckpt_path) && !resume)
    throw RunError(str("run directory '", run_dir,
                       "' already holds checkpoint.pt; pass --resume "
                       "to continue it, or choose another --out"));

  nlohmann::json resolved = config.to_json();
  resolved["model"] = resolved_model_options(config);
  resolved["model"]["name"] = config.model;
  resolved["missing"] = options_to_json(uncertain);
  nlohmann::json run_info = {{"variant", variant},
                             {"seed", seed},
                             {"config", resolved},
                             {"input", spec_json(data.spec)},
                             {"data",
                              {{"path", data.info.path},
                               {"sha256", data.info.sha256},
                               {"layout", layout_name(data.info.layout)}}}};
  // realmosi: the splits robustmsa made (utterance-level sets: validation videos, labels file).
  if (!data.info.split_info.is_null()) run_info["data"]["split"] = data.info.split_info;

  // A finished run is read, not trained again, but only when it is the run asked for: results
  // from another configuration, data file or seed in this directory are an error, not a result.
  if (resume && fs::exists(results_path)) {
    require_same_run(read_run_info(run_dir), run_info, str("finished run '", run_dir, "'"));
    std::fprintf(stderr, "%s seed %ld: already finished, reading %s\n", variant.c_str(),
                 static_cast<long>(seed), results_path.c_str());
    return read_results(results_path);
  }

  std::shared_ptr<Model> model = build_model(config, data.spec, seed);
  auto optimizer = make_optimizer(tc, *model);

  int64_t start_epoch = 0, best_epoch = -1, bad_epochs = 0;
  double best_score = std::numeric_limits<double>::infinity();
  NamedTensors best = copy_state(*model);
  nlohmann::json history = nlohmann::json::array();

  if (resume && fs::exists(ckpt_path)) {
    Checkpoint ckpt = read_checkpoint(ckpt_path);
    const nlohmann::json& saved = ckpt.meta.at("run");
    require_same_run(saved, run_info, str("--resume: checkpoint '", ckpt_path, "'"));
    load_state(*model, ckpt.model, "checkpoint '" + ckpt_path + "'");
    load_optimizer(*optimizer, ckpt.optimizer_bytes, "checkpoint '" + ckpt_path + "'");
    best = ckpt.best;
    start_epoch = ckpt.meta.at("epoch").get<int64_t>() + 1;
    best_epoch = ckpt.meta.at("best_epoch").get<int64_t>();
    best_score = ckpt.meta.at("best_score").get<double>();
    bad_epochs = ckpt.meta.at("bad_epochs").get<int64_t>();
    history = ckpt.meta.at("history");
    // A kill between the checkpoint's rename and the metrics write leaves metrics.jsonl behind
    // the checkpoint; its history is the truth (nothing else rewrites it when no epoch is left).
    std::string lines;
    for (const auto& h : history) lines += h.dump() + "\n";
    write_file_atomic(metrics_path, lines);
  }
  // Data parallel (train/distributed.h): every rank runs this loop in lockstep on its shards of
  // each batch; only rank 0 validates and writes. Resuming needs the run directory on a
  // filesystem every rank sees; a rank that sees another checkpoint would diverge, so stop.
  Distributed& dist = default_distributed();
  GradientReducer reducer(model->parameters());
  if (dist.world_size() > tc.shards)
    throw ConfigError(str("train.shards = ", tc.shards, " is less than the number of processes (",
                          dist.world_size(), "): set --set train.shards=", dist.world_size(),
                          " (or a multiple); the result depends on train.shards, not on the "
                          "number of processes"));
  if (dist.world_size() > 1) {
    auto t = torch::tensor({static_cast<double>(start_epoch)}, torch::kFloat64);
    dist.broadcast(t, 0);
    if (t.item<double>() != static_cast<double>(start_epoch))
      throw RunError(str("rank ", dist.rank(), " resumes '", run_dir, "' at epoch ",
                         start_epoch + 1, " but rank 0 at epoch ",
                         static_cast<int64_t>(t.item<double>()) + 1,
                         ": run directories must be on a filesystem shared by all ranks"));
  }
  if (dist.is_main())
    write_file_atomic((fs::path(run_dir) / "config.json").string(), run_info.dump(2) + "\n");
  if (dist.is_main() && dist.world_size() > 1)
    std::fprintf(stderr,
                 "data parallel: %ld ranks (%s), train.shards %ld, %ld gradient values in %ld "
                 "bucket(s)\n",
                 static_cast<long>(dist.world_size()), dist.env().backend.c_str(),
                 static_cast<long>(tc.shards), static_cast<long>(reducer.numel()),
                 static_cast<long>(reducer.buckets()));

  const Split& valid_split = data.split(SplitId::kValid);
  const SplitTensors& train = data.tensor(SplitId::kTrain);
  const SplitTensors& valid = data.tensor(SplitId::kValid);
  Selection sel;
  sel.conditions = selection_conditions(tc.select_on);
  for (const Condition& c : sel.conditions)
    sel.masks.push_back(
        to_tensors(make_masks(c, valid_split, static_cast<uint64_t>(config.eval.mask_seed))));

  const int64_t steps = (train.n + tc.batch_size - 1) / tc.batch_size;
  if (train.n < tc.shards)
    throw ConfigError(str("train.shards = ", tc.shards, " exceeds the ", train.n,
                          " training samples of '", data.info.path, "'"));
  const bool tty = isatty(STDERR_FILENO) && dist.is_main();
  std::vector<std::string> part_names;  // the objective's loss parts (the same on every rank)
  std::array<int64_t, 3> lens = data.spec.len;
  bool stopped_early = false;
  const std::pair<int64_t, int64_t> nan_grad = nan_grad_fault();
  double epoch_seconds_sum = 0;
  int64_t epochs_timed = 0;

  for (int64_t epoch = start_epoch; epoch < tc.epochs; ++epoch) {
    const int64_t phase = model->phase_of_epoch(epoch, tc.epochs);
    if (epoch > 0 && phase != model->phase_of_epoch(epoch - 1, tc.epochs)) {
      // A new training phase (e.g. the student after its teacher) starts from the weights
      // selected in the previous one and selects afresh.
      load_state(*model, best, "selected weights of '" + run_dir + "'");
      best_score = std::numeric_limits<double>::infinity();
      best_epoch = -1;
      bad_epochs = 0;
    }
    model->begin_phase(phase);
    if (tc.patience > 0 && bad_epochs >= tc.patience) {
      if (model->phase_of_epoch(tc.epochs - 1, tc.epochs) != phase) continue;  // next phase
      stopped_early = true;
      break;
    }
    auto t0 = std::chrono::steady_clock::now();
    // Dropout and any other torch randomness: seeded per epoch so that resume is exact.
    torch::manual_seed(mix64(static_cast<uint64_t>(seed), static_cast<uint64_t>(epoch)));
    model->train();
    std::vector<int64_t> order = epoch_order(train.n, seed, epoch);
    std::map<std::string, double> sums;
    int64_t seen = 0;
    double allreduce_seconds = 0;
    for (int64_t step = 0; step < steps; ++step) {
      int64_t begin = step * tc.batch_size, end = std::min(train.n, begin + tc.batch_size);
      const int64_t batch_rows = end - begin;
      optimizer->zero_grad();
      // This rank's shards of the batch (all of it with one process and train.shards = 1). Each
      // shard's loss is weighted by its share of the batch, so the summed gradient is the batch's.
      double loss_sum = 0;
      std::map<std::string, double> part_sums;
      for (int64_t k = dist.rank(); k < tc.shards; k += dist.world_size()) {
        auto [shard_begin, shard_end] = shard_range(batch_rows, tc.shards, k);
        if (shard_begin == shard_end) continue;
        std::vector<int64_t> rows(order.begin() + begin + shard_begin,
                                  order.begin() + begin + shard_end);
        // A shard's dropout stream depends on the shard, not on the rank that runs it.
        if (tc.shards > 1)
          torch::manual_seed(mix64(mix64(static_cast<uint64_t>(seed), static_cast<uint64_t>(epoch)),
                                   static_cast<uint64_t>(step * tc.shards + k)));
        auto index = torch::tensor(rows, torch::kLong);
        Batch batch = gather(train, index, nullptr);
        encode_batch_text(*model, batch);  // data.text_finetune: text features with gradients
        ObjectiveContext ctx;
        ctx.task = task;
        ctx.epoch = epoch;
        ctx.phase = phase;
        ctx.missing_view = [&](const Batch& b) {
          return apply_masks(
              b, uncertain_masks(uncertain, static_cast<uint64_t>(seed), epoch, step, rows, lens));
        };
        Losses losses = entry.objective(*model, batch, ctx);
        const int64_t shard_rows = shard_end - shard_begin;
        (shard_rows == batch_rows ? losses.total
                                  : losses.total * (static_cast<double>(shard_rows) / batch_rows))
            .backward();
        loss_sum += losses.total.item<double>() * static_cast<double>(shard_rows);
        part_names.clear();
        for (const auto& [name, t] : losses.parts) {
          part_names.push_back(name);
          part_sums[name] += t.item<double>() * static_cast<double>(shard_rows);
        }
      }
      // Gradients and loss sums over ranks (a no-op with one process).
      auto stats = torch::zeros({1 + static_cast<int64_t>(part_names.size())}, torch::kFloat64);
      stats[0] = loss_sum;
      for (std::size_t i = 0; i < part_names.size(); ++i)
        stats[static_cast<int64_t>(i) + 1] = part_sums[part_names[i]];
      allreduce_seconds += reducer.reduce(dist, stats);
      const double loss = stats[0].item<double>() / static_cast<double>(batch_rows);
      if (!std::isfinite(loss))
        throw RunError(str("non-finite loss (", loss, ") at epoch ", epoch + 1, " step ", step + 1,
                           " of run '", run_dir, "'; ",
                           epoch == 0 ? std::string("no checkpoint was written yet")
                                      : "the last good checkpoint '" + ckpt_path +
                                            "' is intact (resume it, e.g. with a lower train.lr)"));
      if (epoch == nan_grad.first && step == nan_grad.second)
        for (auto& p : model->parameters())
          if (p.grad().defined()) {
            p.mutable_grad().fill_(std::numeric_limits<float>::quiet_NaN());
            break;
          }
      double max_norm = tc.grad_clip > 0 ? tc.grad_clip : std::numeric_limits<double>::infinity();
      double norm = torch::nn::utils::clip_grad_norm_(model->parameters(), max_norm);
      if (!std::isfinite(norm))
        throw RunError(str("non-finite gradient norm at epoch ", epoch + 1, " step ", step + 1,
                           " of run '", run_dir, "'; the last good checkpoint '", ckpt_path,
                           "' is intact"));
      optimizer->step();
      seen += batch_rows;
      sums["loss"] += stats[0].item<double>();
      for (std::size_t i = 0; i < part_names.size(); ++i)
        sums[part_names[i]] += stats[static_cast<int64_t>(i) + 1].item<double>();
      if (tty) {
        double el = seconds_since(t0);
        std::fprintf(stderr, "\r%s seed %ld epoch %ld/%ld step %ld/%ld loss %.4f %.0f samples/s   ",
                     variant.c_str(), static_cast<long>(seed), static_cast<long>(epoch + 1),
                     static_cast<long>(tc.epochs), static_cast<long>(step + 1),
                     static_cast<long>(steps), sums["loss"] / seen, seen / std::max(el, 1e-9));
      }
    }
    double train_seconds = seconds_since(t0);

    // Validation: the selection score is the mean task loss over the selection conditions.
    double score_sum = 0;
    MetricMap val_metrics;
    const SplitTensors valid_now =
        dist.is_main() ? with_text_features(*model, valid, config.eval.batch_size) : valid;
    for (std::size_t c = 0; dist.is_main() && c < sel.conditions.size(); ++c) {
      torch::Tensor pred = predict(*model, valid_now, &sel.masks[c], config.eval.batch_size);
      score_sum += task_loss(pred, valid.label, task).item<double>();
      if (c == 0) val_metrics = score(pred, valid.label, task);
    }
    double val_score = score_sum / static_cast<double>(sel.conditions.size());
    if (dist.world_size() > 1) {  // rank 0's score drives selection and early stopping on all
      auto t = torch::tensor({val_score}, torch::kFloat64);
      dist.broadcast(t, 0);
      val_score = t.item<double>();
    }
    if (!std::isfinite(val_score))
      throw RunError(str("non-finite validation score at epoch ", epoch + 1, " of run '", run_dir,
                         "'; the last good checkpoint '", ckpt_path, "' is intact"));
    bool improved = val_score < best_score;
    if (improved) {
      best_score = val_score;
      best_epoch = epoch;
      bad_epochs = 0;
      best = copy_state(*model);
    } else {
      ++bad_epochs;
    }
    double epoch_seconds = seconds_since(t0);
    epoch_seconds_sum += epoch_seconds;
    ++epochs_timed;

    nlohmann::json record = {{"epoch", epoch + 1},
                             {"train_seconds", train_seconds},
                             {"samples_per_s", seen / std::max(train_seconds, 1e-9)},
                             {"val_score", val_score},
                             {"val_complete", val_metrics},
                             {"best_epoch", best_epoch + 1}};
    for (const auto& [name, v] : sums) record["train_" + name] = v / std::max<int64_t>(seen, 1);
    if (dist.world_size() > 1) {
      record["ranks"] = dist.world_size();
      record["allreduce_seconds"] = allreduce_seconds;
    }
    history.push_back(record);
    if (!dist.is_main()) continue;  // rank 0 writes the checkpoint and the log

    Checkpoint ckpt;
    ckpt.meta = {{"format", "robustmsa-checkpoint-1"},
                 {"run", run_info},
                 {"epoch", epoch},
                 {"best_epoch", best_epoch},
                 {"best_score", best_score},
                 {"bad_epochs", bad_epochs},
                 {"history", history}};
    ckpt.model = copy_state(*model);
    ckpt.best = best;
    ckpt.optimizer_bytes = save_optimizer(*optimizer);
    write_checkpoint(ckpt_path, ckpt);
    std::string lines;
    for (const auto& h : history) lines += h.dump() + "\n";
    write_file_atomic(metrics_path, lines);

    double eta = epoch_seconds_sum / epochs_timed * static_cast<double>(tc.epochs - epoch - 1);
    std::fprintf(
        stderr,
        "%s%s seed %ld epoch %ld/%ld loss %.4f val %.4f%s (best %.4f @%ld) %.0f samples/s ETA %s\n",
        tty ? "\r" : "", variant.c_str(), static_cast<long>(seed), static_cast<long>(epoch + 1),
        static_cast<long>(tc.epochs), sums["loss"] / std::max<int64_t>(seen, 1), val_score,
        improved ? " *" : "", best_score, static_cast<long>(best_epoch + 1),
        seen / std::max(train_seconds, 1e-9), format_seconds(eta).c_str());
  }
  if (stopped_early && dist.is_main())
    std::fprintf(stderr, "%s seed %ld: early stop, no validation improvement for %ld epochs\n",
                 variant.c_str(), static_cast<long>(seed), static_cast<long>(tc.patience));

  // The test split, once, with the selected weights (by rank 0; the others return no results).
  RunResult result;
  if (!dist.is_main()) return result;
  load_state(*model, best, "selected weights of '" + run_dir + "'");
  std::vector<Condition> conditions = suite_conditions(config.eval.suite);
  result.variant = variant;
  result.model = config.model;
  result.seed = seed;
  result.suite = config.eval.suite;
  result.split = "test";
  result.task = task_name(task);
  result.data_path = data.info.path;
  result.data_sha256 = data.info.sha256;
  result.conditions = evaluate_conditions(
      *model, data.split(SplitId::kTest),
      with_text_features(*model, data.tensor(SplitId::kTest), config.eval.batch_size), conditions,
      static_cast<uint64_t>(config.eval.mask_seed), config.eval.batch_size, task);
  write_results(result, results_path);
  return result;
}

LoadedRun read_run_config(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "config.json").string();
  const nlohmann::json info = read_run_info(run_dir);
  LoadedRun run;
  try {
    run.variant = info.at("variant").get<std::string>();
    run.seed = info.at("seed").get<int64_t>();
    run.config.apply_json(info.at("config"), path);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(
        str("run config '", path, "': expected keys variant, seed, config (", e.what(), ")"));
  }
  return run;
}

LoadedRun load_run(const std::string& run_dir, const InputSpec& spec) {
  LoadedRun run = read_run_config(run_dir);
  const std::string ckpt_path = (fs::path(run_dir) / "checkpoint.pt").string();
  Checkpoint ckpt = read_checkpoint(ckpt_path);
  run.model = build_model(run.config, spec, run.seed);
  load_state(*run.model, ckpt.best, "checkpoint '" + ckpt_path + "'");
  run.model->eval();
  return run;
}

}  // namespace robustmsa

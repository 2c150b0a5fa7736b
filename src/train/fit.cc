#include "train/fit.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "train/distributed.h"
#include "train/evaluate.h"
#include "train/text_encoder.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"

namespace robustmsa {

namespace {

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

}  // namespace

Trainer::Trainer(const ExperimentConfig& config, std::string variant, int64_t seed,
                 PreparedData& data, std::string run_dir)
    : config_(config),
      entry_(find_model(config.model)),
      variant_(std::move(variant)),
      seed_(seed),
      data_(data),
      run_dir_(std::move(run_dir)),
      paths_(run_dir_),
      dist_(default_distributed()) {
  const TrainSection& tc = config.train;
  options_from_json(uncertain_, config.missing, "missing");
  model_ = build_model(config, data.spec, seed);
  optimizer_ = make_optimizer(tc, *model_);
  sel_.best = copy_state(*model_);
  // Data parallel (train/distributed.h): every rank runs the loop in lockstep on its shards of
  // each batch; only rank 0 validates and writes.
  reducer_ = std::make_unique<GradientReducer>(model_->parameters());
  if (dist_.world_size() > tc.shards)
    throw ConfigError(str("train.shards = ", tc.shards, " is less than the number of processes (",
                          dist_.world_size(), "): set --set train.shards=", dist_.world_size(),
                          " (or a multiple); the result depends on train.shards, not on the "
                          "number of processes"));
  const SplitTensors& train = data.tensor(SplitId::kTrain);
  if (train.n < tc.shards)
    throw ConfigError(str("train.shards = ", tc.shards, " exceeds the ", train.n,
                          " training samples of '", data.info.path, "'"));
  steps_ = (train.n + tc.batch_size - 1) / tc.batch_size;
  const Split& valid_split = data.split(SplitId::kValid);
  selection_conditions_ = selection_conditions(tc.select_on);
  for (const Condition& c : selection_conditions_)
    selection_masks_.push_back(
        to_tensors(make_masks(c, valid_split, static_cast<uint64_t>(config.eval.mask_seed))));
  nan_grad_ = fault::nan_grad_step();
}

Trainer::~Trainer() = default;

bool Trainer::resume(const nlohmann::json& run_info) {
  if (run_dir_.empty() || !std::filesystem::exists(paths_.checkpoint)) return false;
  const std::string& ckpt_path = paths_.checkpoint;
  Checkpoint ckpt = read_checkpoint(ckpt_path);
  require_same_run(ckpt.meta.at("run"), run_info, str("--resume: checkpoint '", ckpt_path, "'"));
  load_state(*model_, ckpt.model, "checkpoint '" + ckpt_path + "'");
  load_optimizer(*optimizer_, ckpt.optimizer_bytes, "checkpoint '" + ckpt_path + "'");
  sel_.best = ckpt.best;
  start_epoch_ = ckpt.meta.at("epoch").get<int64_t>() + 1;
  sel_.best_epoch = ckpt.meta.at("best_epoch").get<int64_t>();
  sel_.best_score = ckpt.meta.at("best_score").get<double>();
  sel_.bad_epochs = ckpt.meta.at("bad_epochs").get<int64_t>();
  history_ = ckpt.meta.at("history");
  // A kill between the checkpoint's rename and the metrics write leaves metrics.jsonl behind
  // the checkpoint; its history is the truth (nothing else rewrites it when no epoch is left).
  std::string lines;
  for (const auto& h : history_) lines += h.dump() + "\n";
  write_file_atomic(paths_.metrics, lines);
  return true;
}

std::vector<int64_t> Trainer::epoch_order(int64_t epoch) const {
  const int64_t n = data_.tensor(SplitId::kTrain).n;
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state =
      mix_pair(static_cast<uint64_t>(seed_), 0x5eed0000ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    state = mix_pair(state, static_cast<uint64_t>(i));
    int64_t j = static_cast<int64_t>(state % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::string Trainer::last_good_checkpoint(int64_t epoch) const {
  return epoch == 0 ? std::string("no checkpoint was written yet")
                    : "the last good checkpoint '" + paths_.checkpoint +
                          "' is intact (resume it, e.g. with a lower train.lr)";
}

StepStats Trainer::train_step(int64_t epoch, int64_t step, const std::vector<int64_t>& rows) {
  const TrainSection& tc = config_.train;
  const SplitTensors& train = data_.tensor(SplitId::kTrain);
  const int64_t phase = model_->phase_of_epoch(epoch, tc.epochs);
  const int64_t batch_rows = static_cast<int64_t>(rows.size());
  StepStats out;
  out.rows = batch_rows;
  optimizer_->zero_grad();
  // This rank's shards of the batch (all of it with one process and train.shards = 1). Each
  // shard's loss is weighted by its share of the batch, so the summed gradient is the batch's.
  double loss_sum = 0;
  std::map<std::string, double> part_sums;
  for (int64_t k = dist_.rank(); k < tc.shards; k += dist_.world_size()) {
    auto [shard_begin, shard_end] = shard_range(batch_rows, tc.shards, k);
    if (shard_begin == shard_end) continue;
    std::vector<int64_t> shard(rows.begin() + shard_begin, rows.begin() + shard_end);
    // A shard's dropout stream depends on the shard, not on the rank that runs it.
    if (tc.shards > 1)
      torch::manual_seed(
          mix_pair(mix_pair(static_cast<uint64_t>(seed_), static_cast<uint64_t>(epoch)),
                   static_cast<uint64_t>(step * tc.shards + k)));
    auto index = torch::tensor(shard, torch::kLong);
    Batch batch = gather(train, index, nullptr);
    encode_batch_text(*model_, batch);  // data.text_finetune: text features with gradients
    ObjectiveContext ctx;
    ctx.task = data_.info.task;
    ctx.epoch = epoch;
    ctx.phase = phase;
    ctx.missing_view = [&](const Batch& b) {
      return apply_masks(b, uncertain_masks(uncertain_, static_cast<uint64_t>(seed_), epoch, step,
                                            shard, data_.spec.len));
    };
    Losses losses = entry_.objective(*model_, batch, ctx);
    const int64_t shard_rows = shard_end - shard_begin;
    (shard_rows == batch_rows ? losses.total
                              : losses.total * (static_cast<double>(shard_rows) / batch_rows))
        .backward();
    loss_sum += losses.total.item<double>() * static_cast<double>(shard_rows);
    part_names_.clear();
    for (const auto& [name, t] : losses.parts) {
      part_names_.push_back(name);
      part_sums[name] += t.item<double>() * static_cast<double>(shard_rows);
    }
  }
  // Gradients and loss sums over ranks (a no-op with one process).
  auto stats = torch::zeros({1 + static_cast<int64_t>(part_names_.size())}, torch::kFloat64);
  stats[0] = loss_sum;
  for (std::size_t i = 0; i < part_names_.size(); ++i)
    stats[static_cast<int64_t>(i) + 1] = part_sums[part_names_[i]];
  out.allreduce_seconds = reducer_->reduce(dist_, stats);
  const double loss = stats[0].item<double>() / static_cast<double>(batch_rows);
  if (!std::isfinite(loss))
    throw RunError(str("non-finite loss (", loss, ") at epoch ", epoch + 1, " step ", step + 1,
                       " of run '", run_dir_, "'; ", last_good_checkpoint(epoch)));
  if (nan_grad_ && epoch == nan_grad_->epoch && step == nan_grad_->step)
    for (auto& p : model_->parameters())
      if (p.grad().defined()) {
        p.mutable_grad().fill_(std::numeric_limits<float>::quiet_NaN());
        break;
      }
  double max_norm = tc.grad_clip > 0 ? tc.grad_clip : std::numeric_limits<double>::infinity();
  double norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), max_norm);
  if (!std::isfinite(norm))
    throw RunError(str("non-finite gradient norm at epoch ", epoch + 1, " step ", step + 1,
                       " of run '", run_dir_, "'; the last good checkpoint '", paths_.checkpoint,
                       "' is intact"));
  optimizer_->step();
  out.loss_sum = stats[0].item<double>();
  for (std::size_t i = 0; i < part_names_.size(); ++i)
    out.part_sums.emplace_back(part_names_[i], stats[static_cast<int64_t>(i) + 1].item<double>());
  return out;
}

Validation Trainer::validate(int64_t epoch) {
  const SplitTensors& valid = data_.tensor(SplitId::kValid);
  const int64_t batch = config_.eval.batch_size;
  const Task task = data_.info.task;
  double score_sum = 0;
  Validation v;
  const SplitTensors valid_now =
      dist_.is_main() ? with_text_features(*model_, valid, batch) : valid;
  for (std::size_t c = 0; dist_.is_main() && c < selection_conditions_.size(); ++c) {
    torch::Tensor pred = predict(*model_, valid_now, &selection_masks_[c], batch);
    score_sum += task_loss(pred, valid.label, task).item<double>();
    if (c == 0) v.complete = score(pred, valid.label, task);
  }
  v.score = score_sum / static_cast<double>(selection_conditions_.size());
  if (dist_.world_size() > 1) {  // rank 0's score drives selection and early stopping on all
    auto t = torch::tensor({v.score}, torch::kFloat64);
    dist_.broadcast(t, 0);
    v.score = t.item<double>();
  }
  if (!std::isfinite(v.score))
    throw RunError(str("non-finite validation score at epoch ", epoch + 1, " of run '", run_dir_,
                       "'; the last good checkpoint '", paths_.checkpoint, "' is intact"));
  return v;
}

void Trainer::train_epoch(int64_t epoch, int64_t phase, FitObserver* observer,
                          std::map<std::string, double>& sums, int64_t& seen,
                          double& allreduce_seconds) {
  const TrainSection& tc = config_.train;
  const int64_t n = data_.tensor(SplitId::kTrain).n;
  const auto t0 = std::chrono::steady_clock::now();
  if (observer) observer->on_epoch_start({variant_, seed_, epoch + 1, tc.epochs, steps_, phase});
  // Dropout and any other torch randomness: seeded per epoch so that resume is exact.
  torch::manual_seed(mix_pair(static_cast<uint64_t>(seed_), static_cast<uint64_t>(epoch)));
  model_->train();
  const std::vector<int64_t> order = epoch_order(epoch);
  for (int64_t step = 0; step < steps_; ++step) {
    const int64_t begin = step * tc.batch_size, end = std::min(n, begin + tc.batch_size);
    const StepStats s =
        train_step(epoch, step, std::vector<int64_t>(order.begin() + begin, order.begin() + end));
    allreduce_seconds += s.allreduce_seconds;
    seen += s.rows;
    sums["loss"] += s.loss_sum;
    for (const auto& [name, v] : s.part_sums) sums[name] += v;
    if (observer)
      observer->on_step({variant_, seed_, epoch + 1, tc.epochs, step + 1, steps_, seen,
                         sums["loss"] / seen, seconds_since(t0)});
  }
}

void Trainer::write_checkpoint_and_log(const nlohmann::json& run_info, int64_t epoch) {
  Checkpoint ckpt;
  ckpt.meta = {{"format", "robustmsa-checkpoint-1"},
               {"run", run_info},
               {"epoch", epoch},
               {"best_epoch", sel_.best_epoch},
               {"best_score", sel_.best_score},
               {"bad_epochs", sel_.bad_epochs},
               {"history", history_}};
  ckpt.model = copy_state(*model_);
  ckpt.best = sel_.best;
  ckpt.optimizer_bytes = save_optimizer(*optimizer_);
  write_checkpoint(paths_.checkpoint, ckpt);
  std::string lines;
  for (const auto& h : history_) lines += h.dump() + "\n";
  write_file_atomic(paths_.metrics, lines);
}

void Trainer::fit(const nlohmann::json& run_info, FitObserver* observer) {
  const TrainSection& tc = config_.train;
  if (dist_.world_size() > 1) {  // every rank must continue from the same epoch
    auto t = torch::tensor({static_cast<double>(start_epoch_)}, torch::kFloat64);
    dist_.broadcast(t, 0);
    if (t.item<double>() != static_cast<double>(start_epoch_))
      throw RunError(str("rank ", dist_.rank(), " resumes '", run_dir_, "' at epoch ",
                         start_epoch_ + 1, " but rank 0 at epoch ",
                         static_cast<int64_t>(t.item<double>()) + 1,
                         ": run directories must be on a filesystem shared by all ranks"));
  }
  if (!dist_.is_main()) observer = nullptr;  // only rank 0 reports
  if (observer)
    observer->on_run_start({variant_, seed_, run_dir_, tc.epochs, start_epoch_, steps_,
                            data_.tensor(SplitId::kTrain).n});
  double epoch_seconds_sum = 0;
  int64_t epochs_timed = 0;
  for (int64_t epoch = start_epoch_; epoch < tc.epochs; ++epoch) {
    const int64_t phase = model_->phase_of_epoch(epoch, tc.epochs);
    if (epoch > 0 && phase != model_->phase_of_epoch(epoch - 1, tc.epochs)) {
      // A new training phase (e.g. the student after its teacher) starts from the weights
      // selected in the previous one and selects afresh.
      load_state(*model_, sel_.best, "selected weights of '" + run_dir_ + "'");
      sel_.best_score = std::numeric_limits<double>::infinity();
      sel_.best_epoch = -1;
      sel_.bad_epochs = 0;
    }
    model_->begin_phase(phase);
    if (tc.patience > 0 && sel_.bad_epochs >= tc.patience) {
      if (model_->phase_of_epoch(tc.epochs - 1, tc.epochs) != phase) continue;  // next phase
      if (observer) observer->on_early_stop({variant_, seed_, epoch + 1, tc.patience});
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::map<std::string, double> sums;
    int64_t seen = 0;
    double allreduce_seconds = 0;
    train_epoch(epoch, phase, observer, sums, seen, allreduce_seconds);
    const double train_seconds = seconds_since(t0);

    const Validation v = validate(epoch);
    const bool improved = v.score < sel_.best_score;
    if (improved) {
      sel_.best_score = v.score;
      sel_.best_epoch = epoch;
      sel_.bad_epochs = 0;
      sel_.best = copy_state(*model_);
    } else {
      ++sel_.bad_epochs;
    }
    const double epoch_seconds = seconds_since(t0);
    epoch_seconds_sum += epoch_seconds;
    ++epochs_timed;

    nlohmann::json record = {{"epoch", epoch + 1},
                             {"train_seconds", train_seconds},
                             {"samples_per_s", seen / std::max(train_seconds, 1e-9)},
                             {"val_score", v.score},
                             {"lr", optimizer_->param_groups().front().options().get_lr()},
                             {"val_complete", v.complete},
                             {"best_epoch", sel_.best_epoch + 1}};
    for (const auto& [name, value] : sums)
      record["train_" + name] = value / std::max<int64_t>(seen, 1);
    if (dist_.world_size() > 1) {
      record["ranks"] = dist_.world_size();
      record["allreduce_seconds"] = allreduce_seconds;
    }
    history_.push_back(record);
    if (!dist_.is_main()) continue;  // rank 0 writes the checkpoint and the log
    if (!run_dir_.empty()) write_checkpoint_and_log(run_info, epoch);
    if (observer) {
      EpochEnd e;
      e.variant = variant_;
      e.seed = seed_;
      e.epoch = epoch + 1;
      e.epochs = tc.epochs;
      for (const auto& [name, value] : sums)
        e.train_loss[name] = value / std::max<int64_t>(seen, 1);
      e.validation = v.complete;
      e.val_score = v.score;
      e.improved = improved;
      e.best_score = sel_.best_score;
      e.best_epoch = sel_.best_epoch + 1;
      e.lr = optimizer_->param_groups().front().options().get_lr();
      e.train_seconds = train_seconds;
      e.epoch_seconds = epoch_seconds;
      e.samples_per_s = seen / std::max(train_seconds, 1e-9);
      e.eta_seconds = epoch_seconds_sum / epochs_timed * static_cast<double>(tc.epochs - epoch - 1);
      observer->on_epoch_end(e);
    }
  }
}

RunResult Trainer::test() {
  load_state(*model_, sel_.best, "selected weights of '" + run_dir_ + "'");
  const Task task = data_.info.task;
  RunResult result;
  result.variant = variant_;
  result.model = config_.model;
  result.seed = seed_;
  result.suite = config_.eval.suite;
  result.split = "test";
  result.task = task_name(task);
  result.data_path = data_.info.path;
  result.data_sha256 = data_.info.sha256;
  result.conditions = evaluate_conditions(
      *model_, data_.split(SplitId::kTest),
      with_text_features(*model_, data_.tensor(SplitId::kTest), config_.eval.batch_size),
      suite_conditions(config_.eval.suite), static_cast<uint64_t>(config_.eval.mask_seed),
      config_.eval.batch_size, task);
  return result;
}

}  // namespace robustmsa

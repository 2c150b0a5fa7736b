// The one training loop (DESIGN §6), in named pieces: a Trainer holds one seed's model, optimiser
// and selection state; train_step is one optimisation step, validate the selection score, resume
// continues from a checkpoint, fit runs the epochs (checkpoints, early stopping, training phases,
// observer events) and test evaluates the selected weights once. train_run (train/trainer.h)
// puts them together for a run directory; bench/bench_train.cc times train_step itself.
//
// Usage:
//   robustmsa::Trainer t(config, "umdf", 1111, data, "runs/umdf/seed_1111");
//   robustmsa::StepStats s = t.train_step(/*epoch=*/0, /*step=*/0, rows);  // one step
//   t.fit(observer);                                   // every epoch, checkpoints into the run dir
//   robustmsa::RunResult r = t.test();
#pragma once

#include <torch/types.h>

#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/experiment.h"
#include "data/protocol.h"
#include "nn/model.h"
#include "report/report.h"
#include "robustmsa/observer.h"
#include "run/run_dir.h"
#include "train/checkpoint.h"
#include "train/tensors.h"
#include "util/fault.h"

namespace torch::optim {
class Optimizer;
}

namespace robustmsa {

struct PreparedData;
class Distributed;
class GradientReducer;

// What one training step did, summed over this step's rows (and ranks).
struct StepStats {
  int64_t rows = 0;
  double loss_sum = 0;                                    // total loss x rows
  std::vector<std::pair<std::string, double>> part_sums;  // each loss part x rows
  double allreduce_seconds = 0;
};

// The selection state of a run: the best validation score so far and its weights.
struct Selection {
  int64_t best_epoch = -1;  // 0-based; -1 before the first validation
  double best_score = std::numeric_limits<double>::infinity();
  int64_t bad_epochs = 0;  // epochs since the last improvement
  NamedTensors best;       // the selected weights
};

struct Validation {
  double score = 0;    // mean task loss over the selection conditions
  MetricMap complete;  // metrics of the complete condition
};

class Trainer {
 public:
  // Builds the model (seeded by `seed`) and its optimiser: one Adam/AdamW group at train.lr, a
  // second at train.text_lr for a fine-tuned text encoder. `run_dir` ("" for none, e.g. the
  // benchmark) is where fit writes checkpoint.pt and metrics.jsonl and what errors name.
  Trainer(const ExperimentConfig& config, std::string variant, int64_t seed, PreparedData& data,
          std::string run_dir);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  Model& model() { return *model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  int64_t steps_per_epoch() const { return steps_; }
  int64_t start_epoch() const { return start_epoch_; }
  const GradientReducer& reducer() const { return *reducer_; }

  // Continues from the run directory's checkpoint.pt: model, optimiser, selection state and
  // history (ConfigError unless the checkpoint is of the same run, `run_info`). Returns false when
  // there is no checkpoint. Rewrites metrics.jsonl from the checkpoint's history.
  bool resume(const nlohmann::json& run_info);

  // The training order of an epoch: a pure function of (seed, epoch), so a resumed run sees the
  // same batches.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // One optimisation step on the training rows `rows` (this step's batch) at 0-based (epoch,
  // step): zero_grad; per shard of the batch (train.shards; this rank's shards) the objective
  // on the batch with its uncertain-missing view, backward weighted by the shard's share; the
  // all-reduce over ranks; RunError for a non-finite loss or gradient norm (naming epoch, step and
  // the last good checkpoint); gradient clipping at train.grad_clip; the optimiser step.
  StepStats train_step(int64_t epoch, int64_t step, const std::vector<int64_t>& rows);
  // The selection score of the current weights on the validation split (rank 0 computes it and
  // broadcasts it). RunError when it is not finite.
  Validation validate(int64_t epoch);
  // Trains from start_epoch() to train.epochs (early stopping at train.patience, restarting
  // selection at every new training phase); after every epoch rank 0 writes checkpoint.pt and
  // metrics.jsonl when there is a run directory. `run_info` is stored in every checkpoint.
  void fit(const nlohmann::json& run_info, FitObserver* observer);
  // Loads the selected weights and evaluates them once on the test split with config.eval.suite.
  RunResult test();
  // The per-epoch records so far (metrics.jsonl's lines; after resume() the checkpoint's).
  const nlohmann::json& history() const { return history_; }

 private:
  void train_epoch(int64_t epoch, int64_t phase, FitObserver* observer,
                   std::map<std::string, double>& sums, int64_t& seen, double& allreduce_seconds);
  void write_checkpoint_and_log(const nlohmann::json& run_info, int64_t epoch);
  std::string last_good_checkpoint(int64_t epoch) const;

  const ExperimentConfig& config_;
  const ModelEntry& entry_;
  std::string variant_;
  int64_t seed_;
  PreparedData& data_;
  std::string run_dir_;
  RunPaths paths_;
  UncertainOptions uncertain_;
  Distributed& dist_;
  std::shared_ptr<Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<GradientReducer> reducer_;
  std::vector<Condition> selection_conditions_;
  std::vector<MaskTensors> selection_masks_;
  int64_t steps_ = 0;
  int64_t start_epoch_ = 0;
  Selection sel_;
  nlohmann::json history_ = nlohmann::json::array();
  std::vector<std::string> part_names_;  // the objective's loss parts (the same on every rank)
  std::optional<fault::StepPoint> nan_grad_;
};

}  // namespace robustmsa

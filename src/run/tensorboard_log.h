// The trainer's TensorBoard curves: a FitObserver that writes event files (io/tensorboard.h) into
// RUN/tensorboard while a run trains, and passes every event on to another observer. train_run
// puts it in front of the caller's observer unless RunOptions::tensorboard is false (the CLI's
// --no-tensorboard). Torch-free.
//
// Tags (step = the 1-based epoch):
//   train/loss, train/<part>      mean training loss per sample and every part the objective names
//   valid/<metric>                the task's metrics on the complete validation split
//   valid/selection_score         the selection score (lower is better)
//   lr                            learning rate of the first parameter group
//   speed/samples_per_s           training throughput
//   test/<condition>/<metric>     the selected weights on every suite condition, at the last epoch
//
// A resumed run (RunStart::start_epoch > 0) opens a new event file, marks a restart at step 1 and
// writes the checkpoint's history (set_history: the records metrics.jsonl is written from) again,
// so that TensorBoard shows exactly the checkpoint's history followed by the resumed epochs
// (docs/python.md, "TensorBoard event files").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "io/tensorboard.h"
#include "robustmsa/observer.h"

namespace robustmsa {

// The per-epoch scalars of one metrics.jsonl record (train_<part>, val_complete, val_score, lr,
// samples_per_s) under the tags above. DataError naming `source` for a record that is not an
// object of numbers where numbers are expected.
std::map<std::string, double> epoch_scalars(const nlohmann::json& record,
                                            const std::string& source);

class TensorBoardLog : public FitObserver {
 public:
  explicit TensorBoardLog(FitObserver* next = nullptr) : next_(next) {}
  // The per-epoch records of the checkpoint a resumed run continues from (metrics.jsonl's).
  void set_history(std::vector<nlohmann::json> records) { history_ = std::move(records); }
  void on_run_start(const RunStart& r) override;
  void on_finished_run(const FinishedRun& r) override;
  void on_epoch_start(const EpochStart& e) override;
  void on_step(const StepProgress& s) override;
  void on_epoch_end(const EpochEnd& e) override;
  void on_early_stop(const EarlyStop& e) override;
  void on_test(const RunResult& r) override;

 private:
  void write(int64_t step, const std::map<std::string, double>& scalars);

  FitObserver* next_;
  std::unique_ptr<TensorBoardWriter> writer_;
  std::vector<nlohmann::json> history_;
  int64_t last_epoch_ = 0;
};

}  // namespace robustmsa

// Watching a training run: the events robustmsa's one training loop (fit) reports while it
// trains, for progress bars, loggers (e.g. TensorBoard) and tests. Torch-free; every value is a
// plain number, string or map, so a Python binding can forward them as they are.
//
// Usage:
//   struct Printer : robustmsa::FitObserver {
//     void on_epoch_end(const robustmsa::EpochEnd& e) override {
//       std::printf("epoch %ld loss %.4f val %.4f\n", long(e.epoch), e.train_loss.at("loss"),
//                   e.val_score);
//     }
//   };
//   Printer printer;
//   robustmsa::RunOptions options;
//   options.observer = &printer;
//   robustmsa::train(config, "runs/umdf", options);
//
// Events come in this order for every seed: on_run_start (or on_finished_run, when a finished run
// of the same configuration is read instead of trained, and nothing else follows), then per epoch
// on_epoch_start, on_step after every optimisation step, on_epoch_end; on_early_stop when patience
// ran out; on_test with the test results of the selected weights. Only the main process of a
// data-parallel job reports. Observers run on the training thread: keep them quick, and do not
// throw (an exception ends the run like any other error).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "metrics/metrics.h"
#include "report/report.h"

namespace robustmsa {

struct RunStart {
  std::string variant;
  int64_t seed = 0;
  std::string run_dir;
  int64_t epochs = 0;           // train.epochs
  int64_t start_epoch = 0;      // 0-based first epoch to train (> 0 after a resume)
  int64_t steps_per_epoch = 0;  // optimisation steps per epoch
  int64_t train_samples = 0;
};

// A finished run of the same configuration was found and its results are read, not trained.
struct FinishedRun {
  std::string variant;
  int64_t seed = 0;
  std::string results_path;
};

struct EpochStart {
  std::string variant;
  int64_t seed = 0;
  int64_t epoch = 0;   // 1-based
  int64_t epochs = 0;  // train.epochs
  int64_t steps = 0;   // steps in this epoch
  int64_t phase = 0;   // the model's training phase (Model::phase_of_epoch)
};

struct StepProgress {
  std::string variant;
  int64_t seed = 0;
  int64_t epoch = 0, epochs = 0;  // 1-based epoch of train.epochs
  int64_t step = 0, steps = 0;    // 1-based step of this epoch's steps
  int64_t samples = 0;            // training samples seen in this epoch so far
  double loss = 0;                // mean training loss over those samples
  double seconds = 0;             // since the epoch started
};

struct EpochEnd {
  std::string variant;
  int64_t seed = 0;
  int64_t epoch = 0, epochs = 0;  // 1-based epoch of train.epochs
  // Mean per training sample: "loss" (the total) and every part the objective names ("task",
  // "pred", ...), as metrics.jsonl records them without the "train_" prefix.
  std::map<std::string, double> train_loss;
  MetricMap validation;   // the task's metrics on the complete validation split
  double val_score = 0;   // selection score: mean task loss over the selection conditions
  bool improved = false;  // val_score is the best so far (these weights are selected)
  double best_score = 0;
  int64_t best_epoch = 0;    // 1-based
  double lr = 0;             // learning rate of the first parameter group
  double train_seconds = 0;  // training steps of this epoch
  double epoch_seconds = 0;  // training and validation
  double samples_per_s = 0;
  double eta_seconds = 0;  // remaining epochs at the mean epoch time so far
};

struct EarlyStop {
  std::string variant;
  int64_t seed = 0;
  int64_t epoch = 0;     // 1-based epoch that was not trained
  int64_t patience = 0;  // train.patience
};

// The progress lines of these events, as the CLI prints them on stderr and the Python package
// shows them (one text for both front ends; src/run/progress_text.cc), e.g.
//   "umdf seed 1111 epoch 3/50 loss 0.8123 val 0.7012 * (best 0.7012 @3) 5120 samples/s ETA 2m10s"
//   "umdf seed 1111 epoch 1/50 step 4/9 loss 0.9000 800 samples/s"        (the live step counter)
//   "umdf seed 1111: early stop, no validation improvement for 10 epochs"
//   "umdf seed 1111: already finished, reading RUN/results.json"
std::string progress_line(const EpochEnd& e);
std::string progress_line(const StepProgress& s);
std::string progress_line(const EarlyStop& e);
std::string progress_line(const FinishedRun& r);
// "42s", "3m05s", "1h02m"; "?" for a negative or non-finite time.
std::string format_seconds(double seconds);

class FitObserver {
 public:
  virtual ~FitObserver() = default;
  virtual void on_run_start(const RunStart&) {}
  virtual void on_finished_run(const FinishedRun&) {}
  virtual void on_epoch_start(const EpochStart&) {}
  virtual void on_step(const StepProgress&) {}
  virtual void on_epoch_end(const EpochEnd&) {}
  virtual void on_early_stop(const EarlyStop&) {}
  virtual void on_test(const RunResult&) {}
};

}  // namespace robustmsa

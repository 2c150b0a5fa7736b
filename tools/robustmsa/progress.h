// The progress lines the tool prints on stderr while it trains (a FitObserver): one line per
// epoch, and on a terminal a live step counter that the epoch line overwrites.
#pragma once

#include "robustmsa/observer.h"

namespace robustmsa::cli {

class ProgressPrinter : public FitObserver {
 public:
  ProgressPrinter();  // a live step counter when stderr is a terminal
  void on_finished_run(const FinishedRun& r) override;
  void on_step(const StepProgress& s) override;
  void on_epoch_end(const EpochEnd& e) override;
  void on_early_stop(const EarlyStop& e) override;

 private:
  bool tty_;
};

}  // namespace robustmsa::cli

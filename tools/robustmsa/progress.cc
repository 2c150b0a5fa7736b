#include "progress.h"

#include <unistd.h>

#include <cstdio>


namespace robustmsa::cli {

ProgressPrinter::ProgressPrinter() : tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::on_finished_run(const FinishedRun& r) {
  std::fprintf(stderr, "%s\n", progress_line(r).c_str());
}

void ProgressPrinter::on_step(const StepProgress& s) {
  if (tty_) std::fprintf(stderr, "\r%s   ", progress_line(s).c_str());
}

void ProgressPrinter::on_epoch_end(const EpochEnd& e) {
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r" : "", progress_line(e).c_str());
}

void ProgressPrinter::on_early_stop(const EarlyStop& e) {
  std::fprintf(stderr, "%s\n", progress_line(e).c_str());
}

}  // namespace robustmsa::cli

#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace robustmsa::cli {

namespace {

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

}  // namespace

ProgressPrinter::ProgressPrinter() : tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::on_finished_run(const FinishedRun& r) {
  std::fprintf(stderr, "%s seed %ld: already finished, reading %s\n", r.variant.c_str(),
               static_cast<long>(r.seed), r.results_path.c_str());
}

void ProgressPrinter::on_step(const StepProgress& s) {
  if (!tty_) return;
  std::fprintf(stderr, "\r%s seed %ld epoch %ld/%ld step %ld/%ld loss %.4f %.0f samples/s   ",
               s.variant.c_str(), static_cast<long>(s.seed), static_cast<long>(s.epoch),
               static_cast<long>(s.epochs), static_cast<long>(s.step), static_cast<long>(s.steps),
               s.loss, s.samples / std::max(s.seconds, 1e-9));
}

void ProgressPrinter::on_epoch_end(const EpochEnd& e) {
  const auto loss = e.train_loss.find("loss");
  std::fprintf(
      stderr,
      "%s%s seed %ld epoch %ld/%ld loss %.4f val %.4f%s (best %.4f @%ld) %.0f samples/s ETA %s\n",
      tty_ ? "\r" : "", e.variant.c_str(), static_cast<long>(e.seed), static_cast<long>(e.epoch),
      static_cast<long>(e.epochs), loss == e.train_loss.end() ? 0.0 : loss->second, e.val_score,
      e.improved ? " *" : "", e.best_score, static_cast<long>(e.best_epoch), e.samples_per_s,
      format_seconds(e.eta_seconds).c_str());
}

void ProgressPrinter::on_early_stop(const EarlyStop& e) {
  std::fprintf(stderr, "%s seed %ld: early stop, no validation improvement for %ld epochs\n",
               e.variant.c_str(), static_cast<long>(e.seed), static_cast<long>(e.patience));
}

}  // namespace robustmsa::cli

#include "robustmsa/observer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace robustmsa {

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

std::string progress_line(const EpochEnd& e) {
  const auto loss = e.train_loss.find("loss");
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s seed %ld epoch %ld/%ld loss %.4f val %.4f%s (best %.4f @%ld) %.0f samples/s "
                "ETA %s",
                e.variant.c_str(), static_cast<long>(e.seed), static_cast<long>(e.epoch),
                static_cast<long>(e.epochs), loss == e.train_loss.end() ? 0.0 : loss->second,
                e.val_score, e.improved ? " *" : "", e.best_score, static_cast<long>(e.best_epoch),
                e.samples_per_s, format_seconds(e.eta_seconds).c_str());
  return buf;
}

std::string progress_line(const StepProgress& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s seed %ld epoch %ld/%ld step %ld/%ld loss %.4f %.0f samples/s",
                s.variant.c_str(), static_cast<long>(s.seed), static_cast<long>(s.epoch),
                static_cast<long>(s.epochs), static_cast<long>(s.step), static_cast<long>(s.steps),
                s.loss, s.samples / std::max(s.seconds, 1e-9));
  return buf;
}

std::string progress_line(const EarlyStop& e) {
  return e.variant + " seed " + std::to_string(e.seed) +
         ": early stop, no validation improvement for " + std::to_string(e.patience) + " epochs";
}

std::string progress_line(const FinishedRun& r) {
  return r.variant + " seed " + std::to_string(r.seed) + ": already finished, reading " +
         r.results_path;
}

}  // namespace robustmsa

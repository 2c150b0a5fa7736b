#include "util/fault.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "util/error.h"

namespace robustmsa::fault {

namespace {

bool is_count(const std::string& t, std::size_t max_digits) {
  return !t.empty() && t.size() <= max_digits &&
         t.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::optional<KillPoint> kill_point_for(const std::string& path) {
  const char* env = std::getenv("ROBUSTMSA_FAULT_KILL");
  if (env == nullptr || *env == '\0') return std::nullopt;
  const std::string spec = env;
  const auto bad = [&]() {
    return UsageError(str("environment variable ROBUSTMSA_FAULT_KILL='", spec,
                          "': expected NAME:N:POINT with N >= 1 and POINT a byte count, "
                          "'rename' or 'done'"));
  };
  const auto c2 = spec.rfind(':');
  const auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : spec.rfind(':', c2 - 1);
  if (c1 == std::string::npos || c1 == 0) throw bad();
  const std::string name = spec.substr(0, c1), nth = spec.substr(c1 + 1, c2 - c1 - 1),
                    point = spec.substr(c2 + 1);
  if (!is_count(nth, 18) || std::stoll(nth) < 1) throw bad();
  KillPoint kp;
  if (point == "rename") {
    kp.kind = KillPoint::kRename;
  } else if (point == "done") {
    kp.kind = KillPoint::kDone;
  } else if (is_count(point, 18)) {
    kp.bytes = static_cast<std::size_t>(std::stoull(point));
  } else {
    throw bad();
  }
  const auto slash = path.find_last_of('/');
  if (path.substr(slash == std::string::npos ? 0 : slash + 1) != name) return std::nullopt;
  static std::mutex mutex;
  static std::map<std::string, long long> writes;  // per file name, in this process
  std::lock_guard<std::mutex> lock(mutex);
  if (++writes[name] != std::stoll(nth)) return std::nullopt;
  return kp;
}

[[noreturn]] void kill_self() {
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached
}

std::optional<StepPoint> nan_grad_step() {
  const char* env = std::getenv("ROBUSTMSA_FAULT_NAN_GRAD");
  if (env == nullptr || *env == '\0') return std::nullopt;
  const std::string spec = env;
  const auto colon = spec.find(':');
  if (colon == std::string::npos || !is_count(spec.substr(0, colon), 9) ||
      !is_count(spec.substr(colon + 1), 9) || std::stoll(spec.substr(0, colon)) < 1 ||
      std::stoll(spec.substr(colon + 1)) < 1)
    throw UsageError(str("environment variable ROBUSTMSA_FAULT_NAN_GRAD='", spec,
                         "': expected EPOCH:STEP, both integers >= 1"));
  return StepPoint{std::stoll(spec.substr(0, colon)) - 1, std::stoll(spec.substr(colon + 1)) - 1};
}

}  // namespace robustmsa::fault

// Fault injection for the tests (docs/security.md): environment switches that make robustmsa fail
// the way a crash, a kill or a numeric overflow would, at a chosen point, so that the tests can
// check that nothing is left half-written and that errors name what failed. Off unless set.
//
//   ROBUSTMSA_FAULT_KILL="NAME:N:POINT"   the N-th atomic write (1-based, per process) of a file
//       named NAME is killed with SIGKILL at POINT: K (after K bytes of the temporary; K >= size:
//       all of them, before fsync), "rename" (complete and fsynced, before the rename) or "done"
//       (right after the rename). Used by util/fs.cc write_file_atomic.
//   ROBUSTMSA_FAULT_NAN_GRAD="EPOCH:STEP" (1-based)   the first defined parameter gradient of that
//       training step is made NaN just before the gradient-norm check, as an overflow in the
//       backward pass would. Used by the trainer's train_step.
// A malformed value is a UsageError naming the variable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace robustmsa::fault {

// Where ROBUSTMSA_FAULT_KILL kills this write of `path`, if it applies to it (counting the write).
struct KillPoint {
  enum Kind { kBytes, kRename, kDone } kind = kBytes;
  std::size_t bytes = 0;
};
std::optional<KillPoint> kill_point_for(const std::string& path);
[[noreturn]] void kill_self();  // SIGKILL to this process

// ROBUSTMSA_FAULT_NAN_GRAD as a 0-based (epoch, step); nullopt when unset.
struct StepPoint {
  int64_t epoch = 0, step = 0;
};
std::optional<StepPoint> nan_grad_step();

}  // namespace robustmsa::fault

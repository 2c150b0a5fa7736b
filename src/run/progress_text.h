// The progress lines of a training run, as the CLI prints them on stderr and the Python package
// shows them (one text for both front ends). Torch-free.
#pragma once

#include <string>

#include "robustmsa/observer.h"

namespace robustmsa {

// "42s", "3m05s", "1h02m"; "?" for a negative or non-finite time.
std::string format_seconds(double seconds);

// "umdf seed 1111 epoch 3/50 loss 0.8123 val 0.7012 * (best 0.7012 @3) 5120 samples/s ETA 2m10s"
std::string progress_line(const EpochEnd& e);
// "umdf seed 1111 epoch 1/50 step 4/9 loss 0.9000 800 samples/s" (the live step counter).
std::string progress_line(const StepProgress& s);
// "umdf seed 1111: early stop, no validation improvement for 10 epochs"
std::string progress_line(const EarlyStop& e);
// "umdf seed 1111: already finished, reading RUN/results.json"
std::string progress_line(const FinishedRun& r);

}  // namespace robustmsa

// Tiny model inputs shared by the model tests: an input spec with small, deliberately unaligned
// sizes and a random batch with end padding.
#pragma once

#include <torch/torch.h>

#include <array>

#include "nn/batch.h"

namespace robustmsa::test_util {

// Dims 7/5/3; lengths 6/8/5 (unaligned) or 6/6/6 (aligned): small enough to keep suites fast.
inline InputSpec tiny_spec(Task task, bool aligned = false) {
  InputSpec spec;
  spec.dim = {7, 5, 3};
  spec.len = aligned ? std::array<int64_t, 3>{6, 6, 6} : std::array<int64_t, 3>{6, 8, 5};
  spec.task = task;
  spec.train_size = 16;  // rows of per-training-sample state (Self-MM); test batches use 0..B-1
  return spec;
}

// Random features; row i has (i % pad_period) padding frames at the end (at least one valid
// frame); nothing missing; regression labels ~ N(0, label_scale^2), IEMOCAP classes uniform.
inline Batch random_batch(const InputSpec& spec, int64_t b, uint64_t seed, int64_t pad_period,
                          double label_scale) {
  torch::manual_seed(seed);
  Batch batch;
  for (int m = 0; m < kNumModalities; ++m) {
    const int64_t t = spec.len[m];
    auto lengths = (t - torch::arange(b) % pad_period).clamp_min(1);        // (B)
    batch.valid[m] = torch::arange(t).unsqueeze(0) < lengths.unsqueeze(1);  // (B, T)
    batch.keep[m] = torch::ones({b, t}, torch::kBool);
    batch.x[m] = torch::randn({b, t, spec.dim[m]}) * batch.valid[m].unsqueeze(-1);
  }
  batch.present = torch::ones({b, 3}, torch::kBool);
  batch.label = spec.task == Task::kIemocap ? torch::randint(0, 2, {b, 4}, torch::kLong)
                                            : torch::randn({b}) * label_scale;
  batch.index = torch::arange(b);
  return batch;
}

}  // namespace robustmsa::test_util

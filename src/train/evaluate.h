// Evaluation: predictions of a model on a split under a protocol condition, and the metrics of
// every condition of a suite (DESIGN §3, §4). Used by the trainer (validation, final test) and
// by the eval / compare / predict commands.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "data/protocol.h"
#include "metrics/metrics.h"
#include "nn/model.h"
#include "report/report.h"
#include "train/tensors.h"

namespace robustmsa {

// Predictions for every row of `split` (eval mode, no autograd): (N) or (N, 4, 2).
torch::Tensor predict(Model& model, const SplitTensors& split, const MaskTensors* masks,
                      int64_t batch_size);

// The task's metrics of predictions against labels (regression_metrics, sims_metrics or
// iemocap_metrics).
MetricMap score(const torch::Tensor& prediction, const torch::Tensor& label, Task task);

// Every condition of `conditions` on one split with masks of `mask_seed`.
std::vector<ConditionResult> evaluate_conditions(Model& model, const Split& split,
                                                 const SplitTensors& tensors,
                                                 const std::vector<Condition>& conditions,
                                                 uint64_t mask_seed, int64_t batch_size, Task task);

}  // namespace robustmsa

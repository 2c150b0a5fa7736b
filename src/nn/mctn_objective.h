// MCTN's objective (Pham et al., AAAI 2019, Eq. 9; weights from MMSA's MCTN): task loss plus the
// translation, cycle and second-level translation MSEs. See nn/mctn.h.
#pragma once

#include <torch/types.h>

#include "nn/model.h"

namespace robustmsa {

// Mean squared error of pred vs target (B, T, D) over the frames where valid (B, T) is true;
// 0 when there are none.
torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target,
                         const torch::Tensor& valid);

// L = task_weight * task + translation_weight * MSE(â, a) + cycle_weight * MSE(t̂, t)
//     + second_weight * MSE(v̂, v). Parts: task, translation, cycle, second.
Losses mctn_objective(Model& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa

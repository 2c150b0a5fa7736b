#include "nn/batch.h"

#include <torch/torch.h>

namespace robustmsa {

torch::Tensor frame_mask(const Batch& batch, int m) {
  return batch.valid[m] & batch.keep[m] & batch.present.select(1, m).unsqueeze(1);  // (B, T_m)
}

std::array<torch::Tensor, 3> frame_masks(const Batch& batch) {
  return {frame_mask(batch, 0), frame_mask(batch, 1), frame_mask(batch, 2)};
}

}  // namespace robustmsa

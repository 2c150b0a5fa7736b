#include "nn/batch.h"

#include <torch/torch.h>

namespace robustmsa {

namespace {

// Labels are absent in `predict`; undefined tensors stay undefined instead of failing.
torch::Tensor move(const torch::Tensor& t, const torch::Device& device) {
  return t.defined() ? t.to(device) : t;
}

}  // namespace

Batch Batch::to(const torch::Device& device) const {
  Batch out;
  for (int m = 0; m < 3; ++m) {
    out.x[m] = move(x[m], device);
    out.valid[m] = move(valid[m], device);
    out.keep[m] = move(keep[m], device);
  }
  out.present = move(present, device);
  out.label = move(label, device);
  out.index = move(index, device);
  out.text_ids = move(text_ids, device);
  return out;
}

}  // namespace robustmsa

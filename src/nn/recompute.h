// Activation recomputation ("gradient checkpointing") for CPU training: run a block without
// keeping its intermediate activations, and recompute them in backward.
//
// Why: MulT on MMSA's unaligned MOSI shapes (vision 500, audio 375 frames) at batch 128 keeps
// about 14 activations of width d per frame and transformer layer, over 5 GB in all; with
// recomputation a layer keeps only its input, and only one layer's activations live at a time
// during backward. The price is one more forward pass of the block.
//
// Usage:
//   auto y = recompute([&](const torch::Tensor& x, const torch::Tensor& m) { return f(x, m); },
//                      x, memory);  // memory may be undefined
//
// The block may use the default CPU generator (dropout): its state before the block is saved
// and restored around the recomputation, so backward sees exactly the masks forward used, and
// the generator ends where it would have without recomputation. Gradients reach `x`, `memory`
// and every parameter the block uses (through a nested backward, as PyTorch's reentrant
// torch.utils.checkpoint does). CPU tensors only; callers run the block directly elsewhere.
#pragma once

#include <torch/types.h>

#include <functional>

namespace robustmsa {

using RecomputeFn = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

torch::Tensor recompute(RecomputeFn fn, const torch::Tensor& x, const torch::Tensor& memory);

}  // namespace robustmsa

// Batched matrix product for many small matrices, C[n] = A[n] @ B[n], with autograd.
//
// Why: LibTorch 1.13 on CPU runs bmm as one GEMM call per batch element. Attention with B = 128
// samples and 10 heads makes 1280 calls of a 50 x 4 x 100 product per bmm, and the per-call
// overhead (dispatch, slicing, BLAS set-up) is about a hundred times the arithmetic: a MOSI-sized
// UMDF step spent 10 of its 17 seconds there. This kernel runs the whole batch in one pass,
// parallel over the batch, with a contiguous inner loop the compiler vectorises. On other devices
// (CUDA) and for large matrices it calls torch::matmul.
#pragma once

#include <torch/types.h>

namespace robustmsa {

// a (N, M, K), b (N, K, P) -> (N, M, P). Any leading batch shape is allowed as long as both
// inputs have the same one, e.g. (B, H, M, K) @ (B, H, K, P).
torch::Tensor small_matmul(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace robustmsa

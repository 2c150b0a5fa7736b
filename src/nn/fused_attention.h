// Fused masked softmax attention for CPU float32, with autograd.
//
// Why: on LibTorch 1.13 (CPU, no scaled_dot_product_attention) the composed path materialises
// the (B, H, Tq, Tk) score map and runs about twenty full passes over it per attention (scores,
// mask add, softmax, Bernoulli mask, multiply, the second matmul and all their backwards). With
// B = 256, H = 10, Tq = 50, Tk = 100 that is 12.8 M floats per map, far outside the caches, and a
// MOSI-sized UMDF step spent most of its time streaming these maps. This kernel works one
// (batch, head) at a time, one query row at a time, in small per-thread buffers that stay in L1:
// scores, mask, softmax, dropout and the product with V happen while the row is hot. Like
// FlashAttention it keeps only q, k, v, the mask and the per-row log-sum-exp for backward and
// recomputes the weights there; the dropout mask is a counter-based hash of (seed, index) so
// backward regenerates it instead of storing it.
//
// Usage:
//   auto out = fused_attention(q, k, v, allowed, 1.0 / std::sqrt(dh), 0.1, is_training());
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace robustmsa {

// Masked multi-head attention.
//   q (B, H, Tq, dh), k (B, H, Tk, dh), v (B, H, Tk, dh): float32 on CPU, any strides.
//   allowed (B, 1, 1 | Tq, Tk) bool: which keys each query may use; broadcast over heads and,
//     when dim 2 is 1, over queries.
// Returns (B, H, Tq, dh) = softmax over allowed keys of scale * q.k, with inverted dropout of
// probability `dropout` on the weights when `training`, times v. A query row without any allowed
// key outputs 0 and passes zero gradients. Differentiable in q, k and v. Throws RunError on other
// devices, dtypes or mismatched shapes (callers keep a composed path for those).
torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& allowed, double scale,
                              double dropout, bool training);

// The same with an explicit dropout seed (dropout applies whenever dropout > 0). fused_attention
// draws its seed with fused_attention_draw_seed(), so after torch::manual_seed(s) both agree.
torch::Tensor fused_attention_with_seed(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& allowed,
                                        double scale, double dropout, uint64_t seed);

// Whether the kernels run their AVX2 + FMA versions (the CPU has both and ROBUSTMSA_NO_AVX2 is
// unset or "0"); otherwise the generic ones.
bool fused_attention_uses_avx2();

// One 64-bit draw from torch's default CPU generator (under its mutex).
uint64_t fused_attention_draw_seed();

// The keep mask (B, H, Tq, Tk) bool that a call with this seed and dropout applies; for tests.
torch::Tensor fused_attention_keep_mask(int64_t b, int64_t h, int64_t tq, int64_t tk,
                                        double dropout, uint64_t seed);

}  // namespace robustmsa

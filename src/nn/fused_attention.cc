#include "nn/fused_attention.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/error.h"
#include "util/hash.h"

namespace robustmsa {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The row helpers are inlined into both instantiations of the kernels below (generic and, on
// x86-64, AVX2 + FMA): a function without a target attribute may be inlined into one with a
// wider target, and always_inline makes sure it is, so the AVX2 copies get 256-bit loops.
#if defined(__GNUC__) || defined(__clang__)
#define ROBUSTMSA_ROW_INLINE inline __attribute__((always_inline))
#else
#define ROBUSTMSA_ROW_INLINE inline
#endif

// ---- row helpers (contiguous, written so -O2/-O3 vectorises them without fast-math) ----------

// sum_j a[j] * b[j]. Eight independent partial sums let the compiler use vector lanes without
// reassociating a single float accumulator (which it may not do without -ffast-math).
ROBUSTMSA_ROW_INLINE float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

// y[j] += alpha * x[j].
ROBUSTMSA_ROW_INLINE void axpy(float* __restrict y, const float* __restrict x, float alpha,
                               int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += alpha * x[j];
}

// sum_j x[j], with eight partial sums as in dot().
ROBUSTMSA_ROW_INLINE float sum_row(const float* __restrict x, int64_t n) {
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[j + l];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; ++j) s += x[j];
  return s;
}

// (rows, cols) -> (cols, rows).
ROBUSTMSA_ROW_INLINE void transpose(const float* __restrict src, float* __restrict dst,
                                    int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// ---- dropout mask -----------------------------------------------------------------------------

// Counter-based keep mask, so that backward recomputes exactly the bits forward used without
// storing a mask: row r (flat (b, h, i)) gets a 32-bit key from SplitMix64(seed, r), and element
// j of the row the bits of a bijective 32-bit mixer (Wellons' "lowbias32") applied to
// key ^ (j * golden ratio). The per-element part is 32-bit integer arithmetic only, so the
// compiler vectorises it (SplitMix64 per element needs 64-bit multiplies and was half of the
// kernel's time). An element is kept when its bits are below keep_threshold =
// round((1 - p) * 2^32), saturated to 2^32 - 1 (so a p below 2^-32 still drops with probability
// 2^-32).
ROBUSTMSA_ROW_INLINE uint32_t element_bits(uint32_t key, uint32_t j) {
  uint32_t x = key ^ (j * 0x9E3779B9u);
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

struct Dropout {
  bool on = false;
  uint64_t seed = 0;
  uint32_t keep_threshold = 0xFFFFFFFFu;
  float rescale = 1.f;  // 1 / (1 - p), or 0 when p == 1 (everything dropped)

  Dropout(double p, uint64_t s) : on(p > 0), seed(s) {
    if (!on) return;
    const double t = std::round((1.0 - p) * 4294967296.0);
    keep_threshold = t >= 4294967295.0 ? 0xFFFFFFFFu : static_cast<uint32_t>(t);
    rescale = p < 1 ? static_cast<float>(1.0 / (1.0 - p)) : 0.f;
  }

  // factor[j - lo] = rescale if element j in [lo, lo + n) of row `row` (flat (b, h, i)) is kept,
  // else 0.
  ROBUSTMSA_ROW_INLINE void row(uint64_t row, int64_t lo, int64_t n,
                                float* __restrict factor) const {
    const uint32_t key = static_cast<uint32_t>(splitmix64(seed, row) >> 32);
    const uint32_t threshold = keep_threshold;
    const float keep = rescale;
    for (int64_t j = 0; j < n; ++j)
      factor[j] = element_bits(key, static_cast<uint32_t>(lo + j)) < threshold ? keep : 0.f;
  }
};

// ---- exponential, masks and maxima -------------------------------------------------------------

// mask[j] * exp(x[j] - shift) with mask[j] in {0, 1}, written so that the compiler
// vectorises it (a call to expf per element cannot be): Cody-Waite range reduction
// x = n ln2 + r with |r| <= ln2 / 2, a degree-6 polynomial for e^r (Cephes' expf coefficients,
// relative error about 2e-7), and 2^n built from its exponent bits. Arguments are clamped to
// [-87, 88]: below -87 the result is e^-87 = 1.6e-38 rather than smaller, which cannot change a
// float32 softmax whose largest weight is 1. In place: x[j] = mask[j] * exp(x[j] - shift) (a
// separate output that may alias the input would make the compiler fall back to scalar code).
ROBUSTMSA_ROW_INLINE void masked_exp_row(float* __restrict x, float shift,
                                         const float* __restrict mask, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float t0 = x[j] - shift;
    float t = t0 >= -87.f ? t0 : -87.f;  // also NaN -> -87 (restored below)
    t = t <= 88.f ? t : 88.f;
    // Round t / ln2 to the nearest integer with the 1.5 * 2^23 trick (exact for |t / ln2| < 2^22).
    const float nf = (t * 1.44269504088896341f + 12582912.f) - 12582912.f;
    float r = t - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(nf) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    // t0 - t0 is 0 for finite t0 and NaN for NaN or infinite t0: bad scores stay visible.
    x[j] = p * scale * mask[j] + (t0 - t0);
  }
}

// m[j] = a[j] ? 1 : 0 (bool rows become float rows once, so the loops above stay vectorised).
ROBUSTMSA_ROW_INLINE void mask_to_float(const bool* a, int64_t n, float* __restrict m) {
  const auto* u = reinterpret_cast<const unsigned char*>(a);
  for (int64_t j = 0; j < n; ++j) m[j] = static_cast<float>(u[j] != 0);
}

// The span [lo, hi) from the first to the last allowed key of a 0/1 mask row (lo == hi when none
// is allowed). Keys outside it have weight 0, so the row loops skip them: with MulT's causal
// masks and key padding that is a large part of every map.
ROBUSTMSA_ROW_INLINE void allowed_span(const float* m, int64_t n, int64_t* lo, int64_t* hi) {
  int64_t a = 0, b = n;
  while (a < n && m[a] == 0.f) ++a;
  while (b > a && m[b - 1] == 0.f) --b;
  *lo = a;
  *hi = b;
}

// max over j with mask[j] != 0 of x[j]; -inf when no element is allowed. SSE2 where the compiler
// targets it (GCC does not vectorise a max reduction that must honour NaN semantics).
ROBUSTMSA_ROW_INLINE float masked_max_row(const float* __restrict x, const float* __restrict mask,
                                          int64_t n) {
  float mx = -kInf;
  int64_t j = 0;
#if defined(__SSE2__)
  const __m128 neg_inf = _mm_set1_ps(-kInf), zero = _mm_setzero_ps();
  __m128 acc = neg_inf;
  for (; j + 4 <= n; j += 4) {
    const __m128 allowed = _mm_cmpgt_ps(_mm_loadu_ps(mask + j), zero);
    const __m128 v =
        _mm_or_ps(_mm_and_ps(allowed, _mm_loadu_ps(x + j)), _mm_andnot_ps(allowed, neg_inf));
    acc = _mm_max_ps(acc, v);
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
  mx = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
#endif
  for (; j < n; ++j)
    if (mask[j] != 0.f) mx = std::max(mx, x[j]);
  return mx;
}

// ---- shapes -----------------------------------------------------------------------------------

struct Dims {
  int64_t b, h, tq, tk, dh;
  int64_t aq;  // allowed.size(2): 1 (one key mask per sample) or Tq (one per query)
};

Dims check_shapes(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                  const torch::Tensor& allowed) {
  for (const auto* t : {&q, &k, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat32)
      throw RunError(str("fused_attention: got a ", t->scalar_type(), " tensor on ", t->device(),
                         "; expected float32 on CPU"));
    if (t->dim() != 4)
      throw RunError(
          str("fused_attention: got q/k/v of shape ", t->sizes(), "; expected (B, H, T, dh)"));
  }
  Dims d{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), 0};
  if (k.size(0) != d.b || k.size(1) != d.h || k.size(3) != d.dh || v.sizes() != k.sizes())
    throw RunError(str("fused_attention: q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes(),
                       "; expected (B, H, Tq, dh), (B, H, Tk, dh), (B, H, Tk, dh)"));
  if (allowed.dim() != 4 || allowed.size(0) != d.b || allowed.size(1) != 1 ||
      (allowed.size(2) != 1 && allowed.size(2) != d.tq) || allowed.size(3) != d.tk ||
      allowed.scalar_type() != torch::kBool || !allowed.device().is_cpu())
    throw RunError(str("fused_attention: allowed mask is ", allowed.scalar_type(), " ",
                       allowed.sizes(), "; expected bool on CPU of shape (", d.b, ", 1, 1 or ",
                       d.tq, ", ", d.tk, ")"));
  d.aq = allowed.size(2);
  return d;
}

// Grain for at::parallel_for over the B * H (batch, head) pairs: enough pairs per task to
// amortise the hand-off when the maps are tiny.
int64_t grain_of(const Dims& d) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, d.tq * d.tk * (d.dh + 1)));
}

// Scores of query row i against n keys: s[j] = scale * q_i . k_j, with kt pointing at the first
// of them in K^T (dh rows of `stride` floats).
ROBUSTMSA_ROW_INLINE void score_row(const float* __restrict qi, const float* __restrict kt,
                                    int64_t stride, float scale, int64_t dh, int64_t n,
                                    float* __restrict s) {
  std::fill(s, s + n, 0.f);
  for (int64_t e = 0; e < dh; ++e) axpy(s, kt + e * stride, scale * qi[e], n);
}

// ---- instruction set --------------------------------------------------------------------------

// On x86-64 with GCC or Clang the kernels are compiled twice: generic (SSE2, the x86-64 baseline)
// and with AVX2 + FMA, chosen at run time by the CPU (ROBUSTMSA_NO_AVX2=1 forces the generic
// ones, e.g. to compare them). FMA rounds a * b + c once, so the two differ in the last bits.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ROBUSTMSA_AVX2_KERNELS 1
#else
#define ROBUSTMSA_AVX2_KERNELS 0
#endif

bool use_avx2() {
#if ROBUSTMSA_AVX2_KERNELS
  static const bool avx2 = [] {
    const char* off = std::getenv("ROBUSTMSA_NO_AVX2");
    if (off != nullptr && *off != '\0' && std::string(off) != "0") return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return avx2;
#else
  return false;
#endif
}

// ---- forward ----------------------------------------------------------------------------------

// Writes out (B, H, Tq, dh) and lse (B, H, Tq): per-row log-sum-exp of the allowed scores, +inf
// for rows without an allowed key (so that exp(s - lse) is 0 there in backward).
// Pairs (batch, head) in [begin, end).
ROBUSTMSA_ROW_INLINE void forward_range(const Dims& d, const float* q, const float* k,
                                        const float* v, const bool* allowed, float scale,
                                        const Dropout& drop, float* out, float* lse, int64_t begin,
                                        int64_t end) {
  {
    std::vector<float> buf(2 * d.dh * d.tk + 3 * d.tk);
    float* kt = buf.data();        // (dh, Tk)
    float* vt = kt + d.dh * d.tk;  // (dh, Tk)
    float* s = vt + d.dh * d.tk;   // (Tk): scores, then weights
    float* f = s + d.tk;           // (Tk): dropout factors
    float* m = f + d.tk;           // (Tk): the allowed mask as 0/1
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t bi = bh / d.h;
      const float* Q = q + bh * d.tq * d.dh;  // (Tq, dh)
      transpose(k + bh * d.tk * d.dh, kt, d.tk, d.dh);
      transpose(v + bh * d.tk * d.dh, vt, d.tk, d.dh);
      const bool* A = allowed + bi * d.aq * d.tk;  // (1 | Tq, Tk)
      float* O = out + bh * d.tq * d.dh;           // (Tq, dh)
      float* L = lse + bh * d.tq;                  // (Tq)
      int64_t lo = 0, hi = 0;  // allowed keys of the row: within [lo, hi), n of them
      if (d.aq == 1) {
        mask_to_float(A, d.tk, m);
        allowed_span(m, d.tk, &lo, &hi);
      }
      for (int64_t i = 0; i < d.tq; ++i) {
        if (d.aq != 1) {
          mask_to_float(A + i * d.tk, d.tk, m);
          allowed_span(m, d.tk, &lo, &hi);
        }
        const int64_t n = hi - lo;
        score_row(Q + i * d.dh, kt + lo, d.tk, scale, d.dh, n, s);
        const float mx = masked_max_row(s, m + lo, n);
        if (mx == -kInf) {  // no allowed key: output 0
          L[i] = kInf;
          std::fill(O + i * d.dh, O + (i + 1) * d.dh, 0.f);
          continue;
        }
        masked_exp_row(s, mx, m + lo, n);
        const float sum = sum_row(s, n);
        L[i] = mx + std::log(sum);
        const float inv = 1.f / sum;
        if (drop.on) {
          drop.row(static_cast<uint64_t>(bh * d.tq + i), lo, n, f);
          for (int64_t j = 0; j < n; ++j) s[j] *= inv * f[j];
        } else {
          for (int64_t j = 0; j < n; ++j) s[j] *= inv;
        }
        for (int64_t e = 0; e < d.dh; ++e) O[i * d.dh + e] = dot(s, vt + e * d.tk + lo, n);
      }
    }
  }
}

void forward_range_generic(const Dims& d, const float* q, const float* k, const float* v,
                           const bool* allowed, float scale, const Dropout& drop, float* out,
                           float* lse, int64_t begin, int64_t end) {
  forward_range(d, q, k, v, allowed, scale, drop, out, lse, begin, end);
}

#if ROBUSTMSA_AVX2_KERNELS
__attribute__((target("avx2,fma"))) void forward_range_avx2(
    const Dims& d, const float* q, const float* k, const float* v, const bool* allowed, float scale,
    const Dropout& drop, float* out, float* lse, int64_t begin, int64_t end) {
  forward_range(d, q, k, v, allowed, scale, drop, out, lse, begin, end);
}
#endif

void forward_kernel(const Dims& d, const float* q, const float* k, const float* v,
                    const bool* allowed, float scale, const Dropout& drop, float* out, float* lse) {
  const bool avx2 = use_avx2();
  at::parallel_for(0, d.b * d.h, grain_of(d), [&](int64_t begin, int64_t end) {
#if ROBUSTMSA_AVX2_KERNELS
    if (avx2) return forward_range_avx2(d, q, k, v, allowed, scale, drop, out, lse, begin, end);
#endif
    (void)avx2;
    forward_range_generic(d, q, k, v, allowed, scale, drop, out, lse, begin, end);
  });
}

// ---- backward ---------------------------------------------------------------------------------

// With P the softmax weights, F the dropout factors (mask / (1 - p), or 1) and out = (P * F) V:
//   dV = (P * F)^T dO,  dP' = (dO V^T) * F,  dS = P * (dP' - rowsum(dP' * P)),
//   dQ = scale * dS K,  dK = scale * dS^T Q.
// Each (batch, head) owns its slices of dQ, dK and dV, so the parallel loop has no races.
ROBUSTMSA_ROW_INLINE void backward_range(const Dims& d, const float* q, const float* k,
                                         const float* v, const bool* allowed, const float* lse,
                                         const float* dout, float scale, const Dropout& drop,
                                         float* dq, float* dk, float* dv, int64_t begin,
                                         int64_t end) {
  {
    const int64_t mat = d.dh * d.tk;
    std::vector<float> buf(4 * mat + 5 * d.tk);
    float* kt = buf.data();  // (dh, Tk)
    float* vt = kt + mat;    // (dh, Tk)
    float* dkt = vt + mat;   // (dh, Tk)
    float* dvt = dkt + mat;  // (dh, Tk)
    float* p = dvt + mat;    // (Tk): softmax weights P
    float* pf = p + d.tk;    // (Tk): P * F
    float* g = pf + d.tk;    // (Tk): dP', then dS
    float* f = g + d.tk;     // (Tk): dropout factors F
    float* m = f + d.tk;     // (Tk): the allowed mask as 0/1
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t bi = bh / d.h;
      const float* Q = q + bh * d.tq * d.dh;      // (Tq, dh)
      const float* dO = dout + bh * d.tq * d.dh;  // (Tq, dh)
      const float* L = lse + bh * d.tq;           // (Tq)
      const bool* A = allowed + bi * d.aq * d.tk;
      float* dQ = dq + bh * d.tq * d.dh;  // (Tq, dh)
      transpose(k + bh * d.tk * d.dh, kt, d.tk, d.dh);
      transpose(v + bh * d.tk * d.dh, vt, d.tk, d.dh);
      std::fill(dkt, dkt + 2 * mat, 0.f);  // dkt and dvt
      // Only the span [lo, hi) of allowed keys (see allowed_span); the row buffers hold its
      // n = hi - lo entries, the (dh, Tk) matrices are offset by lo.
      int64_t lo = 0, hi = 0;
      if (d.aq == 1) {
        mask_to_float(A, d.tk, m);
        allowed_span(m, d.tk, &lo, &hi);
      }
      for (int64_t i = 0; i < d.tq; ++i) {
        const float* qi = Q + i * d.dh;
        const float* go = dO + i * d.dh;
        if (L[i] == kInf) {  // row without an allowed key: output was 0, gradients are 0
          std::fill(dQ + i * d.dh, dQ + (i + 1) * d.dh, 0.f);
          continue;
        }
        if (d.aq != 1) {
          mask_to_float(A + i * d.tk, d.tk, m);
          allowed_span(m, d.tk, &lo, &hi);
        }
        const int64_t n = hi - lo;
        score_row(qi, kt + lo, d.tk, scale, d.dh, n, p);
        masked_exp_row(p, L[i], m + lo, n);
        if (drop.on) {
          drop.row(static_cast<uint64_t>(bh * d.tq + i), lo, n, f);
        } else {
          std::fill(f, f + n, 1.f);
        }
        for (int64_t j = 0; j < n; ++j) pf[j] = p[j] * f[j];
        std::fill(g, g + n, 0.f);
        for (int64_t e = 0; e < d.dh; ++e) {
          axpy(dvt + e * d.tk + lo, pf, go[e], n);  // dV^T[e, :] += dO[i, e] * (P * F)[i, :]
          axpy(g, vt + e * d.tk + lo, go[e], n);    // (dO V^T)[i, :]
        }
        for (int64_t j = 0; j < n; ++j) g[j] *= f[j];  // dP'
        const float rs = dot(g, p, n);
        for (int64_t j = 0; j < n; ++j) g[j] = p[j] * (g[j] - rs);  // dS
        for (int64_t e = 0; e < d.dh; ++e) {
          dQ[i * d.dh + e] = scale * dot(g, kt + e * d.tk + lo, n);
          axpy(dkt + e * d.tk + lo, g, scale * qi[e], n);
        }
      }
      transpose(dkt, dk + bh * d.tk * d.dh, d.dh, d.tk);
      transpose(dvt, dv + bh * d.tk * d.dh, d.dh, d.tk);
    }
  }
}

void backward_range_generic(const Dims& d, const float* q, const float* k, const float* v,
                            const bool* allowed, const float* lse, const float* dout, float scale,
                            const Dropout& drop, float* dq, float* dk, float* dv, int64_t begin,
                            int64_t end) {
  backward_range(d, q, k, v, allowed, lse, dout, scale, drop, dq, dk, dv, begin, end);
}

#if ROBUSTMSA_AVX2_KERNELS
__attribute__((target("avx2,fma"))) void backward_range_avx2(
    const Dims& d, const float* q, const float* k, const float* v, const bool* allowed,
    const float* lse, const float* dout, float scale, const Dropout& drop, float* dq, float* dk,
    float* dv, int64_t begin, int64_t end) {
  backward_range(d, q, k, v, allowed, lse, dout, scale, drop, dq, dk, dv, begin, end);
}
#endif

void backward_kernel(const Dims& d, const float* q, const float* k, const float* v,
                     const bool* allowed, const float* lse, const float* dout, float scale,
                     const Dropout& drop, float* dq, float* dk, float* dv) {
  const bool avx2 = use_avx2();
  at::parallel_for(0, d.b * d.h, grain_of(d), [&](int64_t begin, int64_t end) {
#if ROBUSTMSA_AVX2_KERNELS
    if (avx2)
      return backward_range_avx2(d, q, k, v, allowed, lse, dout, scale, drop, dq, dk, dv, begin,
                                 end);
#endif
    (void)avx2;
    backward_range_generic(d, q, k, v, allowed, lse, dout, scale, drop, dq, dk, dv, begin, end);
  });
}

// ---- autograd ---------------------------------------------------------------------------------

class FusedAttention : public torch::autograd::Function<FusedAttention> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& k_in, const torch::Tensor& v_in,
                               const torch::Tensor& allowed_in, double scale, double dropout,
                               int64_t seed) {
    const Dims d = check_shapes(q_in, k_in, v_in, allowed_in);
    auto q = q_in.contiguous();
    auto k = k_in.contiguous();
    auto v = v_in.contiguous();
    auto allowed = allowed_in.contiguous();
    auto out = torch::empty({d.b, d.h, d.tq, d.dh}, q.options());  // (B, H, Tq, dh)
    auto lse = torch::empty({d.b, d.h, d.tq}, q.options());        // (B, H, Tq)
    const Dropout drop(dropout, static_cast<uint64_t>(seed));
    forward_kernel(d, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(),
                   allowed.data_ptr<bool>(), static_cast<float>(scale), drop, out.data_ptr<float>(),
                   lse.data_ptr<float>());
    ctx->save_for_backward({q, k, v, allowed, lse});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout"] = dropout;
    ctx->saved_data["seed"] = seed;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &q = saved[0], &k = saved[1], &v = saved[2], &allowed = saved[3], &lse = saved[4];
    const Dims d = check_shapes(q, k, v, allowed);
    const double scale = ctx->saved_data["scale"].toDouble();
    const Dropout drop(ctx->saved_data["dropout"].toDouble(),
                       static_cast<uint64_t>(ctx->saved_data["seed"].toInt()));
    auto dout = grads[0].contiguous();  // (B, H, Tq, dh)
    auto dq = torch::empty_like(q);     // (B, H, Tq, dh)
    auto dk = torch::empty_like(k);     // (B, H, Tk, dh)
    auto dv = torch::empty_like(v);     // (B, H, Tk, dh)
    backward_kernel(d, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(),
                    allowed.data_ptr<bool>(), lse.data_ptr<float>(), dout.data_ptr<float>(),
                    static_cast<float>(scale), drop, dq.data_ptr<float>(), dk.data_ptr<float>(),
                    dv.data_ptr<float>());
    // One entry per forward argument: no gradient for the mask, scale, dropout and seed.
    return {dq, dk, dv, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

void check_dropout(double dropout) {
  if (!(dropout >= 0.0 && dropout <= 1.0))
    throw RunError(str("fused_attention: dropout probability ", dropout, "; expected [0, 1]"));
}

}  // namespace

bool fused_attention_uses_avx2() { return use_avx2(); }

uint64_t fused_attention_draw_seed() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

torch::Tensor fused_attention_with_seed(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& allowed,
                                        double scale, double dropout, uint64_t seed) {
  check_dropout(dropout);
  // The seed travels as int64 through the autograd context; the bit pattern is preserved.
  return FusedAttention::apply(q, k, v, allowed, scale, dropout, static_cast<int64_t>(seed));
}

torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& allowed, double scale,
                              double dropout, bool training) {
  check_dropout(dropout);
  if (!training || dropout == 0.0)
    return fused_attention_with_seed(q, k, v, allowed, scale, 0.0, 0);
  return fused_attention_with_seed(q, k, v, allowed, scale, dropout, fused_attention_draw_seed());
}

torch::Tensor fused_attention_keep_mask(int64_t b, int64_t h, int64_t tq, int64_t tk,
                                        double dropout, uint64_t seed) {
  check_dropout(dropout);
  if (dropout == 0.0) return torch::ones({b, h, tq, tk}, torch::kBool);
  auto factors = torch::empty({b, h, tq, tk}, torch::kFloat32);  // (B, H, Tq, Tk)
  const Dropout drop(dropout, seed);
  float* f = factors.data_ptr<float>();
  for (int64_t r = 0; r < b * h * tq; ++r) drop.row(static_cast<uint64_t>(r), 0, tk, f + r * tk);
  // p == 1 makes every factor 0, which is also "dropped".
  return factors > 0;
}

}  // namespace robustmsa

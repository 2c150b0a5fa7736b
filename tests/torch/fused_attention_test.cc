// The fused CPU attention kernel against a reference composition of torch ops: forward output
// and q/k/v gradients for several shapes and masks (per-sample key masks, causal per-query masks,
// fully masked rows), dropout with the kernel's own keep mask, determinism under manual_seed,
// eval mode, and MaskedAttention using the kernel on CPU float32.
#include "nn/fused_attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "nn/layers.h"
#include "util/error.h"

namespace robustmsa {
namespace {

// Reference: softmax over allowed keys of scale * q.k, weights times `keep` / (1 - p), @ v, rows
// without an allowed key set to 0. Built from differentiable torch ops.
torch::Tensor reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed, double scale, double p,
                        const torch::Tensor& keep) {
  auto scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, H, Tq, Tk)
  scores = scores.masked_fill(allowed.logical_not(), -1e9);
  auto w = torch::softmax(scores, -1);
  if (keep.defined()) w = w * keep.to(w.dtype()) / (1.0 - p);
  auto has_key = allowed.any(-1, /*keepdim=*/true).to(q.dtype());  // (B, 1, 1|Tq, 1)
  return torch::matmul(w, v) * has_key;                            // (B, H, Tq, dh)
}

struct Case {
  int64_t b, h, tq, tk, dh;
  bool per_query;  // (B, 1, Tq, Tk) causal mask, else (B, 1, 1, Tk)
};

// A key mask with varied lengths, one sample with no key at all when b > 1, and leading masked
// keys (front padding) and a masked key inside the span for samples 2, 3, ... (the kernel skips
// keys outside the span of allowed ones, so spans that do not start at key 0 are tested too).
torch::Tensor make_allowed(const Case& c) {
  auto lengths = (c.tk - torch::arange(c.b) * 3).clamp_min(0);  // (B)
  if (c.b > 1) lengths[1] = 0;                                  // fully masked
  auto starts = (torch::arange(c.b) % 3).clamp_max(c.tk / 2);   // (B): 0, 1, 2, 0, ...
  auto keys = torch::arange(c.tk).unsqueeze(0);                 // (1, Tk)
  auto allowed = (keys < lengths.unsqueeze(1)) & (keys >= starts.unsqueeze(1));  // (B, Tk)
  if (c.b > 2 && c.tk > 4) allowed[2][c.tk / 2] = false;  // a hole inside the span
  allowed = allowed.view({c.b, 1, 1, c.tk});
  if (c.per_query) {
    const int64_t shift = std::abs(c.tk - c.tq);
    auto i = torch::arange(c.tq).view({c.tq, 1});
    auto j = torch::arange(c.tk).view({1, c.tk});
    allowed = allowed & (j <= i + shift - 2).view({1, 1, c.tq, c.tk});  // early rows: no key
  }
  return allowed;
}

struct Grads {
  torch::Tensor out, dq, dk, dv;
};

template <typename F>
Grads run(const torch::Tensor& q0, const torch::Tensor& k0, const torch::Tensor& v0,
          const torch::Tensor& g, F f) {
  auto q = q0.clone().requires_grad_(true);
  auto k = k0.clone().requires_grad_(true);
  auto v = v0.clone().requires_grad_(true);
  auto out = f(q, k, v);
  (out * g).sum().backward();
  return {out.detach(), q.grad(), k.grad(), v.grad()};
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::isfinite(a).all().item<bool>()) << what;
  const double err = (a - b).abs().max().item<double>();
  EXPECT_LE(err, tol) << what << ": max abs difference " << err;
}

class FusedAttentionTest : public ::testing::TestWithParam<Case> {};

TEST_P(FusedAttentionTest, MatchesReferenceWithoutDropout) {
  const Case c = GetParam();
  torch::manual_seed(7);
  auto q = torch::randn({c.b, c.h, c.tq, c.dh});
  auto k = torch::randn({c.b, c.h, c.tk, c.dh});
  auto v = torch::randn({c.b, c.h, c.tk, c.dh});
  auto g = torch::randn({c.b, c.h, c.tq, c.dh});
  auto allowed = make_allowed(c);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.dh));
  auto ref = run(q, k, v, g, [&](auto& q1, auto& k1, auto& v1) {
    return reference(q1, k1, v1, allowed, scale, 0.0, torch::Tensor());
  });
  auto got = run(q, k, v, g, [&](auto& q1, auto& k1, auto& v1) {
    return fused_attention(q1, k1, v1, allowed, scale, 0.0, /*training=*/true);
  });
  expect_close(got.out, ref.out, 1e-5, "out");
  expect_close(got.dq, ref.dq, 1e-5, "dq");
  expect_close(got.dk, ref.dk, 1e-5, "dk");
  expect_close(got.dv, ref.dv, 1e-5, "dv");
  // Rows without an allowed key: output 0 and zero gradient for their queries.
  auto empty = allowed.any(-1).logical_not().expand({c.b, c.h, c.tq});  // (B, H, Tq)
  if (empty.any().item<bool>()) {
    EXPECT_EQ(got.out.index({empty}).abs().max().item<float>(), 0.f);
    EXPECT_EQ(got.dq.index({empty}).abs().max().item<float>(), 0.f);
  }
}

TEST_P(FusedAttentionTest, MatchesReferenceWithItsDropoutMask) {
  const Case c = GetParam();
  torch::manual_seed(11);
  auto q = torch::randn({c.b, c.h, c.tq, c.dh});
  auto k = torch::randn({c.b, c.h, c.tk, c.dh});
  auto v = torch::randn({c.b, c.h, c.tk, c.dh});
  auto g = torch::randn({c.b, c.h, c.tq, c.dh});
  auto allowed = make_allowed(c);
  const double scale = 0.7, p = 0.3;
  const uint64_t seed = 0x123456789abcdef0ull;
  auto keep = fused_attention_keep_mask(c.b, c.h, c.tq, c.tk, p, seed);  // (B, H, Tq, Tk)
  auto ref = run(q, k, v, g, [&](auto& q1, auto& k1, auto& v1) {
    return reference(q1, k1, v1, allowed, scale, p, keep);
  });
  auto got = run(q, k, v, g, [&](auto& q1, auto& k1, auto& v1) {
    return fused_attention_with_seed(q1, k1, v1, allowed, scale, p, seed);
  });
  expect_close(got.out, ref.out, 1e-5, "out");
  expect_close(got.dq, ref.dq, 1e-5, "dq");
  expect_close(got.dk, ref.dk, 1e-5, "dk");
  expect_close(got.dv, ref.dv, 1e-5, "dv");
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttentionTest,
                         ::testing::Values(Case{3, 2, 5, 9, 4, false}, Case{2, 3, 7, 4, 5, false},
                                           Case{4, 2, 6, 11, 10, true}, Case{3, 1, 8, 8, 5, true},
                                           Case{2, 10, 50, 100, 4, false},
                                           Case{1, 1, 1, 17, 3, false}));

TEST(FusedAttention, KeepMaskHasTheRequestedRateAndDependsOnTheSeed) {
  auto a = fused_attention_keep_mask(4, 5, 30, 40, 0.25, 1);
  auto b = fused_attention_keep_mask(4, 5, 30, 40, 0.25, 2);
  const double rate = a.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(rate, 0.75, 0.02);  // 24000 draws: the standard error is about 0.003
  EXPECT_FALSE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(a, fused_attention_keep_mask(4, 5, 30, 40, 0.25, 1)));
  EXPECT_TRUE(fused_attention_keep_mask(2, 2, 3, 3, 0.0, 5).all().item<bool>());
  EXPECT_FALSE(fused_attention_keep_mask(2, 2, 3, 3, 1.0, 5).any().item<bool>());
}

TEST(FusedAttention, TrainingDropoutIsSeededByTorchAndEvalIgnoresIt) {
  torch::manual_seed(3);
  auto q = torch::randn({2, 3, 6, 4});
  auto k = torch::randn({2, 3, 8, 4});
  auto v = torch::randn({2, 3, 8, 4});
  auto allowed = torch::ones({2, 1, 1, 8}, torch::kBool);
  torch::manual_seed(42);
  auto a = fused_attention(q, k, v, allowed, 0.5, 0.4, /*training=*/true);
  torch::manual_seed(42);
  auto b = fused_attention(q, k, v, allowed, 0.5, 0.4, /*training=*/true);
  torch::manual_seed(42);
  const uint64_t seed = fused_attention_draw_seed();
  auto c = fused_attention_with_seed(q, k, v, allowed, 0.5, 0.4, seed);
  EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(a, c));
  auto d = fused_attention(q, k, v, allowed, 0.5, 0.4, /*training=*/true);  // next seed
  EXPECT_FALSE(torch::equal(a, d));
  auto eval = fused_attention(q, k, v, allowed, 0.5, 0.4, /*training=*/false);
  auto plain = reference(q, k, v, allowed, 0.5, 0.0, torch::Tensor());
  expect_close(eval, plain, 1e-5, "eval");
}

TEST(FusedAttention, DropoutGradientMatchesFiniteDifferences) {
  // Double-check the backward independently of the reference composition: central differences
  // of sum(out * g) with the same seed (the mask is fixed by the seed, so the function is smooth).
  torch::manual_seed(5);
  auto q = torch::randn({1, 2, 3, 4});
  auto k = torch::randn({1, 2, 5, 4});
  auto v = torch::randn({1, 2, 5, 4});
  auto g = torch::randn({1, 2, 3, 4});
  auto allowed = torch::tensor({true, true, false, true, true}).view({1, 1, 1, 5});
  const uint64_t seed = 99;
  auto f = [&](const torch::Tensor& q1, const torch::Tensor& k1, const torch::Tensor& v1) {
    return fused_attention_with_seed(q1, k1, v1, allowed, 0.5, 0.2, seed);
  };
  auto got = run(q, k, v, g, f);
  const float h = 1e-2f;
  std::vector<torch::Tensor> inputs = {q, k, v};
  std::vector<torch::Tensor> grads = {got.dq, got.dk, got.dv};
  for (size_t t = 0; t < inputs.size(); ++t) {
    auto flat = inputs[t].view(-1);
    for (int64_t e = 0; e < flat.numel(); ++e) {
      std::vector<torch::Tensor> plus = {q.clone(), k.clone(), v.clone()};
      std::vector<torch::Tensor> minus = {q.clone(), k.clone(), v.clone()};
      plus[t].view(-1)[e] += h;
      minus[t].view(-1)[e] -= h;
      const double fp = (f(plus[0], plus[1], plus[2]) * g).sum().item<double>();
      const double fm = (f(minus[0], minus[1], minus[2]) * g).sum().item<double>();
      const double numeric = (fp - fm) / (2 * h);
      EXPECT_NEAR(grads[t].view(-1)[e].item<double>(), numeric, 2e-3)
          << "input " << t << " element " << e;
    }
  }
}

TEST(FusedAttention, RejectsBadShapesAndTypes) {
  auto q = torch::randn({2, 3, 4, 5});
  auto k = torch::randn({2, 3, 6, 5});
  auto allowed = torch::ones({2, 1, 1, 6}, torch::kBool);
  EXPECT_THROW(fused_attention(q, k, k, torch::ones({2, 1, 1, 5}, torch::kBool), 1, 0, false),
               RunError);
  EXPECT_THROW(fused_attention(q, k.narrow(3, 0, 4), k, allowed, 1, 0, false), RunError);
  EXPECT_THROW(fused_attention(q.to(torch::kFloat64), k, k, allowed, 1, 0, false), RunError);
  EXPECT_THROW(fused_attention(q, k, k, allowed.to(torch::kFloat32), 1, 0, false), RunError);
  EXPECT_THROW(fused_attention(q, k, k, allowed, 1, 1.5, true), RunError);
}

TEST(FusedAttention, MaskedAttentionModuleMatchesTheComposedPathInDouble) {
  // MaskedAttention takes the fused kernel for float32 and the composed torch path otherwise;
  // the same module in float64 (composed) must agree with its float32 (fused) output.
  torch::manual_seed(8);
  MaskedAttention attn(12, 3, 0.1);
  attn->eval();
  auto query = torch::randn({3, 5, 12});
  auto memory = torch::randn({3, 7, 12});
  auto mask =
      torch::tensor({1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, torch::kBool)
          .view({3, 7});  // third sample: no key
  for (bool causal : {false, true}) {
    auto f32 = attn->forward(query, memory, mask, causal);
    attn->to(torch::kFloat64);
    auto f64 = attn->forward(query.to(torch::kFloat64), memory.to(torch::kFloat64), mask, causal);
    attn->to(torch::kFloat32);
    expect_close(f32.to(torch::kFloat64), f64, 1e-5, causal ? "causal" : "cross");
  }
}

}  // namespace
}  // namespace robustmsa

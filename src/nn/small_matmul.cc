#include "nn/small_matmul.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "util/error.h"

namespace robustmsa {

namespace {

// The plain kernel on contiguous float32 (N, M, K) @ (N, K, P).
torch::Tensor kernel(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  auto a = a_in.contiguous();
  auto b = b_in.contiguous();
  const int64_t n = a.size(0), m = a.size(1), k = a.size(2), p = b.size(2);
  auto c = torch::zeros({n, m, p}, a.options());
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  // Grain: enough batch elements per task to amortise the thread hand-off.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, m * k * p));
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* A = pa + i * m * k;
      const float* B = pb + i * k * p;
      float* C = pc + i * m * p;
      for (int64_t r = 0; r < m; ++r) {
        float* row = C + r * p;
        for (int64_t q = 0; q < k; ++q) {
          const float x = A[r * k + q];
          const float* brow = B + q * p;
          for (int64_t j = 0; j < p; ++j) row[j] += x * brow[j];
        }
      }
    }
  });
  return c;
}

class SmallMatmul : public torch::autograd::Function<SmallMatmul> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a,
                               const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    return kernel(a, b);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto& a = saved[0];
    const auto& b = saved[1];
    const auto& g = grads[0];  // (N, M, P)
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0)) ga = kernel(g, b.transpose(1, 2));  // (N, M, K)
    if (ctx->needs_input_grad(1)) gb = kernel(a.transpose(1, 2), g);  // (N, K, P)
    return {ga, gb};
  }
};

}  // namespace

torch::Tensor small_matmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() < 3 || a.dim() != b.dim() || a.size(-1) != b.size(-2))
    throw RunError(str("small_matmul: shapes ", a.sizes(), " and ", b.sizes(),
                       " do not multiply; expected (..., M, K) and (..., K, P)"));
  const bool small = a.size(-1) <= 64 || a.size(-2) * b.size(-1) <= 4096;
  if (!a.device().is_cpu() || a.scalar_type() != torch::kFloat32 ||
      b.scalar_type() != torch::kFloat32 || !small)
    return torch::matmul(a, b);
  auto lead = a.sizes().slice(0, a.dim() - 2).vec();
  const int64_t m = a.size(-2), k = a.size(-1), p = b.size(-1);
  auto a3 = a.reshape({-1, m, k});
  auto b3 = b.reshape({-1, k, p});
  auto c = SmallMatmul::apply(a3, b3);
  lead.push_back(m);
  lead.push_back(p);
  return c.view(lead);
}

}  // namespace robustmsa

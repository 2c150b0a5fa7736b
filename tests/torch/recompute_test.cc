// Activation recomputation (nn/recompute.h): a MulT with `recompute` on trains exactly as one
// without it — same outputs, same gradients (dropout included), same generator state after.
#include "nn/recompute.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "../common/model_fixtures.h"
#include "nn/mult.h"

namespace robustmsa {
namespace {

struct Step {
  torch::Tensor prediction;
  std::vector<torch::Tensor> grads;
  double next_draw = 0;  // the generator's next value after the step
};

Step train_step(bool recompute, const Batch& batch, const InputSpec& spec) {
  torch::manual_seed(7);
  MultOptions o;
  o.width = 8;
  o.heads = 2;
  o.levels = 2;
  o.mem_layers = 2;
  o.attn_dropout = o.attn_dropout_a = o.attn_dropout_v = 0.3;  // every layer draws masks
  o.relu_dropout = o.res_dropout = 0.1;
  o.recompute = recompute;
  Mult model(o, spec);
  model->train();
  torch::manual_seed(11);
  Step s;
  s.prediction = model->forward(batch).prediction;
  (s.prediction.square().sum()).backward();
  for (const auto& p : model->parameters()) s.grads.push_back(p.grad().clone());
  s.next_draw = torch::rand({1}).item<double>();
  return s;
}

TEST(Recompute, MultTrainsExactlyAsWithoutIt) {
  const InputSpec spec = test_util::tiny_spec(Task::kRegression);
  const Batch batch = test_util::random_batch(spec, 4, 3, 3, 1.0);
  const Step plain = train_step(false, batch, spec), re = train_step(true, batch, spec);
  EXPECT_TRUE(torch::equal(plain.prediction, re.prediction));
  ASSERT_EQ(plain.grads.size(), re.grads.size());
  std::size_t nonzero = 0;
  for (std::size_t i = 0; i < plain.grads.size(); ++i) {
    EXPECT_TRUE(torch::allclose(plain.grads[i], re.grads[i], 1e-5, 1e-6)) << "parameter " << i;
    nonzero += plain.grads[i].abs().sum().item<double>() > 0;
  }
  EXPECT_GT(nonzero, plain.grads.size() / 2);  // the comparison is not between zeros
  EXPECT_EQ(plain.next_draw, re.next_draw);    // the generator ends where it would have
}

TEST(Recompute, GradientsReachInputsAndMemory) {
  torch::manual_seed(5);
  auto w = torch::randn({3, 3}).requires_grad_();
  auto x = torch::randn({2, 3}).requires_grad_();
  auto m = torch::randn({2, 3}).requires_grad_();
  auto f = [w](const torch::Tensor& a, const torch::Tensor& b) {
    return torch::tanh(torch::matmul(a, w) * b);
  };
  f(x, m).sum().backward();
  auto gx = x.grad().clone(), gm = m.grad().clone(), gw = w.grad().clone();
  x.mutable_grad().zero_();
  m.mutable_grad().zero_();
  w.mutable_grad().zero_();
  recompute(f, x, m).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), gx));
  EXPECT_TRUE(torch::allclose(m.grad(), gm));
  EXPECT_TRUE(torch::allclose(w.grad(), gw));
}

}  // namespace
}  // namespace robustmsa

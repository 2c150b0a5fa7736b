#include "nn/recompute.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <mutex>
#include <utility>

#include "util/error.h"

namespace robustmsa {

namespace {

// The block and the generator state it started from, carried through the autograd context.
struct Block : torch::CustomClassHolder {
  RecomputeFn fn;
  torch::Tensor rng_state;
};

torch::Tensor swap_generator_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  torch::Tensor previous = gen.get_state();
  if (state.defined()) gen.set_state(state);
  return previous;
}

class Recompute : public torch::autograd::Function<Recompute> {
 public:
  // Runs with gradient recording off (LibTorch's Function::apply), so nothing inside is kept.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& memory, c10::intrusive_ptr<Block> block) {
    block->rng_state = swap_generator_state(torch::Tensor());
    ctx->save_for_backward({x, memory});
    ctx->saved_data["block"] = c10::IValue::make_capsule(block);
    const bool has_memory = memory.numel() > 0;
    ctx->saved_data["has_memory"] = has_memory;
    return block->fn(x, has_memory ? memory : torch::Tensor());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto block = c10::static_intrusive_pointer_cast<Block>(ctx->saved_data["block"].toCapsule());
    const bool has_memory = ctx->saved_data["has_memory"].toBool();
    torch::Tensor x = saved[0].detach().requires_grad_(saved[0].requires_grad());
    torch::Tensor memory;
    if (has_memory) memory = saved[1].detach().requires_grad_(saved[1].requires_grad());
    torch::Tensor after = swap_generator_state(block->rng_state);
    torch::Tensor y;
    try {
      torch::AutoGradMode enable(true);
      y = block->fn(x, memory);
    } catch (...) {
      swap_generator_state(after);
      throw;
    }
    swap_generator_state(after);
    if (y.requires_grad()) torch::autograd::backward({y}, {grads[0]});
    auto grad_of = [](const torch::Tensor& t) {
      return t.defined() && t.requires_grad() ? t.grad() : torch::Tensor();
    };
    return {grad_of(x), grad_of(memory), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor recompute(RecomputeFn fn, const torch::Tensor& x, const torch::Tensor& memory) {
  if (!x.device().is_cpu())
    throw RunError(str("recompute: got a tensor on ", x.device(), "; expected CPU"));
  // As with PyTorch's reentrant checkpoint, gradients reach the block's parameters only through
  // an input that requires grad; without one, run the block directly.
  if (!x.requires_grad() && !(memory.defined() && memory.requires_grad())) return fn(x, memory);
  auto block = c10::make_intrusive<Block>();
  block->fn = std::move(fn);
  // Function::apply needs defined inputs: an undefined memory travels as an empty placeholder.
  return Recompute::apply(x, memory.defined() ? memory : torch::empty({0}, x.options()), block);
}

}  // namespace robustmsa

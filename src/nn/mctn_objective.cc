#include "nn/mctn_objective.h"

#include <torch/torch.h>

#include "nn/mctn.h"
#include "util/error.h"

namespace robustmsa {

torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target,
                         const torch::Tensor& valid) {
  auto w = valid.to(pred.dtype()).unsqueeze(-1);  // (B, T, 1)
  auto count = w.sum() * static_cast<double>(pred.size(2));
  return ((pred - target).pow(2) * w).sum() / count.clamp_min(1.0);
}

Losses mctn_objective(Model& model, const Batch& batch, ObjectiveContext& ctx) {
  auto* mctn = dynamic_cast<MctnImpl*>(&model);
  if (mctn == nullptr) throw RunError("mctn_objective: the model is not MCTN");
  const MctnOptions& o = mctn->options();
  ModelOutput out = mctn->forward_with_translations(batch);
  auto task = task_loss(out.prediction, batch.label, ctx.task);
  auto translation = masked_mse(out.features.at("audio_hat"), batch.x[kAudio], batch.valid[kAudio]);
  auto cycle = masked_mse(out.features.at("text_hat"), batch.x[kText], batch.valid[kText]);
  auto second = masked_mse(out.features.at("vision_hat"), batch.x[kVision], batch.valid[kVision]);
  Losses losses;
  losses.total = o.task_weight * task + o.translation_weight * translation +
                 o.cycle_weight * cycle + o.second_weight * second;
  losses.parts = {{"task", task.detach()},
                  {"translation", translation.detach()},
                  {"cycle", cycle.detach()},
                  {"second", second.detach()}};
  return losses;
}

}  // namespace robustmsa

#include "nn/misa_objective.h"

#include <torch/torch.h>

#include <string>

#include "nn/misa.h"
#include "util/error.h"

namespace robustmsa {

namespace {

torch::Tensor norm_distance(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).pow(2).sum() + 1e-12).sqrt();
}

// MMSA's MSE: sum of squared differences / number of elements.
torch::Tensor mse(const torch::Tensor& pred, const torch::Tensor& target) {
  return (target - pred).pow(2).sum() / static_cast<double>(std::max<int64_t>(pred.numel(), 1));
}

}  // namespace

torch::Tensor cmd_loss(const torch::Tensor& x1, const torch::Tensor& x2, int64_t moments) {
  auto m1 = x1.mean(0), m2 = x2.mean(0);  // (h)
  auto c1 = x1 - m1, c2 = x2 - m2;        // (B, h)
  auto loss = norm_distance(m1, m2);
  for (int64_t k = 2; k <= moments; ++k)
    loss = loss + norm_distance(c1.pow(k).mean(0), c2.pow(k).mean(0));
  return loss;
}

torch::Tensor difference_loss(const torch::Tensor& a, const torch::Tensor& b) {
  const int64_t n = a.size(0);
  auto x = a.reshape({n, -1}), y = b.reshape({n, -1});
  x = x - x.mean(0, /*keepdim=*/true);
  y = y - y.mean(0, /*keepdim=*/true);
  x = x / (x.norm(2, 1, /*keepdim=*/true).detach() + 1e-6);
  y = y / (y.norm(2, 1, /*keepdim=*/true).detach() + 1e-6);
  return x.t().mm(y).pow(2).mean();
}

Losses misa_objective(Model& model, const Batch& batch, ObjectiveContext& ctx) {
  auto* misa = dynamic_cast<MisaImpl*>(&model);
  if (misa == nullptr) throw RunError("misa_objective: the model is not MISA");
  const MisaOptions& o = misa->options();
  ModelOutput out = model.forward(batch);
  auto f = [&out](const std::string& kind, int m) {
    return out.features.at(kind + "_" + kModalityNames[m]);
  };
  torch::Tensor task;
  if (ctx.task == Task::kIemocap) {
    task = task_loss(out.prediction, batch.label, ctx.task);
  } else {
    // MMSA's MISA trainer regresses with MSE.
    task = torch::mse_loss(out.prediction, batch.label.reshape({-1}).to(out.prediction.dtype()));
  }
  // Difference: private vs shared of each modality, and the privates pairwise (§3.5).
  torch::Tensor diff = difference_loss(f("private", kText), f("shared", kText)) +
                       difference_loss(f("private", kVision), f("shared", kVision)) +
                       difference_loss(f("private", kAudio), f("shared", kAudio)) +
                       difference_loss(f("private", kAudio), f("private", kText)) +
                       difference_loss(f("private", kAudio), f("private", kVision)) +
                       difference_loss(f("private", kText), f("private", kVision));
  // Similarity: CMD between the shared vectors of each pair of modalities.
  torch::Tensor sim = (cmd_loss(f("shared", kText), f("shared", kVision), o.cmd_moments) +
                       cmd_loss(f("shared", kText), f("shared", kAudio), o.cmd_moments) +
                       cmd_loss(f("shared", kAudio), f("shared", kVision), o.cmd_moments)) /
                      3.0;
  // Reconstruction of the projected utterance vectors.
  torch::Tensor recon =
      (mse(f("recon", kText), f("orig", kText)) + mse(f("recon", kVision), f("orig", kVision)) +
       mse(f("recon", kAudio), f("orig", kAudio))) /
      3.0;
  Losses losses;
  losses.total = task + o.diff_weight * diff + o.sim_weight * sim + o.recon_weight * recon;
  losses.parts = {{"task", task.detach()},
                  {"diff", diff.detach()},
                  {"sim", sim.detach()},
                  {"recon", recon.detach()}};
  return losses;
}

}  // namespace robustmsa

#include "nn/self_mm_objective.h"

#include <torch/torch.h>

#include "nn/layers.h"
#include "util/error.h"

namespace robustmsa {

namespace {

constexpr double kMin = 1e-8;  // MMSA's MIN

void check_index(const SelfMmImpl& model, const torch::Tensor& index) {
  const int64_t n = model.visits.size(0);
  if (index.numel() == 0) return;
  const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
  if (lo < 0 || hi >= n)
    throw RunError(str("self_mm: training sample index ", lo < 0 ? lo : hi,
                       " is outside the model's ", n,
                       " rows of unimodal-label state (InputSpec::train_size); expected indices "
                       "of the training split the model was built for"));
}

// Mean of the stored representations of samples whose label is positive / negative, over the
// samples trained on so far: (2, D) = [positive centre, negative centre]; an empty class gives 0.
torch::Tensor centres(const torch::Tensor& feats, const torch::Tensor& labels,
                      const torch::Tensor& seen, bool exclude_zero) {
  auto pos = (exclude_zero ? labels > 0 : labels >= 0) & seen;  // (N)
  auto neg = (labels < 0) & seen;
  auto mean = [&feats](const torch::Tensor& sel) {
    auto w = sel.to(feats.dtype());
    return (feats * w.unsqueeze(1)).sum(0) / w.sum().clamp_min(1.0);  // (D)
  };
  return torch::stack({mean(pos), mean(neg)});
}

// (d^n - d^p) / (d^p + MIN) of representations f (B, D) to the centres (2, D).
torch::Tensor relative_distance(const torch::Tensor& f, const torch::Tensor& c) {
  auto dp = (f - c[0]).norm(2, -1);
  auto dn = (f - c[1]).norm(2, -1);
  return (dn - dp) / (dp + kMin);
}

}  // namespace

void ulgm_init(SelfMmImpl& model, const torch::Tensor& index, const torch::Tensor& label) {
  torch::NoGradGuard no_grad;
  check_index(model, index);
  auto idx = index.to(model.visits.device(), torch::kLong);
  auto fresh = model.visits.index_select(0, idx) == 0;  // (B)
  auto y = label.reshape({-1}).to(model.labels.device(), model.labels.scalar_type());
  auto current = model.labels.index_select(1, idx);  // (4, B)
  auto init = torch::where(fresh.unsqueeze(0), y.unsqueeze(0).expand_as(current), current);
  model.labels.index_copy_(1, idx, init);
}

void ulgm_update(SelfMmImpl& model, const torch::Tensor& index,
                 const std::array<torch::Tensor, 4>& feats) {
  torch::NoGradGuard no_grad;
  check_index(model, index);
  auto idx = index.to(model.visits.device(), torch::kLong);
  const auto& o = model.options();
  auto seen = model.visits > 0;  // samples with stored representations, before this step
  auto n = (model.visits.index_select(0, idx) + 1).to(model.labels.dtype());  // this epoch (B)
  model.visits.index_add_(0, idx, torch::ones_like(idx));
  if ((n > 1).any().item<bool>()) {
    std::array<torch::Tensor, 4> delta;
    for (int k = 0; k < 4; ++k) {
      auto c = centres(model.features[k], model.labels[k], seen, o.exclude_zero);
      delta[k] = relative_distance(feats[k].detach().to(c.dtype()), c);  // (B)
    }
    auto y_f = model.labels[0].index_select(0, idx);  // multimodal labels (never change)
    for (int k = 1; k < 4; ++k) {
      auto alpha = delta[k] / (delta[0] + kMin);
      auto estimate = 0.5 * alpha * y_f + 0.5 * (y_f + delta[k] - delta[0]);  // Eq. 8–9
      estimate = torch::nan_to_num(estimate, 0.0, o.label_bound, -o.label_bound)
                     .clamp(-o.label_bound, o.label_bound);
      auto old = model.labels[k].index_select(0, idx);
      auto updated = (n - 1) / (n + 1) * old + 2.0 / (n + 1) * estimate;  // Eq. 10
      model.labels[k].index_copy_(0, idx, torch::where(n > 1, updated, old));
    }
  }
  for (int k = 0; k < 4; ++k)
    model.features[k].index_copy_(0, idx, feats[k].detach().to(model.features[k].dtype()));
}

Losses self_mm_objective(Model& model, const Batch& batch, ObjectiveContext& ctx) {
  auto* net = dynamic_cast<SelfMmImpl*>(&model);
  if (net == nullptr) throw RunError("self_mm_objective: the model is not Self-MM");
  ModelOutput out = model.forward(batch);
  const int64_t b = batch.size();
  const std::array<torch::Tensor, 4> pred = {out.prediction, out.features.at("pred_text"),
                                             out.features.at("pred_audio"),
                                             out.features.at("pred_vision")};
  const char* parts[4] = {"task", "text", "audio", "vision"};
  Losses losses;
  if (ctx.task == Task::kIemocap) {
    losses.total = torch::zeros({}, out.prediction.options());
    for (int k = 0; k < 4; ++k) {
      auto l = task_loss(shape_prediction(pred[k], Task::kIemocap), batch.label, ctx.task);
      losses.total = losses.total + l;
      losses.parts.emplace_back(parts[k], l.detach());
    }
    return losses;
  }
  if (!batch.label.defined()) throw RunError("self_mm_objective: the batch has no labels");
  ulgm_init(*net, batch.index, batch.label);
  auto idx = batch.index.to(net->labels.device(), torch::kLong);
  auto target = net->labels.index_select(1, idx).to(out.prediction.device());  // (4, B)
  losses.total = torch::zeros({}, out.prediction.options());
  for (int k = 0; k < 4; ++k) {
    auto err = (pred[k].reshape({b}) - target[k]).abs();
    // The multimodal task has weight 1; a subtask counts more the further its label has moved.
    auto w = k == 0 ? torch::ones_like(err) : torch::tanh((target[k] - target[0]).abs());
    auto l = (w * err).mean();
    losses.total = losses.total + l;
    losses.parts.emplace_back(parts[k], l.detach());
  }
  ulgm_update(*net, batch.index,
              {out.features.at("fused"), out.features.at("text"), out.features.at("audio"),
               out.features.at("vision")});
  return losses;
}

}  // namespace robustmsa

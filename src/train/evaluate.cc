#include "train/evaluate.h"

#include <torch/torch.h>

namespace robustmsa {

torch::Tensor predict(Model& model, const SplitTensors& split, const MaskTensors* masks,
                      int64_t batch_size) {
  bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < split.n; start += batch_size) {
    int64_t end = std::min(split.n, start + batch_size);
    auto index = torch::arange(start, end, torch::kLong);
    parts.push_back(model.forward(gather(split, index, masks)).prediction);
  }
  model.train(was_training);
  return torch::cat(parts, 0);
}

MetricMap score(const torch::Tensor& prediction, const torch::Tensor& label, Task task) {
  if (task == Task::kIemocap) {
    auto pred_class = prediction.argmax(-1).reshape({-1}).to(torch::kInt).contiguous();
    auto truth = label.reshape({-1}).to(torch::kInt).contiguous();
    std::vector<int> p(pred_class.data_ptr<int>(), pred_class.data_ptr<int>() + pred_class.numel());
    std::vector<int> y(truth.data_ptr<int>(), truth.data_ptr<int>() + truth.numel());
    return iemocap_metrics(p, y);
  }
  auto p64 = prediction.reshape({-1}).to(torch::kDouble).contiguous();
  auto y64 = label.reshape({-1}).to(torch::kDouble).contiguous();
  std::vector<double> p(p64.data_ptr<double>(), p64.data_ptr<double>() + p64.numel());
  std::vector<double> y(y64.data_ptr<double>(), y64.data_ptr<double>() + y64.numel());
  return task == Task::kSims ? sims_metrics(p, y) : regression_metrics(p, y);
}

std::vector<ConditionResult> evaluate_conditions(Model& model, const Split& split,
                                                 const SplitTensors& tensors,
                                                 const std::vector<Condition>& conditions,
                                                 uint64_t mask_seed, int64_t batch_size,
                                                 Task task) {
  std::vector<ConditionResult> out;
  for (const Condition& c : conditions) {
    MaskTensors masks = to_tensors(make_masks(c, split, mask_seed));
    torch::Tensor pred = predict(model, tensors, &masks, batch_size);
    ConditionResult r;
    r.name = c.name;
    r.protocol = c.protocol();
    r.parameter = c.parameter();
    r.mask_seed = static_cast<int64_t>(mask_seed);
    r.metrics = score(pred, tensors.label, task);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace robustmsa

#include "nn/model.h"

#include <torch/torch.h>

#include "run/variant.h"
#include "util/error.h"

namespace robustmsa {

namespace {

std::string shape_str(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + (t.dim() == 1 ? ",)" : ")");
}

}  // namespace

torch::Tensor task_loss(const torch::Tensor& prediction, const torch::Tensor& label, Task task) {
  if (!label.defined()) throw RunError("task loss: the batch has no labels");
  const int64_t b = prediction.size(0);
  if (task == Task::kIemocap) {
    if (prediction.dim() != 3 || prediction.size(1) != 4 || prediction.size(2) != 2 ||
        label.dim() != 2 || label.size(0) != b || label.size(1) != 4)
      throw RunError(
          str("task loss (iemocap): expected prediction (B, 4, 2) and label (B, 4), got ",
              shape_str(prediction), " and ", shape_str(label)));
    // One two-class cross-entropy per emotion, averaged over samples and emotions (as MulT).
    return torch::nn::functional::cross_entropy(prediction.reshape({b * 4, 2}),
                                                label.reshape({b * 4}).to(torch::kLong));
  }
  if (prediction.dim() != 1 || label.numel() != b)
    throw RunError(str("task loss (", task_name(task),
                       "): expected prediction (B,) and label (B,), got ", shape_str(prediction),
                       " and ", shape_str(label)));
  // L1 as MMSA trains its regression models.
  return torch::l1_loss(prediction, label.reshape({b}).to(prediction.dtype()));
}

Losses supervised_objective(Model& model, const Batch& batch, ObjectiveContext& ctx) {
  ModelOutput out = model.forward(batch);
  Losses losses;
  losses.total = task_loss(out.prediction, batch.label, ctx.task);
  losses.parts.emplace_back("task", losses.total.detach());
  return losses;
}

const ModelEntry& find_model(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& entry : model_registry()) {
    if (entry.name == name) return entry;
    names.push_back(entry.name);
  }
  throw_unknown_model(name, names);
}

}  // namespace robustmsa

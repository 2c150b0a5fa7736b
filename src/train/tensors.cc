#include "train/tensors.h"

#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

namespace robustmsa {

namespace {

// Wraps a vector's storage in a tensor that owns it (freed when the tensor's storage dies).
template <class T>
torch::Tensor own_vector(std::vector<T>&& data, std::vector<int64_t> sizes,
                         torch::ScalarType dtype) {
  auto* holder = new std::vector<T>(std::move(data));
  return torch::from_blob(
      holder->data(), sizes, [holder](void*) { delete holder; },
      torch::TensorOptions().dtype(dtype));
}

torch::Tensor bool_tensor(const std::vector<uint8_t>& v, std::vector<int64_t> sizes) {
  std::vector<uint8_t> copy(v);
  return own_vector(std::move(copy), std::move(sizes), torch::kBool);
}

}  // namespace

SplitTensors to_tensors(Split& split, Task task) {
  SplitTensors out;
  out.n = split.n;
  for (int m = 0; m < kNumModalities; ++m) {
    ModalityData& md = split.modality[m];
    out.x[m] = own_vector(std::move(md.x), {md.n, md.t, md.d}, torch::kFloat32);
    md.x = std::vector<float>();
    out.valid[m] = bool_tensor(md.valid, {md.n, md.t});
  }
  auto labels = torch::tensor(split.labels, torch::kFloat32);
  if (task == Task::kIemocap) {
    out.label = labels.view({split.n, 4}).to(torch::kLong);
  } else {
    out.label = labels;
  }
  return out;
}

MaskTensors to_tensors(const Masks& masks) {
  MaskTensors out;
  for (int m = 0; m < kNumModalities; ++m)
    out.keep[m] = bool_tensor(masks.keep[m], {masks.n, masks.t[m]});
  out.present = bool_tensor(masks.present, {masks.n, 3});
  return out;
}

Batch make_batch(std::array<torch::Tensor, 3> x, std::array<torch::Tensor, 3> valid,
                 std::array<torch::Tensor, 3> keep, torch::Tensor present, torch::Tensor label,
                 torch::Tensor index) {
  Batch b;
  std::vector<torch::Tensor> survived;
  for (int m = 0; m < kNumModalities; ++m) {
    // A modality that is absent loses all its frames, whatever the frame mask says.
    keep[m] = keep[m] & present.select(1, m).unsqueeze(1);
    auto usable = valid[m] & keep[m];  // (B, T)
    b.x[m] = x[m] * usable.unsqueeze(-1).to(x[m].scalar_type());
    b.valid[m] = std::move(valid[m]);
    b.keep[m] = keep[m];
    survived.push_back(usable.any(1));
  }
  b.present = present & torch::stack(survived, 1);
  b.label = std::move(label);
  b.index = std::move(index);
  return b;
}

Batch gather(const SplitTensors& split, const torch::Tensor& index, const MaskTensors* masks) {
  std::array<torch::Tensor, 3> x, valid, keep;
  torch::Tensor present;
  for (int m = 0; m < kNumModalities; ++m) {
    x[m] = split.x[m].index_select(0, index);
    valid[m] = split.valid[m].index_select(0, index);
    keep[m] = masks ? masks->keep[m].index_select(0, index) : torch::ones_like(valid[m]);
  }
  present = masks ? masks->present.index_select(0, index)
                  : torch::ones({index.size(0), 3}, torch::TensorOptions().dtype(torch::kBool));
  Batch b = make_batch(std::move(x), std::move(valid), std::move(keep), std::move(present),
                       split.label.index_select(0, index), index);
  if (split.text_ids.defined()) b.text_ids = split.text_ids.index_select(0, index);
  return b;
}

Batch apply_masks(const Batch& batch, const Masks& masks) {
  MaskTensors mt = to_tensors(masks);
  auto device = batch.index.device();
  std::array<torch::Tensor, 3> keep;
  for (int m = 0; m < kNumModalities; ++m) keep[m] = batch.keep[m] & mt.keep[m].to(device);
  Batch b = make_batch(batch.x, batch.valid, keep, batch.present & mt.present.to(device),
                       batch.label, batch.index);
  b.text_ids = batch.text_ids;
  return b;
}

int64_t tensor_bytes(const SplitTensors& split) {
  int64_t total = split.label.nbytes();
  for (int m = 0; m < kNumModalities; ++m) {
    // An expanded placeholder (data.text_finetune) holds one row, not nbytes().
    const auto& x = split.x[m];
    total += (x.is_contiguous() ? x.nbytes() : x.storage().nbytes()) + split.valid[m].nbytes();
  }
  if (split.text_ids.defined()) total += split.text_ids.nbytes();
  return total;
}

}  // namespace robustmsa

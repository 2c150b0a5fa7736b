// Whole splits as tensors, evaluation masks as tensors, and batches gathered by index. Data stays
// in tensors for the whole run: a batch is an index_select, never rebuilt per sample.
#pragma once

#include <torch/types.h>

#include <array>

#include "data/dataset.h"
#include "data/protocol.h"
#include "nn/batch.h"

namespace robustmsa {

struct SplitTensors {
  int64_t n = 0;
  std::array<torch::Tensor, 3> x;      // (N, T_m, D_m) float32
  std::array<torch::Tensor, 3> valid;  // (N, T_m) bool
  torch::Tensor label;                 // (N) float or (N, 4) long
  // data.text_finetune: the file's text_bert rows (N, 3, L) long. x[kText] is then a zero
  // placeholder (an expanded (1, 1, H) tensor, no memory) until the run's encoder fills it:
  // per training batch (encode_batch_text) or for a whole split (with_text_features).
  torch::Tensor text_ids;
};

// Moves the split's feature vectors into tensors (no copy; `split.modality[m].x` is left empty)
// and copies validity and labels. The Split keeps n, t, d and `valid` for the protocols.
SplitTensors to_tensors(Split& split, Task task);

struct MaskTensors {
  std::array<torch::Tensor, 3> keep;  // (N, T_m) bool
  torch::Tensor present;              // (N, 3) bool
};
MaskTensors to_tensors(const Masks& masks);

// Builds a Batch from already-gathered parts: features are zeroed where a frame is padding or
// dropped, and a modality counts as present only if some valid frame of it survived.
Batch make_batch(std::array<torch::Tensor, 3> x, std::array<torch::Tensor, 3> valid,
                 std::array<torch::Tensor, 3> keep, torch::Tensor present, torch::Tensor label,
                 torch::Tensor index);

// Rows `index` of a split, with the rows of `masks` (a mask of the whole split) or complete.
Batch gather(const SplitTensors& split, const torch::Tensor& index, const MaskTensors* masks);

// A copy of `batch` with extra holes: `masks` holds one row per batch row.
Batch apply_masks(const Batch& batch, const Masks& masks);

// Bytes held by the split's tensors (for memory reports).
int64_t tensor_bytes(const SplitTensors& split);

}  // namespace robustmsa

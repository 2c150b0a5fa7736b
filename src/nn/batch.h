// Batch and ModelOutput: the only things a model sees and returns (DESIGN §2.4, §5.1).
#pragma once

#include <torch/types.h>

#include <array>
#include <map>
#include <string>

#include "data/dataset.h"

namespace robustmsa {

struct Batch {
  std::array<torch::Tensor, 3> x;      // (B, T_m, D_m) float32; zero where padded or missing
  std::array<torch::Tensor, 3> valid;  // (B, T_m) bool: frame exists (not padding)
  std::array<torch::Tensor, 3> keep;   // (B, T_m) bool: frame survived the missing protocol
  torch::Tensor present;               // (B, 3) bool: whole modality available
  torch::Tensor label;                 // (B) float (regression) or (B, 4) long (IEMOCAP)
  torch::Tensor index;                 // (B) long: row in its split
  // (B, 3, L) long token rows (ids, attention mask, segments), only when the run fine-tunes its
  // text encoder (data.text_finetune): the trainer then computes x[kText] from them per batch.
  torch::Tensor text_ids;

  int64_t size() const { return index.size(0); }
};

// The frames of modality m a model may use: valid & keep & present, (B, T_m) bool. (For a batch
// made by train/tensors.h, present already says whether any valid & keep frame is left.)
torch::Tensor frame_mask(const Batch& batch, int m);
// All three frame masks.
std::array<torch::Tensor, 3> frame_masks(const Batch& batch);

struct ModelOutput {
  torch::Tensor prediction;  // (B) for regression / SIMS, (B, 4, 2) logits for IEMOCAP
  // Named intermediate representations objectives may use (e.g. "fused" (B, H), "text" (B, H)).
  std::map<std::string, torch::Tensor> features;
};

// What a model is built for: input dims, sequence lengths and task.
struct InputSpec {
  std::array<int64_t, 3> dim{};  // D_l, D_a, D_v
  std::array<int64_t, 3> len{};  // T_l, T_a, T_v
  Task task = Task::kRegression;
  // Rows of the training split: models with per-training-sample state (Self-MM's unimodal labels)
  // size their buffers by it, so checkpoints carry that state. 0 when unknown.
  int64_t train_size = 0;
  int64_t output_dim() const { return task == Task::kIemocap ? 8 : 1; }
};

}  // namespace robustmsa

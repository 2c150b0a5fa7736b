// Building blocks shared by the models: sinusoidal positions, masked pooling, multi-head attention
// that stays finite when every key is masked, MulT-style Transformer encoders, per-modality
// encoders and the residual output head.
//
// Masks are bool tensors, true = "this frame may be used". Every block below accepts a fully
// masked row (a missing modality, frame drop p = 1, an empty sequence) and returns finite values
// and finite gradients for it: attention rows without a usable key return the output projection's
// bias, pooled rows without a usable frame return 0.
//
// Usage:
//   robustmsa::ModalityEncoder enc(/*in_dim=*/74, robustmsa::EncoderOptions{40, 10, 2, 3, {}});
//   torch::Tensor h = enc->forward(batch.x[kAudio], robustmsa::frame_mask(batch, kAudio));
//   torch::Tensor pooled = robustmsa::masked_mean(h, robustmsa::frame_mask(batch, kAudio));
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "nn/batch.h"

namespace robustmsa {

// frame_mask / frame_masks (the frames a model may use) are in nn/batch.h.

// (T, dim) sinusoidal position table as in MulT/fairseq: positions 1..T (0 is fairseq's padding
// index), the first half of the columns sin, the second half cos; an odd last column is 0.
torch::Tensor sinusoidal_positions(int64_t length, int64_t dim,
                                   const torch::TensorOptions& options);

// Mean of x (B, T, D) over the frames where mask (B, T) is true: (B, D); 0 for rows without any.
torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask);
// Max of x (B, T, D) over the frames where mask (B, T) is true: (B, D); 0 (with a finite, zero
// gradient) for rows without any.
torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask);

// x (B, T, D) at the last frame where mask (B, T) is true: (B, D); 0 for rows without any.
torch::Tensor last_masked(const torch::Tensor& x, const torch::Tensor& mask);

// Reshapes a head's (B, output_dim) output to the task's prediction: (B) or (B, 4, 2).
torch::Tensor shape_prediction(const torch::Tensor& out, Task task);

// Multi-head scaled dot-product attention with a key mask, written with batched matmuls.
// forward(query (B, Tq, d), memory (B, Tk, d), key_mask (B, Tk) bool, causal) -> (B, Tq, d).
// `causal` adds MulT's future mask (query i may see key j <= i + |Tk - Tq|).
class MaskedAttentionImpl : public torch::nn::Module {
 public:
  MaskedAttentionImpl(int64_t dim, int64_t heads, double dropout);
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& memory,
                        const torch::Tensor& key_mask, bool causal = false);

 private:
  int64_t dim_, heads_;
  double dropout_;
  torch::nn::Linear q_proj_{nullptr}, kv_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(MaskedAttention);

struct TransformerDropouts {
  double attn = 0.0;   // on the attention weights
  double relu = 0.0;   // inside the feed-forward block, after the ReLU
  double res = 0.0;    // on each sublayer's output before the residual sum
  double embed = 0.0;  // on the scaled + position-embedded input
};

// Position-wise feed-forward block: Linear(d, 4d) -> ReLU -> dropout -> Linear(4d, d).
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, double relu_dropout);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double relu_dropout_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(FeedForward);

// One pre-LayerNorm Transformer layer as in MulT: x + Attn(LN(x), LN(memory)), then x + FFN(LN(x)).
// Without `memory` it is self-attention and `key_mask` masks x's own frames.
class TransformerLayerImpl : public torch::nn::Module {
 public:
  TransformerLayerImpl(int64_t dim, int64_t heads, const TransformerDropouts& dropouts);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& memory,
                        const torch::Tensor& key_mask, bool causal);

 private:
  double res_dropout_;
  torch::nn::LayerNorm attn_norm_{nullptr}, ffn_norm_{nullptr};
  MaskedAttention attn_{nullptr};
  FeedForward ffn_{nullptr};
};
TORCH_MODULE(TransformerLayer);

// MulT's TransformerEncoder: sqrt(d)-scaled input + sinusoidal positions + embedding dropout, N
// pre-LN layers, a final LayerNorm. With `memory` (B, Tk, d) the layers are crossmodal (queries
// from x, keys/values from memory, which gets the same scaling and positions).
// positions = false leaves the positions out (MMSA's MulT: its encoders' position_embedding
// defaults to False).
class TransformerEncoderImpl : public torch::nn::Module {
 public:
  // recompute: in CPU training, keep only each layer's input and recompute the layer's
  // activations in backward (nn/recompute.h).
  TransformerEncoderImpl(int64_t dim, int64_t heads, int64_t layers,
                         const TransformerDropouts& dropouts, bool positions = true,
                         bool recompute = false);
  // Self-attention over x (B, T, d); mask (B, T) marks usable frames.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, bool causal = false);
  // Crossmodal: x (B, Tq, d) attends to memory (B, Tk, d) where memory_mask (B, Tk) is true.
  torch::Tensor forward_cross(const torch::Tensor& x, const torch::Tensor& memory,
                              const torch::Tensor& memory_mask, bool causal = false);

 private:
  torch::Tensor embed(const torch::Tensor& x);
  torch::Tensor run(torch::Tensor x, const torch::Tensor& memory, const torch::Tensor& key_mask,
                    bool causal);
  int64_t dim_;
  double embed_dropout_;
  bool positions_;
  bool recompute_;
  torch::nn::ModuleList layers_;
  torch::nn::LayerNorm final_norm_{nullptr};
};
TORCH_MODULE(TransformerEncoder);

// Temporal Conv1d projection D_m -> d without bias (MulT), "same" padding so that output frame t
// lines up with input frame t and its mask: (B, T, D_m) -> (B, T, d). `kernel` must be odd.
// same_padding = false is MulT/MMSA's padding 0: (B, T, D_m) -> (B, T - kernel + 1, d).
class FrameProjectionImpl : public torch::nn::Module {
 public:
  FrameProjectionImpl(int64_t in_dim, int64_t out_dim, int64_t kernel, bool same_padding = true);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv1d conv_{nullptr};
};
TORCH_MODULE(FrameProjection);

struct EncoderOptions {
  int64_t width = 40;
  int64_t heads = 10;
  int64_t layers = 2;
  int64_t kernel = 3;
  TransformerDropouts dropouts;
};

// Per-modality encoder: FrameProjection + self-attention TransformerEncoder, (B, T, D_m) ->
// (B, T, d). Keys are masked by `mask`, so missing and padded frames are never attended to.
class ModalityEncoderImpl : public torch::nn::Module {
 public:
  ModalityEncoderImpl(int64_t in_dim, const EncoderOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  FrameProjection projection_{nullptr};
  TransformerEncoder transformer_{nullptr};
};
TORCH_MODULE(ModalityEncoder);

// MulT's output block: a residual MLP h + W2 dropout(relu(W1 h)) followed by a linear layer.
// (B, in_dim) -> (B, out_dim).
class ResidualHeadImpl : public torch::nn::Module {
 public:
  ResidualHeadImpl(int64_t in_dim, int64_t out_dim, double dropout);
  torch::Tensor forward(const torch::Tensor& h);

 private:
  double dropout_;
  torch::nn::Linear proj1_{nullptr}, proj2_{nullptr}, out_{nullptr};
};
TORCH_MODULE(ResidualHead);

// Checks an InputSpec before a model is built: DataError naming the modality for a dimension or
// length below 1.
void check_input_spec(const InputSpec& spec, const std::string& model);

// Which attention MaskedAttention computes for CPU float32 in this build: robustmsa's fused
// kernel on LibTorch 1.x (naming its instruction set), LibTorch's own on 2.x.
std::string cpu_attention_kernel();

}  // namespace robustmsa

#include "nn/layers.h"

#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#include "nn/fused_attention.h"
#include "nn/recompute.h"
#include "util/error.h"

namespace robustmsa {

namespace {

// MulT initialises its attention and feed-forward projections with Xavier-uniform weights and
// zero biases; we do the same so that training dynamics match the reference code.
torch::nn::Linear xavier_linear(int64_t in, int64_t out) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(linear->weight);
  linear->bias.zero_();
  return linear;
}

// LibTorch 1.13 has no fused attention: on CPU float32 MaskedAttention uses ours (see
// nn/fused_attention.h), which never materialises the (B, H, Tq, Tk) maps and already outputs 0
// for keyless rows. LibTorch 2.x has at::scaled_dot_product_attention for every device.
constexpr bool kOwnCpuKernel = TORCH_VERSION_MAJOR < 2;

}  // namespace

std::string cpu_attention_kernel() {
  if (!kOwnCpuKernel) return "LibTorch's scaled_dot_product_attention";
  return std::string("robustmsa's fused kernel (") +
         (fused_attention_uses_avx2() ? "AVX2 + FMA" : "generic") + ")";
}

torch::Tensor sinusoidal_positions(int64_t length, int64_t dim,
                                   const torch::TensorOptions& options) {
  const int64_t half = dim / 2;
  auto fopt = torch::TensorOptions().dtype(torch::kFloat32);
  auto table = torch::zeros({length, dim}, fopt);
  if (half > 0 && length > 0) {
    // fairseq's frequencies: exp(-i * log(10000) / (half - 1)), i = 0 .. half-1.
    const double step = half > 1 ? std::log(10000.0) / static_cast<double>(half - 1) : 0.0;
    auto freq = torch::exp(torch::arange(half, fopt) * -step);   // (half)
    auto pos = torch::arange(1, length + 1, fopt).unsqueeze(1);  // (T, 1)
    auto angle = pos * freq.unsqueeze(0);                        // (T, half)
    table.narrow(1, 0, half).copy_(torch::sin(angle));
    table.narrow(1, half, half).copy_(torch::cos(angle));
  }
  return table.to(options);
}

torch::Tensor masked_max(const torch::Tensor& x, const torch::Tensor& mask) {
  auto any = mask.any(1).view({-1, 1, 1});  // (B, 1, 1)
  auto filled =
      x.masked_fill(mask.unsqueeze(-1).logical_not(), -std::numeric_limits<float>::infinity());
  // Rows without a usable frame take frame values times 0, so their gradient stays finite.
  return torch::where(any, filled, x).amax(1) * any.squeeze(-1).to(x.dtype());  // (B, D)
}

torch::Tensor masked_mean(const torch::Tensor& x, const torch::Tensor& mask) {
  auto w = mask.to(x.dtype()).unsqueeze(-1);  // (B, T, 1)
  auto count = w.sum(1).clamp_min(1.0);       // (B, 1)
  return (x * w).sum(1) / count;              // (B, D)
}

torch::Tensor last_masked(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t t = x.size(1);
  auto order =
      torch::arange(1, t + 1, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
  auto last = (mask.to(torch::kLong) * order.unsqueeze(0)).amax(1);  // (B): 1-based, 0 = none
  auto index = (last - 1).clamp_min(0);                              // (B)
  auto picked =
      x.gather(1, index.view({-1, 1, 1}).expand({x.size(0), 1, x.size(2)})).squeeze(1);  // (B, D)
  return picked * (last > 0).to(x.dtype()).unsqueeze(1);
}

torch::Tensor shape_prediction(const torch::Tensor& out, Task task) {
  if (task == Task::kIemocap) return out.view({out.size(0), 4, 2});  // (B, 4, 2) logits
  return out.view({out.size(0)});                                    // (B)
}

// ---- attention ----------------------------------------------------------------------------------

MaskedAttentionImpl::MaskedAttentionImpl(int64_t dim, int64_t heads, double dropout)
    : dim_(dim), heads_(heads), dropout_(dropout) {
  if (heads < 1 || dim % heads != 0)
    throw ConfigError(str("attention: hidden width ", dim, " is not divisible by heads ", heads));
  q_proj_ = register_module("q_proj", xavier_linear(dim, dim));
  kv_proj_ = register_module("kv_proj", xavier_linear(dim, 2 * dim));
  out_proj_ = register_module("out_proj", xavier_linear(dim, dim));
}

torch::Tensor MaskedAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& memory,
                                           const torch::Tensor& key_mask, bool causal) {
  const int64_t b = query.size(0), tq = query.size(1), tk = memory.size(1);
  const int64_t dh = dim_ / heads_;
  const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
  auto q = q_proj_(query).view({b, tq, heads_, dh}).transpose(1, 2);  // (B, H, Tq, dh)
  auto kv = kv_proj_(memory).view({b, tk, 2, heads_, dh});            // (B, Tk, 2, H, dh)
  auto k = kv.select(2, 0).transpose(1, 2);                           // (B, H, Tk, dh)
  auto v = kv.select(2, 1).transpose(1, 2);                           // (B, H, Tk, dh)
  auto allowed = key_mask.view({b, 1, 1, tk});                        // (B, 1, 1, Tk)
  if (causal) {
    const int64_t shift = std::abs(tk - tq);
    auto opt = torch::TensorOptions().dtype(torch::kLong).device(query.device());
    auto i = torch::arange(tq, opt).view({tq, 1});
    auto j = torch::arange(tk, opt).view({1, tk});
    allowed = allowed & (j <= i + shift).view({1, 1, tq, tk});  // (B, 1, Tq, Tk)
  }
  torch::Tensor out;
  const bool fused = kOwnCpuKernel && q.device().is_cpu() && q.scalar_type() == torch::kFloat32;
  if (fused) {
    out = fused_attention(q, k, v, allowed.to(torch::kBool), scale, dropout_,
                          is_training());  // (B, H, Tq, dh)
  } else {
    // Masked keys get a large finite negative bias rather than -inf: a row whose keys are all
    // masked then has uniform (finite) weights instead of NaN, and its output is zeroed below. Rows
    // with a usable key are unaffected because exp(-1e9 - max) is exactly 0. The bias is float32
    // even for half inputs, where -1e9 would overflow to -inf.
    auto bias = torch::zeros(allowed.sizes(), query.options().dtype(torch::kFloat32))
                    .masked_fill(allowed.logical_not(), -1e9);           // (B, 1, 1|Tq, Tk)
    auto has_key = allowed.any(-1, /*keepdim=*/true).to(query.dtype());  // (B, 1, 1|Tq, 1)
#if TORCH_VERSION_MAJOR >= 2
    // Fused kernels (flash / memory-efficient attention on CUDA) where LibTorch has them.
    out = at::scaled_dot_product_attention(q, k, v, bias.to(q.dtype()),
                                           is_training() ? dropout_ : 0.0, false, scale);
#else
    // Reached for CUDA tensors and non-float32 dtypes (CPU float32 takes the fused kernel). The
    // scale is folded into q, the mask is one broadcast add, and the empty-row fix and the
    // dropout rescaling are applied to the (B, H, Tq, dh) output rather than to the weights.
    auto qs = q * scale;
    auto scores = torch::matmul(qs, k.transpose(-2, -1));  // (B, H, Tq, Tk)
    auto weights = torch::softmax(scores.to(torch::kFloat32) + bias, -1).to(q.dtype());
    double rescale = 1.0;
    if (is_training() && dropout_ > 0) {
      // Inverted dropout with a bool Bernoulli mask (cheaper than torch::dropout's float mask).
      auto keep = torch::empty(weights.sizes(), weights.options().dtype(torch::kBool))
                      .bernoulli_(1.0 - dropout_);
      weights = weights * keep;
      rescale = 1.0 / (1.0 - dropout_);
    }
    out = torch::matmul(weights, v);  // (B, H, Tq, dh)
    if (rescale != 1.0) out = out * rescale;
#endif
    out = out * has_key;  // rows without a usable key -> 0
  }
  out = out.transpose(1, 2).reshape({b, tq, dim_});  // (B, Tq, d)
  return out_proj_(out);
}

// ---- transformer ------------------------------------------------------------------------------

FeedForwardImpl::FeedForwardImpl(int64_t dim, double relu_dropout) : relu_dropout_(relu_dropout) {
  fc1_ = register_module("fc1", xavier_linear(dim, 4 * dim));
  fc2_ = register_module("fc2", xavier_linear(4 * dim, dim));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(fc1_(x));  // (B, T, 4d)
  return fc2_(torch::dropout(h, relu_dropout_, is_training()));
}

TransformerLayerImpl::TransformerLayerImpl(int64_t dim, int64_t heads,
                                           const TransformerDropouts& dropouts)
    : res_dropout_(dropouts.res) {
  attn_norm_ =
      register_module("attn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn_ = register_module("attn", MaskedAttention(dim, heads, dropouts.attn));
  ffn_norm_ = register_module("ffn_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ffn_ = register_module("ffn", FeedForward(dim, dropouts.relu));
}

torch::Tensor TransformerLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& memory,
                                            const torch::Tensor& key_mask, bool causal) {
  auto q = attn_norm_(x);
  // MulT normalises queries, keys and values with the same LayerNorm.
  auto kv = memory.defined() ? attn_norm_(memory) : q;
  auto h = x + torch::dropout(attn_(q, kv, key_mask, causal), res_dropout_, is_training());
  return h + torch::dropout(ffn_(ffn_norm_(h)), res_dropout_, is_training());
}

TransformerEncoderImpl::TransformerEncoderImpl(int64_t dim, int64_t heads, int64_t layers,
                                               const TransformerDropouts& dropouts, bool positions,
                                               bool recompute)
    : dim_(dim), embed_dropout_(dropouts.embed), positions_(positions), recompute_(recompute) {
  for (int64_t i = 0; i < layers; ++i) layers_->push_back(TransformerLayer(dim, heads, dropouts));
  layers_ = register_module("layers", layers_);
  final_norm_ =
      register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

torch::Tensor TransformerEncoderImpl::embed(const torch::Tensor& x) {
  auto h = x * std::sqrt(static_cast<double>(dim_));
  if (positions_) h = h + sinusoidal_positions(x.size(1), dim_, x.options()).unsqueeze(0);
  return torch::dropout(h, embed_dropout_, is_training());
}

torch::Tensor TransformerEncoderImpl::run(torch::Tensor x, const torch::Tensor& memory,
                                          const torch::Tensor& key_mask, bool causal) {
  const bool recomputed =
      recompute_ && is_training() && torch::GradMode::is_enabled() && x.device().is_cpu();
  for (const auto& layer : *layers_) {
    if (recomputed) {
      // The block outlives this call (backward runs it again): capture by value.
      x = recompute(
          [layer, key_mask, causal](const torch::Tensor& xi, const torch::Tensor& mi) {
            return layer->as<TransformerLayerImpl>()->forward(xi, mi, key_mask, causal);
          },
          x, memory);
    } else {
      x = layer->as<TransformerLayerImpl>()->forward(x, memory, key_mask, causal);
    }
  }
  return final_norm_(x);
}

torch::Tensor TransformerEncoderImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                              bool causal) {
  return run(embed(x), torch::Tensor(), mask, causal);
}

torch::Tensor TransformerEncoderImpl::forward_cross(const torch::Tensor& x,
                                                    const torch::Tensor& memory,
                                                    const torch::Tensor& memory_mask, bool causal) {
  return run(embed(x), embed(memory), memory_mask, causal);
}

// ---- projections, encoders, head ----------------------------------------------------------------

FrameProjectionImpl::FrameProjectionImpl(int64_t in_dim, int64_t out_dim, int64_t kernel,
                                         bool same_padding) {
  if (kernel < 1 || kernel % 2 == 0)
    throw ConfigError(str("frame projection: Conv1d kernel ", kernel,
                          " must be an odd integer >= 1 (so frames stay aligned with masks)"));
  const int64_t padding = same_padding ? kernel / 2 : 0;
  conv_ = register_module(
      "conv", torch::nn::Conv1d(
                  torch::nn::Conv1dOptions(in_dim, out_dim, kernel).padding(padding).bias(false)));
}

torch::Tensor FrameProjectionImpl::forward(const torch::Tensor& x) {
  return conv_(x.transpose(1, 2)).transpose(1, 2);  // (B, T, D) -> (B, D, T) -> (B, T, d)
}

ModalityEncoderImpl::ModalityEncoderImpl(int64_t in_dim, const EncoderOptions& options) {
  projection_ =
      register_module("projection", FrameProjection(in_dim, options.width, options.kernel));
  transformer_ = register_module(
      "transformer",
      TransformerEncoder(options.width, options.heads, options.layers, options.dropouts));
}

torch::Tensor ModalityEncoderImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  return transformer_->forward(projection_(x), mask);  // (B, T, d)
}

ResidualHeadImpl::ResidualHeadImpl(int64_t in_dim, int64_t out_dim, double dropout)
    : dropout_(dropout) {
  proj1_ = register_module("proj1", torch::nn::Linear(in_dim, in_dim));
  proj2_ = register_module("proj2", torch::nn::Linear(in_dim, in_dim));
  out_ = register_module("out", torch::nn::Linear(in_dim, out_dim));
}

torch::Tensor ResidualHeadImpl::forward(const torch::Tensor& h) {
  auto r = proj2_(torch::dropout(torch::relu(proj1_(h)), dropout_, is_training()));
  return out_(h + r);  // (B, out_dim)
}

void check_input_spec(const InputSpec& spec, const std::string& model) {
  for (int m = 0; m < kNumModalities; ++m) {
    if (spec.dim[m] < 1)
      throw DataError(str("model '", model, "': modality '", kModalityNames[m],
                          "' has feature dimension ", spec.dim[m], "; expected >= 1"));
    if (spec.len[m] < 1)
      throw DataError(str("model '", model, "': modality '", kModalityNames[m],
                          "' has sequence length ", spec.len[m], "; expected >= 1"));
  }
}

}  // namespace robustmsa

#include "nn/mmin.h"

#include <torch/torch.h>

#include "nn/layers.h"
#include "nn/teacher_student.h"
#include "util/error.h"

namespace robustmsa {

void MminOptions::validate() const {
  const std::pair<const char*, int64_t> sizes[] = {{"model.embd_size_a", embd_size_a},
                                                   {"model.embd_size_l", embd_size_l},
                                                   {"model.embd_size_v", embd_size_v},
                                                   {"model.text_channels", text_channels},
                                                   {"model.ae_blocks", ae_blocks}};
  for (const auto& [key, n] : sizes) require(n >= 1, key, n, "an integer >= 1");
  require(!ae_layers.empty(), "model.ae_layers", "[]", "a non-empty list of integers >= 1");
  for (int64_t n : ae_layers) require(n >= 1, "model.ae_layers", n, "integers >= 1");
  for (int64_t n : cls_layers) require(n >= 1, "model.cls_layers", n, "integers >= 1");
  require(text_dropout >= 0 && text_dropout < 1, "model.text_dropout", text_dropout,
          "a number in [0, 1)");
  require(dropout >= 0 && dropout < 1, "model.dropout", dropout, "a number in [0, 1)");
  require(pretrain_dropout >= 0 && pretrain_dropout < 1, "model.pretrain_dropout", pretrain_dropout,
          "a number in [0, 1)");
  const std::pair<const char*, double> weights[] = {{"model.ce_weight", ce_weight},
                                                    {"model.mse_weight", mse_weight},
                                                    {"model.cycle_weight", cycle_weight}};
  for (const auto& [key, w] : weights) require(w >= 0, key, w, "a number >= 0");
  require(pretrain_share > 0 && pretrain_share < 1, "model.pretrain_share", pretrain_share,
          "a number in (0, 1)");
}

// ---- encoders -----------------------------------------------------------------------------------

LstmMaxEncoderImpl::LstmMaxEncoderImpl(int64_t in_dim, int64_t hidden) {
  lstm_ = register_module(
      "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(in_dim, hidden).batch_first(true)));
}

torch::Tensor LstmMaxEncoderImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  auto states = std::get<0>(lstm_->forward(x));  // (B, T, H)
  return masked_max(states, mask);               // (B, H)
}

TextCnnImpl::TextCnnImpl(int64_t in_dim, int64_t channels, int64_t embd, double dropout)
    : dropout_(dropout) {
  for (int64_t k : {3, 4, 5}) convs_->push_back(torch::nn::Conv1d(in_dim, channels, k));
  convs_ = register_module("convs", convs_);
  embd_ = register_module("embd", torch::nn::Linear(3 * channels, embd));
}

torch::Tensor TextCnnImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t t = x.size(1);
  std::vector<torch::Tensor> pooled;
  for (const auto& module : *convs_) {
    auto* conv = module->as<torch::nn::Conv1dImpl>();
    const int64_t k = conv->options.kernel_size()->at(0);
    // End-pad by k - 1 frames so that window t (frames t .. t+k-1) exists for every frame.
    auto padded = torch::constant_pad_nd(x.transpose(1, 2), {0, k - 1});  // (B, D, T + k - 1)
    auto h = torch::relu(conv->forward(padded)).transpose(1, 2);          // (B, T, C)
    pooled.push_back(masked_max(h.narrow(1, 0, t), mask));                // (B, C)
  }
  auto all = torch::dropout(torch::cat(pooled, 1), dropout_, is_training());  // (B, 3C)
  return torch::relu(embd_(all));                                             // (B, embd)
}

MminEncodersImpl::MminEncodersImpl(const MminOptions& o, const InputSpec& spec) {
  audio_ = register_module("audio", LstmMaxEncoder(spec.dim[kAudio], o.embd_size_a));
  text_ = register_module("text",
                          TextCnn(spec.dim[kText], o.text_channels, o.embd_size_l, o.text_dropout));
  vision_ = register_module("vision", LstmMaxEncoder(spec.dim[kVision], o.embd_size_v));
}

torch::Tensor MminEncodersImpl::forward(const Batch& batch,
                                        const std::array<torch::Tensor, 3>& masks) {
  // MMIN's order: acoustic, lexical, visual.
  return torch::cat({audio_(batch.x[kAudio], masks[kAudio]), text_(batch.x[kText], masks[kText]),
                     vision_(batch.x[kVision], masks[kVision])},
                    1);
}

FcClassifierImpl::FcClassifierImpl(int64_t in_dim, const std::vector<int64_t>& hidden, int64_t out,
                                   double dropout)
    : dropout_(dropout) {
  int64_t d = in_dim;
  for (int64_t h : hidden) {
    layers_->push_back(torch::nn::Linear(d, h));
    d = h;
  }
  layers_->push_back(torch::nn::Linear(d, out));
  layers_ = register_module("layers", layers_);
}

torch::Tensor FcClassifierImpl::forward(torch::Tensor x) {
  const std::size_t n = layers_->size();
  for (std::size_t i = 0; i < n; ++i) {
    x = layers_[i]->as<torch::nn::LinearImpl>()->forward(x);
    if (i + 1 < n) x = torch::dropout(torch::relu(x), dropout_, is_training());
  }
  return x;
}

// ---- cascaded residual autoencoder --------------------------------------------------------------

ResidualAeImpl::ResidualAeImpl(const std::vector<int64_t>& layers, int64_t blocks, int64_t in_dim) {
  for (int64_t b = 0; b < blocks; ++b) {
    // Encoder in -> l0 -> ... -> l_last with LeakyReLU between (none after the last layer).
    torch::nn::Sequential enc;
    int64_t d = in_dim;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      enc->push_back(torch::nn::Linear(d, layers[i]));
      if (i + 1 < layers.size()) enc->push_back(torch::nn::LeakyReLU());
      d = layers[i];
    }
    // Decoder l_last -> ... -> l0 -> in with ReLU between.
    torch::nn::Sequential dec;
    std::vector<int64_t> widths(layers.rbegin(), layers.rend());
    widths.push_back(in_dim);
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      dec->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
      if (i + 2 < widths.size()) dec->push_back(torch::nn::ReLU());
    }
    encoders_->push_back(enc);
    decoders_->push_back(dec);
  }
  encoders_ = register_module("encoders", encoders_);
  decoders_ = register_module("decoders", decoders_);
  transition_ = register_module(
      "transition", torch::nn::Sequential(torch::nn::Linear(in_dim, in_dim), torch::nn::ReLU(),
                                          torch::nn::Linear(in_dim, in_dim)));
}

std::pair<torch::Tensor, torch::Tensor> ResidualAeImpl::forward(const torch::Tensor& x) {
  torch::Tensor x_in = x, x_out = torch::zeros_like(x);
  std::vector<torch::Tensor> latents;
  for (std::size_t i = 0; i < encoders_->size(); ++i) {
    x_in = x_in + x_out;  // each block sees the input plus the previous block's residual
    auto z = encoders_[i]->as<torch::nn::SequentialImpl>()->forward(x_in);
    x_out = decoders_[i]->as<torch::nn::SequentialImpl>()->forward(z);
    latents.push_back(z);
  }
  return {transition_->forward(x_in + x_out), torch::cat(latents, -1)};
}

// ---- the model ----------------------------------------------------------------------------------

MminImpl::MminImpl(const MminOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "mmin");
  const auto& o = options_;
  const int64_t fused = o.embd_size_a + o.embd_size_l + o.embd_size_v;
  pre_encoders_ = register_module("pre_encoders", MminEncoders(o, spec));
  pre_classifier_ = register_module(
      "pre_classifier", FcClassifier(fused, o.cls_layers, spec.output_dim(), o.pretrain_dropout));
  encoders_ = register_module("encoders", MminEncoders(o, spec));
  ae_ = register_module("ae", ResidualAe(o.ae_layers, o.ae_blocks, fused));
  if (!o.share_weight)
    ae_cycle_ = register_module("ae_cycle", ResidualAe(o.ae_layers, o.ae_blocks, fused));
  classifier_ = register_module(
      "classifier",
      FcClassifier(o.ae_layers.back() * o.ae_blocks, o.cls_layers, spec.output_dim(), o.dropout));
  phase_ = register_buffer("phase", torch::zeros({}, torch::kLong));
}

void MminImpl::check_batch(const Batch& batch) const {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("mmin: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
}

int64_t MminImpl::phase() const { return phase_.item<int64_t>(); }

int64_t MminImpl::phase_of_epoch(int64_t epoch, int64_t epochs) const {
  return epoch < phase_boundary(options_.pretrain_share, epochs) ? 0 : 1;
}

void MminImpl::begin_phase(int64_t phase) {
  if (phase < 0 || phase > 1)
    throw RunError(str("mmin: phase ", phase, "; expected 0 (pre-training) or 1 (MMIN)"));
  if (phase == 1 && this->phase() == 0) {
    // MMIN initialises its encoders from the pre-trained ones (post_process in the authors'
    // code), once, when the imagination phase starts.
    torch::NoGradGuard no_grad;
    auto src = pre_encoders_->named_parameters();
    for (auto& p : encoders_->named_parameters()) p.value().copy_(src[p.key()]);
  }
  phase_.fill_(phase);
  for (auto& p : pre_encoders_->parameters()) {
    p.requires_grad_(phase == 0);
    if (phase == 1) p.mutable_grad() = torch::Tensor();
  }
  for (auto& p : pre_classifier_->parameters()) {
    p.requires_grad_(phase == 0);
    if (phase == 1) p.mutable_grad() = torch::Tensor();
  }
}

MminImpl::Imagination MminImpl::imagine(const Batch& batch) {
  Imagination out;
  out.f = encoders_->forward(batch, frame_masks(batch));  // (B, 384)
  std::tie(out.r, out.z) = ae_->forward(out.f);           // (B, 384), (B, n * 64)
  out.r_cycle = (options_.share_weight ? ae_ : ae_cycle_)->forward(out.r).first;
  out.prediction = shape_prediction(classifier_->forward(out.z), spec_.task);
  return out;
}

torch::Tensor MminImpl::target(const Batch& reverse) {
  torch::NoGradGuard no_grad;
  const bool was_training = pre_encoders_->is_training();
  pre_encoders_->eval();
  auto t = pre_encoders_->forward(reverse, frame_masks(reverse));
  pre_encoders_->train(was_training);
  return t;
}

ModelOutput MminImpl::forward(const Batch& batch) {
  check_batch(batch);
  ModelOutput out;
  if (phase() == 0) {
    auto fused = pre_encoders_->forward(batch, frame_masks(batch));
    out.prediction = shape_prediction(pre_classifier_->forward(fused), spec_.task);
    out.features["fused"] = fused;
    return out;
  }
  Imagination im = imagine(batch);
  out.prediction = im.prediction;
  out.features["fused"] = im.z;
  out.features["imagined"] = im.r;
  return out;
}

Batch reverse_view(const Batch& complete, const Batch& missing) {
  Batch out = complete;
  auto present = torch::zeros_like(complete.present);
  for (int m = 0; m < kNumModalities; ++m) {
    auto lost = frame_mask(complete, m) & frame_mask(missing, m).logical_not();  // (B, T_m)
    out.keep[m] = lost;
    out.x[m] = complete.x[m] * lost.unsqueeze(-1).to(complete.x[m].dtype());
    present.select(1, m).copy_(lost.any(1));
  }
  out.present = present;
  return out;
}

Losses mmin_objective(MminImpl& mmin, const Batch& batch, ObjectiveContext& ctx) {
  if (ctx.phase != mmin.phase())
    throw RunError(str("mmin objective: the trainer is in phase ", ctx.phase,
                       " but the model is in phase ", mmin.phase(),
                       "; expected Model::begin_phase to be called first"));
  Losses losses;
  if (ctx.phase == 0) {
    losses.total = task_loss(mmin.forward(batch).prediction, batch.label, ctx.task);
    losses.parts.emplace_back("pretrain_task", losses.total.detach());
    return losses;
  }
  if (!ctx.missing_view)
    throw RunError(
        "mmin objective: ObjectiveContext.missing_view is not set; expected the trainer's "
        "uncertain-missing sampler");
  const MminOptions& o = mmin.options();
  const Batch missing = ctx.missing_view(batch);
  MminImpl::Imagination im = mmin.imagine(missing);
  auto target = mmin.target(reverse_view(batch, missing));
  auto task = task_loss(im.prediction, batch.label, ctx.task);
  auto imagination = torch::mse_loss(im.r, target);
  auto cycle = torch::mse_loss(im.r_cycle, im.f.detach());
  losses.total = o.ce_weight * task + o.mse_weight * imagination + o.cycle_weight * cycle;
  losses.parts.emplace_back("task", task.detach());
  losses.parts.emplace_back("imagination", imagination.detach());
  losses.parts.emplace_back("cycle", cycle.detach());
  return losses;
}

}  // namespace robustmsa

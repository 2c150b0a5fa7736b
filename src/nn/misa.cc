#include "nn/misa.h"

#include <torch/torch.h>

#include <string>

#include "nn/layers.h"
#include "nn/packed_rnn.h"
#include "util/error.h"

namespace robustmsa {

void MisaOptions::validate() const {
  require(hidden >= 1, "model.hidden", hidden, "an integer >= 1");
  require(fusion_heads >= 1, "model.fusion_heads", fusion_heads, "an integer >= 1");
  if (hidden % fusion_heads != 0)
    throw ConfigError(str("config key 'model.fusion_heads': hidden width ", hidden,
                          " is not divisible by fusion_heads ", fusion_heads,
                          "; expected a divisor of ", hidden));
  require(fusion_ffn >= 1, "model.fusion_ffn", fusion_ffn, "an integer >= 1");
  require(cmd_moments >= 1, "model.cmd_moments", cmd_moments, "an integer >= 1");
  require(dropout >= 0 && dropout < 1, "model.dropout", dropout, "a number in [0, 1)");
  require(fusion_dropout >= 0 && fusion_dropout < 1, "model.fusion_dropout", fusion_dropout,
          "a number in [0, 1)");
  const std::pair<const char*, double> weights[] = {{"model.diff_weight", diff_weight},
                                                    {"model.sim_weight", sim_weight},
                                                    {"model.recon_weight", recon_weight}};
  for (const auto& [key, w] : weights) require(w >= 0, key, w, "a number >= 0");
  if (text_encoder != "lstm" && text_encoder != "mean")
    throw ConfigError(str("config key 'model.text_encoder': got '", text_encoder,
                          "'; expected \"lstm\" or \"mean\""));
}

MisaImpl::MisaImpl(const MisaOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "misa");
  const auto& o = options_;
  const int64_t h = o.hidden;
  for (int m = 0; m < kNumModalities; ++m) {
    const int64_t d = spec.dim[m];
    const bool rnn = m != kText || o.text_encoder == "lstm";
    if (rnn) {
      // MISA: hidden size of both LSTMs = input size; u_m = 2 layers x 2 directions x D_m.
      auto lstm = [](int64_t in, int64_t hid) {
        return torch::nn::LSTM(
            torch::nn::LSTMOptions(in, hid).bidirectional(true).batch_first(true));
      };
      rnn1_->push_back(lstm(d, d));
      rnn2_->push_back(lstm(2 * d, d));
      rnn_norm_->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({2 * d})));
    }
    project_->push_back(torch::nn::Linear(rnn ? 4 * d : d, h));
    project_norm_->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
    private_->push_back(torch::nn::Linear(h, h));
    recon_->push_back(torch::nn::Linear(h, h));
  }
  rnn1_ = register_module("rnn1", rnn1_);
  rnn2_ = register_module("rnn2", rnn2_);
  rnn_norm_ = register_module("rnn_norm", rnn_norm_);
  project_ = register_module("project", project_);
  project_norm_ = register_module("project_norm", project_norm_);
  private_ = register_module("private", private_);
  recon_ = register_module("recon", recon_);
  shared_ = register_module("shared", torch::nn::Linear(h, h));
  fusion_layer_ = register_module("fusion_layer",
                                  torch::nn::TransformerEncoderLayer(
                                      torch::nn::TransformerEncoderLayerOptions(h, o.fusion_heads)
                                          .dim_feedforward(o.fusion_ffn)
                                          .dropout(o.fusion_dropout)));
  fusion1_ = register_module("fusion1", torch::nn::Linear(6 * h, 3 * h));
  fusion2_ = register_module("fusion2", torch::nn::Linear(3 * h, spec.output_dim()));
}

ModelOutput MisaImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("misa: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
  const int64_t b = batch.x[kText].size(0);
  const bool text_rnn = options_.text_encoder == "lstm";
  ModelOutput out;
  std::array<torch::Tensor, 3> priv, shared;
  for (int m = 0; m < kNumModalities; ++m) {
    torch::Tensor u;
    if (m == kText && !text_rnn) {
      u = masked_mean(batch.x[m], frame_mask(batch, m));  // (B, D_l), MMSA's BERT mean
    } else {
      const int r = text_rnn ? m : m - 1;  // index into the recurrent encoders
      auto [h1_seq, h1] = packed_lstm(*rnn1_[r]->as<torch::nn::LSTMImpl>(), batch.x[m],
                                      batch.valid[m]);  // (B, T, 2D), (2, B, D)
      auto normed = rnn_norm_[r]->as<torch::nn::LayerNormImpl>()->forward(h1_seq);
      auto h2 = packed_lstm(*rnn2_[r]->as<torch::nn::LSTMImpl>(), normed, batch.valid[m])
                    .second;  // (2, B, D)
      // (2, B, D) x 2 -> (B, 4D): [h1 fwd, h1 bwd, h2 fwd, h2 bwd]
      u = torch::cat({h1.transpose(0, 1).reshape({b, -1}), h2.transpose(0, 1).reshape({b, -1})}, 1);
    }
    auto orig = project_norm_[m]->as<torch::nn::LayerNormImpl>()->forward(
        torch::relu(project_[m]->as<torch::nn::LinearImpl>()->forward(u)));  // (B, h)
    priv[m] = torch::sigmoid(private_[m]->as<torch::nn::LinearImpl>()->forward(orig));
    shared[m] = torch::sigmoid(shared_(orig));
    auto joint = priv[m] + shared[m];
    const std::string name = kModalityNames[m];
    out.features["orig_" + name] = orig;
    out.features["private_" + name] = priv[m];
    out.features["shared_" + name] = shared[m];
    out.features["recon_" + name] = recon_[m]->as<torch::nn::LinearImpl>()->forward(joint);
    out.features[name] = joint;
  }
  // MISA stacks private t, v, a then shared t, v, a as a length-6 sequence: (6, B, h).
  auto seq = torch::stack(
      {priv[kText], priv[kVision], priv[kAudio], shared[kText], shared[kVision], shared[kAudio]},
      0);
  auto fused = fusion_layer_(seq).transpose(0, 1).reshape({b, -1});  // (B, 6h)
  auto y = fusion2_(torch::relu(torch::dropout(fusion1_(fused), options_.dropout, is_training())));
  out.prediction = shape_prediction(y, spec_.task);
  out.features["fused"] = fused;
  return out;
}

// ---- objective ----------------------------------------------------------------------------

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

Losses misa_objective(MisaImpl& model, const Batch& batch, ObjectiveContext& ctx) {
  const MisaOptions& o = model.options();
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

#include "nn/mult.h"

#include <torch/torch.h>

#include "util/error.h"

namespace robustmsa {

namespace {

// The k-th (0 or 1) source modality of target m, in text, audio, vision order: MMSA concatenates
// [l<-a; l<-v], [a<-l; a<-v], [v<-l; v<-a] before the memory transformers.
int source_modality(int m, int k) { return k < m ? k : k + 1; }

}  // namespace

void MultOptions::validate() const {
  require(width >= 1, "model.width", width, "an integer >= 1");
  require(heads >= 1, "model.heads", heads, "an integer >= 1");
  if (width % heads != 0)
    throw ConfigError(str("config key 'model.heads': hidden width ", width,
                          " is not divisible by heads ", heads, "; expected a divisor of ", width));
  require(levels >= 1, "model.levels", levels, "an integer >= 1");
  require(mem_layers >= 1, "model.mem_layers", mem_layers, "an integer >= 1");
  const std::pair<const char*, int64_t> kernels[] = {{"model.text_kernel", text_kernel},
                                                     {"model.audio_kernel", audio_kernel},
                                                     {"model.vision_kernel", vision_kernel}};
  for (const auto& [key, k] : kernels) require(k >= 1 && k % 2 == 1, key, k, "an odd integer >= 1");
  const std::pair<const char*, double> rates[] = {
      {"model.attn_dropout", attn_dropout},     {"model.attn_dropout_a", attn_dropout_a},
      {"model.attn_dropout_v", attn_dropout_v}, {"model.relu_dropout", relu_dropout},
      {"model.res_dropout", res_dropout},       {"model.embed_dropout", embed_dropout},
      {"model.output_dropout", output_dropout}, {"model.text_dropout", text_dropout}};
  for (const auto& [key, p] : rates) require(p >= 0 && p < 1, key, p, "a number in [0, 1)");
  if (conv_padding != "same" && conv_padding != "valid")
    throw ConfigError(str("config key 'model.conv_padding': got '", conv_padding,
                          "'; expected \"same\" or \"valid\""));
}

MultImpl::MultImpl(const MultOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "mult");
  const auto& o = options_;
  const int64_t kernels[3] = {o.text_kernel, o.audio_kernel, o.vision_kernel};
  const double key_attn_dropout[3] = {o.attn_dropout, o.attn_dropout_a, o.attn_dropout_v};
  const bool same = o.conv_padding == "same";
  for (int m = 0; m < kNumModalities; ++m) {
    if (!same && spec.len[m] < kernels[m])
      throw DataError(str("mult: modality '", kModalityNames[m], "' has ", spec.len[m],
                          " frames; conv_padding \"valid\" needs at least the kernel size ",
                          kernels[m]));
    projections_->push_back(FrameProjection(spec.dim[m], o.width, kernels[m], same));
  }
  projections_ = register_module("projections", projections_);
  for (int m = 0; m < kNumModalities; ++m) {
    for (int k = 0; k < 2; ++k) {
      const int n = source_modality(m, k);
      TransformerDropouts d{key_attn_dropout[n], o.relu_dropout, o.res_dropout, o.embed_dropout};
      crossmodal_->push_back(
          TransformerEncoder(o.width, o.heads, o.levels, d, o.positions, o.recompute));
    }
  }
  crossmodal_ = register_module("crossmodal", crossmodal_);
  TransformerDropouts mem{o.attn_dropout, o.relu_dropout, o.res_dropout, o.embed_dropout};
  for (int m = 0; m < kNumModalities; ++m)
    memory_->push_back(
        TransformerEncoder(2 * o.width, o.heads, o.mem_layers, mem, o.positions, o.recompute));
  memory_ = register_module("memory", memory_);
  head_ = register_module("head", ResidualHead(6 * o.width, spec.output_dim(), o.output_dropout));
}

ModelOutput MultImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("mult: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
  auto mask = frame_masks(batch);
  auto valid = batch.valid;
  std::array<torch::Tensor, 3> z;
  for (int m = 0; m < kNumModalities; ++m) {
    auto x =
        m == kText ? torch::dropout(batch.x[m], options_.text_dropout, is_training()) : batch.x[m];
    z[m] = projections_[m]->as<FrameProjectionImpl>()->forward(x);  // (B, T'_m, d)
    if (z[m].size(1) != x.size(1)) {
      // "valid" padding: output frame t is centred on input frame t + (T_m - T'_m) / 2.
      const int64_t offset = (x.size(1) - z[m].size(1)) / 2;
      mask[m] = mask[m].narrow(1, offset, z[m].size(1));
      valid[m] = valid[m].narrow(1, offset, z[m].size(1));
    }
  }
  ModelOutput out;
  std::array<torch::Tensor, 3> last;
  for (int m = 0; m < kNumModalities; ++m) {
    std::array<torch::Tensor, 2> cross;
    for (int k = 0; k < 2; ++k) {
      const int n = source_modality(m, k);
      cross[k] = crossmodal_[m * 2 + k]->as<TransformerEncoderImpl>()->forward_cross(
          z[m], z[n], mask[n], options_.causal);  // (B, T_m, d)
    }
    auto joined = torch::cat({cross[0], cross[1]}, -1);  // (B, T_m, 2d)
    auto memory =
        memory_[m]->as<TransformerEncoderImpl>()->forward(joined, valid[m], options_.causal);
    last[m] = last_masked(memory, valid[m]);  // (B, 2d)
    out.features[kModalityNames[m]] = last[m];
  }
  auto fused = torch::cat({last[0], last[1], last[2]}, 1);  // (B, 6d)
  out.prediction = shape_prediction(head_(fused), spec_.task);
  out.features["fused"] = fused;
  return out;
}

}  // namespace robustmsa

#include "nn/mult.h"

#include <torch/torch.h>

#include "util/error.h"

namespace robustmsa {

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
}

MultImpl::MultImpl(const MultOptions& options, const InputSpec& spec)
    : options_(options), spec_(spec) {
  options_.validate();
  check_input_spec(spec, "mult");
  const auto& o = options_;
  const int64_t kernels[3] = {o.text_kernel, o.audio_kernel, o.vision_kernel};
  const double key_attn_dropout[3] = {o.attn_dropout, o.attn_dropout_a, o.attn_dropout_v};
  for (int m = 0; m < kNumModalities; ++m)
    projections_->push_back(FrameProjection(spec.dim[m], o.width, kernels[m]));
  projections_ = register_module("projections", projections_);
  for (int m = 0; m < kNumModalities; ++m) {
    for (int k = 0; k < 2; ++k) {
      const int n = (m + 1 + k) % 3;
      TransformerDropouts d{key_attn_dropout[n], o.relu_dropout, o.res_dropout, o.embed_dropout};
      crossmodal_->push_back(TransformerEncoder(o.width, o.heads, o.levels, d));
    }
  }
  crossmodal_ = register_module("crossmodal", crossmodal_);
  TransformerDropouts mem{o.attn_dropout, o.relu_dropout, o.res_dropout, o.embed_dropout};
  for (int m = 0; m < kNumModalities; ++m)
    memory_->push_back(TransformerEncoder(2 * o.width, o.heads, o.mem_layers, mem));
  memory_ = register_module("memory", memory_);
  head_ = register_module("head", ResidualHead(6 * o.width, spec.output_dim(), o.output_dropout));
}

ModelOutput MultImpl::forward(const Batch& batch) {
  for (int m = 0; m < kNumModalities; ++m)
    if (batch.x[m].dim() != 3 || batch.x[m].size(2) != spec_.dim[m])
      throw DataError(str("mult: modality '", kModalityNames[m], "' has shape ", batch.x[m].sizes(),
                          "; the model was built for (B, T, ", spec_.dim[m], ")"));
  const auto mask = frame_masks(batch);
  std::array<torch::Tensor, 3> z;
  for (int m = 0; m < kNumModalities; ++m) {
    auto x =
        m == kText ? torch::dropout(batch.x[m], options_.text_dropout, is_training()) : batch.x[m];
    z[m] = projections_[m]->as<FrameProjectionImpl>()->forward(x);  // (B, T_m, d)
  }
  ModelOutput out;
  std::array<torch::Tensor, 3> last;
  for (int m = 0; m < kNumModalities; ++m) {
    std::array<torch::Tensor, 2> cross;
    for (int k = 0; k < 2; ++k) {
      const int n = (m + 1 + k) % 3;
      cross[k] = crossmodal_[m * 2 + k]->as<TransformerEncoderImpl>()->forward_cross(
          z[m], z[n], mask[n], options_.causal);  // (B, T_m, d)
    }
    auto joined = torch::cat({cross[0], cross[1]}, -1);  // (B, T_m, 2d)
    auto memory =
        memory_[m]->as<TransformerEncoderImpl>()->forward(joined, batch.valid[m], options_.causal);
    last[m] = last_masked(memory, batch.valid[m]);  // (B, 2d)
    out.features[kModalityNames[m]] = last[m];
  }
  auto fused = torch::cat({last[0], last[1], last[2]}, 1);  // (B, 6d)
  out.prediction = shape_prediction(head_(fused), spec_.task);
  out.features["fused"] = fused;
  return out;
}

}  // namespace robustmsa

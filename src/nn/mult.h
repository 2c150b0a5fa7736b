// MulT — Multimodal Transformer for Unaligned Multimodal Language Sequences.
// Tsai, Bai, Liang, Kolter, Morency, Salakhutdinov. ACL 2019. doi 10.18653/v1/P19-1656,
// https://aclanthology.org/P19-1656
// Description taken from MMSA (thuiar/MMSA, src/MMSA/models/singleTask/MULT.py and
// subNets/transformers_encoder/transformer.py, read through the code search), which follows the
// authors' code (github.com/yaohungt/Multimodal-Transformer); defaults are MMSA's MOSI entry in
// config/config_regression.json.
//
//   Z_m = Conv1d_m(X_m)                               temporal projection to width d (no bias)
//   Z_{m<-n} = CrossmodalTransformer_{m,n}(Z_m, Z_n)   `levels` pre-LN layers, n != m
//   M_m = SelfTransformer_m([Z_{m<-n1}; Z_{m<-n2}])    `mem_layers` layers at width 2d
//   h = [M_l(last); M_a(last); M_v(last)]              (B, 6d)
//   y = W_out(h + W_2 dropout(relu(W_1 h)))
// Crossmodal layers use attn_dropout of their key modality (attn_dropout for text keys,
// attn_dropout_a for audio, attn_dropout_v for vision), as MulT/MMSA do.
//
// Checked against MMSA: tests/python/mmsa_reference.py loads these weights into MMSA 2.2.1's
// MULT (PyPI, unmodified) and compares forward passes (tests/torch/mmsa_reference_test.cc); with
// conv_padding "valid" and inputs without padding the outputs agree to 1e-5.
//
// Deviations:
//   - Conv1d uses "same" padding by default (MMSA: padding 0, which shortens the sequence by
//     kernel - 1) so frames stay aligned with their masks; conv_padding "valid" is MMSA's
//     behaviour (each output frame then takes the mask of the input frame it is centred on).
//     The projection is applied even when D_m == d (MMSA skips it then).
//   - Keys are masked: crossmodal attention never attends to padded or missing frames of the
//     key modality; the memory self-attention masks padding only, because after the crossmodal
//     layers every valid frame carries information from the other modalities even when the
//     target modality's own features are missing.
//   - The "last state" is read at the last valid (non-padding) frame, not at the padded end.
//   - No position embeddings by default, as MMSA (its TransformerEncoder's position_embedding
//     defaults to False and MULT never sets it). positions = true adds the authors' sinusoidal
//     positions, numbered 1..T for every frame (MulT numbers only frames whose first feature is
//     non-zero). MMSA's mem_layers = max(nlevels, 3) is an explicit option.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "config/options.h"
#include "nn/layers.h"
#include "nn/model.h"

namespace robustmsa {

struct MultOptions {
  int64_t width = 50;  // MMSA MOSI dst_feature_dim_nheads [50, 10]
  int64_t heads = 10;
  int64_t levels = 4;      // nlevels: crossmodal layers
  int64_t mem_layers = 4;  // MMSA: max(nlevels, 3)
  int64_t text_kernel = 5;
  int64_t audio_kernel = 5;
  int64_t vision_kernel = 5;
  double attn_dropout = 0.3;
  double attn_dropout_a = 0.2;
  double attn_dropout_v = 0.0;
  double relu_dropout = 0.0;
  double res_dropout = 0.0;
  double embed_dropout = 0.2;
  double output_dropout = 0.5;
  double text_dropout = 0.5;
  bool causal = true;  // MulT's attn_mask
  std::string conv_padding = "same";
  bool positions = false;  // MMSA: no position embeddings; the authors' MulT: sinusoidal
  bool recompute = false;  // activation recomputation (nn/recompute.h)

  template <class V>
  void visit(V& v) {
    v("width", width, "hidden width d of every projection and crossmodal transformer");
    v("heads", heads, "attention heads; must divide width");
    v("levels", levels, "layers of each crossmodal transformer (MMSA nlevels)");
    v("mem_layers", mem_layers,
      "layers of each self-attention memory transformer (MMSA uses max(nlevels, 3))");
    v("text_kernel", text_kernel, "Conv1d kernel of the text projection (odd)");
    v("audio_kernel", audio_kernel, "Conv1d kernel of the audio projection (odd)");
    v("vision_kernel", vision_kernel, "Conv1d kernel of the vision projection (odd)");
    v("attn_dropout", attn_dropout,
      "attention dropout of layers with text keys and of the memory transformers");
    v("attn_dropout_a", attn_dropout_a, "attention dropout of layers with audio keys");
    v("attn_dropout_v", attn_dropout_v, "attention dropout of layers with vision keys");
    v("relu_dropout", relu_dropout, "dropout inside the feed-forward blocks");
    v("res_dropout", res_dropout, "dropout on each sublayer output before the residual sum");
    v("embed_dropout", embed_dropout, "dropout on the position-embedded transformer inputs");
    v("output_dropout", output_dropout, "dropout inside the residual output head");
    v("text_dropout", text_dropout, "dropout on the raw text features");
    v("causal", causal,
      "MulT's attn_mask: query i attends only to keys j <= i + |T_k - T_q| (default on)");
    v("positions", positions,
      "add sinusoidal positions to every transformer input (the authors' MulT; MMSA's MulT "
      "does not)");
    v("conv_padding", conv_padding,
      "\"same\" keeps T_m frames after the Conv1d projection; \"valid\" is MMSA's padding 0 "
      "(T_m - kernel + 1 frames)");
    v("recompute", recompute,
      "recompute each transformer layer's activations in backward instead of keeping them "
      "(CPU; same results, far less memory on long sequences, about one more forward pass)");
  }
  void validate() const;
};

class MultImpl : public Model {
 public:
  MultImpl(const MultOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "text"/"audio"/"vision" (B, 2d) last memory states,
  // "fused" (B, 6d) their concatenation.
  ModelOutput forward(const Batch& batch) override;

 private:
  MultOptions options_;
  InputSpec spec_;
  torch::nn::ModuleList projections_;  // FrameProjection per modality
  torch::nn::ModuleList crossmodal_;   // index m * 2 + k: target m, k-th other modality (t, a, v)
  torch::nn::ModuleList memory_;       // TransformerEncoder(2d) per modality
  ResidualHead head_{nullptr};
};
TORCH_MODULE(Mult);

}  // namespace robustmsa

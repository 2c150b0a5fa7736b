// A BERT-family text encoder (Devlin et al., NAACL 2019) as LibTorch modules whose parameter
// names are exactly Hugging Face's BertModel names, so that a checkpoint's model.safetensors loads
// one to one (with or without the "bert." prefix of the *For* heads):
//   embeddings.{word,position,token_type}_embeddings.weight, embeddings.LayerNorm.{weight,bias},
//   encoder.layer.<i>.attention.self.{query,key,value}.{weight,bias},
//   encoder.layer.<i>.attention.output.{dense,LayerNorm}.*, encoder.layer.<i>.intermediate.dense.*,
//   encoder.layer.<i>.output.{dense,LayerNorm}.*
// Post-LayerNorm blocks, exact (erf) GELU, LayerNorm eps from config.json (1e-12 for BERT),
// absolute positions. The pooler is not built (token features are what robustmsa uses); extra
// tensors in the file (pooler.*, embeddings.position_ids, heads) are ignored. The sizes come from
// the model folder's config.json, so BERT-base (768 x 12) and MiniLM (384 x 6) both load.
//
// Usage:
//   robustmsa::BertEncoder bert = robustmsa::load_bert("models/all-MiniLM-L6-v2");
//   bert->eval();
//   torch::Tensor h = bert->forward(ids, mask, segments);  // (B, L) long each -> (B, L, H)
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <string>

#include "io/safetensors.h"

namespace robustmsa {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;

  // Reads a Hugging Face config.json: model_type bert (or a BERT-architecture type such as
  // MiniLM's), hidden_act gelu, absolute positions. ConfigError naming the file and key for a
  // missing or impossible value (hidden_size not divisible by num_attention_heads, ...).
  static BertConfig from_json_file(const std::string& path);
  void validate(const std::string& where) const;
};

class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& segments);
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr},
      token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's spelling: it is the checkpoint name
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertEmbeddings);

// Multi-head self-attention ("attention.self") with HF's additive mask.
class BertSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // x (B, L, H); additive_mask (B, 1, 1, L): 0 for real tokens, the dtype's lowest for padding.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};
  int64_t heads = 0;
};
TORCH_MODULE(BertSelfAttention);

// dense -> dropout -> LayerNorm(. + residual): HF's BertSelfOutput and BertOutput.
class BertResidualOutputImpl : public torch::nn::Module {
 public:
  BertResidualOutputImpl(const BertConfig& c, int64_t in_features);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertResidualOutput);

class BertAttentionImpl : public torch::nn::Module {
 public:
  explicit BertAttentionImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertAttention attention{nullptr};
  torch::nn::Linear intermediate_dense{nullptr};  // registered as "intermediate.dense"
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

class BertEncoderImpl : public torch::nn::Module {
 public:
  explicit BertEncoderImpl(const BertConfig& c);
  // ids, mask, segments: (B, L) integer tensors (MMSA's text_bert rows). Returns the last hidden
  // state (B, L, H), float32.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask,
                        const torch::Tensor& segments);
  const BertConfig& config() const { return config_; }

  BertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};  // registered as "encoder.layer"

 private:
  BertConfig config_;
};
TORCH_MODULE(BertEncoder);

// The tensor a safetensors view holds, as a float32 CPU tensor (F32, F16, BF16, F64 accepted;
// DataError naming the file and tensor otherwise). The bytes are copied out of the mapping.
torch::Tensor float_tensor(const safetensors::TensorView& view, const std::string& file);

// Copies every parameter of `bert` from the file; the names are looked up as they are and with
// the "bert." prefix. DataError naming the file and the first missing or mis-shaped tensor.
void load_bert_weights(BertEncoderImpl& bert, const safetensors::File& file);

// config.json + model.safetensors of a Hugging Face model folder. Frozen weights are still
// registered parameters; callers freeze with requires_grad_(false).
BertEncoder load_bert(const std::string& model_dir);

}  // namespace robustmsa

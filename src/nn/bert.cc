#include "nn/bert.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace {

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

torch::nn::LayerNorm layer_norm(const BertConfig& c) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

}  // namespace

BertConfig BertConfig::from_json_file(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(str("model config '", path, "': invalid JSON (", e.what(), ")"));
  }
  if (!j.is_object()) throw ConfigError(str("model config '", path, "': expected a JSON object"));
  BertConfig c;
  auto integer = [&](const char* key, int64_t& out, bool required) {
    if (!j.contains(key)) {
      if (required)
        throw ConfigError(str("model config '", path, "': no key \"", key,
                              "\"; expected a BERT config.json"));
      return;
    }
    if (!j[key].is_number_integer())
      throw ConfigError(str("model config '", path, "': \"", key, "\" is ", j[key].dump(),
                            "; expected an integer"));
    out = j[key].get<int64_t>();
  };
  auto number = [&](const char* key, double& out) {
    if (!j.contains(key)) return;
    if (!j[key].is_number())
      throw ConfigError(str("model config '", path, "': \"", key, "\" is ", j[key].dump(),
                            "; expected a number"));
    out = j[key].get<double>();
  };
  integer("vocab_size", c.vocab_size, true);
  integer("hidden_size", c.hidden_size, true);
  integer("num_hidden_layers", c.num_hidden_layers, true);
  integer("num_attention_heads", c.num_attention_heads, true);
  integer("intermediate_size", c.intermediate_size, true);
  integer("max_position_embeddings", c.max_position_embeddings, false);
  integer("type_vocab_size", c.type_vocab_size, false);
  number("layer_norm_eps", c.layer_norm_eps);
  number("hidden_dropout_prob", c.hidden_dropout_prob);
  number("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  if (j.contains("hidden_act") && j["hidden_act"] != "gelu")
    throw ConfigError(str("model config '", path, "': \"hidden_act\" is ", j["hidden_act"].dump(),
                          "; expected \"gelu\" (the exact erf GELU of BERT)"));
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    throw ConfigError(str("model config '", path, "': \"position_embedding_type\" is ",
                          j["position_embedding_type"].dump(), "; expected \"absolute\""));
  c.validate("model config '" + path + "'");
  return c;
}

void BertConfig::validate(const std::string& where) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v < 1) throw ConfigError(str(where, ": \"", key, "\" is ", v, "; expected >= 1"));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("type_vocab_size", type_vocab_size);
  if (hidden_size % num_attention_heads != 0)
    throw ConfigError(str(where, ": hidden_size ", hidden_size,
                          " is not a multiple of num_attention_heads ", num_attention_heads));
  if (!(layer_norm_eps > 0))
    throw ConfigError(str(where, ": \"layer_norm_eps\" is ", layer_norm_eps, "; expected > 0"));
  for (double p : {hidden_dropout_prob, attention_probs_dropout_prob})
    if (!(p >= 0 && p < 1))
      throw ConfigError(str(where, ": a dropout probability is ", p, "; expected [0, 1)"));
}

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module("word_embeddings",
                                    torch::nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module(
      "position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings",
                                          torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& ids, const torch::Tensor& segments) {
  const int64_t len = ids.size(1);
  auto positions = torch::arange(len, ids.options().dtype(torch::kLong)).unsqueeze(0);  // (1, L)
  auto x = word_embeddings(ids) + token_type_embeddings(segments) + position_embeddings(positions);
  return dropout(LayerNorm(x));
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c) : heads(c.num_attention_heads) {
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x,
                                             const torch::Tensor& additive_mask) {
  const int64_t b = x.size(0), len = x.size(1), h = x.size(2), dh = h / heads;
  auto split = [&](const torch::Tensor& t) {
    return t.view({b, len, heads, dh}).transpose(1, 2);  // (B, nh, L, dh)
  };
  auto q = split(query(x)), k = split(key(x)), v = split(value(x));
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(dh));
  auto probs = dropout(torch::softmax(scores + additive_mask, -1));  // (B, nh, L, L)
  return torch::matmul(probs, v).transpose(1, 2).reshape({b, len, h});
}

BertResidualOutputImpl::BertResidualOutputImpl(const BertConfig& c, int64_t in_features) {
  dense = register_module("dense", torch::nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& x,
                                              const torch::Tensor& residual) {
  return LayerNorm(dropout(dense(x)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c, c.hidden_size));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x,
                                         const torch::Tensor& additive_mask) {
  return output(self(x, additive_mask), x);
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  // HF nests the first feed-forward Linear as "intermediate.dense".
  auto intermediate = register_module("intermediate", std::make_shared<torch::nn::Module>());
  intermediate_dense = intermediate->register_module(
      "dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
  output = register_module("output", BertResidualOutput(c, c.intermediate_size));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  auto a = attention(x, additive_mask);
  return output(torch::gelu(intermediate_dense(a)), a);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) : config_(c) {
  c.validate("BertConfig");
  embeddings = register_module("embeddings", BertEmbeddings(c));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers = encoder->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(BertLayer(c));
}

torch::Tensor BertEncoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& mask,
                                       const torch::Tensor& segments) {
  TORCH_CHECK(ids.dim() == 2 && mask.sizes() == ids.sizes() && segments.sizes() == ids.sizes(),
              "BertEncoder: ids, mask and segments must all be (B, L); got ", ids.sizes(), ", ",
              mask.sizes(), ", ", segments.sizes());
  TORCH_CHECK(ids.size(1) <= config_.max_position_embeddings, "BertEncoder: sequence length ",
              ids.size(1), " exceeds max_position_embeddings ", config_.max_position_embeddings);
  auto x = embeddings(ids.to(torch::kLong), segments.to(torch::kLong));
  // HF's extended attention mask: (1 - mask) * finfo.min, broadcast over heads and queries.
  auto additive = (1.0 - mask.to(x.scalar_type())).view({ids.size(0), 1, 1, ids.size(1)}) *
                  std::numeric_limits<float>::lowest();
  for (const auto& layer : *layers) x = layer->as<BertLayer>()->forward(x, additive);
  return x;
}

torch::Tensor float_tensor(const safetensors::TensorView& view, const std::string& file) {
  using safetensors::DType;
  torch::ScalarType type;
  switch (view.dtype) {
    case DType::kF32:
      type = torch::kFloat32;
      break;
    case DType::kF16:
      type = torch::kFloat16;
      break;
    case DType::kBF16:
      type = torch::kBFloat16;
      break;
    case DType::kF64:
      type = torch::kFloat64;
      break;
    default:
      throw DataError(str("safetensors file '", file, "': tensor '", view.name, "' at byte offset ",
                          view.file_offset, " has dtype ", safetensors::dtype_name(view.dtype),
                          "; expected F32, F16, BF16 or F64 weights"));
  }
  // The format is little-endian, like every machine LibTorch runs on here; the mapping may not
  // be aligned for the element type, so copy bytes rather than wrap the pointer.
  auto out = torch::empty(view.shape, torch::TensorOptions().dtype(type));
  if (view.nbytes) std::memcpy(out.data_ptr(), view.data, view.nbytes);
  return out.to(torch::kFloat32);
}

void load_bert_weights(BertEncoderImpl& bert, const safetensors::File& file) {
  const bool prefixed = file.find("embeddings.word_embeddings.weight") == nullptr &&
                        file.find("bert.embeddings.word_embeddings.weight") != nullptr;
  const std::string prefix = prefixed ? "bert." : "";
  torch::NoGradGuard no_grad;
  for (auto& item : bert.named_parameters(/*recurse=*/true)) {
    const std::string name = prefix + item.key();
    const safetensors::TensorView* view = file.find(name);
    if (view == nullptr)
      throw DataError(str("safetensors file '", file.path(), "': no tensor '", name,
                          "'; expected ", shape_str(item.value().sizes()),
                          " for the sizes in config.json (a BERT checkpoint, names as in "
                          "Hugging Face's BertModel)"));
    if (at::IntArrayRef(view->shape) != item.value().sizes())
      throw DataError(str("safetensors file '", file.path(), "': tensor '", name,
                          "' at byte offset ", view->file_offset, " has shape ",
                          shape_str(view->shape), "; expected ", shape_str(item.value().sizes()),
                          " for the sizes in config.json"));
    item.value().copy_(float_tensor(*view, file.path()));
  }
}

BertEncoder load_bert(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const BertConfig config = BertConfig::from_json_file((fs::path(model_dir) / "config.json").string());
  BertEncoder bert(config);
  const safetensors::File file =
      safetensors::File::open((fs::path(model_dir) / "model.safetensors").string());
  load_bert_weights(*bert, file);
  return bert;
}

}  // namespace robustmsa

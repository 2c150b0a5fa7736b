// BERT-family encoder: Hugging Face parameter names, safetensors loading with clear errors,
// padding invariance, and token features equal to Hugging Face's BertModel on the test model
// (skips without the model or a python3 with torch and transformers).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "../common/text_model.h"
#include "io/safetensors.h"
#include "nn/bert.h"
#include "text/label_csv.h"
#include "train/text_encoder.h"
#include "util/error.h"

namespace robustmsa {
namespace {

BertConfig tiny_config() {
  BertConfig c;
  c.vocab_size = 40;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 12;
  return c;
}

// A safetensors file holding `bert`'s parameters under `prefix`, optionally without one tensor.
std::string to_safetensors(BertEncoderImpl& bert, const std::string& prefix,
                           const std::string& skip = "") {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& p : bert.named_parameters()) {
    if (p.key() == skip) continue;
    auto t = p.value().detach().contiguous();
    const std::size_t begin = data.size();
    data.append(static_cast<const char*>(t.data_ptr()), t.numel() * sizeof(float));
    header[prefix + p.key()] = {
        {"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + data;
}

TEST(Bert, ParameterNamesAreHuggingFaces) {
  BertEncoder bert(tiny_config());
  std::vector<std::string> names;
  for (const auto& p : bert->named_parameters()) names.push_back(p.key());
  auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  for (const char* n :
       {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias", "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.0.attention.self.key.bias", "encoder.layer.0.attention.self.value.weight",
        "encoder.layer.0.attention.output.dense.weight",
        "encoder.layer.0.attention.output.LayerNorm.bias",
        "encoder.layer.1.intermediate.dense.weight", "encoder.layer.1.output.dense.bias",
        "encoder.layer.1.output.LayerNorm.weight"})
    EXPECT_TRUE(has(n)) << n;
  EXPECT_EQ(names.size(), 5u + 2u * 16u);  // 5 embedding tensors, 16 per layer
}

TEST(Bert, LoadsSafetensorsWithOrWithoutPrefixAndNamesTheFirstBadTensor) {
  torch::manual_seed(1);
  BertEncoder src(tiny_config());
  for (const std::string prefix : {"", "bert."}) {
    BertEncoder dst(tiny_config());
    auto file = safetensors::File::from_bytes(to_safetensors(*src, prefix), "w.safetensors");
    load_bert_weights(*dst, file);
    auto a = src->named_parameters(), b = dst->named_parameters();
    for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  }
  BertEncoder dst(tiny_config());
  auto missing = safetensors::File::from_bytes(
      to_safetensors(*src, "", "encoder.layer.1.output.dense.weight"), "w.safetensors");
  try {
    load_bert_weights(*dst, missing);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor 'encoder.layer.1.output.dense.weight'"),
              std::string::npos)
        << e.what();
  }
  BertConfig wider = tiny_config();
  wider.intermediate_size = 20;
  BertEncoder other(wider);
  auto file = safetensors::File::from_bytes(to_safetensors(*src, ""), "w.safetensors");
  try {
    load_bert_weights(*other, file);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.0.intermediate.dense.weight' at byte offset"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("[16, 8]; expected [20, 8]"), std::string::npos)
        << e.what();
  }
}

TEST(Bert, ConfigErrorsNameTheKey) {
  test_util::TempDir tmp;
  auto write = [&](const std::string& text) {
    std::ofstream(tmp / "config.json") << text;
    return tmp / "config.json";
  };
  EXPECT_THROW(BertConfig::from_json_file(write("{}")), ConfigError);
  try {
    BertConfig::from_json_file(write(R"({"vocab_size":10,"hidden_size":10,"num_hidden_layers":1,
        "num_attention_heads":3,"intermediate_size":4})"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("num_attention_heads 3"), std::string::npos) << e.what();
  }
  BertConfig c = BertConfig::from_json_file(write(R"({"vocab_size":10,"hidden_size":6,
      "num_hidden_layers":1,"num_attention_heads":3,"intermediate_size":4,"layer_norm_eps":1e-5})"));
  EXPECT_EQ(c.layer_norm_eps, 1e-5);
}

TEST(Bert, PaddingDoesNotChangeRealTokens) {
  torch::manual_seed(2);
  BertEncoder bert(tiny_config());
  bert->eval();
  torch::NoGradGuard g;
  auto ids = torch::tensor({{2, 7, 9, 3, 0, 0}}, torch::kLong);
  auto mask = torch::tensor({{1, 1, 1, 1, 0, 0}}, torch::kLong);
  auto seg = torch::zeros_like(ids);
  auto full = bert->forward(ids, mask, seg);
  auto trimmed = bert->forward(ids.slice(1, 0, 4), mask.slice(1, 0, 4), seg.slice(1, 0, 4));
  EXPECT_LT((full.slice(1, 0, 4) - trimmed).abs().max().item<float>(), 1e-5);
}

// Token features of the test model against Hugging Face's BertModel on the same ids: MOSI
// transcripts of every length, padded to 50.
TEST(BertReference, MiniLmMatchesHuggingFaceBertModel) {
  const std::string model = test_util::test_model_dir();
  if (model.empty())
    GTEST_SKIP() << "no test model (run scripts/fetch_test_model.sh or set ROBUSTMSA_TEST_MODEL)";
  const std::string py = test_util::python_with("torch, transformers");
  if (py.empty()) GTEST_SKIP() << "no python3 with torch and transformers";
  const char* shared = std::getenv("ROBUSTMSA_SHARED_DATA");
  const std::string csv = std::string(shared ? shared : "") + "/mosi/label.csv";
  std::vector<std::string> texts = {"", "anyhow it was really good",
                                    "Caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87, [SEP] don't!"};
  if (std::ifstream(csv)) {
    auto rows = text::read_label_csv(csv);
    for (std::size_t i = 0; i < rows.size() && texts.size() < 40; i += 53)
      texts.push_back(rows[i].text);
  }
  TextEncoder enc = load_text_encoder(model);
  auto rows = tokenize_texts(enc, texts, 50);  // (N, 3, 50)
  test_util::TempDir tmp;
  nlohmann::json j;
  for (int k = 0; k < 3; ++k) {
    auto r = rows.select(1, k).contiguous();
    std::vector<std::vector<int64_t>> v;
    for (int64_t i = 0; i < r.size(0); ++i)
      v.emplace_back(r[i].data_ptr<int64_t>(), r[i].data_ptr<int64_t>() + r.size(1));
    j[k == 0 ? "ids" : k == 1 ? "mask" : "segments"] = v;
  }
  std::ofstream(tmp / "ids.json") << j.dump();
  const std::string cmd = "'" + py + "' '" + std::getenv("ROBUSTMSA_SOURCE_DIR") +
                          "/tests/python/bert_reference.py' encode '" + model + "' '" +
                          tmp / "ids.json" + "' '" + tmp / "ref.f32" + "' 2> '" + tmp / "log" + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const int64_t n = rows.size(0), hidden = enc.bert->config().hidden_size;
  auto ref = torch::empty({n, 50, hidden});
  std::ifstream in(tmp / "ref.f32", std::ios::binary);
  in.read(static_cast<char*>(ref.data_ptr()), ref.numel() * 4);
  ASSERT_TRUE(in) << "short reference output";
  torch::NoGradGuard g;
  auto ours = enc.bert->forward(rows.select(1, 0), rows.select(1, 1), rows.select(1, 2));
  const float diff = (ours - ref).abs().max().item<float>();
  EXPECT_LT(diff, 1e-4) << "max |ours - HF| over " << n << " x 50 x " << hidden;
  // The batched, trimmed path gives the same features at real tokens.
  auto mask = rows.select(1, 1).unsqueeze(-1).to(torch::kFloat);
  auto batched = encode_token_rows(enc, rows, 7);
  EXPECT_LT(((batched - ref) * mask).abs().max().item<float>(), 1e-4);
  std::printf("max |ours - HF BertModel| = %.3g over %ld sentences x 50 tokens x %ld\n", diff,
              static_cast<long>(n), static_cast<long>(hidden));
}

}  // namespace
}  // namespace robustmsa

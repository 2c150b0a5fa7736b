#include "train/text_encoder.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "train/trainer.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace fs = std::filesystem;

TextEncoder load_text_encoder(const std::string& dir) {
  if (!fs::is_directory(dir))
    throw DataError(str("text encoder '", dir,
                        "': not a directory; expected a Hugging Face model folder with "
                        "config.json, vocab.txt and model.safetensors"));
  text::WordPieceOptions opt;
  const fs::path tc = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(tc)) {
    try {
      const auto j = nlohmann::json::parse(read_file(tc.string()));
      if (j.contains("do_lower_case") && j["do_lower_case"].is_boolean())
        opt.lower_case = j["do_lower_case"].get<bool>();
    } catch (const nlohmann::json::exception& e) {
      throw DataError(str("file '", tc.string(), "': invalid JSON (", e.what(), ")"));
    }
  }
  TextEncoder enc;
  enc.dir = dir;
  enc.tokenizer = text::WordPiece::from_vocab_file((fs::path(dir) / "vocab.txt").string(), opt);
  enc.bert = load_bert(dir);
  if (enc.tokenizer.vocab_size() > enc.bert->config().vocab_size)
    throw DataError(str("text encoder '", dir, "': vocab.txt has ", enc.tokenizer.vocab_size(),
                        " tokens; config.json's vocab_size is ", enc.bert->config().vocab_size));
  enc.bert->eval();
  for (auto& p : enc.bert->parameters()) p.requires_grad_(false);
  return enc;
}

torch::Tensor tokenize_texts(const TextEncoder& enc, const std::vector<std::string>& texts,
                             int64_t max_length) {
  const int64_t n = static_cast<int64_t>(texts.size());
  auto out = torch::zeros({n, 3, max_length}, torch::kLong);
  auto a = out.accessor<int64_t, 3>();
  for (int64_t i = 0; i < n; ++i) {
    const text::Encoding e = enc.tokenizer.encode(texts[static_cast<std::size_t>(i)], max_length);
    for (int64_t k = 0; k < max_length; ++k) {
      a[i][0][k] = e.ids[static_cast<std::size_t>(k)];
      a[i][1][k] = e.mask[static_cast<std::size_t>(k)];
      a[i][2][k] = e.segments[static_cast<std::size_t>(k)];
    }
  }
  return out;
}

namespace {

void check_token_ids(const torch::Tensor& rows, int64_t vocab, const std::string& dir) {
  if (rows.size(0) > 0 && (rows.select(1, 0).min().item<int64_t>() < 0 ||
                           rows.select(1, 0).max().item<int64_t>() >= vocab))
    throw DataError(str("text_bert token ids outside [0, ", vocab, ") of the encoder '", dir,
                        "'; was the file tokenised with another vocabulary?"));
}

// Token features (B, L, H) of token rows (B, 3, L) long, differentiable when grad mode is on.
// Only as many positions as the longest sentence are encoded (BERT attends to no padding, so
// the real tokens' features do not change); the rest is zero.
torch::Tensor encode_rows(BertEncoderImpl& bert, const torch::Tensor& rows) {
  const int64_t len = rows.size(2);
  auto mask = rows.select(1, 1);
  const int64_t used = std::max<int64_t>(1, (mask != 0).sum(1).max().item<int64_t>());
  auto h = bert.forward(rows.select(1, 0).slice(1, 0, used), mask.slice(1, 0, used),
                        rows.select(1, 2).slice(1, 0, used));
  return used == len ? h : torch::constant_pad_nd(h, {0, 0, 0, len - used});
}

// encode_rows over a whole split, `batch` rows at a time, without gradients.
torch::Tensor encode_all(BertEncoderImpl& bert, const torch::Tensor& rows, int64_t batch) {
  const int64_t n = rows.size(0), len = rows.size(2);
  auto out = torch::zeros({n, len, bert.config().hidden_size});
  torch::NoGradGuard no_grad;
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t e = std::min(n, b + batch);
    out.slice(0, b, e).copy_(encode_rows(bert, rows.slice(0, b, e)));
  }
  return out;
}

}  // namespace

torch::Tensor encode_token_rows(TextEncoder& enc, const torch::Tensor& text_bert, int64_t batch) {
  TORCH_CHECK(text_bert.dim() == 3 && text_bert.size(1) == 3, "text_bert must be (N, 3, L)");
  auto rows = text_bert.to(torch::kLong);
  check_token_ids(rows, enc.bert->config().vocab_size, enc.dir);
  return encode_all(*enc.bert, rows, batch);
}

void attach_text_encoder(Model& model, const std::string& dir, const InputSpec& spec) {
  BertEncoder bert = load_bert(dir);
  if (bert->config().hidden_size != spec.dim[kText])
    throw ConfigError(str("data.text_encoder '", dir, "' gives ", bert->config().hidden_size,
                          "-dimensional token features; the run's text width is ",
                          spec.dim[kText]));
  model.text_encoder = model.register_module("text_encoder", bert.ptr());
}

void encode_batch_text(Model& model, Batch& batch) {
  if (!model.text_encoder) return;
  if (!batch.text_ids.defined())
    throw RunError("the model fine-tunes a text encoder, but the batch has no text_bert rows");
  auto h = encode_rows(*model.text_encoder, batch.text_ids);
  batch.x[kText] = h * frame_mask(batch, kText).unsqueeze(-1).to(h.scalar_type());
}

SplitTensors with_text_features(Model& model, const SplitTensors& split, int64_t batch) {
  if (!model.text_encoder) return split;
  if (!split.text_ids.defined())
    throw RunError("the model fine-tunes a text encoder, but the split has no text_bert rows");
  const bool training = model.text_encoder->is_training();
  model.text_encoder->eval();
  SplitTensors out = split;
  out.x[kText] = encode_all(*model.text_encoder, split.text_ids, batch);
  out.text_ids = torch::Tensor();
  if (training) model.text_encoder->train();
  return out;
}

void apply_text_encoder(PreparedData& data, const std::string& dir, int64_t batch, bool finetune) {
  TextEncoder enc = load_text_encoder(dir);
  const int64_t hidden = enc.bert->config().hidden_size;
  for (int s = 0; s < 3; ++s) {
    Split& split = data.info.splits[s];
    if (split.text_bert.empty())
      throw DataError(str("file '", data.info.path, "': split \"", split.name,
                          "\" has no text_bert (N, 3, L); --text-encoder needs MMSA token rows"));
    const int64_t len = split.text_bert_len;
    auto rows =
        torch::from_blob(split.text_bert.data(), {split.n, 3, len}, torch::kInt32).to(torch::kLong);
    auto valid = rows.select(1, 1) != 0;
    SplitTensors& t = data.tensors[s];
    if (finetune) {
      check_token_ids(rows, enc.bert->config().vocab_size, dir);
      t.text_ids = rows;
      t.x[kText] = torch::zeros({1, 1, hidden}).expand({split.n, len, hidden});
    } else {
      t.x[kText] = encode_token_rows(enc, rows, batch);
    }
    t.valid[kText] = valid;
    ModalityData& md = split.modality[kText];
    md.t = len;
    md.d = hidden;
    md.valid.assign(static_cast<std::size_t>(split.n * len), 0);
    auto va = valid.accessor<bool, 2>();
    for (int64_t i = 0; i < split.n; ++i)
      for (int64_t k = 0; k < len; ++k) md.valid[static_cast<std::size_t>(i * len + k)] = va[i][k];
  }
  data.spec.dim[kText] = data.info.split(SplitId::kTrain).modality[kText].d;
  data.spec.len[kText] = data.info.split(SplitId::kTrain).modality[kText].t;
  std::fprintf(stderr, "text features: %s (%s), %ld x %ld per sample\n", dir.c_str(),
               finetune ? "fine-tuned with the model" : "frozen",
               static_cast<long>(data.spec.len[kText]), static_cast<long>(data.spec.dim[kText]));
}

PredictInput text_predict_input(TextEncoder& enc, const std::vector<std::string>& texts,
                                const InputSpec& spec, Model* run_model) {
  const int64_t n = static_cast<int64_t>(texts.size());
  if (enc.bert->config().hidden_size != spec.dim[kText])
    throw UsageError(str("--text-encoder '", enc.dir, "' gives ", enc.bert->config().hidden_size,
                         "-dimensional text features; the run was trained on ", spec.dim[kText]));
  auto rows = tokenize_texts(enc, texts, spec.len[kText]);
  PredictInput in;
  in.tensors.n = n;
  for (int m = 0; m < kNumModalities; ++m) {
    if (m == kText) {
      in.tensors.x[m] = run_model != nullptr && run_model->text_encoder
                            ? encode_all(*run_model->text_encoder, rows, 64)
                            : encode_token_rows(enc, rows, 64);
      in.tensors.valid[m] = rows.select(1, 1) != 0;
    } else {
      in.tensors.x[m] = torch::zeros({n, spec.len[m], spec.dim[m]});
      in.tensors.valid[m] = torch::zeros({n, spec.len[m]}, torch::kBool);
    }
    in.masks.keep[m] = torch::ones({n, spec.len[m]}, torch::kBool);
  }
  in.masks.present = torch::zeros({n, 3}, torch::kBool);
  in.masks.present.select(1, kText).fill_(true);
  in.tensors.label = torch::zeros({n});
  for (int64_t i = 0; i < n; ++i) in.ids.push_back(std::to_string(i));
  return in;
}

}  // namespace robustmsa

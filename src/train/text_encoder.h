// A frozen BERT-family text encoder over MMSA's text_bert rows (docs/text.md): the tokenizer and
// encoder of one Hugging Face model folder (config.json, vocab.txt, model.safetensors), batched
// encoding of token rows into token features, and the three uses built on it: `--text-encoder`
// (data.text_encoder) replaces a dataset's text features by the encoder's, `robustmsa features`
// turns transcripts into an MMSA-layout file, `robustmsa predict --text` scores a sentence.
//
// Usage:
//   robustmsa::TextEncoder enc = robustmsa::load_text_encoder("models/all-MiniLM-L6-v2");
//   torch::Tensor tb = robustmsa::tokenize_texts(enc, {"it was really good"}, 50);  // (1, 3, 50)
//   torch::Tensor h = robustmsa::encode_token_rows(enc, tb, 64);                     // (1, 50, 384)
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "nn/bert.h"
#include "text/wordpiece.h"
#include "train/predict_input.h"

namespace robustmsa {

struct PreparedData;

struct TextEncoder {
  std::string dir;
  text::WordPiece tokenizer;
  BertEncoder bert{nullptr};  // eval mode, parameters frozen (requires_grad false)
};

// Reads config.json, vocab.txt (do_lower_case from tokenizer_config.json when present; true
// otherwise) and model.safetensors of `dir`.
TextEncoder load_text_encoder(const std::string& dir);

// MMSA text_bert rows for `texts`: (N, 3, L) int64 — token ids, attention mask, segment ids.
torch::Tensor tokenize_texts(const TextEncoder& enc, const std::vector<std::string>& texts,
                             int64_t max_length);

// Token features (N, L, H) float32 of text_bert rows (N, 3, L), `batch` rows at a time, without
// gradients. Rows are trimmed to their longest real token within each batch (padding positions
// are then zero in the output; robustmsa masks them anyway).
torch::Tensor encode_token_rows(TextEncoder& enc, const torch::Tensor& text_bert, int64_t batch);

// data.text_encoder: replaces every split's text features by the encoder's features of the
// file's text_bert rows (DataError naming the file when it has none), and the text frame validity
// by their attention mask.
void apply_text_encoder(PreparedData& data, const std::string& dir, int64_t batch);

// `predict --text`: one sample per text, text features from the encoder (padded to the run's
// text length), audio and vision missing.
PredictInput text_predict_input(TextEncoder& enc, const std::vector<std::string>& texts,
                                const InputSpec& spec);

}  // namespace robustmsa

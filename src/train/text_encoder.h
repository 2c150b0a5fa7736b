// A frozen BERT-family text encoder over MMSA's text_bert rows (docs/text.md): the tokenizer and
// encoder of one Hugging Face model folder (config.json, vocab.txt, model.safetensors), batched
// encoding of token rows into token features, and the three uses built on it: `--text-encoder`
// (data.text_encoder) replaces a dataset's text features by the encoder's, `robustmsa features`
// turns transcripts into an MMSA-layout file, `robustmsa predict --text` scores a sentence.
//
// Usage:
//   robustmsa::TextEncoder enc = robustmsa::load_text_encoder("models/all-MiniLM-L6-v2");
//   torch::Tensor tb = robustmsa::tokenize_texts(enc, {"it was really good"}, 50);  // (1, 3, 50)
//   torch::Tensor h = robustmsa::encode_token_rows(enc, tb, 64);  // (1, 50, 384)
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "nn/bert.h"
#include "nn/model.h"
#include "text/wordpiece.h"
#include "train/predict_input.h"
#include "train/tensors.h"

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
// by their attention mask. With `finetune` (data.text_finetune) nothing is encoded here: the
// rows are kept in SplitTensors::text_ids and the run's own encoder computes the features.
void apply_text_encoder(PreparedData& data, const std::string& dir, int64_t batch, bool finetune);

// data.text_finetune: loads the encoder of `dir` (the folder's weights, trainable, train mode
// with the model) into `model` as its submodule "text_encoder", so that checkpoints, the
// optimiser (second group at train.text_lr), gradient clipping and data-parallel reduction all
// include it. ConfigError when its width is not the run's text width.
void attach_text_encoder(Model& model, const std::string& dir, const InputSpec& spec);

// Sets batch.x[kText] from batch.text_ids through the model's encoder, with gradients, zero at
// padding and at dropped frames. Does nothing for a model without a text encoder.
void encode_batch_text(Model& model, Batch& batch);

// `split` with x[kText] filled by the model's encoder (eval mode, no gradients, `batch` rows at
// a time); `split` unchanged for a model without a text encoder. Used for validation, test,
// `eval` and `predict`.
SplitTensors with_text_features(Model& model, const SplitTensors& split, int64_t batch);

// `predict --text`: one sample per text, text features from the encoder (padded to the run's
// text length), audio and vision missing. For a run with a fine-tuned encoder, pass the run's
// model: its encoder then replaces the folder's weights (the folder still gives the tokenizer).
PredictInput text_predict_input(TextEncoder& enc, const std::vector<std::string>& texts,
                                const InputSpec& spec, Model* run_model = nullptr);

}  // namespace robustmsa

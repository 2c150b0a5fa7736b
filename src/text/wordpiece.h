// A torch-free WordPiece tokenizer that reproduces Hugging Face's (slow, pure-Python)
// BertTokenizer for uncased BERT-family models, step for step:
//   1. lower-case every character except inside the special tokens [PAD] [UNK] [CLS] [SEP] [MASK],
//      which are split out as whole tokens (PreTrainedTokenizer.tokenize);
//   2. clean: drop U+0000, U+FFFD and every category-C character except \t \n \r; map \t \n \r
//      and category Zs to a space (BasicTokenizer._clean_text);
//   3. put spaces around CJK ideographs (_tokenize_chinese_chars);
//   4. NFC, split on Python's whitespace, lower-case, NFD and drop category Mn (accents), split
//      every punctuation character (ASCII non-alphanumerics and category P*) into its own token;
//   5. greedy longest-match-first WordPiece with "##" continuations; a word longer than 100 code
//      points, or one with a piece that matches nothing, becomes [UNK].
// Unicode data comes from utf8proc (Debian libutf8proc-dev). Invalid UTF-8 bytes are read as
// U+FFFD and therefore dropped in step 2 (Python would have refused to decode the text).
// encode() builds MMSA's text_bert rows: [CLS] pieces[:L-2] [SEP], padded with [PAD] to L, with
// the attention mask (1 for real tokens) and segment ids (all 0 for one sentence).
//
// Usage:
//   auto tok = robustmsa::text::WordPiece::from_vocab_file("model/vocab.txt");
//   robustmsa::text::Encoding e = tok.encode("anyhow it was really good", 50);
//   // e.ids = {101, 4312, 2009, 2001, 2428, 2204, 102, 0, ...}, e.mask = {1 x7, 0 ...}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace robustmsa::text {

struct WordPieceOptions {
  bool lower_case = true;                // uncased models; also strips accents (HF's default)
  bool tokenize_chinese_chars = true;    // spaces around CJK ideographs
  int64_t max_input_chars_per_word = 100;  // longer words become [UNK]
};

// One sentence as a model input: three rows of the same length.
struct Encoding {
  std::vector<int64_t> ids;       // [CLS] pieces [SEP] [PAD]...
  std::vector<int64_t> mask;      // 1 for real tokens, 0 for padding
  std::vector<int64_t> segments;  // token type ids: 0 for a single sentence
};

class WordPiece {
 public:
  // Reads a vocab.txt (one token per line, id = line number, universal newlines as Python's
  // text mode reads them). DataError naming the file and line when it is empty, not UTF-8 or
  // lacks one of [PAD] [UNK] [CLS] [SEP].
  static WordPiece from_vocab_file(const std::string& path, const WordPieceOptions& options = {});
  // The same from the file's contents (`path` for messages).
  static WordPiece from_vocab_text(std::string_view text, const std::string& path,
                                   const WordPieceOptions& options = {});

  // Word pieces of `text` (no [CLS]/[SEP]).
  std::vector<std::string> tokenize(std::string_view text) const;
  // Their ids.
  std::vector<int64_t> token_ids(std::string_view text) const;
  // [CLS] + the first max_length - 2 piece ids + [SEP], padded with [PAD] to max_length when
  // `pad` (HF encode_plus(..., max_length=L, truncation=True, padding="max_length")).
  // max_length must be >= 2 (ConfigError otherwise).
  Encoding encode(std::string_view text, int64_t max_length, bool pad = true) const;

  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  // Id of `token`, or -1 when it is not in the vocabulary.
  int64_t id(std::string_view token) const;
  const std::string& token(int64_t id) const { return tokens_.at(static_cast<std::size_t>(id)); }
  int64_t pad_id() const { return pad_; }
  int64_t unk_id() const { return unk_; }
  int64_t cls_id() const { return cls_; }
  int64_t sep_id() const { return sep_; }

 private:
  void append_ids(std::string_view text, std::vector<int64_t>& out,
                  std::vector<std::string>* pieces) const;
  void wordpiece(const std::u32string& word, std::vector<int64_t>& out,
                 std::vector<std::string>* pieces) const;

  WordPieceOptions options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::size_t max_token_bytes_ = 0;
  int64_t pad_ = -1, unk_ = -1, cls_ = -1, sep_ = -1, mask_ = -1;
};

}  // namespace robustmsa::text

#include "text/wordpiece.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>

#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::text {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

// UTF-8 -> code points; an invalid or truncated sequence yields one U+FFFD per bad byte.
std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    if (*p < 0x80) {  // ASCII fast path
      out.push_back(*p++);
      --left;
      continue;
    }
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp < 0) {
      out.push_back(kReplacement);
      ++p;
      --left;
    } else {
      out.push_back(static_cast<char32_t>(cp));
      p += n;
      left -= n;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

std::string encode_utf8(const std::u32string& s, std::size_t begin = 0,
                        std::size_t end = std::u32string::npos) {
  std::string out;
  end = std::min(end, s.size());
  out.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) {
    if (s[i] < 0x80)
      out.push_back(static_cast<char>(s[i]));
    else
      append_utf8(out, s[i]);
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

bool all_ascii(const std::u32string& s) {
  return std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x80; });
}

// NFC or NFD through utf8proc (identity on ASCII, which is most text).
std::u32string normalize(const std::u32string& s, bool compose) {
  if (all_ascii(s)) return s;
  const std::string utf8 = encode_utf8(s);
  utf8proc_uint8_t* result = compose
                                 ? utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(utf8.c_str()))
                                 : utf8proc_NFD(reinterpret_cast<const utf8proc_uint8_t*>(utf8.c_str()));
  if (result == nullptr) return s;  // only on allocation failure; the text stays as it was
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(result, &std::free);
  return decode_utf8(reinterpret_cast<const char*>(result));
}

utf8proc_category_t category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool is_category_c(utf8proc_category_t c) {
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CS ||
         c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CN;
}

// BasicTokenizer's _is_whitespace / _is_control / _is_punctuation.
bool bert_whitespace(char32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  return category(cp) == UTF8PROC_CATEGORY_ZS;
}

bool bert_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return is_category_c(category(cp));
}

bool bert_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  if (cp < 0x80) return false;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// Python's str.isspace(), which str.split() uses (whitespace_tokenize).
bool python_space(char32_t cp) {
  if (cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 28 && cp <= 31)) return true;
  if (cp < 0x80) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

char32_t lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

std::vector<std::u32string> split_python_whitespace(const std::u32string& s) {
  std::vector<std::u32string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && python_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !python_space(s[j])) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

constexpr std::array<const char*, 5> kSpecialTokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                       "[MASK]"};

}  // namespace

WordPiece WordPiece::from_vocab_file(const std::string& path, const WordPieceOptions& options) {
  return from_vocab_text(read_file(path), path, options);
}

WordPiece WordPiece::from_vocab_text(std::string_view text, const std::string& path,
                                     const WordPieceOptions& options) {
  if (options.max_input_chars_per_word < 1)
    throw ConfigError(str("wordpiece: max_input_chars_per_word = ", options.max_input_chars_per_word,
                          "; expected >= 1"));
  WordPiece wp;
  wp.options_ = options;
  // Python's text mode: \r\n and lone \r are line ends too; a last line without \n counts.
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && text[j] != '\n' && text[j] != '\r') ++j;
    std::string token(text.substr(i, j - i));
    const int64_t line = static_cast<int64_t>(wp.tokens_.size()) + 1;
    if (!valid_utf8(token))
      throw DataError(str("vocabulary '", path, "' line ", line, ": not valid UTF-8"));
    wp.vocab_[token] = static_cast<int64_t>(wp.tokens_.size());  // a repeated token: last id wins
    wp.max_token_bytes_ = std::max(wp.max_token_bytes_, token.size());
    wp.tokens_.push_back(std::move(token));
    if (j < text.size() && text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n') ++j;
    i = j + 1;
  }
  if (wp.tokens_.empty()) throw DataError(str("vocabulary '", path, "': empty; expected one token per line"));
  std::array<int64_t*, 5> slots = {&wp.pad_, &wp.unk_, &wp.cls_, &wp.sep_, &wp.mask_};
  for (std::size_t k = 0; k < kSpecialTokens.size(); ++k) {
    *slots[k] = wp.id(kSpecialTokens[k]);
    if (*slots[k] < 0 && k < 4)
      throw DataError(str("vocabulary '", path, "': no line holds ", kSpecialTokens[k],
                          "; expected a BERT vocabulary with [PAD] [UNK] [CLS] [SEP]"));
  }
  return wp;
}

int64_t WordPiece::id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? -1 : it->second;
}

void WordPiece::wordpiece(const std::u32string& word, std::vector<int64_t>& out,
                          std::vector<std::string>* pieces) const {
  if (static_cast<int64_t>(word.size()) > options_.max_input_chars_per_word) {
    out.push_back(unk_);
    if (pieces) pieces->push_back(tokens_[unk_]);
    return;
  }
  // Byte offsets of every code point in the word's UTF-8 form.
  std::string utf8;
  std::vector<std::size_t> at(word.size() + 1, 0);
  for (std::size_t k = 0; k < word.size(); ++k) {
    at[k] = utf8.size();
    append_utf8(utf8, word[k]);
  }
  at[word.size()] = utf8.size();
  const std::size_t first = out.size();
  std::string candidate;
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.size();
    int64_t found = -1;
    const std::string prefix = start > 0 ? "##" : "";
    while (start < end) {
      const std::size_t bytes = prefix.size() + at[end] - at[start];
      if (bytes <= max_token_bytes_) {
        candidate.assign(prefix);
        candidate.append(utf8, at[start], at[end] - at[start]);
        auto it = vocab_.find(candidate);
        if (it != vocab_.end()) {
          found = it->second;
          break;
        }
      }
      --end;
    }
    if (found < 0) {  // one piece matches nothing: the whole word is [UNK]
      out.resize(first);
      out.push_back(unk_);
      if (pieces) pieces->push_back(tokens_[unk_]);
      return;
    }
    out.push_back(found);
    start = end;
  }
  if (pieces)
    for (std::size_t k = first; k < out.size(); ++k) pieces->push_back(tokens_[out[k]]);
}

void WordPiece::append_ids(std::string_view text, std::vector<int64_t>& out,
                           std::vector<std::string>* pieces) const {
  // 1. Lower-case everything but the special tokens, which are split out whole (the earliest
  //    occurrence first, as HF's added-token trie does).
  std::u32string all = decode_utf8(text);
  std::vector<std::pair<std::u32string, int64_t>> segments;  // (text, -1) or ("", special id)
  {
    std::array<std::u32string, 5> specials;
    for (std::size_t k = 0; k < kSpecialTokens.size(); ++k)
      specials[k] = decode_utf8(kSpecialTokens[k]);
    std::u32string current;
    std::size_t i = 0;
    while (i < all.size()) {
      int64_t special = -1;
      std::size_t len = 0;
      if (all[i] == '[') {
        for (std::size_t k = 0; k < specials.size(); ++k) {
          const int64_t sid = id(kSpecialTokens[k]);
          if (sid >= 0 && all.compare(i, specials[k].size(), specials[k]) == 0) {
            special = sid;
            len = specials[k].size();
            break;
          }
        }
      }
      if (special >= 0) {
        if (!current.empty()) segments.emplace_back(std::move(current), -1);
        current.clear();
        segments.emplace_back(std::u32string(), special);
        i += len;
      } else {
        // Python's regex "." does not match \n, so HF leaves it as it is (it is a space later).
        current.push_back(options_.lower_case && all[i] != '\n' ? lower(all[i]) : all[i]);
        ++i;
      }
    }
    if (!current.empty()) segments.emplace_back(std::move(current), -1);
  }

  for (auto& [segment, special] : segments) {
    if (special >= 0) {
      out.push_back(special);
      if (pieces) pieces->push_back(tokens_[special]);
      continue;
    }
    // 2. + 3. Clean control characters, map whitespace to ' ', space out CJK ideographs.
    std::u32string clean;
    clean.reserve(segment.size());
    for (char32_t cp : segment) {
      if (cp == 0 || cp == kReplacement || bert_control(cp)) continue;
      if (bert_whitespace(cp)) {
        clean.push_back(' ');
      } else if (options_.tokenize_chinese_chars && cjk(cp)) {
        clean.push_back(' ');
        clean.push_back(cp);
        clean.push_back(' ');
      } else {
        clean.push_back(cp);
      }
    }
    // 4. NFC, whitespace split, lower + NFD + drop Mn, punctuation split.
    for (const std::u32string& raw : split_python_whitespace(normalize(clean, true))) {
      std::u32string token = raw;
      if (options_.lower_case) {
        for (char32_t& cp : token) cp = lower(cp);
        std::u32string stripped;
        for (char32_t cp : normalize(token, false))
          if (category(cp) != UTF8PROC_CATEGORY_MN) stripped.push_back(cp);
        token = std::move(stripped);
      }
      std::u32string word;
      auto flush = [&] {
        // The pieces are joined by spaces and split again in HF; a piece never holds Python
        // whitespace at this point except what NFD cannot produce, so split once more anyway.
        for (const std::u32string& w : split_python_whitespace(word)) wordpiece(w, out, pieces);
        word.clear();
      };
      for (char32_t cp : token) {
        if (bert_punctuation(cp)) {
          flush();
          word.push_back(cp);
          flush();
        } else {
          word.push_back(cp);
        }
      }
      flush();
    }
  }
}

std::vector<std::string> WordPiece::tokenize(std::string_view text) const {
  std::vector<int64_t> ids;
  std::vector<std::string> pieces;
  append_ids(text, ids, &pieces);
  return pieces;
}

std::vector<int64_t> WordPiece::token_ids(std::string_view text) const {
  std::vector<int64_t> ids;
  append_ids(text, ids, nullptr);
  return ids;
}

Encoding WordPiece::encode(std::string_view text, int64_t max_length, bool pad) const {
  if (max_length < 2)
    throw ConfigError(str("wordpiece: max_length = ", max_length,
                          "; expected >= 2 (room for [CLS] and [SEP])"));
  std::vector<int64_t> pieces = token_ids(text);
  const auto keep = std::min<std::size_t>(pieces.size(), static_cast<std::size_t>(max_length - 2));
  Encoding e;
  e.ids.reserve(static_cast<std::size_t>(max_length));
  e.ids.push_back(cls_);
  e.ids.insert(e.ids.end(), pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(keep));
  e.ids.push_back(sep_);
  e.mask.assign(e.ids.size(), 1);
  if (pad) {
    e.mask.resize(static_cast<std::size_t>(max_length), 0);
    e.ids.resize(static_cast<std::size_t>(max_length), pad_);
  }
  e.segments.assign(e.ids.size(), 0);
  return e;
}

}  // namespace robustmsa::text

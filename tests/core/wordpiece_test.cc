// WordPiece tokenizer: behaviour on a tiny vocabulary (expectations from Hugging Face's
// BertTokenizer on the same vocabulary), the label.csv reader, and the reference check against
// Hugging Face on every MOSI and MOSEI transcript (skips without the test model or transformers).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "../common/text_model.h"
#include "text/label_csv.h"
#include "text/wordpiece.h"
#include "util/error.h"

namespace robustmsa::text {
namespace {

using Ids = std::vector<int64_t>;
using Pieces = std::vector<std::string>;

const char* kTinyVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\nhello\nworld\n!\n,\nthe\ncafe\n"
    "\xe4\xb8\xad\n\xe6\x96\x87\n.\n'\ns\ni\n##s\nhe\n##llo\n";

WordPiece tiny() { return WordPiece::from_vocab_text(kTinyVocab, "tiny"); }

TEST(WordPiece, GreedyLongestMatchFirst) {
  EXPECT_EQ(tiny().tokenize("unaffable"), (Pieces{"un", "##aff", "##able"}));
  EXPECT_EQ(tiny().encode("unaffable", 8, false).ids, (Ids{2, 5, 6, 7, 3}));
  // "hello" is in the vocabulary whole, so "he" + "##llo" is never chosen.
  EXPECT_EQ(tiny().tokenize("hellos unaffablex"), (Pieces{"hello", "##s", "[UNK]"}));
}

TEST(WordPiece, LowerCasePunctuationAndAccents) {
  EXPECT_EQ(tiny().tokenize("Hello, World!"), (Pieces{"hello", ",", "world", "!"}));
  EXPECT_EQ(tiny().tokenize("Caf\xc3\xa9 the"), (Pieces{"cafe", "the"}));
  // Decomposed accent (e + U+0301), a tab, NUL and BEL (dropped).
  EXPECT_EQ(tiny().tokenize("he\xcc\x81llo\tworld\x07!"), (Pieces{"hello", "world", "!"}));
  EXPECT_EQ(tiny().tokenize("i's"), (Pieces{"i", "'", "s"}));
  // U+0130 lower-cases to i + U+0307, whose accent is stripped.
  EXPECT_EQ(tiny().tokenize("\xc4\xb0"), (Pieces{"i"}));
}

TEST(WordPiece, WhitespaceAndCjk) {
  // NBSP (Zs) and U+2028 (Python whitespace) separate words.
  EXPECT_EQ(tiny().tokenize("HELLO\xc2\xa0world\xe2\x80\xa8the"), (Pieces{"hello", "world", "the"}));
  EXPECT_EQ(tiny().token_ids("\xe4\xb8\xad\xe6\x96\x87hello"), (Ids{14, 15, 8}));
}

TEST(WordPiece, SpecialTokensInTextStayWhole) {
  EXPECT_EQ(tiny().token_ids("[CLS] hello [SEP]"), (Ids{2, 8, 3}));
  EXPECT_EQ(tiny().token_ids("[cls]"), (Ids{1, 1, 1}));  // case-sensitive, as HF
}

TEST(WordPiece, LongWordIsUnknown) {
  std::string word(101, 'a');
  EXPECT_EQ(tiny().token_ids(word), (Ids{1}));
  WordPieceOptions o;
  o.max_input_chars_per_word = 200;
  EXPECT_EQ(WordPiece::from_vocab_text(kTinyVocab, "tiny", o).token_ids(word), (Ids{1}));
}

TEST(WordPiece, TruncationPaddingMaskSegments) {
  Encoding e = tiny().encode("hello world the", 4);
  EXPECT_EQ(e.ids, (Ids{2, 8, 9, 3}));
  EXPECT_EQ(e.mask, (Ids{1, 1, 1, 1}));
  e = tiny().encode("hello", 6);
  EXPECT_EQ(e.ids, (Ids{2, 8, 3, 0, 0, 0}));
  EXPECT_EQ(e.mask, (Ids{1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(e.segments, (Ids{0, 0, 0, 0, 0, 0}));
  e = tiny().encode("", 3);
  EXPECT_EQ(e.ids, (Ids{2, 3, 0}));
  EXPECT_THROW(tiny().encode("x", 1), ConfigError);
}

TEST(WordPiece, InvalidUtf8IsDropped) {
  EXPECT_EQ(tiny().tokenize("hello\xff world"), (Pieces{"hello", "world"}));
}

TEST(WordPiece, VocabularyErrors) {
  EXPECT_THROW(WordPiece::from_vocab_text("", "v"), DataError);
  try {
    WordPiece::from_vocab_text("[PAD]\n[UNK]\n[CLS]\nhello\n", "v.txt");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("[SEP]"), std::string::npos) << e.what();
  }
  try {
    WordPiece::from_vocab_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xc3\n", "v.txt");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("line 5"), std::string::npos) << e.what();
  }
  // Universal newlines: \r\n and \r end lines as in Python's text mode.
  WordPiece crlf = WordPiece::from_vocab_text("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nhi", "v");
  EXPECT_EQ(crlf.id("[CLS]"), 2);
  EXPECT_EQ(crlf.id("hi"), 4);
}

TEST(LabelCsv, BothLayoutsQuotesAndModes) {
  auto rows = parse_label_csv(
      "video_id,clip_id,text,label,mode\r\nv1,3,\"a, \"\"quoted\"\"\nline\",-1.5,dev\nv2,4,b,2,test\n",
      "l.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].id, "v1$_$3");
  EXPECT_EQ(rows[0].text, "a, \"quoted\"\nline");
  EXPECT_EQ(rows[0].label, -1.5);
  EXPECT_EQ(rows[0].split, 1);
  EXPECT_EQ(rows[1].line, 4);
  EXPECT_EQ(rows[1].split, 2);
  rows = parse_label_csv("id,text,label,mode\nx_1,hi,0.4,train\n", "l.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, "x_1");
  EXPECT_THROW(parse_label_csv("id,text,mode\nx,hi,train\n", "l.csv"), DataError);
  EXPECT_THROW(parse_label_csv("id,text,label,mode\nx,hi,abc,train\n", "l.csv"), DataError);
  EXPECT_THROW(parse_label_csv("id,text,label,mode\nx,hi,1,holdout\n", "l.csv"), DataError);
  EXPECT_THROW(parse_label_csv("id,text,label,mode\nx,\"hi,1,train\n", "l.csv"), DataError);
}

// Every transcript of the real MOSI and MOSEI label.csv files: ids without truncation, and the
// (3, 50) text_bert rows, equal to Hugging Face's BertTokenizer.
TEST(WordPieceReference, EveryMosiAndMoseiTranscriptMatchesHuggingFace) {
  const std::string model = test_util::test_model_dir();
  if (model.empty())
    GTEST_SKIP() << "no test model (run scripts/fetch_test_model.sh or set ROBUSTMSA_TEST_MODEL)";
  const char* shared = std::getenv("ROBUSTMSA_SHARED_DATA");
  std::vector<std::string> csvs;
  for (const char* name : {"mosi", "mosei"}) {
    std::string p = std::string(shared ? shared : "") + "/" + name + "/label.csv";
    if (std::ifstream(p)) csvs.push_back(p);
  }
  if (csvs.size() != 2) GTEST_SKIP() << "no MOSI/MOSEI label.csv under ROBUSTMSA_SHARED_DATA";
  const std::string py = test_util::python_with("transformers");
  if (py.empty()) GTEST_SKIP() << "no python3 with transformers";
  test_util::TempDir tmp;
  const std::string out = tmp / "ref.jsonl";
  std::string cmd = "'" + py + "' '" + std::getenv("ROBUSTMSA_SOURCE_DIR") +
                    "/tests/python/bert_reference.py' tokenize '" + model + "' 50 '" + out + "'";
  for (const auto& c : csvs) cmd += " '" + c + "'";
  cmd += " 2> '" + tmp / "log" + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  const WordPiece tok = WordPiece::from_vocab_file(model + "/vocab.txt");
  std::vector<LabelRow> rows;
  for (const auto& c : csvs) {
    auto r = read_label_csv(c);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  std::ifstream in(out);
  std::string line;
  std::size_t n = 0, mismatches = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(n, rows.size());
    const auto ref = nlohmann::json::parse(line);
    const LabelRow& row = rows[n++];
    ASSERT_EQ(ref["id"].get<std::string>(), row.id);
    const Encoding full = tok.encode(row.text, 1 << 20, false);
    const Encoding e = tok.encode(row.text, 50);
    const bool same = full.ids == ref["full"].get<Ids>() && e.ids == ref["ids"].get<Ids>() &&
                      e.mask == ref["mask"].get<Ids>() && e.segments == ref["segments"].get<Ids>();
    if (!same && ++mismatches <= 5)
      ADD_FAILURE() << "row " << row.id << " '" << row.text << "': ids differ from HF\n  ours "
                    << nlohmann::json(full.ids).dump() << "\n  HF   " << ref["full"].dump();
  }
  EXPECT_EQ(n, rows.size());
  EXPECT_EQ(mismatches, 0u) << "of " << n << " transcripts";
  std::printf("compared %zu transcripts with Hugging Face's BertTokenizer\n", n);
}

}  // namespace
}  // namespace robustmsa::text

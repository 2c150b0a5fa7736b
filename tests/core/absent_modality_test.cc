// The loader's absent modalities (what `robustmsa features` writes) and text_bert rows.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "data/dataset.h"
#include "io/pickle_write.h"
#include "util/error.h"

namespace robustmsa {
namespace {

// An MMSA-layout file of text only: audio as an empty (N, 0, 0) array, vision as None (or left
// out when `drop_vision`).
void write_text_only(const std::string& path, bool drop_vision) {
  pickle::Writer w(path);
  w.begin_dict();
  for (const char* split : {"train", "valid", "test"}) {
    const int64_t n = 2, len = 4, d = 3;
    std::vector<float> labels = {1.5f, -0.5f}, text(n * len * d, 0.25f);
    std::vector<int64_t> tb = {101, 7, 102, 0, 1, 1, 1, 0, 0, 0, 0, 0,
                               101, 102, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
    w.key(split);
    w.begin_dict();
    w.key("regression_labels");
    w.array(pickle::DType::kFloat32, {n}, labels.data());
    w.key("text");
    w.array(pickle::DType::kFloat32, {n, len, d}, text.data());
    w.key("text_bert");
    w.array(pickle::DType::kInt64, {n, 3, len}, tb.data());
    w.key("audio");
    w.array(pickle::DType::kFloat32, {n, 0, 0}, nullptr);
    if (!drop_vision) {
      w.key("vision");
      w.none();
    }
    w.end_dict();
  }
  w.end_dict();
  w.finish();
}

TEST(AbsentModality, EmptyOrNoneIsMissingAndTextBertIsKept) {
  test_util::TempDir tmp;
  write_text_only(tmp / "t.pkl", false);
  Dataset ds = load_dataset(tmp / "t.pkl", DataOptions{});
  const Split& test = ds.split(SplitId::kTest);
  for (int m : {kAudio, kVision}) {
    EXPECT_TRUE(test.modality[m].absent);
    EXPECT_EQ(test.modality[m].t, 1);
    EXPECT_EQ(test.modality[m].valid, (std::vector<uint8_t>{0, 0}));
  }
  EXPECT_FALSE(test.modality[kText].absent);
  // Text validity is the attention mask row.
  EXPECT_EQ(test.modality[kText].valid, (std::vector<uint8_t>{1, 1, 1, 0, 1, 1, 0, 0}));
  EXPECT_EQ(test.text_bert_len, 4);
  ASSERT_EQ(test.text_bert.size(), 24u);
  EXPECT_EQ(test.text_bert[1], 7);
}

TEST(AbsentModality, MissingKeyIsStillAnError) {
  test_util::TempDir tmp;
  write_text_only(tmp / "t.pkl", true);
  try {
    load_dataset(tmp / "t.pkl", DataOptions{});
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("key \"vision\": missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace robustmsa

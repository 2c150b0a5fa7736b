// safetensors reader: valid files (built here, and the test model when fetched) and every
// validation rule with the file, tensor and byte offset in the message.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "../common/text_model.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::safetensors {
namespace {

std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string floats(std::vector<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// The DataError message of parsing `bytes`, or "" when it parses.
std::string error_of(const std::string& bytes) {
  try {
    File::from_bytes(bytes, "m.safetensors");
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsTensorsAndMetadata) {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("e":{"dtype":"F16","shape":[0,3],"data_offsets":[16,16]}})";
  int64_t seven = 7;
  std::string data = floats({1.5f, -2.0f}) + std::string(reinterpret_cast<char*>(&seven), 8);
  File f = File::from_bytes(make_file(header, data), "m.safetensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // in data order
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView* a = f.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(a->file_offset, 8 + header.size());
  float x[2];
  std::memcpy(x, a->data, 8);
  EXPECT_EQ(x[1], -2.0f);
  int64_t b;
  std::memcpy(&b, f.find("b")->data, 8);
  EXPECT_EQ(b, 7);
  EXPECT_EQ(f.find("e")->numel(), 0);
  EXPECT_EQ(f.find("zzz"), nullptr);
}

TEST(Safetensors, OpensAMappedFile) {
  test_util::TempDir tmp;
  const std::string path = tmp / "w.safetensors";
  const std::string bytes =
      make_file(R"({"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})", floats({3, 4}));
  write_file_atomic(path, bytes);
  File f = File::open(path);
  float x[2];
  std::memcpy(x, f.find("w")->data, 8);
  EXPECT_EQ(x[0], 3.0f);
  EXPECT_THROW(File::open(tmp / "missing.safetensors"), DataError);
}

TEST(Safetensors, RejectsMalformedFiles) {
  auto expect = [](const std::string& bytes, const std::string& needle) {
    const std::string e = error_of(bytes);
    EXPECT_NE(e.find(needle), std::string::npos) << "message: '" << e << "', wanted " << needle;
    EXPECT_NE(e.find("m.safetensors"), std::string::npos) << e;
  };
  expect("abc", "at least 8");
  std::string huge(8, '\xff');
  expect(huge + "{}", "header length");
  expect(make_file("{\"a\":", ""), "not valid JSON");
  expect(make_file("[1,2]", ""), "expected an object");
  const std::string d8 = floats({1, 2});
  expect(make_file(R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", d8), "'w': dtype");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8),
         "holds 8 bytes; expected F32 x [3]");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", d8),
         "not a range inside the data section");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", d8),
         "not a range");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8),
         "non-negative");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[2]}})", d8), "data_offsets");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                   d8),
         "more elements");
  expect(make_file(R"({"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   d8),
         "overlaps");
  expect(make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                   R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   d8),
         "twice");
  expect(make_file(R"({"__metadata__":{"k":1}})", ""), "expected a string");
  // Every truncation of a valid file is rejected (or, for the full file, accepted).
  const std::string good =
      make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8);
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(error_of(good.substr(0, n)).empty()) << "truncated to " << n << " bytes";
  EXPECT_TRUE(error_of(good).empty());
}

TEST(Safetensors, ReadsTheTestModel) {
  const std::string model = test_util::test_model_dir();
  if (model.empty())
    GTEST_SKIP() << "no test model (run scripts/fetch_test_model.sh or set ROBUSTMSA_TEST_MODEL)";
  File f = File::open(model + "/model.safetensors");
  const TensorView* w = f.find("embeddings.word_embeddings.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::kF32);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{30522, 384}));
  EXPECT_NE(f.find("encoder.layer.5.output.LayerNorm.bias"), nullptr);
}

}  // namespace
}  // namespace robustmsa::safetensors

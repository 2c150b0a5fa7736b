// The computational-sequence reader (io/csd.h): well-formed files written here with the HDF5 C
// API, malformed ones (each error names the file and the HDF5 object), the CLI's inspect on
// them, and the SDK's real CMU-MOSI label file from ../shared/data (skipped when absent).
#include "io/csd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "csd_writer.h"
#include "util/error.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::TempDir;

TEST(CsdReader, NotHdf5IsAClearError) {
  TempDir dir;
  const std::string path = dir / "x.csd";
  test_util::write_bytes(path, "not an HDF5 file at all, just text\n");
  EXPECT_FALSE(is_hdf5_file(path));
  try {
    read_csd(path);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_csd(dir / "missing.csd"), DataError);
}

#ifdef ROBUSTMSA_HAVE_HDF5

TEST(CsdReader, ReadsALabelSequence) {
  TempDir dir;
  const std::string path = dir / "labels.csd";
  test_util::write_label_csd(path, {{"vidB", {{1.5, 0, 1}, {-0.25, 1, 2.5}}},
                                    {"vidA", {{-3, 0.5, 0.75}, {3, 0.75, 4}, {0, 4, 4}}}});
  ASSERT_TRUE(is_hdf5_file(path));
  const ComputationalSequence cs = read_csd(path);
  EXPECT_EQ(cs.root, "Opinion Segment Labels");
  EXPECT_EQ(cs.dim, 1);
  EXPECT_FALSE(cs.strings);
  ASSERT_EQ(cs.entries.size(), 2u);
  EXPECT_EQ(cs.entries[0].id, "vidA");  // sorted by id
  EXPECT_EQ(cs.rows(), 5);
  const CsdEntry* b = cs.find("vidB");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->n, 2);
  EXPECT_FLOAT_EQ(b->features[1], -0.25f);
  EXPECT_DOUBLE_EQ(b->intervals[3], 2.5);
  EXPECT_EQ(cs.find("vidC"), nullptr);
  EXPECT_EQ(cs.metadata.at("dimension names"), "[\"sentiment score\"]");
  EXPECT_EQ(cs.nan_count, 0);
}

TEST(CsdReader, StringFeaturesAndNonFiniteNumbers) {
  TempDir dir;
  const std::string words = dir / "words.csd";
  {
    test_util::H5Builder h(words);
    h.strings("/words/data/v1/features", {"hello", "world"});
    h.numbers("/words/data/v1/intervals", {2, 2}, {0, 0.5, 0.5, 1});
  }
  // A (2,) string dataset is not (n, d): the SDK writes (n, 1); refused with the shape.
  try {
    read_csd(words);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/words/data/v1/features"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected 2 dimensions"), std::string::npos) << e.what();
  }
  const std::string nan = dir / "nan.csd";
  {
    test_util::H5Builder h(nan);
    h.numbers("/s/data/v/features", {2, 2}, {NAN, 1, INFINITY, -INFINITY});
    h.numbers("/s/data/v/intervals", {2, 2}, {0, 1, 1, 2});
  }
  const ComputationalSequence cs = read_csd(nan);
  EXPECT_EQ(cs.nan_count, 1);
  EXPECT_EQ(cs.posinf_count, 1);
  EXPECT_EQ(cs.neginf_count, 1);
  EXPECT_EQ(cs.entries[0].features, (std::vector<float>{0, 1, 0, 0}));
}

// One malformed file per case: how to build it, and what the error must name.
struct BadCsd {
  const char* name;
  std::function<void(test_util::H5Builder&)> build;
  const char* object;    // the HDF5 object the message names ("" for file-level errors)
  const char* expected;  // what it says was expected
};

void good_entry(test_util::H5Builder& h, const std::string& base, int n = 2) {
  std::vector<double> f, iv;
  for (int i = 0; i < n; ++i) {
    f.push_back(0.5 * i);
    iv.push_back(i);
    iv.push_back(i + 1);
  }
  h.numbers(base + "/features", {static_cast<hsize_t>(n), 1}, f);
  h.numbers(base + "/intervals", {static_cast<hsize_t>(n), 2}, iv);
}

TEST(CsdReader, MalformedFilesGiveErrorsNamingTheObject) {
  const std::vector<BadCsd> cases = {
      {"no root group",
       [](auto& h) {
         h.numbers("/features", {1, 1}, {0});
       },
       "", "expected exactly one root group"},
      {"two root groups",
       [](auto& h) {
         good_entry(h, "/a/data/v");
         good_entry(h, "/b/data/v");
       },
       "", "found 2: 'a', 'b'"},
      {"no data group", [](auto& h) { h.group("/seq/metadata"); }, "/seq", "has no group 'data'"},
      {"entry without intervals",
       [](auto& h) {
         h.numbers("/seq/data/v/features", {2, 1}, {0, 1});
       },
       "/seq/data/v", "has no dataset 'intervals'"},
      {"features not 2-D",
       [](auto& h) {
         h.numbers("/seq/data/v/features", {2}, {0, 1});
         h.numbers("/seq/data/v/intervals", {2, 2}, {0, 1, 1, 2});
       },
       "/seq/data/v/features", "expected 2 dimensions (n, d), found (2,)"},
      {"intervals with 3 columns",
       [](auto& h) {
         h.numbers("/seq/data/v/features", {1, 1}, {0});
         h.numbers("/seq/data/v/intervals", {1, 3}, {0, 1, 2});
       },
       "/seq/data/v/intervals", "expected (n, 2) start and end times, found (1, 3)"},
      {"rows differ",
       [](auto& h) {
         h.numbers("/seq/data/v/features", {3, 1}, {0, 1, 2});
         h.numbers("/seq/data/v/intervals", {2, 2}, {0, 1, 1, 2});
       },
       "/seq/data/v/intervals", "has 2 rows; expected 3 like 'features'"},
      {"interval ends before it starts",
       [](auto& h) {
         h.numbers("/seq/data/v/features", {2, 1}, {0, 1});
         h.numbers("/seq/data/v/intervals", {2, 2}, {0, 1, 2, 1.5});
       },
       "/seq/data/v/intervals", "row 1: interval [2, 1.5]; expected finite start <= end"},
      {"interval not finite",
       [](auto& h) {
         h.numbers("/seq/data/v/features", {1, 1}, {0});
         h.numbers("/seq/data/v/intervals", {1, 2}, {0, NAN});
       },
       "/seq/data/v/intervals", "expected finite start <= end"},
      {"dims differ between entries",
       [](auto& h) {
         good_entry(h, "/seq/data/a");
         h.numbers("/seq/data/b/features", {1, 2}, {0, 1});
         h.numbers("/seq/data/b/intervals", {1, 2}, {0, 1});
       },
       "/seq/data/b/features", "expected 1 numeric like entry 'a'"},
      {"entry is a dataset",
       [](auto& h) {
         h.numbers("/seq/data/v", {1, 1}, {0});
       },
       "/seq/data/v", "expected a group, found a dataset"},
      {"soft link entry",
       [](auto& h) {
         good_entry(h, "/seq/data/a");
         h.soft_link("/seq/data/b", "/seq/data/a");
       },
       "/seq/data/b", "is a soft or external link"},
      {"declares more data than the file holds",
       [](auto& h) {
         h.unwritten("/seq/data/v/features", {1u << 28, 64});
         h.numbers("/seq/data/v/intervals", {1, 2}, {0, 1});
       },
       "/seq/data/v/features", "more than a"},
  };
  for (const BadCsd& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string path = dir / "bad.csd";
    {
      test_util::H5Builder h(path);
      c.build(h);
    }
    try {
      read_csd(path);
      ADD_FAILURE() << c.name << ": expected a DataError";
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("file '" + path + "'"), std::string::npos) << msg;
      if (*c.object) {
        EXPECT_NE(msg.find(std::string("object '") + c.object + "'"), std::string::npos) << msg;
      }
      EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
    }
  }
}

TEST(CsdReader, TruncatedFileIsADataError) {
  TempDir dir;
  const std::string good = dir / "good.csd";
  test_util::write_label_csd(good, {{"v", {{1, 0, 1}, {-1, 1, 2}}}});
  const std::string bytes = test_util::slurp(good);
  for (std::size_t keep : {bytes.size() / 2, bytes.size() - 40, std::size_t{600}}) {
    const std::string cut = dir / ("cut" + std::to_string(keep) + ".csd");
    test_util::write_bytes(cut, bytes.substr(0, keep));
    EXPECT_THROW(read_csd(cut), DataError) << keep << " of " << bytes.size() << " bytes";
  }
}

TEST(CsdCli, InspectDescribesAndRefuses) {
  if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  TempDir dir;
  const std::string good = dir / "labels.csd";
  test_util::write_label_csd(good, {{"v1", {{1, 0, 1}, {-1, 1, 2}}}, {"v2", {{0.5, 0, 3}}}});
  test_util::CliResult r = test_util::run_cli("inspect " + test_util::shell_quote(good));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("root 'Opinion Segment Labels'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("entries  2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 rows of 1 numbers"), std::string::npos) << r.out;

  const std::string bad = dir / "bad.csd";
  {
    test_util::H5Builder h(bad);
    h.numbers("/seq/data/v/features", {2, 1}, {0, 1});
    h.numbers("/seq/data/v/intervals", {2, 3}, {0, 1, 2, 3, 4, 5});
  }
  r = test_util::run_cli("inspect " + test_util::shell_quote(bad));
  EXPECT_EQ(r.code, 1);
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.error_lines()[0].find(bad), std::string::npos);
  EXPECT_NE(r.error_lines()[0].find("/seq/data/v/intervals"), std::string::npos);

  // A .csd named as training data: it holds labels, not a dataset.
  r = test_util::run_cli("train --data " + test_util::shell_quote(good) + " --model lf_dnn --out " +
                         test_util::shell_quote(dir / "run"));
  EXPECT_EQ(r.code, 1);
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.error_lines()[0].find("data.labels"), std::string::npos) << r.err;
}

#endif  // ROBUSTMSA_HAVE_HDF5

// The SDK's own CMU-MOSI label file (../shared/data; PROVENANCE.md).
TEST(CsdShared, CmuMosiOpinionLabels) {
  const char* shared = std::getenv("ROBUSTMSA_SHARED_DATA");
  const std::string path =
      shared ? std::string(shared) + "/mosi-utterance/CMU_MOSI_Opinion_Labels.csd" : "";
  if (path.empty() || !fs::exists(path)) GTEST_SKIP() << "no " << path << " (../shared absent)";
  if (!csd_available()) GTEST_SKIP() << "built without HDF5";
  const ComputationalSequence cs = read_csd(path);
  EXPECT_EQ(cs.root, "Opinion Segment Labels");
  EXPECT_EQ(cs.entries.size(), 93u);
  EXPECT_EQ(cs.rows(), 2199);
  EXPECT_EQ(cs.dim, 1);
  EXPECT_EQ(cs.metadata.at("dataset name"), "\"CMU-MOSI\"");
  for (const CsdEntry& e : cs.entries)
    for (float y : e.features) ASSERT_TRUE(y >= -3.0f && y <= 3.0f) << e.id << " " << y;
  const CsdEntry* e = cs.find("03bSnISJMiM");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->n, 13);
}

}  // namespace
}  // namespace robustmsa

// Utterance-level CMU-MOSI sets (data/utterance.h): small bc-LSTM and HFFN excerpts written here
// (with a label sequence written through the HDF5 C API), their errors (file, row and column),
// the CLI on them, and the real files of ../shared/data/mosi-utterance (skipped when absent),
// checked against the join documented in utterance_index.csv.
#include "data/utterance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "csd_writer.h"
#include "data/dataset.h"
#include "io/csd.h"
#include "io/csv.h"
#include "io/pickle.h"
#include "io/pickle_write.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::shell_quote;
using test_util::TempDir;

// ---- a bc-LSTM excerpt --------------------------------------------------------------------------

struct Utt {
  std::string video;
  int k, number, label;
  double score;
};

// Four videos: 1 and 2 train, 3 and 4 test (vidA_10 checks that ids sort as strings).
const std::vector<Utt> kUtts = {
    {"vidA", 1, 1, 1, 1.2},  {"vidA", 10, 1, 0, -0.4}, {"vidA", 2, 1, 1, 0.0},
    {"vidA", 3, 1, 0, -2.6}, {"vidB", 1, 2, 0, -1.0},  {"vidB", 2, 2, 1, 2.2},
    {"vidC", 1, 3, 1, 3.0},  {"vidC", 2, 3, 0, -0.2},  {"vidD", 1, 4, 1, 0.8},
};
constexpr int kDims[3] = {3, 2, 4};  // text, audio, video
const char* kMods[3] = {"text", "audio", "video"};

// The feature value the excerpt writes: identifies the utterance, modality and column.
double feature(const Utt& u, int m, int c) { return u.number * 100 + u.k + m * 1000 + 0.125 * c; }

std::string q(const std::string& s) { return "\"" + s + "\""; }

// The CSV lines of each file name; tests edit them before writing.
std::map<std::string, std::vector<std::string>> bclstm_lines() {
  std::map<std::string, std::vector<std::string>> files;
  for (const Utt& u : kUtts)  // already in id string order
    files["transcripts.csv"].push_back(q(u.video + "_" + std::to_string(u.k)) + "," +
                                       q("SOME WORDS") + "," + q(std::to_string(u.number)) + "," +
                                       q(std::to_string(u.label)));
  for (const char* split : {"train", "test"}) {
    std::vector<const Utt*> order;
    for (int label : {1, 0})
      for (const Utt& u : kUtts)
        if ((u.number <= 2) == (std::string(split) == "train") && u.label == label)
          order.push_back(&u);
    for (int m = 0; m < 3; ++m) {
      auto& lines = files[std::string(kMods[m]) + "_" + split + "0.csv"];
      for (const Utt* u : order) {
        std::string line;
        for (int c = 0; c < kDims[m]; ++c) {
          char num[32];
          std::snprintf(num, sizeof num, "%.17g", feature(*u, m, c));
          line += q(num) + ",";
        }
        lines.push_back(line + q(std::to_string(u->label)));
      }
    }
  }
  return files;
}

void write_lines(const std::string& dir, const std::map<std::string, std::vector<std::string>>& f) {
  fs::create_directories(dir);
  for (const auto& [name, lines] : f) {
    std::string text;
    for (const auto& l : lines) text += l + "\r\n";  // the release's line ends
    test_util::write_bytes(dir + "/" + name, text);
  }
}

#ifdef ROBUSTMSA_HAVE_HDF5
std::map<std::string, std::vector<test_util::CsdSegment>> label_segments() {
  std::map<std::string, std::vector<test_util::CsdSegment>> v;
  for (const Utt& u : kUtts) {
    auto& segs = v[u.video];
    if (static_cast<int>(segs.size()) < u.k) segs.resize(static_cast<std::size_t>(u.k), {0, 0, 0});
    segs[static_cast<std::size_t>(u.k - 1)] = {u.score, 1.0 * u.k, 1.0 * u.k + 0.5};
  }
  // vidA has utterances 1, 2, 3 and 10: its segments 4 ... 9 are not used by the set.
  for (std::size_t i = 3; i < 9; ++i) v["vidA"][i] = {0.5, 10.0 + i, 10.5 + i};
  return v;
}

// The bc-LSTM excerpt in <dir>/bclstm and its continuous labels in <dir>/labels.csd.
struct BclstmFiles {
  std::string dir, csd;
};
BclstmFiles write_bclstm_with_labels(const TempDir& dir) {
  BclstmFiles f{dir / "bclstm", dir / "labels.csd"};
  write_lines(f.dir, bclstm_lines());
  test_util::write_label_csd(f.csd, label_segments());
  return f;
}
#endif

const Utterance& find_utt(const UtteranceSet& set, const std::string& id) {
  for (const Utterance& u : set.utterances)
    if (u.id == id) return u;
  throw std::runtime_error("no utterance " + id);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(BcLstm, ReadsTheExcerptWithIdsFromTranscripts) {
  TempDir dir;
  const std::string d = dir / "bclstm";
  write_lines(d, bclstm_lines());
  EXPECT_TRUE(is_bclstm_source(d));
  EXPECT_TRUE(is_bclstm_source(d + "/audio_test0.csv"));  // one of its files names the set
  EXPECT_FALSE(is_bclstm_source(dir / "nothing"));
  const UtteranceSet set = read_bclstm(d);
  EXPECT_EQ(set.format, UtteranceFormat::kBcLstmCsv);
  EXPECT_TRUE(set.ids_known);
  EXPECT_EQ(set.dim, (std::array<int64_t, 3>{3, 2, 4}));
  ASSERT_EQ(set.utterances.size(), kUtts.size());
  EXPECT_EQ(set.files.size(), 7u);
  // Every CSV row carries the features of the utterance the join assigns to it.
  for (std::size_t i = 0; i < set.utterances.size(); ++i) {
    const Utterance& u = set.utterances[i];
    const Utt* src = nullptr;
    for (const Utt& x : kUtts)
      if (u.id == x.video + "_" + std::to_string(x.k)) src = &x;
    ASSERT_NE(src, nullptr) << u.id;
    EXPECT_EQ(u.label, src->label);
    EXPECT_EQ(u.released, src->number <= 2 ? SplitId::kTrain : SplitId::kTest);
    for (int m = 0; m < 3; ++m)
      for (int c = 0; c < kDims[m]; ++c)
        EXPECT_EQ(set.features[m][i * kDims[m] + c], static_cast<float>(feature(*src, m, c)))
            << u.id << " modality " << m;
  }
  // Train rows: label 1 first (vidA_1, vidA_2, vidB_2), then 0 (vidA_10, vidA_3, vidB_1).
  EXPECT_EQ(set.utterances[0].id, "vidA_1");
  EXPECT_EQ(set.utterances[1].id, "vidA_2");
  EXPECT_EQ(set.utterances[3].id, "vidA_10");
  EXPECT_EQ(set.utterances[3].row, 3);
}

#ifdef ROBUSTMSA_HAVE_HDF5

TEST(BcLstm, JoinsContinuousLabelsAndChecksThem) {
  TempDir dir;
  const BclstmFiles excerpt = write_bclstm_with_labels(dir);
  const std::string &d = excerpt.dir, &csd = excerpt.csd;
  UtteranceSet set = read_bclstm(d);
  join_labels(set, read_csd(csd));
  EXPECT_TRUE(set.joined());
  EXPECT_EQ(set.label_segments, 10 + 2 + 2 + 1);
  EXPECT_EQ(set.label_segments_unused, 6);
  EXPECT_DOUBLE_EQ(find_utt(set, "vidA_10").score, static_cast<float>(-0.4));
  EXPECT_DOUBLE_EQ(find_utt(set, "vidA_2").score, 0.0);  // score 0 is positive (>= 0)

  // A score whose sign disagrees with the binary label.
  auto segs = label_segments();
  segs["vidC"][1].score = 0.6;
  test_util::write_label_csd(csd, segs);
  UtteranceSet again = read_bclstm(d);
  std::string msg = error_of([&] { join_labels(again, read_csd(csd)); });
  EXPECT_NE(msg.find("utterance 'vidC_2' has binary label 0 but score 0.6"), std::string::npos)
      << msg;
  // A video the labels do not have, and a segment beyond an entry's rows.
  segs = label_segments();
  segs.erase("vidD");
  test_util::write_label_csd(csd, segs);
  again = read_bclstm(d);
  msg = error_of([&] { join_labels(again, read_csd(csd)); });
  EXPECT_NE(msg.find("no entry 'vidD' for utterance 'vidD_1'"), std::string::npos) << msg;
  segs = label_segments();
  segs["vidA"].resize(9);
  test_util::write_label_csd(csd, segs);
  again = read_bclstm(d);
  msg = error_of([&] { join_labels(again, read_csd(csd)); });
  EXPECT_NE(msg.find("entry 'vidA' has 9 segments; utterance 'vidA_10' needs segment 9"),
            std::string::npos)
      << msg;
}

TEST(BcLstm, SplitsAndThePerUtteranceDataset) {
  TempDir dir;
  const BclstmFiles excerpt = write_bclstm_with_labels(dir);
  const std::string &d = excerpt.dir, &csd = excerpt.csd;
  DataOptions o;
  o.valid_videos = 1;
  // Without continuous labels there is nothing to train on: a ConfigError that says what to set.
  const std::string msg = error_of([&] { dataset_from_utterances(read_bclstm(d), o); });
  EXPECT_NE(msg.find("data.labels"), std::string::npos) << msg;

  o.labels = csd;
  const Dataset ds = load_dataset(d, o);  // load_dataset detects the set from the directory
  EXPECT_EQ(ds.layout, Layout::kBcLstm);
  EXPECT_EQ(ds.task, Task::kRegression);
  const nlohmann::json& info = ds.split_info;
  ASSERT_EQ(info["valid_videos"].size(), 1u);
  const std::string valid = info["valid_videos"][0];
  EXPECT_TRUE(valid == "vidA" || valid == "vidB") << valid;
  EXPECT_EQ(info["split"], "file");
  EXPECT_EQ(info["split_seed"], 0);
  EXPECT_EQ(info["labels"]["path"], csd);
  const Split& test = ds.split(SplitId::kTest);
  ASSERT_EQ(test.n, 3);
  EXPECT_EQ(test.ids, (std::vector<std::string>{"vidC_1", "vidC_2", "vidD_1"}));  // (video, k)
  for (int m = 0; m < 3; ++m) {
    EXPECT_EQ(test.modality[m].t, 1);
    EXPECT_EQ(test.modality[m].d, kDims[m]);
    EXPECT_EQ(test.modality[m].valid, (std::vector<uint8_t>{1, 1, 1}));
  }
  EXPECT_FLOAT_EQ(test.labels[0], 3.0f);
  EXPECT_FLOAT_EQ(test.modality[kAudio].at(2, 0, 1), static_cast<float>(feature(kUtts[8], 1, 1)));
  const Split& va = ds.split(SplitId::kValid);
  for (const std::string& id : va.ids) EXPECT_EQ(id.substr(0, 4), valid);
  EXPECT_EQ(ds.split(SplitId::kTrain).n + va.n, 6);

  // The choice is a pure function of (videos, seed): the same again, and both videos are drawn
  // for some seed.
  std::set<std::string> drawn;
  const UtteranceSet set = read_bclstm(d);
  for (int64_t seed = 0; seed < 16; ++seed) {
    o.split_seed = seed;
    const SplitPlan a = plan_splits(set, o), b = plan_splits(set, o);
    EXPECT_EQ(a.valid_videos, b.valid_videos);
    drawn.insert(a.valid_videos.at(0));
  }
  EXPECT_EQ(drawn.size(), 2u);
  o.valid_videos = 2;  // all training videos
  EXPECT_THROW(plan_splits(set, o), ConfigError);
  o.valid_videos = 1;
  o.split = "cmu_std";  // these videos are not CMU-MOSI's
  const std::string cmu = error_of([&] { plan_splits(set, o); });
  EXPECT_NE(cmu.find("video 'vidA' is in none of the CMU-MOSI standard folds"), std::string::npos)
      << cmu;
}

// The context form: each utterance's sequence is its video's utterances (a window of them, or the
// whole video), packed from frame 0, with the target marked by an extra last feature.
TEST(BcLstm, TheContextFormHoldsEachVideosNeighboursAndMarksTheTarget) {
  TempDir dir;
  const BclstmFiles excerpt = write_bclstm_with_labels(dir);
  DataOptions o;
  o.valid_videos = 1;
  o.labels = excerpt.csd;
  const auto utt = [](const std::string& video, int k) -> const Utt& {
    for (const Utt& u : kUtts)
      if (u.video == video && u.k == k) return u;
    throw std::runtime_error("no utterance " + video);
  };

  o.context = 1;  // one utterance each side: 3 frames
  const Dataset ds = load_dataset(excerpt.dir, o);
  EXPECT_EQ(ds.split_info["form"], "context");
  EXPECT_EQ(ds.split_info["context"], 1);
  EXPECT_EQ(ds.split_info["frames"], 3);
  const Split& test = ds.split(SplitId::kTest);
  ASSERT_EQ(test.ids, (std::vector<std::string>{"vidC_1", "vidC_2", "vidD_1"}));
  // (sample, frame) -> the utterance expected there and whether it is the target.
  struct Frame {
    int sample, frame;
    const char* video;
    int k;
    bool target;
  };
  const std::vector<Frame> frames = {{0, 0, "vidC", 1, true},
                                     {0, 1, "vidC", 2, false},
                                     {1, 0, "vidC", 1, false},
                                     {1, 1, "vidC", 2, true},
                                     {2, 0, "vidD", 1, true}};
  for (int m = 0; m < 3; ++m) {
    SCOPED_TRACE(kMods[m]);
    const ModalityData& md = test.modality[m];
    ASSERT_EQ(md.t, 3);
    ASSERT_EQ(md.d, kDims[m] + 1);
    // Clipped at the video's ends, padding at the end, never another video's utterance.
    EXPECT_EQ(md.valid, (std::vector<uint8_t>{1, 1, 0, 1, 1, 0, 1, 0, 0}));
    for (const Frame& f : frames) {
      SCOPED_TRACE(f.sample * 10 + f.frame);
      for (int c = 0; c < kDims[m]; ++c)
        EXPECT_FLOAT_EQ(md.at(f.sample, f.frame, c),
                        static_cast<float>(feature(utt(f.video, f.k), m, c)));
      EXPECT_EQ(md.at(f.sample, f.frame, kDims[m]), f.target ? 1.0f : 0.0f);
    }
    for (int c = 0; c <= kDims[m]; ++c) EXPECT_EQ(md.at(2, 1, c), 0.0f);  // padding is zero
  }
  EXPECT_FLOAT_EQ(test.labels[1], -0.2f);  // one label per utterance, as in the per-utterance form

  // The whole video (-1): as many frames as the longest video (vidA: k = 1, 2, 3, 10), in k order.
  o.context = -1;
  const Dataset whole = load_dataset(excerpt.dir, o);
  EXPECT_EQ(whole.split_info["frames"], 4);
  bool saw_a = false;
  for (SplitId s : {SplitId::kTrain, SplitId::kValid}) {
    const Split& sp = whole.split(s);
    for (int64_t i = 0; i < sp.n; ++i) {
      if (sp.ids[static_cast<std::size_t>(i)] != "vidA_10") continue;
      saw_a = true;
      const ModalityData& md = sp.modality[kVision];
      ASSERT_EQ(md.t, 4);
      const int ks[4] = {1, 2, 3, 10};
      for (int f = 0; f < 4; ++f) {
        EXPECT_FLOAT_EQ(md.at(i, f, 0), static_cast<float>(feature(utt("vidA", ks[f]), 2, 0)));
        EXPECT_EQ(md.at(i, f, kDims[2]), f == 3 ? 1.0f : 0.0f);
        EXPECT_EQ(md.valid[static_cast<std::size_t>(i * 4 + f)], 1);
      }
    }
  }
  EXPECT_TRUE(saw_a);
  // The per-utterance form is context 0: one frame, the file's own dims, no marker.
  o.context = 0;
  const Dataset per = load_dataset(excerpt.dir, o);
  EXPECT_EQ(per.split_info["form"], "utterance");
  EXPECT_FALSE(per.split_info.contains("context"));
  EXPECT_EQ(per.split(SplitId::kTest).modality[kText].d, kDims[0]);
}

#endif  // ROBUSTMSA_HAVE_HDF5

// A malformed CSV: which file, which edit, and what the error must say.
struct BadCsv {
  const char* name;
  const char* file;
  std::function<void(std::vector<std::string>&)> edit;
  std::vector<std::string> expected;
};

TEST(BcLstm, MalformedCsvsNameFileRowAndColumn) {
  const std::vector<BadCsv> cases = {
      {"a row with a column fewer",
       "audio_train0.csv",
       [](auto& l) { l[1] = l[1].substr(l[1].find(',') + 1); },
       {"audio_train0.csv' row 2 (line 2): 2 columns; expected 3 like row 1"}},
      {"a value that is not a number",
       "text_test0.csv",
       [](auto& l) { l[2].replace(1, l[2].find('"', 1) - 1, "abc"); },
       {"text_test0.csv' row 3 (line 3) column 1: 'abc' is not a number"}},
      {"an empty value",
       "video_train0.csv",
       [](auto& l) { l[0].replace(0, l[0].find(','), "\"\""); },
       {"video_train0.csv' row 1 (line 1) column 1: '' is not a number"}},
      {"a label that is not 0 or 1",
       "text_train0.csv",
       [](auto& l) { l[4] = l[4].substr(0, l[4].rfind(',') + 1) + "\"2\""; },
       {"text_train0.csv' row 5 (line 5) column 4 (label): 2; expected the binary label 0 or 1"}},
      {"labels disagree between modalities",
       "video_test0.csv",
       [](auto& l) {
         std::string& s = l[0];
         s = s.substr(0, s.rfind(',') + 1) + "\"0\"";
       },
       {"video_test0.csv' row 1 (line 1): label 0; expected 1 like row 1 of", "text_test0.csv"}},
      {"a row missing in one modality",
       "audio_test0.csv",
       [](auto& l) { l.pop_back(); },
       {"audio_test0.csv': 2 rows; expected 3 like"}},
      {"a transcript id without its number",
       "transcripts.csv",
       [](auto& l) { l[0].replace(0, l[0].find(','), "\"vidA\""); },
       {"transcripts.csv' row 1 (line 1) column 1: 'vidA' is not an utterance id"}},
      {"a label order the join cannot explain",
       "transcripts.csv",
       [](auto& l) {  // vidA_1 becomes negative: the train file's first row no longer fits
         l[0] = l[0].substr(0, l[0].rfind(',') + 1) + "\"0\"";
       },
       {"text_train0.csv' row", "transcripts.csv' line"}},
      {"a quoted field never closed",
       "audio_test0.csv",
       [](auto& l) { l.back() += ",\"3"; },
       {"audio_test0.csv' line 3: a quoted field is never closed"}},
  };
  for (const BadCsv& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string d = dir / "bclstm";
    auto files = bclstm_lines();
    c.edit(files.at(c.file));
    write_lines(d, files);
    const std::string msg = error_of([&] { read_bclstm(d); });
    EXPECT_NE(msg.find("file '" + d + "/"), std::string::npos) << msg;
    for (const std::string& e : c.expected) EXPECT_NE(msg.find(e), std::string::npos) << msg;
  }
}

// ---- an HFFN excerpt ----------------------------------------------------------------------------

// Two padded train videos and one test video (T = 4, D = 2 per modality).
void write_hffn(const std::string& path, const std::vector<std::vector<int>>& train,
                const std::vector<std::vector<int>>& test) {
  pickle::Writer w(path);
  w.begin_dict();
  for (const auto& [name, videos] : {std::pair{"train", train}, std::pair{"test", test}}) {
    const int64_t n = static_cast<int64_t>(videos.size()), t = 4, d = 2;
    std::vector<double> mask(n * t, 0.0), label(n * t * 2, 0.0);
    std::vector<float> x(n * t * d, 0.0f);
    for (int64_t v = 0; v < n; ++v)
      for (int64_t j = 0; j < t; ++j) {
        const bool on = j < static_cast<int64_t>(videos[v].size());
        mask[v * t + j] = on ? 1 : 0;
        const int y = on ? videos[v][j] : 0;
        label[(v * t + j) * 2 + (y ? 1 : 0)] = 1;
        for (int64_t k = 0; k < d; ++k) x[(v * t + j) * d + k] = on ? 10.0f * v + j + 0.5f * k : 7;
      }
    for (const char* m : {"text", "audio", "video"}) {
      w.key(std::string(m) + "_" + name);
      w.array(pickle::DType::kFloat32, {n, t, d}, x.data());
    }
    w.key(std::string(name) + "_mask");
    w.array(pickle::DType::kFloat64, {n, t}, mask.data());
    w.key(std::string(name) + "_label");
    w.array(pickle::DType::kFloat64, {n, t, 2}, label.data());
  }
  w.end_dict();
  w.finish();
}

#ifdef ROBUSTMSA_HAVE_HDF5

TEST(Hffn, JoinsVideosByTheSignsOfTheirScores) {
  TempDir dir;
  const std::string pkl = dir / "u.pickle";
  write_hffn(pkl, {{1, 0, 1}, {0, 0}}, {{1, 1, 1, 0}});
  const std::string csd = dir / "labels.csd";
  test_util::write_label_csd(csd, {{"x", {{-1, 0, 1}, {-2, 1, 2}}},
                                   {"y", {{0.5, 0, 1}, {-0.5, 1, 2}, {2, 2, 3}}},
                                   {"z", {{1, 0, 1}, {0, 1, 2}, {3, 2, 3}, {-3, 3, 4}}}});
  UtteranceSet set = read_utterance_source(pkl);
  EXPECT_EQ(set.format, UtteranceFormat::kHffnPickle);
  EXPECT_FALSE(set.ids_known);
  ASSERT_EQ(set.utterances.size(), 9u);
  EXPECT_EQ(set.dim, (std::array<int64_t, 3>{2, 2, 2}));
  EXPECT_FLOAT_EQ(set.features[kAudio][3 * 2 + 1], 10.5f);  // train video 1 slot 0, feature 1
  join_labels(set, read_csd(csd));
  EXPECT_TRUE(set.ids_known);
  EXPECT_EQ(set.utterances[0].id, "y_1");
  EXPECT_EQ(set.utterances[3].id, "x_1");
  EXPECT_EQ(set.utterances[8].id, "z_4");
  EXPECT_DOUBLE_EQ(set.utterances[7].score, 3.0);

  DataOptions o;
  o.labels = csd;
  o.valid_videos = 1;
  const Dataset ds = load_dataset(pkl, o);
  EXPECT_EQ(ds.layout, Layout::kHffn);
  EXPECT_EQ(ds.split(SplitId::kTest).ids, (std::vector<std::string>{"z_1", "z_2", "z_3", "z_4"}));

  // Two videos with the same signs cannot be told apart: an error, not a guess.
  write_hffn(pkl, {{1, 0}, {0, 0}}, {{1, 0}});
  test_util::write_label_csd(csd, {{"a", {{1, 0, 1}, {-1, 1, 2}}},
                                   {"b", {{-1, 0, 1}, {-1, 1, 2}}},
                                   {"c", {{2, 0, 1}, {-2, 1, 2}}}});
  UtteranceSet amb = read_utterance_source(pkl);
  const std::string msg = error_of([&] { join_labels(amb, read_csd(csd)); });
  EXPECT_NE(msg.find("(2 utterances, labels 10) matches 2 entries"), std::string::npos) << msg;
}

#endif  // ROBUSTMSA_HAVE_HDF5

TEST(Hffn, MalformedPickleNamesTheKey) {
  TempDir dir;
  const std::string pkl = dir / "u.pickle";
  {
    pickle::Writer w(pkl);
    w.begin_dict();
    const std::vector<double> mask = {1, 0.5};
    const std::vector<double> label = {0, 1, 1, 0};
    const std::vector<float> x = {1, 2, 3, 4};
    for (const char* m : {"text_train", "audio_train", "video_train"}) {
      w.key(m);
      w.array(pickle::DType::kFloat32, {1, 2, 2}, x.data());
    }
    w.key("train_mask");
    w.array(pickle::DType::kFloat64, {1, 2}, mask.data());
    w.key("train_label");
    w.array(pickle::DType::kFloat64, {1, 2, 2}, label.data());
    w.end_dict();
    w.finish();
  }
  const std::string msg = error_of([&] { read_utterance_source(pkl); });
  EXPECT_NE(msg.find("key \"train_mask\" video 0 slot 1: 0.5; expected 0 (padding) or 1"),
            std::string::npos)
      << msg;
}

// ---- the command line ---------------------------------------------------------------------------

#ifdef ROBUSTMSA_HAVE_HDF5

TEST(UtteranceCli, InspectTrainAndErrors) {
  if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  TempDir dir;
  const BclstmFiles excerpt = write_bclstm_with_labels(dir);
  const std::string &d = excerpt.dir, &csd = excerpt.csd;

  test_util::CliResult r =
      test_util::run_cli("inspect " + shell_quote(d + "/text_train0.csv") + " --labels " +
                         shell_quote(csd) + " --set data.valid_videos=1");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("layout   bclstm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("binary label == (score >= 0) for all 9 utterances"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(6 unused)"), std::string::npos) << r.out;

  // Training needs the continuous labels: exit 2 with what to set.
  const std::string train = "train --data " + shell_quote(d) +
                            " --model lf_dnn --set train.epochs=1 --set data.valid_videos=1 "
                            "--threads 1 --seeds 1111 --out ";
  r = test_util::run_cli(train + shell_quote(dir / "run0"));
  EXPECT_EQ(r.code, 2);
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.error_lines()[0].find("data.labels"), std::string::npos) << r.err;

  // With them, the run's config.json records the validation videos and the labels file.
  r = test_util::run_cli(train + shell_quote(dir / "run") +
                         " --set data.labels=" + shell_quote(csd));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json cfg =
      nlohmann::json::parse(test_util::slurp(dir / "run/seed_1111/config.json"));
  const nlohmann::json& split = cfg["data"]["split"];
  ASSERT_EQ(split["valid_videos"].size(), 1u) << cfg.dump(2);
  EXPECT_EQ(split["labels"]["path"], csd);
  EXPECT_EQ(cfg["config"]["data"]["labels"], csd);
  EXPECT_EQ(cfg["data"]["layout"], "bclstm");
  const nlohmann::json res =
      nlohmann::json::parse(test_util::slurp(dir / "run/seed_1111/results.json"));
  EXPECT_FALSE(res.dump().empty());

  // A bad number: exit 1, one line naming file, row and column.
  auto files = bclstm_lines();
  files.at("audio_test0.csv")[1].replace(1, 3, "x.y");
  write_lines(dir / "bad", files);
  r = test_util::run_cli("inspect " + shell_quote(dir / "bad"));
  EXPECT_EQ(r.code, 1);
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.error_lines()[0].find("audio_test0.csv' row 2 (line 2) column 1:"), std::string::npos)
      << r.err;
}

// Every registered model trains and is evaluated on the per-utterance form (length-1 sequences)
// and on the context form (whole videos as sequences, data.context=-1), and every run of a form
// records the same validation videos.
TEST(UtteranceCli, EveryModelRunsOnThePerUtteranceAndTheContextForm) {
  if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  TempDir dir;
  const BclstmFiles excerpt = write_bclstm_with_labels(dir);
  const std::string &d = excerpt.dir, &csd = excerpt.csd;
  const test_util::CliResult models = test_util::run_cli("models --json");
  ASSERT_EQ(models.code, 0) << models.err;
  const nlohmann::json listed = nlohmann::json::parse(models.out);
  ASSERT_FALSE(listed.empty());
  for (const char* context : {"0", "-1"}) {
    SCOPED_TRACE(context);
    const std::string out = dir / (std::string("all") + context);
    const test_util::CliResult r = test_util::run_cli(
        "compare --data " + shell_quote(d) + " --set data.labels=" + shell_quote(csd) +
        " --set data.valid_videos=1 --set data.context=" + context +
        " --set train.epochs=1 --set train.batch_size=4 --models all --seeds 1111 --threads 1 "
        "--out " +
        shell_quote(out));
    ASSERT_EQ(r.code, 0) << r.err;
    std::set<std::string> splits;
    for (const auto& m : listed) {
      const std::string name = m.at("name").get<std::string>();
      SCOPED_TRACE(name);
      const std::string run = out + "/" + name + "/seed_1111";
      ASSERT_TRUE(fs::exists(run + "/results.json"));
      const nlohmann::json cfg = nlohmann::json::parse(test_util::slurp(run + "/config.json"));
      EXPECT_EQ(cfg["data"]["layout"], "bclstm");
      EXPECT_EQ(cfg["data"]["split"]["form"],
                std::string(context) == "0" ? "utterance" : "context");
      splits.insert(cfg["data"]["split"].dump());
    }
    EXPECT_EQ(splits.size(), 1u);  // the same validation videos (and labels file) for every model
  }
  // A context that is not one: exit 2, one line naming the key.
  const test_util::CliResult bad =
      test_util::run_cli("inspect " + shell_quote(d) + " --set data.context=-2");
  EXPECT_EQ(bad.code, 2);
  ASSERT_EQ(bad.error_lines().size(), 1u) << bad.err;
  EXPECT_NE(bad.error_lines()[0].find("data.context"), std::string::npos) << bad.err;
}

#endif  // ROBUSTMSA_HAVE_HDF5

// ---- the shared files ---------------------------------------------------------------------------

std::string shared_dir() {
  const char* s = std::getenv("ROBUSTMSA_SHARED_DATA");
  return s ? std::string(s) + "/mosi-utterance" : "";
}

struct IndexRow {
  std::string id, video, bclstm_split, cmu_fold;
  int64_t row = 0;
  int label = 0;
  double score = 0;
};

// utterance_index.csv (PROVENANCE.md): the join as documented by whoever prepared the folder.
std::vector<IndexRow> read_index(const std::string& path) {
  const std::vector<CsvRecord> rec = parse_csv(read_file(path), path);
  std::vector<IndexRow> rows;
  for (std::size_t r = 1; r < rec.size(); ++r) {
    const auto& f = rec[r].fields;
    rows.push_back({f[0], f[1], f[4], f[6], std::stoll(f[5]), std::stoi(f[7]), std::stod(f[8])});
  }
  return rows;
}

class SharedMosiUtterance : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = shared_dir();
    if (dir_.empty() || !fs::exists(dir_ + "/utterance_index.csv"))
      GTEST_SKIP() << "no " << dir_ << " (../shared absent)";
    if (!csd_available()) GTEST_SKIP() << "built without HDF5";
    index_ = read_index(dir_ + "/utterance_index.csv");
    labels_ = read_csd(dir_ + "/CMU_MOSI_Opinion_Labels.csd");
  }
  std::string dir_;
  std::vector<IndexRow> index_;
  ComputationalSequence labels_;
};

TEST_F(SharedMosiUtterance, BcLstmJoinEqualsTheIndex) {
  UtteranceSet set = read_bclstm(dir_ + "/bclstm");
  EXPECT_EQ(set.dim, (std::array<int64_t, 3>{100, 73, 100}));
  ASSERT_EQ(set.utterances.size(), 2199u);
  join_labels(set, labels_);
  EXPECT_EQ(set.label_segments, 2199);
  EXPECT_EQ(set.label_segments_unused, 0);
  std::map<std::pair<std::string, int64_t>, const Utterance*> by_row;
  for (const Utterance& u : set.utterances)
    by_row[{u.released == SplitId::kTrain ? "train" : "test", u.row}] = &u;
  ASSERT_EQ(index_.size(), 2199u);
  for (const IndexRow& x : index_) {
    const Utterance* u = by_row.at({x.bclstm_split, x.row});
    ASSERT_EQ(u->id, x.id) << x.bclstm_split << " row " << x.row;
    EXPECT_EQ(u->label, x.label) << x.id;
    EXPECT_NEAR(u->score, x.score, 5e-5) << x.id;
    EXPECT_EQ(cmu_mosi_std_fold(u->video), x.cmu_fold == "train"   ? 0
                                           : x.cmu_fold == "valid" ? 1
                                                                   : 2)
        << x.id;
  }
  DataOptions o;
  o.split = "cmu_std";
  const SplitPlan folds = plan_splits(set, o);
  EXPECT_EQ(folds.utterances, (std::array<int64_t, 3>{1284, 229, 686}));
  EXPECT_EQ(folds.videos, (std::array<int64_t, 3>{52, 10, 31}));
  o.split = "file";
  const SplitPlan released = plan_splits(set, o);
  EXPECT_EQ(released.utterances[0] + released.utterances[1], 1447);
  EXPECT_EQ(released.utterances[2], 752);
  EXPECT_EQ(released.videos, (std::array<int64_t, 3>{52, 10, 31}));
}

TEST_F(SharedMosiUtterance, HffnPickleJoinsToTheSameVideos) {
  UtteranceSet set = read_utterance_source(dir_ + "/unimodal_mosi_2way.pickle");
  EXPECT_EQ(set.dim, (std::array<int64_t, 3>{50, 50, 50}));
  ASSERT_EQ(set.utterances.size(), 2199u);
  join_labels(set, labels_);
  std::map<std::string, const IndexRow*> by_id;
  for (const IndexRow& x : index_) by_id[x.id] = &x;
  for (const Utterance& u : set.utterances) {
    const IndexRow* x = by_id.at(u.id);
    EXPECT_EQ(x->bclstm_split, u.released == SplitId::kTrain ? "train" : "test") << u.id;
    EXPECT_EQ(x->label, u.label) << u.id;
  }
  // Both releases carve the same validation videos from the same training videos.
  const SplitPlan a = plan_splits(set, DataOptions{});
  const SplitPlan b = plan_splits(read_bclstm(dir_ + "/bclstm"), DataOptions{});
  EXPECT_EQ(a.valid_videos, b.valid_videos);
  EXPECT_EQ(a.utterances, b.utterances);
}

TEST_F(SharedMosiUtterance, LoadDatasetTakesEachFileAsItIs) {
  DataOptions o;
  o.labels = dir_ + "/CMU_MOSI_Opinion_Labels.csd";
  for (const std::string& data :
       {dir_ + "/bclstm", dir_ + "/bclstm/video_test0.csv", dir_ + "/unimodal_mosi_2way.pickle"}) {
    SCOPED_TRACE(data);
    const Dataset ds = load_dataset(data, o);
    EXPECT_EQ(ds.split(SplitId::kTest).n, 752);
    EXPECT_EQ(ds.split(SplitId::kTrain).n + ds.split(SplitId::kValid).n, 1447);
    EXPECT_EQ(ds.split(SplitId::kTest).modality[kText].t, 1);
    EXPECT_EQ(ds.split_info["valid_videos"].size(), 10u);
  }
  // The context form of both releases: whole videos (the longest has 63 utterances), the same
  // targets.
  o.context = -1;
  const Dataset a = load_dataset(dir_ + "/bclstm", o);
  const Dataset b = load_dataset(dir_ + "/unimodal_mosi_2way.pickle", o);
  for (const Dataset* ds : {&a, &b}) {
    const ModalityData& text = ds->split(SplitId::kTest).modality[kText];
    EXPECT_EQ(text.t, 63);
    EXPECT_EQ(text.n, 752);
  }
  EXPECT_EQ(a.split(SplitId::kTest).ids, b.split(SplitId::kTest).ids);
  EXPECT_EQ(a.split(SplitId::kTest).modality[kText].valid,
            b.split(SplitId::kTest).modality[kText].valid);
}

}  // namespace
}  // namespace robustmsa

// The synthetic benchmark (src/synth/synth.h, docs/synthetic.md) and the pickle writer
// (src/io/pickle_write.h): files read back with robustmsa's reader and loader, determinism, the
// oracle's structure and calibration, and an independent check in Python
// (tests/python/check_synth.py: NumPy loads the files and recomputes the oracle).
#include "synth/synth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "data/dataset.h"
#include "data/protocol.h"
#include "io/pickle.h"
#include "io/pickle_write.h"
#include "../common/temp_dir.h"
#include "util/error.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;

using robustmsa::test_util::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

SynthOptions small(const std::string& like, const std::string& layout, int64_t seed = 3) {
  SynthOptions o;
  o.like = like;
  o.layout = layout;
  o.seed = seed;
  o.n_train = 40;
  o.n_valid = 12;
  o.n_test = 30;
  o.neginf_rate = 0.2;  // enough -inf values to see in a small file
  return o;
}

std::vector<int64_t> shape_of(const pickle::Value& split, const char* key) {
  return split.at(key).array().shape;
}

// Python interpreter for the independent checks: $ROBUSTMSA_PYTHON, "python3" from PATH when the
// variable is not set at all (running the binary by hand), "" when it is set empty (skip).
std::string python() {
  const char* p = std::getenv("ROBUSTMSA_PYTHON");
  return p ? p : "python3";
}

std::string source_dir() {
  const char* s = std::getenv("ROBUSTMSA_SOURCE_DIR");
  // Without the variable (running the binary by hand): this file is tests/core/synth_test.cc.
  return s ? s : fs::path(__FILE__).parent_path().parent_path().parent_path().string();
}

// Runs `command`, returns its exit status; output goes to `log`.
int run(const std::string& command, const std::string& log) {
  int rc = std::system((command + " > '" + log + "' 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool numpy_available(const std::string& py) {
  return !py.empty() &&
         std::system(("'" + py + "' -c 'import numpy' > /dev/null 2>&1").c_str()) == 0;
}

// ---- pickle writer ----------------------------------------------------------------------------

TEST(PickleWriter, RoundTripsThroughTheReader) {
  TempDir dir;
  const std::string path = dir.file("w.pkl");
  std::vector<float> f32 = {1.5f,  -2.0f, 0.0f, -std::numeric_limits<float>::infinity(),
                            3.25f, 7.0f};
  std::vector<double> f64(300);
  for (std::size_t i = 0; i < f64.size(); ++i) f64[i] = 0.5 * static_cast<double>(i) - 7.0;
  std::vector<int64_t> i64 = {-5, 0, 1LL << 40};
  {
    pickle::Writer w(path);
    w.begin_dict();
    w.key("f32");
    w.array(pickle::DType::kFloat32, {2, 3}, f32.data());
    w.key("f64");
    w.begin_array(pickle::DType::kFloat64, {3, 4, 5, 5});  // 4-d shape: MARK ... TUPLE
    w.array_data(f64.data(), 100 * sizeof(double));
    w.array_data(f64.data() + 100, 200 * sizeof(double));
    w.end_array();
    w.key("i64");
    w.array(pickle::DType::kInt64, {3}, i64.data());
    w.key("ids");
    w.string_array({2, 2}, {"a", "bb", std::string(300, 'x'), "\xc3\xa9"});
    w.key("list");
    w.begin_list();
    w.integer(7);
    w.integer(-100000);
    w.integer(int64_t{1} << 50);
    w.floating(0.1);
    w.boolean(true);
    w.none();
    w.string("hi");
    w.bytes("raw");
    w.begin_dict();
    w.key("inner");
    w.integer(1);
    w.end_dict();
    w.end_list();
    w.key("empty");
    w.array(pickle::DType::kFloat32, {0, 50, 5}, nullptr);
    w.end_dict();
    w.finish();
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  pickle::ValuePtr root = pickle::load_file(path);
  const pickle::NdArray& a = root->at("f32").array();
  EXPECT_EQ(a.dtype, pickle::DType::kFloat32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.get<float>(i), f32[i]);
  const pickle::NdArray& b = root->at("f64").array();
  EXPECT_EQ(b.shape, (std::vector<int64_t>{3, 4, 5, 5}));
  EXPECT_EQ(b.to_double(), f64);
  const pickle::NdArray& c = root->at("i64").array();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.get<int64_t>(i), i64[i]);
  const pickle::NdArray& ids = root->at("ids").array();
  EXPECT_EQ(ids.dtype, pickle::DType::kObject);
  EXPECT_EQ(ids.objects, (std::vector<std::string>{"a", "bb", std::string(300, 'x'), "\xc3\xa9"}));
  const pickle::Value& list = root->at("list");
  ASSERT_EQ(list.items.size(), 9u);
  EXPECT_EQ(list.items[0]->integer, 7);
  EXPECT_EQ(list.items[1]->integer, -100000);
  EXPECT_EQ(list.items[2]->integer, int64_t{1} << 50);
  EXPECT_EQ(list.items[3]->floating, 0.1);
  EXPECT_TRUE(list.items[4]->boolean);
  EXPECT_EQ(list.items[5]->kind, pickle::Value::Kind::kNone);
  EXPECT_EQ(list.items[6]->text, "hi");
  EXPECT_EQ(list.items[7]->kind, pickle::Value::Kind::kBytes);
  EXPECT_EQ(list.items[8]->at("inner").integer, 1);
  EXPECT_EQ(root->at("empty").array().shape, (std::vector<int64_t>{0, 50, 5}));
}

TEST(PickleWriter, MisuseIsAnErrorAndLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("bad.pkl");
  {
    pickle::Writer w(path);
    w.begin_dict();
    EXPECT_THROW(w.integer(1), RunError);  // a value without a key
    w.key("a");
    EXPECT_THROW(w.key("b"), RunError);  // two keys in a row
    w.begin_array(pickle::DType::kFloat32, {2});
    float x = 1;
    w.array_data(&x, 4);
    EXPECT_THROW(w.end_array(), RunError);        // 4 of 8 bytes
    EXPECT_THROW(w.array_data(&x, 8), RunError);  // overflow
    EXPECT_THROW(w.finish(), RunError);
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_THROW(pickle::Writer(dir.file("no/such/dir/x.pkl")), RunError);
}

TEST(PickleWriter, PythonLoadsEveryDtypeWithNumPy) {
  const std::string py = python();
  if (!numpy_available(py)) GTEST_SKIP() << "no python3 with numpy (ROBUSTMSA_PYTHON)";
  TempDir dir;
  const std::string path = dir.file("dtypes.pkl");
  {
    pickle::Writer w(path);
    w.begin_dict();
    const std::pair<const char*, pickle::DType> types[] = {
        {"b1", pickle::DType::kBool},    {"i1", pickle::DType::kInt8},
        {"i2", pickle::DType::kInt16},   {"i4", pickle::DType::kInt32},
        {"i8", pickle::DType::kInt64},   {"u1", pickle::DType::kUInt8},
        {"u2", pickle::DType::kUInt16},  {"u4", pickle::DType::kUInt32},
        {"u8", pickle::DType::kUInt64},  {"f2", pickle::DType::kFloat16},
        {"f4", pickle::DType::kFloat32}, {"f8", pickle::DType::kFloat64}};
    for (const auto& [code, dt] : types) {
      std::vector<uint8_t> bytes(6 * pickle::dtype_size(dt), 0);
      for (std::size_t i = 0; i < bytes.size(); i += pickle::dtype_size(dt)) bytes[i] = 1;
      w.key(code);
      w.array(dt, {2, 3}, bytes.data());
    }
    w.key("ids");
    w.string_array({3}, {"x", "y", "z"});
    w.end_dict();
    w.finish();
  }
  const std::string script = dir.file("check.py");
  std::ofstream(script) << "import pickle, sys, numpy as np\n"
                           "d = pickle.load(open(sys.argv[1], 'rb'))\n"
                           "for code, a in d.items():\n"
                           "    if code == 'ids':\n"
                           "        assert a.dtype == object and list(a) == ['x', 'y', 'z']\n"
                           "        continue\n"
                           "    assert a.dtype == np.dtype(code), (code, a.dtype)\n"
                           "    assert a.shape == (2, 3) and a.flags['C_CONTIGUOUS']\n"
                           "    raw = np.zeros(6 * a.itemsize, np.uint8); raw[::a.itemsize] = 1\n"
                           "    assert a.tobytes() == raw.tobytes(), code\n"
                           "print('ok', np.__version__)\n";
  const std::string log = dir.file("log.txt");
  EXPECT_EQ(run("'" + py + "' '" + script + "' '" + path + "'", log), 0) << slurp(log);
}

// ---- synthetic files ---------------------------------------------------------------------------

TEST(Synth, MulTLayoutReadsBackWithTheReader) {
  TempDir dir;
  const std::string path = dir.file("mosi.pkl");
  SynthResult r = write_synthetic(small("mosi", "mult"), path);
  EXPECT_TRUE(fs::exists(r.oracle_path));
  EXPECT_TRUE(fs::exists(r.generator_path));
  pickle::ValuePtr root = pickle::load_file(path);
  EXPECT_EQ(root->keys(), (std::vector<std::string>{"train", "valid", "test"}));
  const int64_t ns[3] = {40, 12, 30};
  const char* splits[3] = {"train", "valid", "test"};
  for (int s = 0; s < 3; ++s) {
    const pickle::Value& sp = root->at(splits[s]);
    const int64_t n = ns[s];
    EXPECT_EQ(shape_of(sp, "text"), (std::vector<int64_t>{n, 50, 300}));
    EXPECT_EQ(shape_of(sp, "audio"), (std::vector<int64_t>{n, 50, 74}));
    EXPECT_EQ(shape_of(sp, "vision"), (std::vector<int64_t>{n, 50, 35}));
    EXPECT_EQ(shape_of(sp, "labels"), (std::vector<int64_t>{n, 1, 1}));
    EXPECT_EQ(shape_of(sp, "id"), (std::vector<int64_t>{n, 3}));
    EXPECT_EQ(sp.at("id").array().dtype, pickle::DType::kObject);
    EXPECT_EQ(sp.at("id").array().objects[3], str("synth_mosi_", splits[s]));
    int64_t neginf = 0;
    const char* keys[3] = {"text", "audio", "vision"};
    std::vector<int64_t> first_valid(static_cast<std::size_t>(n), -1);
    for (int m = 0; m < 3; ++m) {
      const pickle::NdArray& x = sp.at(keys[m]).array();
      EXPECT_EQ(x.dtype, pickle::DType::kFloat32);
      const int64_t t = x.shape[1], d = x.shape[2];
      for (int64_t i = 0; i < n; ++i) {
        int64_t markers = 0, first = -1;
        for (int64_t f = 0; f < t; ++f) {
          bool nonzero = false;
          for (int64_t k = 0; k < d; ++k) {
            float v = x.get<float>((i * t + f) * d + k);
            nonzero = nonzero || v != 0.0f;
            if (std::isinf(v)) {
              EXPECT_LT(v, 0);
              EXPECT_EQ(m, kAudio);
              EXPECT_NE(k, 0);
              EXPECT_EQ(x.get<float>((i * t + f) * d), 0.0f) << "-inf at an informative frame";
              ++neginf;
            }
          }
          if (nonzero && first < 0) first = f;
          // Front padding: once a frame is valid, every later frame is.
          if (first >= 0) {
            EXPECT_TRUE(nonzero) << "sample " << i << " frame " << f;
          }
          float marker = x.get<float>((i * t + f) * d);
          EXPECT_TRUE(marker == 0.0f || marker == 1.0f);
          markers += marker == 1.0f;
        }
        EXPECT_EQ(markers, 3);
        EXPECT_GE(first, 0);
        EXPECT_LE(first, 50 - 8);  // min_length 8
        if (m == 0) first_valid[i] = first;
        EXPECT_EQ(first, first_valid[i]) << "modalities of an aligned sample differ in length";
      }
    }
    EXPECT_EQ(neginf, r.generator["splits"][splits[s]]["neginf"].get<int64_t>());
    if (s == 0) {
      EXPECT_GT(neginf, 0);
    }
    const pickle::NdArray& lab = sp.at("labels").array();
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_LE(std::fabs(lab.get<float>(i)), 3.0f);
    }
  }
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  write_synthetic(small("mosi", "mmsa_aligned", 5), dir.file("a.pkl"));
  write_synthetic(small("mosi", "mmsa_aligned", 5), dir.file("b.pkl"));
  write_synthetic(small("mosi", "mmsa_aligned", 6), dir.file("c.pkl"));
  EXPECT_EQ(slurp(dir.file("a.pkl")), slurp(dir.file("b.pkl")));
  EXPECT_EQ(slurp(dir.file("a.pkl.oracle.json")).size(),
            slurp(dir.file("b.pkl.oracle.json")).size());
  EXPECT_NE(slurp(dir.file("a.pkl")), slurp(dir.file("c.pkl")));
}

TEST(Synth, MMSAUnalignedLayout) {
  TempDir dir;
  const std::string path = dir.file("unaligned_50.pkl");
  write_synthetic(small("mosi", "mmsa_unaligned"), path);
  pickle::ValuePtr root = pickle::load_file(path);
  const pickle::Value& test = root->at("test");
  EXPECT_EQ(shape_of(test, "text"), (std::vector<int64_t>{30, 50, 768}));
  EXPECT_EQ(shape_of(test, "audio"), (std::vector<int64_t>{30, 375, 5}));
  EXPECT_EQ(shape_of(test, "vision"), (std::vector<int64_t>{30, 500, 20}));
  EXPECT_EQ(shape_of(test, "regression_labels"), (std::vector<int64_t>{30}));
  EXPECT_EQ(shape_of(test, "audio_lengths"), (std::vector<int64_t>{30}));
  EXPECT_EQ(shape_of(test, "raw_text"), (std::vector<int64_t>{30}));
  EXPECT_EQ(test.at("id").array().objects[29], "synth_mosi_test$_$29");
  const pickle::NdArray& audio = test.at("audio").array();
  const pickle::NdArray& len = test.at("audio_lengths").array();
  EXPECT_EQ(len.dtype, pickle::DType::kInt64);
  for (int64_t i = 0; i < 30; ++i) {
    const int64_t l = len.get<int64_t>(i);
    EXPECT_GE(l, 3);
    EXPECT_LE(l, 375);
    // End padding: valid frames first, zeros after.
    for (int64_t f = 0; f < 375; ++f) {
      bool nonzero = false;
      for (int64_t k = 0; k < 5; ++k)
        nonzero = nonzero || audio.get<float>((i * 375 + f) * 5 + k) != 0;
      EXPECT_EQ(nonzero, f < l) << "sample " << i << " frame " << f;
    }
  }
}

TEST(Synth, IemocapLabelsAreOneHotPerEmotion) {
  TempDir dir;
  const std::string path = dir.file("iemocap.pkl");
  SynthOptions o = small("iemocap", "mult");
  o.n_train = 400;
  SynthResult r = write_synthetic(o, path);
  pickle::ValuePtr root = pickle::load_file(path);
  const pickle::NdArray& lab = root->at("train").at("labels").array();
  ASSERT_EQ(lab.shape, (std::vector<int64_t>{400, 4, 2}));
  std::array<double, 4> pos{};
  for (int64_t i = 0; i < 400; ++i)
    for (int e = 0; e < 4; ++e) {
      float neg = lab.get<float>((i * 4 + e) * 2), p = lab.get<float>((i * 4 + e) * 2 + 1);
      EXPECT_EQ(neg + p, 1.0f);
      EXPECT_TRUE(p == 0.0f || p == 1.0f);
      pos[e] += p;
    }
  // Prevalences 0.4, 0.15, 0.2, 0.25 (4 sigma at n = 400).
  const double prev[4] = {0.4, 0.15, 0.2, 0.25};
  for (int e = 0; e < 4; ++e)
    EXPECT_NEAR(pos[e] / 400, prev[e], 4 * std::sqrt(prev[e] * (1 - prev[e]) / 400)) << e;
  EXPECT_EQ(r.oracle["task"], "iemocap");
  EXPECT_TRUE(r.oracle["conditions"][0]["metrics"].contains("Happy_F1"));
}

TEST(Synth, LoadDatasetSeesTheGeneratorsStructure) {
  TempDir dir;
  for (const char* layout : {"mult", "mmsa_aligned", "mmsa_unaligned"}) {
    const std::string path = dir.file(str(layout, ".pkl"));
    SynthResult r = write_synthetic(small("mosi", layout), path);
    Dataset ds = load_dataset(path, DataOptions{});
    EXPECT_EQ(ds.task, Task::kRegression) << layout;
    EXPECT_EQ(ds.layout, std::string(layout) == "mult" ? Layout::kMulT : Layout::kMMSA);
    EXPECT_EQ(ds.sha256, r.sha256);
    for (int s = 0; s < 3; ++s) {
      const Split& sp = ds.splits[s];
      const std::string name = kSplitNames[s];
      EXPECT_EQ(sp.modality[kAudio].neginf_count,
                r.generator["splits"][name]["neginf"].get<int64_t>())
          << layout << " " << name;
      for (int m = 0; m < 3; ++m) {
        const ModalityData& md = sp.modality[m];
        // Exactly the informative frames carry the marker, and all of them are valid.
        for (int64_t i = 0; i < sp.n; ++i) {
          int64_t markers = 0, valid = 0;
          for (int64_t f = 0; f < md.t; ++f) {
            valid += md.valid[i * md.t + f];
            if (md.at(i, f, 0) == 1.0f) {
              ++markers;
              EXPECT_TRUE(md.valid[i * md.t + f]);
            }
          }
          EXPECT_EQ(markers, 3) << layout << " " << name << " " << i << " " << m;
          EXPECT_GE(valid, 3);
        }
      }
    }
  }
}

TEST(Synth, OracleCoversTheSuitesAndBehaves) {
  TempDir dir;
  SynthOptions o = small("mosi", "mult");
  o.n_test = 400;
  SynthResult r = write_synthetic(o, dir.file("mosi.pkl"));
  const nlohmann::json& j = r.oracle;
  EXPECT_EQ(j["format"], "robustmsa-oracle-1");
  EXPECT_EQ(j["suite"], "paper");
  EXPECT_EQ(j["split"], "test");
  EXPECT_EQ(j["mask_seed"], 0);
  EXPECT_EQ(j["task"], "regression");
  EXPECT_EQ(j["data"]["sha256"], r.sha256);
  EXPECT_EQ(nlohmann::json::parse(slurp(r.oracle_path)), j);
  for (const std::string& suite : suite_names()) {
    const auto conds = suite_conditions(suite);
    const nlohmann::json& got = j["suites"][suite]["conditions"];
    ASSERT_EQ(got.size(), conds.size()) << suite;
    for (std::size_t c = 0; c < conds.size(); ++c) {
      EXPECT_EQ(got[c]["name"], conds[c].name);
      EXPECT_EQ(got[c]["protocol"], conds[c].protocol());
      EXPECT_EQ(got[c]["parameter"], conds[c].parameter());
      EXPECT_EQ(got[c]["mask_seed"], 0);
      for (const char* k : {"Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
                            "Non0_F1_score_mult", "Mult_acc_5", "Mult_acc_7", "MAE", "Corr"})
        EXPECT_TRUE(got[c]["metrics"].contains(k)) << suite << " " << conds[c].name << " " << k;
    }
  }
  EXPECT_EQ(j["conditions"], j["suites"]["paper"]["conditions"]);
  auto metric = [&](const std::string& suite, const std::string& name, const char* key) {
    for (const auto& c : j["suites"][suite]["conditions"])
      if (c["name"] == name) return c["metrics"][key].get<double>();
    ADD_FAILURE() << "no condition " << name;
    return 0.0;
  };
  // Nothing missing: complete, rate=0.0 and MR=0.0 are the same predictions.
  EXPECT_EQ(metric("paper", "complete", "MAE"), metric("mmsa", "rate=0.0", "MAE"));
  EXPECT_EQ(metric("paper", "complete", "MAE"), metric("gcnet", "MR=0.0", "MAE"));
  // Less information never helps the Bayes predictor on average (MAE up to sampling noise).
  EXPECT_LT(metric("paper", "complete", "MAE"), metric("paper", "{l}", "MAE"));
  EXPECT_LT(metric("paper", "{l}", "MAE"), metric("paper", "{a}", "MAE"));
  EXPECT_LT(metric("paper", "frame=0.2", "MAE"), metric("paper", "frame=0.8", "MAE"));
  // Everything dropped: the prior mean 0 for every sample.
  EXPECT_EQ(metric("paper", "frame=1.0", "Corr"), 0.0);
  double mean_abs = 0;
  pickle::ValuePtr root = pickle::load_file(dir.file("mosi.pkl"));
  const pickle::NdArray& lab = root->at("test").at("labels").array();
  for (int64_t i = 0; i < 400; ++i) mean_abs += std::fabs(lab.get<float>(i)) / 400.0;
  EXPECT_NEAR(metric("paper", "frame=1.0", "MAE"), mean_abs, 1e-9);
  const nlohmann::json& mr7 = j["suites"]["gcnet"]["conditions"][7];
  EXPECT_EQ(mr7["name"], "MR=0.7");
  EXPECT_DOUBLE_EQ(mr7["realised_missing_rate"].get<double>(), 2.0 / 3.0);
}

// The documented calibration (docs/synthetic.md): complete Non0_F1 ~0.87, text ~0.80, audio and
// vision ~0.65. Feature dims do not change the oracle, so small dims keep the file small.
TEST(Synth, DefaultsAreCalibratedLikeMOSI) {
  TempDir dir;
  SynthOptions o;
  o.n_train = 2;
  o.n_valid = 2;
  o.n_test = 4000;
  o.dims = {16, 8, 8};
  SynthResult r = write_synthetic(o, dir.file("cal.pkl"));
  std::map<std::string, double> f1;
  for (const auto& c : r.oracle["conditions"])
    f1[c["name"].get<std::string>()] = c["metrics"]["Non0_F1_score"].get<double>();
  EXPECT_GT(f1["complete"], 0.84);
  EXPECT_LT(f1["complete"], 0.91);
  EXPECT_GT(f1["{l}"], 0.75);
  EXPECT_LT(f1["{l}"], 0.83);
  for (const char* single : {"{a}", "{v}"}) {
    EXPECT_GT(f1[single], 0.58) << single;
    EXPECT_LT(f1[single], 0.69) << single;
  }
  EXPECT_GT(f1["{l,a}"], f1["{l}"]);
  EXPECT_GT(f1["{a,v}"], f1["{a}"]);
  EXPECT_GT(f1["complete"], f1["{l,a}"]);
}

TEST(Synth, IndependentCheckInPython) {
  const std::string py = python();
  if (!numpy_available(py)) GTEST_SKIP() << "no python3 with numpy (ROBUSTMSA_PYTHON)";
  TempDir dir;
  const std::string script = source_dir() + "/tests/python/check_synth.py";
  ASSERT_TRUE(fs::exists(script)) << script;
  struct Case {
    const char* like;
    const char* layout;
  };
  for (const Case& c : {Case{"mosi", "mult"}, Case{"iemocap", "mult"},
                        Case{"mosei", "mmsa_aligned"}, Case{"mosi", "mmsa_unaligned"}}) {
    const std::string path = dir.file(str(c.like, "_", c.layout, ".pkl"));
    SynthOptions o = small(c.like, c.layout);
    o.n_test = 200;
    write_synthetic(o, path);
    const std::string log = dir.file("log.txt");
    int rc = run("'" + py + "' '" + script + "' '" + path + "'", log);
    if (rc == 77) GTEST_SKIP() << slurp(log);
    EXPECT_EQ(rc, 0) << c.like << " " << c.layout << ":\n" << slurp(log);
  }
}

TEST(Synth, OptionsAreValidated) {
  auto fails = [](SynthOptions o, const char* key) {
    try {
      resolve_synth(o);
      ADD_FAILURE() << "accepted bad " << key;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  SynthOptions o;
  o.like = "sims";
  fails(o, "synth.like");
  o = SynthOptions{};
  o.like = "iemocap";
  o.layout = "mmsa_aligned";
  fails(o, "synth.layout");
  o = SynthOptions{};
  o.layout = "mmsa_aligned";
  o.informative_dims = {8, 5, 6};  // MOSI MMSA audio has 5 dims: marker + at most 4
  fails(o, "synth.informative_dims[1]");
  o = SynthOptions{};
  o.informative_frames = {9, 3, 3};
  fails(o, "synth.informative_frames[0]");
  o = SynthOptions{};
  o.noise_sd = {0.7, 0.0, 0.7};
  fails(o, "synth.noise_sd[1]");
  o = SynthOptions{};
  o.seq_len = {50, 40, 50};
  fails(o, "synth.seq_len");
  o = SynthOptions{};
  o.n_test = 1;
  fails(o, "synth.n_test");
  SynthOptions from_json;
  EXPECT_THROW(options_from_json(from_json, {{"noise", 1.0}}, "synth"), ConfigError);
  SynthShape s = resolve_synth(SynthOptions{});
  EXPECT_EQ(s.n, (std::array<int64_t, 3>{1284, 229, 686}));
  o = SynthOptions{};
  o.like = "mosei";
  o.layout = "mmsa_unaligned";
  s = resolve_synth(o);
  EXPECT_EQ(s.n, (std::array<int64_t, 3>{16326, 1871, 4659}));
  EXPECT_EQ(s.t, (std::array<int64_t, 3>{50, 500, 500}));
  EXPECT_EQ(s.d, (std::array<int64_t, 3>{768, 74, 35}));
}

}  // namespace
}  // namespace robustmsa

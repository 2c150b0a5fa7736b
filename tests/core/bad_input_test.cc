// The catalogue of bad inputs (issue 5, docs/security.md): hostile pickles, structurally wrong
// feature files, bad configs, foreign checkpoints and bad paths, each driven through the real
// command line. One row = a case name, how to make its files, the command, the expected exit
// code and the substrings that main()'s ONE error line must hold (the file it names and what was
// expected). Every row also checks that the command finished within its time limit (no hang),
// printed exactly one "robustmsa:" line, and left no new file behind (no partial output, no
// "*.tmp").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "../common/cli_run.h"
#include "../common/pickle_bytes.h"
#include "io/pickle_write.h"
#include "util/sha256.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::Bytes;
using test_util::CliResult;
using test_util::run_cli;
using test_util::shell_quote;
using test_util::slurp;
using test_util::write_bytes;

// ---- the shared fixtures: a good file, a file with other dims, two trained runs ---------------

struct Fixtures {
  std::string own;     // this process's directory (its cases/, removed at the end)
  std::string root;    // the fixtures' directory (shared, or under `own`)
  std::string data;    // tiny MOSI-like file (MulT layout), dims (12, 6, 4), T = 6
  std::string other;   // the same with text dims 10
  std::string run;     // a trained UMDF run directory (seed_1111)
  std::string lf_run;  // a trained LF-DNN run directory
  std::string error;   // set when making them failed
};

// The fixtures' paths under `root`.
void place_fixtures(Fixtures& f, const std::string& root) {
  f.root = root;
  f.data = root + "/tiny.pkl";
  f.other = root + "/other_dims.pkl";
  f.run = root + "/umdf/seed_1111";
  f.lf_run = root + "/lf_dnn/seed_1111";
}

Fixtures& fixtures() {
  static Fixtures f;
  return f;
}

const char* kSynth =
    " --set n_valid=8 --set n_test=8 --set seq_len=[6,6,6] --set informative_dims=[3,3,3]"
    " --set informative_frames=[2,2,2] --set min_length=3";

std::string train_args(const std::string& data, const std::string& model, const std::string& out) {
  std::string extra = model == "umdf" ? " --set model.width=8 --set model.heads=2" : "";
  return "train --data " + shell_quote(data) + " --model " + model + " --out " + shell_quote(out) +
         " --seeds 1111 --threads 1 --set train.batch_size=16 --set train.epochs=1" + extra;
}

// The two synthetic files and two trained runs, made by the CLI into `root`.
void make_fixture_files(Fixtures& f) {
  auto check = [&](const CliResult& r, const std::string& what) {
    if (r.code != 0 && f.error.empty()) f.error = what + " failed: " + r.err;
  };
  check(run_cli("synth --like mosi --seed 5 --n 32 --set dims=[12,6,4]" + std::string(kSynth) +
                " " + shell_quote(f.data)),
        "synth");
  check(run_cli("synth --like mosi --seed 6 --n 32 --set dims=[10,6,4]" + std::string(kSynth) +
                " " + shell_quote(f.other)),
        "synth (other dims)");
  check(run_cli(train_args(f.data, "umdf", f.root + "/umdf")), "train umdf");
  check(run_cli(train_args(f.data, "lf_dnn", f.root + "/lf_dnn")), "train lf_dnn");
}

// ctest runs every case as a process of its own; making the fixtures took about 3 s of each case's
// 3.3 s. So they are made once per CLI binary, beside it in test-fixtures/ (keyed by the binary's
// size and modification time, so a rebuilt CLI makes them anew), by the first process under an
// exclusive lock, and complete once the "ready" marker exists. Cases only read them (each case
// copies what it changes into its own directory, and checks that the shared run did not change).
// Where that directory cannot be written, a process makes its own in the temp directory.
bool use_shared_fixtures(Fixtures& f) {
  std::error_code ec;
  const fs::path bin = fs::absolute(test_util::cli_binary(), ec);
  const auto size = fs::file_size(bin, ec);
  if (ec) return false;
  const auto mtime =
      static_cast<std::uint64_t>(fs::last_write_time(bin, ec).time_since_epoch().count());
  const fs::path base = bin.parent_path() / "test-fixtures";
  fs::create_directories(base, ec);
  if (ec) return false;
  const std::string name = "bad_input-" + std::to_string(size) + "-" + std::to_string(mtime);
  const int lock = ::open((base / "bad_input.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return false;
  ::flock(lock, LOCK_EX);
  place_fixtures(f, (base / name).string());
  if (!fs::exists(f.root + "/ready", ec)) {
    for (const auto& entry : fs::directory_iterator(base, ec))  // other binaries' fixtures
      if (entry.path().filename().string().rfind("bad_input-", 0) == 0)
        fs::remove_all(entry.path(), ec);
    fs::create_directories(f.root, ec);
    make_fixture_files(f);
    if (f.error.empty()) std::ofstream(f.root + "/ready") << "made by pid " << getpid() << "\n";
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return true;
}

void make_fixtures() {
  Fixtures& f = fixtures();
  f.own =
      (fs::temp_directory_path() / ("robustmsa_bad_input_" + std::to_string(getpid()))).string();
  fs::remove_all(f.own);
  fs::create_directories(f.own + "/cases");
  if (!use_shared_fixtures(f)) {
    place_fixtures(f, f.own + "/fixtures");
    fs::create_directories(f.root);
    make_fixture_files(f);
  }
}

// ---- writing feature files with pickle::Writer
// ---------------------------------------------------

// A MulT/CMU-layout file; `custom(w, split, key)` may write a key and value itself (or nothing,
// to drop the key) and return true, replacing the default.
struct MultFile {
  std::vector<std::string> splits = {"train", "valid", "test"};
  std::array<int64_t, 3> n = {12, 4, 4};
  int64_t t = 5;
  std::array<int64_t, 3> dims = {6, 4, 3};
  float label = 1.5f;
  std::function<bool(pickle::Writer&, const std::string&, const std::string&)> custom;
};

std::vector<float> features(int64_t n, int64_t t, int64_t d, int seed) {
  std::vector<float> x(static_cast<std::size_t>(n * t * d));
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + seed));
  return x;
}

void write_mult(const std::string& path, const MultFile& spec) {
  pickle::Writer w(path);
  w.begin_dict();
  for (std::size_t s = 0; s < spec.splits.size(); ++s) {
    const std::string& split = spec.splits[s];
    const int64_t n = spec.n[s % 3];
    w.key(split);
    w.begin_dict();
    const char* modalities[] = {"text", "audio", "vision"};
    for (int m = 0; m < 3; ++m) {
      if (spec.custom && spec.custom(w, split, modalities[m])) continue;
      w.key(modalities[m]);
      auto x = features(n, spec.t, spec.dims[m], m);
      w.array(pickle::DType::kFloat32, {n, spec.t, spec.dims[m]}, x.data());
    }
    if (!(spec.custom && spec.custom(w, split, "labels"))) {
      w.key("labels");
      std::vector<float> y(static_cast<std::size_t>(n), spec.label);
      w.array(pickle::DType::kFloat32, {n, 1, 1}, y.data());
    }
    w.end_dict();
  }
  w.end_dict();
  w.finish();
}

// An MMSA unaligned-layout file whose audio_lengths row 0 is `audio_len0`.
void write_mmsa(const std::string& path, double audio_len0) {
  pickle::Writer w(path);
  w.begin_dict();
  const int64_t n = 4, t = 5;
  for (const char* split : {"train", "valid", "test"}) {
    w.key(split);
    w.begin_dict();
    const std::array<int64_t, 3> dims = {6, 4, 3};
    const char* modalities[] = {"text", "audio", "vision"};
    for (int m = 0; m < 3; ++m) {
      w.key(modalities[m]);
      auto x = features(n, t, dims[m], m);
      w.array(pickle::DType::kFloat32, {n, t, dims[m]}, x.data());
    }
    std::vector<double> lengths = {audio_len0, 3, 4, 5};
    w.key("audio_lengths");
    w.array(pickle::DType::kFloat64, {n}, lengths.data());
    std::vector<float> y(n, 0.5f);
    w.key("regression_labels");
    w.array(pickle::DType::kFloat32, {n}, y.data());
    w.end_dict();
  }
  w.end_dict();
  w.finish();
}

// A whole pickle {"train": {"audio": <payload>}} around a hostile value written by `payload`.
std::string in_train_audio(const std::function<void(Bytes&)>& payload) {
  Bytes b;
  b.proto(2).op('}').short_unicode("train").op('}').short_unicode("audio");
  payload(b);
  b.op('s').op('s').op('.');
  return b.str();
}

// Writes a robustmsa checkpoint header (magic, payload size, SHA-256) around `payload`.
std::string checkpoint_around(const std::string& payload) {
  std::string file = "RMSACKPT1\n";
  for (int i = 0; i < 8; ++i)
    file.push_back(static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xff));
  file += sha256_hex(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  return file + payload;
}

// ---- the catalogue ---------------------------------------------------------------------------

// Paths a case refers to: {dir} (the case's own directory), {data}, {other}, {run}, {lf_run}.
struct Env {
  std::string dir;
  std::string expand(std::string text) const {
    const Fixtures& f = fixtures();
    const std::pair<std::string, std::string> vars[] = {{"{dir}", dir},
                                                        {"{data}", f.data},
                                                        {"{other}", f.other},
                                                        {"{run}", f.run},
                                                        {"{lf_run}", f.lf_run}};
    for (const auto& [key, value] : vars)
      for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + 1))
        text.replace(at, key.size(), value);
    return text;
  }
  std::string file(const std::string& name) const { return dir + "/" + name; }
  void put(const std::string& name, const std::string& bytes) const {
    write_bytes(file(name), bytes);
  }
  // A copy of a trained run directory at {dir}/run.
  std::string copy_run(const std::string& from) const {
    fs::copy(from, file("run"), fs::copy_options::recursive);
    return file("run");
  }
};

struct Case {
  std::string name;
  std::function<void(const Env&)> make;  // writes the case's files into {dir}
  std::string args;                      // the command line after the binary ({...} expanded)
  int code;                              // 1 (data / run error) or 2 (usage / configuration)
  std::vector<std::string> expect;       // substrings of the error line ({...} expanded)
  std::function<std::string()> skip;     // a reason to skip this row, or ""
};

// Hostile pickle `bytes` at {dir}/x.pkl, read by `inspect`.
Case hostile(const std::string& name, const std::string& bytes, std::vector<std::string> expect) {
  expect.insert(expect.begin(), "{dir}/x.pkl");
  return {
      name,   [bytes](const Env& e) { e.put("x.pkl", bytes); }, "inspect {dir}/x.pkl", 1, expect,
      nullptr};
}

// A MulT file at {dir}/x.pkl made from `spec`, read by `inspect`.
Case structural(const std::string& name, const MultFile& spec, std::vector<std::string> expect) {
  expect.insert(expect.begin(), "file '{dir}/x.pkl'");
  return {name,
          [spec](const Env& e) { write_mult(e.file("x.pkl"), spec); },
          "inspect {dir}/x.pkl",
          1,
          expect,
          nullptr};
}

// A MulT file whose `key` in `split` is replaced by what `write` puts there.
MultFile with(const std::string& split, const std::string& key,
              std::function<void(pickle::Writer&)> write) {
  MultFile m;
  m.custom = [split, key, write](pickle::Writer& w, const std::string& s, const std::string& k) {
    if (s != split || k != key) return false;
    write(w);
    return true;
  };
  return m;
}

const char* kTrainTiny =
    " --seeds 1111 --threads 1 --set model.width=8 --set model.heads=2 --set train.batch_size=16"
    " --set train.epochs=1";

std::string root_skip() {
  return geteuid() == 0 ? "running as root: permission bits do not stop root from reading a file "
                          "(the catalogue's 'path_through_a_file' and 'fifo' rows cover paths "
                          "that cannot be read)"
                        : "";
}

std::vector<Case> catalogue() {
  std::vector<Case> c;
  const std::string kNotAllowed = "is not allowed";

  // -- hostile pickles: code execution and the opcodes attackers use --------------------------
  {
    Bytes b;
    b.global("os", "system").op('(').raw("S'touch /tmp/robustmsa_pwned'\n").op('t').op('R');
    c.push_back(hostile(
        "reduce_os_system", b.op('.').str(),
        {"byte offset 0", "GLOBAL", "global 'os system' is not allowed", "expected one of"}));
  }
  {
    Bytes b;
    b.proto(4).stack_global("subprocess", "Popen").short_unicode("sh").op(0x85).op('R');
    c.push_back(hostile("reduce_subprocess_popen", b.op('.').str(),
                        {"STACK_GLOBAL", "global 'subprocess Popen' " + kNotAllowed}));
  }
  {
    Bytes b;
    b.proto(2).global("builtins", "exec").short_binstring("import os").op(0x85).op('R');
    c.push_back(hostile("reduce_builtins_exec", b.op('.').str(),
                        {"byte offset 2", "global 'builtins exec' " + kNotAllowed}));
  }
  {
    Bytes b;
    b.proto(3).global("builtins", "eval").binunicode("1+1").op(0x85).op('R');
    c.push_back(hostile("reduce_builtins_eval", b.op('.').str(),
                        {"global 'builtins eval' " + kNotAllowed}));
  }
  {
    Bytes b;  // Python 2 spelling
    b.global("__builtin__", "eval").op('(').raw("S'1'\n").op('t').op('R');
    c.push_back(hostile("reduce_builtin_eval_protocol0", b.op('.').str(),
                        {"global '__builtin__ eval' " + kNotAllowed}));
  }
  // The payload hidden inside a valid-looking dataset dict.
  c.push_back(hostile("reduce_inside_train_split", in_train_audio([](Bytes& p) {
                        p.global("posix", "system").short_binstring("id").op(0x85).op('R');
                      }),
                      {"global 'posix system' " + kNotAllowed}));
  {
    Bytes b;
    b.op('(').raw("S'ls'\n").op('i').line("os").line("system");
    c.push_back(hostile("inst_os_system", b.op('.').str(), {"byte offset 7", "INST", kNotAllowed}));
  }
  {
    Bytes b;  // OBJ on an allowed class is refused too: only the allow-list's REDUCE/BUILD run
    b.op('(').global("numpy", "ndarray").op('o');
    c.push_back(hostile("obj_on_ndarray", b.op('.').str(), {"OBJ", kNotAllowed}));
  }
  {
    Bytes b;
    b.op('(').global("subprocess", "check_output").raw("S'ls'\n").op('o');
    c.push_back(hostile("obj_foreign_class", b.op('.').str(),
                        {"global 'subprocess check_output' " + kNotAllowed}));
  }
  {
    Bytes b;
    b.proto(2).global("collections", "OrderedDict").op(')').op(0x81);
    c.push_back(hostile("newobj_foreign_class", b.op('.').str(),
                        {"GLOBAL", "global 'collections OrderedDict' " + kNotAllowed}));
  }
  {
    Bytes b;
    b.proto(2).global("numpy", "ndarray").op(')').op(0x81);
    c.push_back(hostile("newobj_on_ndarray", b.op('.').str(), {"NEWOBJ", "numpy.ndarray"}));
  }
  {
    Bytes b;
    b.proto(4).global("numpy", "dtype").op(')').op('}').op(0x92);
    c.push_back(hostile("newobj_ex", b.op('.').str(), {"NEWOBJ_EX", kNotAllowed}));
  }
  c.push_back(hostile("persid", Bytes().op('P').line("0").op('.').str(),
                      {"byte offset 0", "PERSID", "persistent ids are not allowed"}));
  c.push_back(hostile("binpersid", Bytes().proto(2).binint1(1).op('Q').op('.').str(),
                      {"byte offset 4", "BINPERSID", "persistent ids are not allowed"}));
  c.push_back(hostile("ext1", Bytes().proto(2).op(0x82).uint_le(1, 1).op('.').str(),
                      {"EXT1", "extension-registry"}));
  c.push_back(hostile("ext2", Bytes().proto(2).op(0x83).uint_le(300, 2).op('.').str(),
                      {"EXT2", "extension-registry"}));
  c.push_back(hostile("ext4", Bytes().proto(2).op(0x84).uint_le(70000, 4).op('.').str(),
                      {"EXT4", "extension-registry"}));
  {
    // Frames nested in frames (a FRAME opcode inside a frame's bytes): framing is only a
    // read-ahead hint, so the global inside is still found and refused.
    Bytes inner;
    inner.stack_global("os", "system").short_unicode("ls").op(0x85).op('R').op('.');
    Bytes middle;
    middle.op(0x95).uint_le(inner.size(), 8).raw(inner.str());
    Bytes b;
    b.proto(4).op(0x95).uint_le(middle.size(), 8).raw(middle.str());
    c.push_back(hostile("nested_frames_hiding_a_global", b.str(),
                        {"STACK_GLOBAL", "global 'os system' " + kNotAllowed}));
  }
  {
    Bytes b;  // a frame that claims more bytes than the file holds
    b.proto(4).op(0x95).uint_le(1, 8).op(0x95).uint_le(uint64_t{1} << 40, 8).op('N').op('.');
    c.push_back(
        hostile("nested_frame_beyond_the_file", b.str(), {"byte offset 11", "FRAME", "exceeds"}));
  }
  c.push_back(
      hostile("memo_get_never_stored",
              Bytes().proto(2).op('N').op('q').uint_le(0, 1).op('h').uint_le(7, 1).op('.').str(),
              {"BINGET", "memo index 7 was never stored"}));
  c.push_back(hostile("memo_get_huge_index",
                      Bytes().proto(2).op('j').uint_le(0xFFFFFFFF, 4).op('.').str(),
                      {"LONG_BINGET", "memo index 4294967295"}));
  c.push_back(hostile(
      "memo_self_cycle",
      Bytes().proto(2).op(']').op('q').uint_le(0, 1).op('h').uint_le(0, 1).op('a').op('.').str(),
      {"APPEND", "a list cannot contain itself"}));
  {
    Bytes b;  // a memoised container modified after it went into another one (a cycle builder)
    b.proto(2).op('}').op('q').uint_le(0, 1).op(']').op('h').uint_le(0, 1).op('a');
    b.op('h').uint_le(0, 1).op('N').op('N').op('s').op('0').op('.');
    c.push_back(hostile("memo_modify_after_nesting", b.str(),
                        {"SETITEM", "already inside another container"}));
  }
  {
    // One 256 KiB key reused 20 000 times through the memo (4 bytes per reuse): 5 GB of key
    // hashing from a 342 KB file before the reader bounded it (found by fuzzing).
    Bytes b;
    b.proto(4).op('}').op(0x8e).uint_le(256 << 10, 8).raw(std::string(256 << 10, 'k'));
    b.op(0x94).op('N').op('s');
    for (int i = 0; i < 20000; ++i) b.op('h').uint_le(0, 1).op('N').op('s');
    c.push_back(hostile("memo_key_amplification", b.op('.').str(),
                        {"SETITEM", "dict keys add up to more than"}));
  }
  c.push_back(
      hostile("length_beyond_the_file",
              Bytes().proto(4).op(0x8e).uint_le(uint64_t{1} << 62, 8).raw("abc").op('.').str(),
              {"BINBYTES8", "exceeds"}));
  {
    Bytes b;
    b.proto(2);
    for (int i = 0; i < 5000; ++i) b.op(']');
    for (int i = 0; i < 4999; ++i) b.op('a');
    c.push_back(hostile("nesting_too_deep", b.op('.').str(), {"nested more than 256 levels"}));
  }
  c.push_back(hostile("not_a_pickle", "name,label\nx,1\n", {"byte offset 0"}));
  c.push_back({"truncated_pickle",  // half of a valid dataset file
               [](const Env& e) {
                 std::string bytes = slurp(fixtures().data);
                 e.put("x.pkl", bytes.substr(0, bytes.size() / 2));
               },
               "inspect {dir}/x.pkl",
               1,
               {"{dir}/x.pkl", "truncated"},
               nullptr});
  c.push_back({"hostile_train_data",
               [](const Env& e) {
                 Bytes b;
                 b.global("os", "system").op('(').raw("S'ls'\n").op('t').op('R').op('.');
                 e.put("x.pkl", b.str());
               },
               "train --data {dir}/x.pkl --model umdf --out {dir}/out" + std::string(kTrainTiny),
               1,
               {"{dir}/x.pkl", "global 'os system' " + kNotAllowed},
               nullptr});
  c.push_back({"hostile_predict_input",
               [](const Env& e) {
                 e.put("x.pkl", in_train_audio([](Bytes& p) {
                         p.proto(4).stack_global("builtins", "exec").short_unicode("1");
                         p.op(0x85).op('R');
                       }));
               },
               "predict --run {run} --input {dir}/x.pkl --split train",
               1,
               {"{dir}/x.pkl", "global 'builtins exec' " + kNotAllowed},
               nullptr});

  // -- structurally wrong feature files ----------------------------------------------------------
  {
    MultFile m;
    m.splits = {"train", "test"};
    c.push_back(structural("missing_split", m, {"missing split \"valid\"", "train, valid, test"}));
  }
  c.push_back(
      structural("split_not_a_dict", MultFile{}, {"split \"train\": expected a dict, found list"}));
  c.back().make = [](const Env& e) {
    pickle::Writer w(e.file("x.pkl"));
    w.begin_dict();
    w.key("train");
    w.begin_list();
    w.end_list();
    w.end_dict();
    w.finish();
  };
  c.push_back(structural("top_level_not_a_dict", MultFile{}, {"expected a dict", "found list"}));
  c.back().make = [](const Env& e) {
    pickle::Writer w(e.file("x.pkl"));
    w.begin_list();
    w.end_list();
    w.finish();
  };
  c.push_back(structural("missing_labels", with("train", "labels", [](pickle::Writer&) {}),
                         {"cannot tell the layout", "\"labels\" (MulT/CMU)"}));
  c.push_back(structural("missing_modality", with("test", "audio", [](pickle::Writer&) {}),
                         {"split \"test\" key \"audio\"", "missing; expected a NumPy array"}));
  c.push_back(structural(
      "wrong_rank",
      with("valid", "audio",
           [](pickle::Writer& w) {
             w.key("audio");
             auto x = features(4, 5, 1, 0);
             w.array(pickle::DType::kFloat32, {4, 5}, x.data());
           }),
      {"split \"valid\" key \"audio\"", "expected 3 dimensions (N, T, D)", "found (4, 5)"}));
  c.push_back(structural("n_mismatch_across_keys",
                         with("train", "vision",
                              [](pickle::Writer& w) {
                                w.key("vision");
                                auto x = features(11, 5, 3, 0);
                                w.array(pickle::DType::kFloat32, {11, 5, 3}, x.data());
                              }),
                         {"split \"train\" key \"vision\"", "expected N = 12", "(11, 5, 3)"}));
  c.push_back(
      structural("dims_differ_across_splits",
                 with("test", "text",
                      [](pickle::Writer& w) {
                        w.key("text");
                        auto x = features(4, 5, 7, 0);
                        w.array(pickle::DType::kFloat32, {4, 5, 7}, x.data());
                      }),
                 {"split \"test\" key \"text\"", "feature dimension 7", "train split's 6"}));
  c.push_back({"lengths_beyond_t",
               [](const Env& e) { write_mmsa(e.file("x.pkl"), 9); },
               "inspect {dir}/x.pkl",
               1,
               {"file '{dir}/x.pkl'", "key \"audio_lengths\"", "row 0: length 9",
                "[0, 5] (the padded sequence length)"},
               nullptr});
  c.push_back({"negative_length",
               [](const Env& e) { write_mmsa(e.file("x.pkl"), -1); },
               "inspect {dir}/x.pkl",
               1,
               {"file '{dir}/x.pkl'", "row 0: length -1"},
               nullptr});
  {
    MultFile m;
    m.label = 4.5f;
    c.push_back(
        structural("label_out_of_range", m, {"key \"labels\"", "label 4.5 is outside [-3, 3]"}));
  }
  {
    MultFile m;
    m.label = std::numeric_limits<float>::quiet_NaN();
    c.push_back(structural("label_nan", m, {"key \"labels\"", "is outside [-3, 3]"}));
  }
  c.push_back(
      structural("labels_wrong_shape",
                 with("train", "labels",
                      [](pickle::Writer& w) {
                        w.key("labels");
                        std::vector<float> y(12 * 3, 0.f);
                        w.array(pickle::DType::kFloat32, {12, 3}, y.data());
                      }),
                 {"key \"labels\"", "(N, 1, 1) regression or (N, 4, 2) IEMOCAP", "found (12, 3)"}));
  c.push_back(structural("iemocap_not_one_hot",
                         with("train", "labels",
                              [](pickle::Writer& w) {
                                w.key("labels");
                                std::vector<float> y(12 * 8, 1.f);
                                w.array(pickle::DType::kFloat32, {12, 4, 2}, y.data());
                              }),
                         {"key \"labels\"", "expected a one-hot pair", "[1, 1]"}));
  c.push_back(structural("features_of_strings",
                         with("train", "text",
                              [](pickle::Writer& w) {
                                w.key("text");
                                w.string_array({12, 5, 6}, std::vector<std::string>(360, "x"));
                              }),
                         {"key \"text\"", "expected a numeric array, found dtype object"}));
  c.push_back(structural("features_of_bools",
                         with("valid", "vision",
                              [](pickle::Writer& w) {
                                w.key("vision");
                                std::vector<uint8_t> x(4 * 5 * 3, 1);
                                w.array(pickle::DType::kBool, {4, 5, 3}, x.data());
                              }),
                         {"key \"vision\"", "expected a floating-point or integer array", "bool"}));
  c.push_back(structural("features_as_a_list",
                         with("train", "audio",
                              [](pickle::Writer& w) {
                                w.key("audio");
                                w.begin_list();
                                w.floating(1.0);
                                w.end_list();
                              }),
                         {"key \"audio\"", "expected a NumPy array, found list"}));
  c.push_back(structural("labels_as_a_string",
                         with("train", "labels",
                              [](pickle::Writer& w) {
                                w.key("labels");
                                w.string("positive");
                              }),
                         {"key \"labels\"", "expected a NumPy array, found str"}));
  c.push_back({"structural_train_data",
               [](const Env& e) {
                 MultFile m;
                 m.label = -7.0f;
                 write_mult(e.file("x.pkl"), m);
               },
               "train --data {dir}/x.pkl --model umdf --out {dir}/out" + std::string(kTrainTiny),
               1,
               {"file '{dir}/x.pkl'", "label -7 is outside [-3, 3]"},
               nullptr});
  {
    MultFile m;
    m.n = {0, 0, 0};
    c.push_back({"empty_splits",
                 [m](const Env& e) { write_mult(e.file("x.pkl"), m); },
                 "train --data {dir}/x.pkl --model umdf --out {dir}/out" + std::string(kTrainTiny),
                 1,
                 {"file '{dir}/x.pkl'", "split \"train\" key \"labels\"", "found (0, 1, 1)"},
                 nullptr});
  }

  // -- configurations: unknown keys, wrong types, impossible values
  // --------------------------------
  auto config_case = [&](const std::string& name, const std::string& json,
                         std::vector<std::string> expect) {
    expect.insert(expect.begin(), "{dir}/c.json");
    c.push_back({name, [json](const Env& e) { e.put("c.json", json); },
                 "train --data {data} --model umdf --out {dir}/out --config {dir}/c.json" +
                     std::string(kTrainTiny),
                 2, expect, nullptr});
  };
  config_case("config_unknown_key", R"({"train": {"learning_rate": 0.1}})",
              {"unknown key 'train.learning_rate'", "expected one of"});
  config_case("config_unknown_section", R"({"optimiser": {"lr": 0.1}})",
              {"unknown section 'optimiser'"});
  config_case("config_wrong_type", R"({"train": {"epochs": "ten"}})", {"train.epochs", "expected"});
  config_case("config_wrong_type_list", R"({"train": {"seeds": 3}})", {"train.seeds", "expected"});
  config_case("config_invalid_json", R"({"train": {"lr": 0.1,}})", {"byte offset"});
  config_case("config_not_an_object", R"([1, 2, 3])", {"expected a JSON object"});
  config_case("config_model_not_an_object", R"({"model": 5})",
              {"section 'model': expected an object"});
  c.push_back({"config_negative_lr",
               nullptr,
               "train --data {data} --model umdf --out {dir}/out" + std::string(kTrainTiny) +
                   " --set train.lr=-0.5",
               2,
               {"train.lr", "(0, 10)", "-0.5"},
               nullptr});
  c.push_back({"config_zero_batch",
               nullptr,
               "train --data {data} --model umdf --out {dir}/out" + std::string(kTrainTiny) +
                   " --set train.batch_size=0",
               2,
               {"train.batch_size", ">= 1"},
               nullptr});
  c.push_back({"config_heads_do_not_divide_width",
               nullptr,
               "train --data {data} --model umdf --out {dir}/out" + std::string(kTrainTiny) +
                   " --set model.heads=3",
               2,
               {"model.heads", "3"},
               nullptr});
  c.push_back({"config_unknown_model_key",
               nullptr,
               "train --data {data} --model lf_dnn --out {dir}/out --seeds 1111"
               " --set model.no_such_option=1",
               2,
               {"unknown key 'model.no_such_option'", "lf_dnn"},
               nullptr});
  c.push_back({"config_set_without_value",
               nullptr,
               "train --data {data} --model umdf --out {dir}/out --set train.lr",
               2,
               {"--set 'train.lr'", "expected"},
               nullptr});
  c.push_back({"config_is_a_directory",
               [](const Env& e) { fs::create_directory(e.file("c")); },
               "train --data {data} --model umdf --out {dir}/out --config {dir}/c",
               2,
               {"{dir}/c", "directory"},
               nullptr});

  // -- checkpoints and run directories
  // --------------------------------------------------------------
  c.push_back({"checkpoint_of_another_model",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 fs::copy_file(fixtures().lf_run + "/checkpoint.pt", run + "/checkpoint.pt",
                               fs::copy_options::overwrite_existing);
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"checkpoint '{dir}/run/checkpoint.pt'", "is missing; expected it for this model"},
               nullptr});
  c.push_back({"checkpoint_for_other_input_dims",
               nullptr,
               "eval --run {run} --data {other} --suite gcnet",
               1,
               {"checkpoint '{run}/checkpoint.pt'", "has shape", "expected", "other input dims"},
               nullptr});
  c.push_back({"predict_input_of_other_dims",
               nullptr,
               "predict --run {run} --input {other}",
               1,
               {"file '{other}'", "differ from the model's"},
               nullptr});
  c.push_back({"predict_with_foreign_checkpoint",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 fs::copy_file(fixtures().lf_run + "/checkpoint.pt", run + "/checkpoint.pt",
                               fs::copy_options::overwrite_existing);
               },
               "predict --run {dir}/run --input {data}",
               1,
               {"checkpoint '{dir}/run/checkpoint.pt'", "is missing; expected it for this model"},
               nullptr});
  c.push_back(
      {"resume_with_checkpoint_of_another_model",
       [](const Env& e) {
         fs::create_directories(e.file("out/seed_1111"));
         fs::copy_file(fixtures().lf_run + "/checkpoint.pt", e.file("out/seed_1111/checkpoint.pt"));
       },
       "train --data {data} --model umdf --out {dir}/out --resume" + std::string(kTrainTiny),
       2,
       {"checkpoint '{dir}/out/seed_1111/checkpoint.pt'",
        "a different 'config.model.name' (saved "
        "\"lf_dnn\", now \"umdf\")"},
       nullptr});
  c.push_back(
      {"resume_with_other_input_dims",
       [](const Env& e) {
         fs::create_directories(e.file("out/seed_1111"));
         fs::copy_file(fixtures().run + "/checkpoint.pt", e.file("out/seed_1111/checkpoint.pt"));
       },
       "train --data {other} --model umdf --out {dir}/out --resume" + std::string(kTrainTiny),
       2,
       {"checkpoint '{dir}/out/seed_1111/checkpoint.pt'", "a different 'config.data.path'",
        "{other}"},
       nullptr});
  c.push_back({"checkpoint_truncated",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 std::string bytes = slurp(run + "/checkpoint.pt");
                 write_bytes(run + "/checkpoint.pt", bytes.substr(0, bytes.size() - 100));
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"checkpoint '{dir}/run/checkpoint.pt'", "truncated"},
               nullptr});
  c.push_back({"checkpoint_bit_flip",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 std::string bytes = slurp(run + "/checkpoint.pt");
                 bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
                 write_bytes(run + "/checkpoint.pt", bytes);
               },
               "predict --run {dir}/run --input {data}",
               1,
               {"checkpoint '{dir}/run/checkpoint.pt'", "SHA-256", "corrupt"},
               nullptr});
  c.push_back({"checkpoint_not_a_checkpoint",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 write_bytes(run + "/checkpoint.pt", "PK\x03\x04 a zip archive, not ours");
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"checkpoint '{dir}/run/checkpoint.pt'", "not a robustmsa checkpoint"},
               nullptr});
  c.push_back({"checkpoint_valid_hash_garbage_payload",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 write_bytes(run + "/checkpoint.pt", checkpoint_around(std::string(300, 'z')));
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"checkpoint '{dir}/run/checkpoint.pt'", "cannot decode"},
               nullptr});
  c.push_back({"checkpoint_is_a_directory",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 fs::remove(run + "/checkpoint.pt");
                 fs::create_directory(run + "/checkpoint.pt");
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"{dir}/run/checkpoint.pt", "directory"},
               nullptr});
  c.push_back({"checkpoint_missing",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 fs::remove(run + "/checkpoint.pt");
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"{dir}/run/checkpoint.pt"},
               nullptr});
  c.push_back({"run_config_invalid_json",
               [](const Env& e) {
                 std::string run = e.copy_run(fixtures().run);
                 write_bytes(run + "/config.json", "{\"variant\": ");
               },
               "eval --run {dir}/run --suite gcnet",
               1,
               {"run config '{dir}/run/config.json'", "invalid JSON"},
               nullptr});
  c.push_back({"run_directory_without_runs",
               [](const Env& e) { fs::create_directory(e.file("empty_run")); },
               "eval --run {dir}/empty_run",
               2,
               {"{dir}/empty_run", "no run directory (with config.json)"},
               nullptr});
  c.push_back({"predict_json_wrong_dims",
               [](const Env& e) { e.put("in.json", R"({"samples": [{"text": [[1, 2, 3]]}]})"); },
               "predict --run {run} --input {dir}/in.json",
               1,
               {"file '{dir}/in.json'", "samples[0].text[0]", "expected 12 numbers"},
               nullptr});
  c.push_back({"predict_json_invalid",
               [](const Env& e) { e.put("in.json", R"({"samples": [)"); },
               "predict --run {run} --input {dir}/in.json",
               1,
               {"file '{dir}/in.json'", "invalid JSON"},
               nullptr});

  // -- paths
  // -----------------------------------------------------------------------------------------
  c.push_back({"empty_path_inspect", nullptr, "inspect ''", 1, {"file ''"}, nullptr});
  c.push_back({"empty_path_train_data",
               nullptr,
               "train --data '' --model umdf --out {dir}/out" + std::string(kTrainTiny),
               2,
               {"no data file", "--data"},
               nullptr});
  c.push_back({"empty_path_predict_input",
               nullptr,
               "predict --run {run} --input ''",
               2,
               {"--input"},
               nullptr});
  c.push_back({"missing_file",
               nullptr,
               "inspect {dir}/nope.pkl",
               1,
               {"{dir}/nope.pkl", "does not exist"},
               nullptr});
  c.push_back({"directory_as_data_file",
               [](const Env& e) { fs::create_directory(e.file("d")); },
               "train --data {dir}/d --model umdf --out {dir}/out" + std::string(kTrainTiny),
               1,
               {"file '{dir}/d'", "is a directory"},
               nullptr});
  c.push_back({"directory_as_predict_input",
               [](const Env& e) { fs::create_directory(e.file("d.json")); },
               "predict --run {run} --input {dir}/d.json",
               1,
               {"{dir}/d.json", "directory"},
               nullptr});
  c.push_back({"path_through_a_file",
               [](const Env& e) { e.put("f", "x"); },
               "inspect {dir}/f/x.pkl",
               1,
               {"{dir}/f/x.pkl", "Not a directory"},
               nullptr});
  c.push_back({"fifo_as_data_file",
               [](const Env& e) { ::mkfifo(e.file("pipe.pkl").c_str(), 0644); },
               "inspect {dir}/pipe.pkl",
               1,
               {"{dir}/pipe.pkl", "not a regular file"},
               nullptr});
  c.push_back({"fifo_as_config",
               [](const Env& e) { ::mkfifo(e.file("pipe.json").c_str(), 0644); },
               "train --data {data} --model umdf --out {dir}/out --config {dir}/pipe.json",
               2,
               {"{dir}/pipe.json", "not a regular file"},
               nullptr});
  c.push_back({"unreadable_file",
               [](const Env& e) {
                 write_bytes(e.file("x.pkl"), slurp(fixtures().data));
                 ::chmod(e.file("x.pkl").c_str(), 0);
               },
               "inspect {dir}/x.pkl",
               1,
               {"{dir}/x.pkl", "Permission denied"},
               root_skip});
  return c;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = catalogue();
  return all;
}

class BadInput : public ::testing::TestWithParam<std::size_t> {
 protected:
  static void SetUpTestSuite() {
    if (!test_util::cli_binary().empty()) make_fixtures();
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!fixtures().own.empty()) fs::remove_all(fixtures().own, ec);
  }
};

TEST(BadInputCatalogue, HasAtLeastFortyDistinctCases) {
  EXPECT_GE(cases().size(), 40u);
  std::set<std::string> names;
  for (const Case& c : cases()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
}

TEST_P(BadInput, FailsCleanlyWithOneLine) {
  if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  ASSERT_TRUE(fixtures().error.empty()) << fixtures().error;
  const Case& c = cases()[GetParam()];
  if (c.skip) {
    const std::string reason = c.skip();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  Env env{fixtures().own + "/cases/case_" + c.name};
  fs::create_directories(env.dir);
  if (c.make) c.make(env);
  const auto before = test_util::list_files(env.dir);
  const auto run_before = test_util::list_files(fixtures().run);
  const CliResult r = run_cli(env.expand(c.args), "", 120);
  SCOPED_TRACE("command: " + env.expand(c.args) + "\nstderr:\n" + r.err);
  ASSERT_FALSE(r.hung) << "no exit within 120 s";
  EXPECT_EQ(r.code, c.code);
  const auto lines = r.error_lines();
  ASSERT_EQ(lines.size(), 1u) << "expected exactly one 'robustmsa:' error line";
  for (const std::string& want : c.expect)
    EXPECT_NE(lines[0].find(env.expand(want)), std::string::npos)
        << "expected '" << env.expand(want) << "' in: " << lines[0];
  EXPECT_EQ(test_util::list_files(env.dir), before) << "the command left files behind";
  EXPECT_EQ(test_util::list_files(fixtures().run), run_before)
      << "the command changed the shared run directory";
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadInput, ::testing::Range<std::size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<std::size_t>& info) {
                           return cases()[info.param].name;
                         });

}  // namespace
}  // namespace robustmsa

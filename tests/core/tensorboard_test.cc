// TensorBoard event files (io/tensorboard.h): CRC-32C test vectors (RFC 3720 B.4 and the
// check value of "123456789"), TFRecord framing, byte-exact Event encodings derived by hand from
// the protobuf wire format, the writer's file naming, ordering and step rules, and the files read
// back by TensorBoard's own reader (tests/python/tensorboard_reference.py; skips without the
// `tensorboard` package).
#include "io/tensorboard.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/hex.h"
#include "../common/temp_dir.h"
#include "../common/text_model.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {
namespace {

namespace tb = tensorboard;
using test_util::hex;
using test_util::TempDir;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

TEST(Crc32c, StandardVectors) {
  EXPECT_EQ(tb::crc32c(""), 0u);
  EXPECT_EQ(tb::crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  // RFC 3720 (iSCSI), appendix B.4.
  std::string zeros(32, '\0'), ones(32, '\xff'), up, down;
  for (int i = 0; i < 32; ++i) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(tb::crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(tb::crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(tb::crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(tb::crc32c(down), 0x113FDB5Cu);
}

TEST(Crc32c, ContinuesAcrossChunks) {
  const std::string a = "1234", b = "56789";
  EXPECT_EQ(tb::crc32c(b, tb::crc32c(a)), tb::crc32c(a + b));
}

TEST(Crc32c, MaskedAsTFRecord) {
  EXPECT_EQ(tb::mask_crc(0), 0xA282EAD8u);
  // Rotate right by 15, add the constant: the value TensorBoard's masked_crc32c gives.
  EXPECT_EQ(tb::mask_crc(tb::crc32c("123456789")), 0xC78AB0E5u);
  EXPECT_EQ(tb::mask_crc(tb::crc32c(std::string(8, '\0'))), 0x07980329u);
}

TEST(TFRecord, FramesLengthAndPayload) {
  // An empty payload: length 0, the masked CRC of eight zero bytes, the masked CRC of nothing.
  EXPECT_EQ(hex(tb::frame_record("")),
            "0000000000000000"
            "29039807"
            "d8ea82a2");
  const std::string record = tb::frame_record(tb::file_version_event(0));
  EXPECT_EQ(hex(record),
            "0f00000000000000"
            "6d532b09" +
                hex(bytes({0x1a, 0x0d})) + hex("brain.Event:2") + "fc985129");
}

TEST(EventEncoding, FileVersion) {
  // wall_time (field 1, fixed64) 1.5 = 0x3FF8000000000000; step 0 omitted (proto3 default);
  // file_version (field 3, length-delimited) "brain.Event:2".
  EXPECT_EQ(hex(tb::file_version_event(1.5)),
            "09"
            "000000000000f83f"
            "1a0d" +
                hex("brain.Event:2"));
}

TEST(EventEncoding, Scalar) {
  // Event{wall_time 2.0, step 3, summary{value{tag "a/b", simple_value 0.5}}}.
  const std::string value = bytes({0x0a, 0x03}) + "a/b" + bytes({0x15, 0x00, 0x00, 0x00, 0x3f});
  const std::string summary = bytes({0x0a, static_cast<int>(value.size())}) + value;
  const std::string event =
      bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 0x03, 0x2a, static_cast<int>(summary.size())}) +
      summary;
  EXPECT_EQ(hex(tb::scalar_event(2.0, 3, "a/b", 0.5f)), hex(event));
  // A zero value is still written (simple_value is in a oneof); step 300 is varint ac 02.
  EXPECT_EQ(hex(tb::scalar_event(0, 300, "x", 0.0f)),
            "10ac02"
            "2a0a"
            "0a08"
            "0a0178"
            "1500000000");
  // A negative step takes ten varint bytes, as protobuf writes an int64.
  EXPECT_EQ(hex(tb::scalar_event(0, -1, "x", 1.0f)),
            "10ffffffffffffffffff01"
            "2a0a"
            "0a08"
            "0a0178"
            "150000803f");
}

TEST(EventEncoding, SessionStart) {
  // Event{step 7, session_log (field 7) {status START}}.
  EXPECT_EQ(hex(tb::session_start_event(0, 7)),
            "1007"
            "3a02"
            "0801");
}

TEST(EventEncoding, FileName) {
  EXPECT_EQ(tb::event_file_name(1700000000, "node1", 42, 0),
            "events.out.tfevents.1700000000.node1.42.0");
  EXPECT_EQ(tb::event_file_name(5, "h", 1, 2), "events.out.tfevents.0000000005.h.1.2");
}

// ---- a small independent record reader for the tests ------------------------------------------

uint64_t read_u64(const std::string& s, std::size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
uint32_t read_u32(const std::string& s, std::size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// The payloads of a TFRecord file; fails the test on a bad frame or CRC.
std::vector<std::string> read_records(const std::string& path) {
  const std::string data = read_file(path);
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < data.size()) {
    EXPECT_LE(at + 12, data.size()) << path;
    if (at + 12 > data.size()) break;
    const uint64_t n = read_u64(data, at);
    EXPECT_EQ(read_u32(data, at + 8), tb::mask_crc(tb::crc32c(data.substr(at, 8))));
    EXPECT_LE(at + 16 + n, data.size()) << path;
    if (at + 16 + n > data.size()) break;
    const std::string payload = data.substr(at + 12, n);
    EXPECT_EQ(read_u32(data, at + 12 + n), tb::mask_crc(tb::crc32c(payload)));
    out.push_back(payload);
    at += 16 + n;
  }
  return out;
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TensorBoardWriter::Options fixed_clock(double t, int64_t pid = 42) {
  TensorBoardWriter::Options o;
  o.clock = [t] { return t; };
  o.host = "host";
  o.pid = pid;
  return o;
}

TEST(TensorBoardWriter, WritesFileVersionFirstAndScalarsOnFlush) {
  TempDir dir;
  const std::string logdir = dir / "tb";  // created by the writer
  TensorBoardWriter w(logdir, fixed_clock(1700000000.25));
  EXPECT_EQ(w.path(), logdir + "/events.out.tfevents.1700000000.host.42.0");
  // The file_version record is on disk at once: a reader sees a valid (empty) run.
  ASSERT_EQ(read_records(w.path()).size(), 1u);
  EXPECT_EQ(read_records(w.path())[0], tb::file_version_event(1700000000.25));
  w.add_scalar("train/loss", 1, 0.75);
  w.add_scalar("valid/MAE", 1, 1.25);
  EXPECT_EQ(read_records(w.path()).size(), 1u) << "scalars are buffered until flush";
  w.flush();
  const auto records = read_records(w.path());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1], tb::scalar_event(1700000000.25, 1, "train/loss", 0.75f));
  EXPECT_EQ(records[2], tb::scalar_event(1700000000.25, 1, "valid/MAE", 1.25f));
  // A second flush appends; earlier bytes stay as they were.
  const std::string before = read_file(w.path());
  w.add_scalar("train/loss", 2, 0.5);
  w.flush();
  const std::string after = read_file(w.path());
  EXPECT_EQ(after.substr(0, before.size()), before);
  EXPECT_EQ(read_records(w.path()).size(), 4u);
}

TEST(TensorBoardWriter, DestructorFlushes) {
  TempDir dir;
  std::string path;
  {
    TensorBoardWriter w(dir.str(), fixed_clock(100));
    w.add_scalar("a", 1, 2.0);
    path = w.path();
  }
  EXPECT_EQ(read_records(path).size(), 2u);
}

TEST(TensorBoardWriter, StepsOfATagMustIncrease) {
  TempDir dir;
  TensorBoardWriter w(dir.str(), fixed_clock(100));
  w.add_scalar("a", 3, 1.0);
  w.add_scalar("b", 1, 1.0);  // another tag has its own steps
  try {
    w.add_scalar("a", 3, 2.0);
    FAIL() << "expected a RunError";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("tag 'a' step 3 after step 3"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(w.add_scalar("a", 2, 2.0), RunError);
  EXPECT_THROW(w.add_scalar("", 9, 2.0), RunError);
  w.restart_at(2);
  w.add_scalar("a", 2, 2.0);  // allowed after a restart
  w.flush();
  const auto records = read_records(w.path());
  ASSERT_EQ(records.size(), 5u);  // file_version, a@3, b@1, START@2, a@2
  EXPECT_EQ(records[3], tb::session_start_event(100, 2));
}

TEST(TensorBoardWriter, ANewProcessSortsAfterEarlierFiles) {
  TempDir dir;
  std::string first, second, third;
  { first = TensorBoardWriter(dir.str(), fixed_clock(1000, 7)).path(); }
  // Same second, another pid that sorts lower: the stamp moves one second on.
  { second = TensorBoardWriter(dir.str(), fixed_clock(1000, 1)).path(); }
  // A clock that went back (or an earlier run copied in from elsewhere) changes nothing.
  { third = TensorBoardWriter(dir.str(), fixed_clock(10, 1)).path(); }
  EXPECT_EQ(std::filesystem::path(first).filename(), "events.out.tfevents.0000001000.host.7.0");
  EXPECT_EQ(std::filesystem::path(second).filename(), "events.out.tfevents.0000001001.host.1.0");
  EXPECT_EQ(std::filesystem::path(third).filename(), "events.out.tfevents.0000001002.host.1.0");
  const auto names = event_files(dir.str());
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(dir / names[2], third);
}

TEST(TensorBoardWriter, LeavesExistingFilesAlone) {
  TempDir dir;
  // An earlier process's file (here with this writer's host and pid) and a file that is not an
  // event file: the new writer takes the next second and touches neither.
  { std::ofstream(dir / "events.out.tfevents.0000000500.host.42.0") << "x"; }
  { std::ofstream(dir / "notes.txt") << "x"; }
  TensorBoardWriter w(dir.str(), fixed_clock(400));
  EXPECT_EQ(std::filesystem::path(w.path()).filename(), "events.out.tfevents.0000000501.host.42.0");
  EXPECT_EQ(read_file(dir / "events.out.tfevents.0000000500.host.42.0"), "x");
  EXPECT_EQ(read_file(dir / "notes.txt"), "x");
  TensorBoardWriter w2(dir.str(), fixed_clock(501));
  EXPECT_EQ(std::filesystem::path(w2.path()).filename(),
            "events.out.tfevents.0000000502.host.42.0");
}

TEST(TensorBoardWriter, UncreatableDirectoryIsARunError) {
  TempDir dir;
  { std::ofstream(dir / "file") << "x"; }
  try {
    TensorBoardWriter w(dir / "file/tb");
    FAIL() << "expected a RunError";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("file/tb"), std::string::npos) << e.what();
  }
}

// ---- TensorBoard's own reader ------------------------------------------------------------------

TEST(TensorBoardReader, ReadsCurvesAndHonoursTheRestart) {
  const std::string py = test_util::python_with("tensorboard");
  if (py.empty()) GTEST_SKIP() << "no python3 with tensorboard (pip install tensorboard)";
  TempDir dir;
  const std::string logdir = dir / "tb";
  {
    // The first process: epochs 1-5, then it is killed (its checkpoint was at epoch 3).
    TensorBoardWriter w(logdir, fixed_clock(1000, 11));
    for (int epoch = 1; epoch <= 5; ++epoch) {
      w.add_scalar("train/loss", epoch, 1.0 / epoch);
      w.add_scalar("valid/Non0_F1_score", epoch, 0.5 + 0.01 * epoch);
      w.flush();
    }
  }
  {
    // The resumed process: the checkpoint's history (epochs 1-3) again, then epochs 4-6 anew
    // with other values; the points of epochs 4-5 of the first process must not show.
    TensorBoardWriter w(logdir, fixed_clock(2000, 12));
    w.restart_at(1);
    for (int epoch = 1; epoch <= 6; ++epoch) {
      const double shift = epoch >= 4 ? 0.001 : 0.0;
      w.add_scalar("train/loss", epoch, 1.0 / epoch + shift);
      w.add_scalar("valid/Non0_F1_score", epoch, 0.5 + 0.01 * epoch + shift);
    }
    w.add_scalar("test/{l,a,v}/MAE", 6, -0.0);
    w.flush();
  }
  const std::string out = dir / "read.json";
  const std::string cmd = "'" + py + "' '" + std::string(std::getenv("ROBUSTMSA_SOURCE_DIR")) +
                          "/tests/python/tensorboard_reference.py' '" + logdir + "' '" + out + "'";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << cmd;
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "tensorboard is not importable by " << py;
  ASSERT_EQ(WEXITSTATUS(status), 0) << cmd;
  const nlohmann::json doc = nlohmann::json::parse(read_file(out));
  ASSERT_EQ(doc.at("files").size(), 2u);
  for (const auto& f : doc.at("files")) {
    EXPECT_EQ(f.at("first"), "brain.Event:2") << f.dump();
    EXPECT_EQ(f.at("records")[0], "file_version") << f.dump();
  }
  EXPECT_EQ(doc.at("files")[1].at("records")[1], "session_log");
  const nlohmann::json& s = doc.at("scalars");
  ASSERT_EQ(s.size(), 3u) << s.dump();
  for (const std::string tag : {"train/loss", "valid/Non0_F1_score"}) {
    const nlohmann::json& points = s.at(tag);
    ASSERT_EQ(points.size(), 6u) << tag << ": " << points.dump();
    for (int i = 0; i < 6; ++i) {
      const int epoch = i + 1;
      const double shift = epoch >= 4 ? 0.001 : 0.0;
      const double want = tag == "train/loss" ? 1.0 / epoch + shift : 0.5 + 0.01 * epoch + shift;
      EXPECT_EQ(points[i][0].get<int>(), epoch) << tag;
      EXPECT_FLOAT_EQ(points[i][1].get<float>(), static_cast<float>(want)) << tag;
    }
  }
  ASSERT_EQ(s.at("test/{l,a,v}/MAE").size(), 1u);
  EXPECT_EQ(s.at("test/{l,a,v}/MAE")[0][0].get<int>(), 6);
}

}  // namespace
}  // namespace robustmsa

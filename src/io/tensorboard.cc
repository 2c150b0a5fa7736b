#include "io/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/error.h"

namespace robustmsa {

namespace tensorboard {

namespace {

// The byte-at-a-time table of the reflected Castagnoli polynomial.
constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

// Protocol-buffer wire format (encoding.md of protobuf): a key is (field << 3) | wire type.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | type);
}

template <class T>
void put_little_endian(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_double(std::string& out, uint32_t field, double v) {
  if (v == 0.0 && !std::signbit(v)) return;  // proto3 default
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed64);
  put_little_endian(out, bits);
}

void put_float(std::string& out, uint32_t field, float v) {
  // simple_value sits in a oneof inside Summary.Value: it is written even when zero, so that the
  // reader knows the value is a scalar.
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed32);
  put_little_endian(out, bits);
}

void put_int64(std::string& out, uint32_t field, int64_t v) {
  if (v == 0) return;  // proto3 default
  put_key(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(v));  // negative int64: ten bytes, as protobuf does
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

// tensorflow.Event field numbers (event.proto).
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5,
                   kEventSessionLog = 7;
// tensorflow.Summary: repeated Value value = 1; Summary.Value: tag = 1, simple_value = 2.
constexpr uint32_t kSummaryValue = 1, kValueTag = 1, kValueSimpleValue = 2;
// tensorflow.SessionLog: SessionStatus status = 1 (START = 1).
constexpr uint32_t kSessionLogStatus = 1, kSessionStart = 1;

std::string event_header(double wall_time, int64_t step) {
  std::string e;
  put_double(e, kEventWallTime, wall_time);
  put_int64(e, kEventStep, step);
  return e;
}

}  // namespace

uint32_t crc32c(const uint8_t* data, std::size_t size, uint32_t crc) {
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

std::string frame_record(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  put_little_endian(out, static_cast<uint64_t>(payload.size()));
  put_little_endian(out, mask_crc(crc32c(out)));
  out.append(payload.data(), payload.size());
  put_little_endian(out, mask_crc(crc32c(payload)));
  return out;
}

std::string file_version_event(double wall_time) {
  std::string e = event_header(wall_time, 0);
  put_bytes(e, kEventFileVersion, "brain.Event:2");
  return e;
}

std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float value) {
  std::string v;
  put_bytes(v, kValueTag, tag);
  put_float(v, kValueSimpleValue, value);
  std::string summary;
  put_bytes(summary, kSummaryValue, v);
  std::string e = event_header(wall_time, step);
  put_bytes(e, kEventSummary, summary);
  return e;
}

std::string session_start_event(double wall_time, int64_t step) {
  std::string log;
  put_key(log, kSessionLogStatus, kVarint);
  put_varint(log, kSessionStart);
  std::string e = event_header(wall_time, step);
  put_bytes(e, kEventSessionLog, log);
  return e;
}

std::string event_file_name(int64_t seconds, const std::string& host, int64_t pid, int64_t n) {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(seconds));
  return str("events.out.tfevents.", stamp, ".", host, ".", pid, ".", n);
}

}  // namespace tensorboard

namespace {

constexpr std::string_view kPrefix = "events.out.tfevents.";

// The largest time stamp among the event files already in `dir` (-1 when there are none).
int64_t newest_stamp(const std::filesystem::path& dir) {
  int64_t newest = -1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    int64_t stamp = 0;
    std::size_t i = kPrefix.size(), digits = 0;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && digits < 18; ++i, ++digits)
      stamp = stamp * 10 + (name[i] - '0');
    if (digits > 0) newest = std::max(newest, stamp);
  }
  return newest;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string host = buf;
  for (char& c : host)  // keep the file name one path component
    if (c == '/') c = '_';
  return host;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir) : TensorBoardWriter(dir, Options{}) {}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, Options options)
    : options_(std::move(options)) {
  if (options_.host.empty()) options_.host = host_name();
  if (options_.pid < 0) options_.pid = static_cast<int64_t>(getpid());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw RunError(str("TensorBoard directory '", dir, "': cannot create it: ", ec.message()));
  const double t = now();
  const int64_t stamp = std::max(static_cast<int64_t>(t), newest_stamp(dir) + 1);
  // O_EXCL: never append to an existing file. A clash needs the same host, pid and stamp, i.e.
  // two writers of this process racing between the scan and the open: the later takes n + 1.
  for (int64_t n = 0; fd_ < 0; ++n) {
    path_ = (std::filesystem::path(dir) /
             tensorboard::event_file_name(stamp, options_.host, options_.pid, n))
                .string();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || n >= 1000))
      throw RunError(
          str("TensorBoard event file '", path_, "': cannot create it: ", std::strerror(errno)));
  }
  append(tensorboard::file_version_event(t));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "robustmsa: warning: %s\n", e.what());
  }
  if (fd_ >= 0) ::close(fd_);
}

double TensorBoardWriter::now() const {
  if (options_.clock) return options_.clock();
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

void TensorBoardWriter::append(const std::string& event) {
  pending_ += tensorboard::frame_record(event);
}

void TensorBoardWriter::add_scalar(const std::string& tag, int64_t step, double value) {
  if (tag.empty())
    throw RunError(str("TensorBoard event file '", path_, "': empty tag at step ", step));
  auto it = last_step_.find(tag);
  if (it != last_step_.end() && step <= it->second)
    throw RunError(str("TensorBoard event file '", path_, "': tag '", tag, "' step ", step,
                       " after step ", it->second,
                       ": steps of a tag must increase (call "
                       "restart_at to write earlier steps again)"));
  last_step_[tag] = step;
  append(tensorboard::scalar_event(now(), step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::restart_at(int64_t step) {
  last_step_.clear();
  append(tensorboard::session_start_event(now(), step));
}

void TensorBoardWriter::flush() {
  std::size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t w = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string reason = w < 0 ? std::strerror(errno) : "no progress";
      // Keep what was not written, so that a later flush may retry it.
      pending_.erase(0, done);
      throw RunError(str("TensorBoard event file '", path_, "': write failed: ", reason));
    }
    done += static_cast<std::size_t>(w);
  }
  pending_.clear();
}

}  // namespace robustmsa

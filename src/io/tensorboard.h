// TensorBoard event files, written without TensorFlow, protobuf or torch: TFRecord framing (length,
// masked CRC-32C of the length, payload, masked CRC-32C of the payload) around hand-encoded
// tensorflow.Event messages (event.proto / summary.proto: wall_time, step, file_version, summary
// with scalar simple_value, session_log). `tensorboard --logdir DIR` shows the scalars as curves;
// docs/python.md ("TensorBoard") describes the layout and the resume rule.
//
// Usage:
//   robustmsa::TensorBoardWriter w(run_dir + "/tensorboard");  // a new file for this process
//   w.add_scalar("train/loss", epoch, loss);
//   w.add_scalar("valid/Non0_F1_score", epoch, f1);
//   w.flush();                                                  // once per epoch
//
//   // A resumed run (checkpoint at epoch e): readers drop what earlier processes wrote at steps
//   // >= 1, and the checkpoint's history is written again before the new epochs.
//   robustmsa::TensorBoardWriter w(dir);
//   w.restart_at(1);
//   for (const auto& record : history) w.add_scalar(...);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace robustmsa {

namespace tensorboard {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it; `crc` continues an
// earlier value (0 to start).
uint32_t crc32c(const uint8_t* data, std::size_t size, uint32_t crc = 0);
inline uint32_t crc32c(std::string_view bytes, uint32_t crc = 0) {
  return crc32c(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), crc);
}
// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32).
uint32_t mask_crc(uint32_t crc);

// One TFRecord: uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes, the
// payload, uint32 masked CRC-32C of the payload.
std::string frame_record(std::string_view payload);

// Serialised tensorflow.Event messages (proto3: fields at their default value are omitted).
std::string file_version_event(double wall_time);  // file_version "brain.Event:2", step 0
std::string scalar_event(double wall_time, int64_t step, std::string_view tag, float value);
std::string session_start_event(double wall_time, int64_t step);  // session_log status START

// "events.out.tfevents.<10-digit seconds>.<host>.<pid>.<n>": TensorBoard reads every file with
// "tfevents" in its name, in name order.
std::string event_file_name(int64_t seconds, const std::string& host, int64_t pid, int64_t n);

}  // namespace tensorboard

// Writes one new event file per writer (so per process start) in a directory, append-only:
// records are buffered and written (appended) by flush(); nothing already on disk is rewritten.
// The file's time stamp is the current time, or one second after the newest event file already in
// the directory when that is later, so that TensorBoard (which reads a directory's files in name
// order) always reads this process's file after the earlier ones. Not thread-safe.
class TensorBoardWriter {
 public:
  struct Options {
    // Seconds since the epoch for each record and for the file name; default: the system clock.
    std::function<double()> clock;
    std::string host;  // default: gethostname()
    int64_t pid = -1;  // default: getpid()
  };

  // Creates `dir` if needed and the new file in it (written with its file_version record at
  // once). RunError naming the path when the directory or the file cannot be created.
  explicit TensorBoardWriter(const std::string& dir);
  TensorBoardWriter(const std::string& dir, Options options);
  ~TensorBoardWriter();  // flushes; an error there is reported on stderr (destructors don't throw)
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // A scalar at `step` (stored as float32, TensorBoard's simple_value). Steps of one tag must
  // increase strictly within a writer: a step at or below the tag's last one is a RunError naming
  // the tag and both steps (a curve never goes back). An empty tag is a RunError.
  void add_scalar(const std::string& tag, int64_t step, double value);
  // Marks a restart at `step` (a SessionLog START event): TensorBoard's reader then discards every
  // point at step >= `step` that was written before this record, by this or an earlier process.
  // Resets the per-tag step check, so that steps from `step` on may be written again.
  void restart_at(int64_t step);
  // Appends the buffered records to the file and hands them to the operating system. RunError
  // naming the file on failure (a full disk, a removed directory).
  void flush();

  const std::string& path() const { return path_; }

 private:
  void append(const std::string& event);
  double now() const;

  Options options_;
  std::string path_;
  int fd_ = -1;
  std::string pending_;
  std::map<std::string, int64_t> last_step_;
};

}  // namespace robustmsa

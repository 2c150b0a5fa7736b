// A minimal pickle writer: nested dicts and lists of str keys, scalars, strings and NumPy arrays,
// written exactly the way NumPy pickles arrays (numpy.core.multiarray._reconstruct, then BUILD with
// (1, shape, numpy.dtype(...), is_fortran, raw bytes or list of objects)), so that Python's pickle
// with NumPy 1.x or 2.x loads the file as if NumPy had written it. Protocol 4 without framing and
// without a memo: every opcode is one that Python's unpickler and robustmsa's reader accept, and
// arrays of any size are streamed to disk (BINBYTES8 above 4 GiB) without building the pickle in
// memory. The file is written to "<path>.tmp" and renamed to <path> by finish(), so a crash never
// leaves a truncated file under the final name.
//
// Usage:
//   robustmsa::pickle::Writer w("out.pkl");
//   w.begin_dict();
//     w.key("train");
//     w.begin_dict();
//       w.key("audio");
//       w.array(robustmsa::pickle::DType::kFloat32, {n, 50, 74}, data.data());
//       w.key("id");
//       w.string_array({n, 3}, ids);
//     w.end_dict();
//   w.end_dict();
//   w.finish();
//
// Large arrays in pieces:
//   w.begin_array(DType::kFloat32, {n, t, d});
//   for (...) w.array_data(chunk.data(), chunk.size() * sizeof(float));  // C order, in sequence
//   w.end_array();                                                       // checks the byte count
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "io/pickle.h"

namespace robustmsa::pickle {

class Writer {
 public:
  // Opens "<path>.tmp" for writing and writes the protocol header. RunError if it cannot.
  explicit Writer(const std::string& path);
  // Removes the temporary file if finish() was not reached (an exception unwound past it).
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Containers. Inside a dict, every value is preceded by key(); inside a list, values follow
  // each other. The top level holds exactly one value.
  void begin_dict();
  void end_dict();
  void begin_list();
  void end_list();
  void key(std::string_view k);  // a str key (UTF-8)

  // Scalars.
  void none();
  void boolean(bool b);
  void integer(int64_t v);
  void floating(double v);
  void string(std::string_view s);  // str (UTF-8)
  void bytes(std::string_view b);   // bytes

  // A numeric array in native byte order and C order: numel(shape) * dtype_size(dtype) bytes.
  void array(DType dtype, const std::vector<int64_t>& shape, const void* data);
  // An object array of str (C order), as NumPy pickles dtype=object arrays of Python strings.
  void string_array(const std::vector<int64_t>& shape, const std::vector<std::string>& values);
  // Streaming form of array(): the payload arrives in pieces that must add up exactly.
  void begin_array(DType dtype, const std::vector<int64_t>& shape);
  void array_data(const void* data, std::size_t nbytes);
  void end_array();

  // Writes STOP, flushes, closes and renames "<path>.tmp" to <path>. RunError if the value tree
  // is incomplete or the file system fails.
  void finish();

  uint64_t bytes_written() const { return written_; }
  const std::string& path() const { return path_; }

 private:
  enum class Frame { kTop, kDict, kList };
  void raw(const void* p, std::size_t n);
  void op(uint8_t code) { raw(&code, 1); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  // A length-prefixed str or bytes payload with the shortest of the three opcodes.
  void sized(std::string_view data, uint8_t op1, uint8_t op4, uint8_t op8);
  void before_value(const char* what);
  void after_value();
  void global(const char* module, const char* name);
  void shape_tuple(const std::vector<int64_t>& shape);
  void array_header(DType dtype, const std::vector<int64_t>& shape);
  void array_footer();
  [[noreturn]] void misuse(const std::string& what) const;

  std::string path_, tmp_path_;
  std::ofstream out_;
  uint64_t written_ = 0;
  std::vector<Frame> stack_;
  bool key_pending_ = false;  // a dict key was written and waits for its value
  bool top_done_ = false;     // the top-level value is complete
  bool finished_ = false;
  // Streaming array state.
  bool in_array_ = false;
  uint64_t array_expected_ = 0, array_received_ = 0;
};

// Bytes NumPy's dtype string for a numeric dtype ("f4", "i8", "b1", ...); RunError for kObject.
const char* numpy_dtype_code(DType dtype);

}  // namespace robustmsa::pickle

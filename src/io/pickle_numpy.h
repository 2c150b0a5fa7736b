// Private to the pickle reader: NumPy dtype descriptions and the conversion of an array payload
// (any byte order, C or Fortran order, fixed-width strings) into an NdArray in native byte order
// and C order. Failures are reported as std::string messages; the caller adds file, offset and
// opcode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/pickle.h"

namespace robustmsa::pickle::detail {

// What a numpy.dtype object describes, as far as the reader needs it.
struct DtypeInfo {
  DType dtype = DType::kFloat64;  // kObject also for fixed-width 'S' and 'U' (converted to objects)
  char kind = 'f';                // NumPy kind: 'b' bool, 'i', 'u', 'f', 'O', 'S' bytes, 'U' str
  std::size_t itemsize = 8;       // bytes per element in the payload
  char byteorder = '=';           // '<', '>', '|' (not applicable) or '=' (native)
  bool built = false;             // BUILD already applied its state
};

// Parses the first argument of numpy.dtype(...) as pickled: "f4", "<i8", "b1", "O8", "S10",
// "U7"... Returns false with `error` set for unsupported kinds (complex, datetime, void...).
bool parse_dtype_spec(std::string_view spec, DtypeInfo& out, std::string& error);

// True when the payload's byte order differs from this machine's.
bool needs_byte_swap(const DtypeInfo& d);

// A payload: `ptr`/`size` stay valid while `owner` lives; `owner` may be null when the bytes
// belong to the caller of parse() (they must then be copied).
struct Payload {
  const uint8_t* ptr = nullptr;
  std::size_t size = 0;
  std::shared_ptr<const void> owner;
  // When >= 0, the same bytes can be read with pread(fd, ..., file_offset): copies use that,
  // which was measured ~1.5x faster than memcpy out of a fresh file mapping (no page-table
  // faults on the source side).
  int fd = -1;
  std::size_t file_offset = 0;
};

// An uninitialised buffer of n bytes for array data, aligned to at least 16 bytes (the copy
// overwrites it, so a zero-fill pass would only cost time).
std::shared_ptr<uint8_t> allocate_buffer(std::size_t n);

// Copies of at least this many bytes go to allocate_buffer() (held by NdArray::keep_alive);
// smaller ones to NdArray::owned.
constexpr std::size_t kLargeCopy = std::size_t{1} << 20;

// Product of the dimensions, or -1 (with `error` set) when a dimension is negative or the
// product (times itemsize) overflows.
int64_t checked_numel(const std::vector<int64_t>& shape, std::size_t itemsize, std::string& error);

// Fills `out` (dtype, shape, data/owned/objects, source flags) from a raw payload of
// numel * itemsize bytes laid out in C or Fortran order. Numeric data that is already native and
// C order, suitably aligned and owned by `payload.owner`, is referenced instead of copied.
bool build_numeric_array(const DtypeInfo& d, const std::vector<int64_t>& shape, bool fortran,
                         const Payload& payload, NdArray& out, std::string& error);

// Converts one element of a numeric dtype (native or not) to a double / int64 / bool.
// Returns false for 'S'/'U'/'O' dtypes.
enum class ScalarKind { kBool, kInt, kFloat };
struct ScalarValue {
  ScalarKind kind = ScalarKind::kFloat;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
};
bool decode_scalar(const DtypeInfo& d, const uint8_t* p, ScalarValue& out, std::string& error);

// One fixed-width string element: 'S' keeps the bytes up to the trailing NULs, 'U' decodes
// UCS-4 in the dtype's byte order to UTF-8 (trailing NULs dropped).
bool decode_fixed_string(const DtypeInfo& d, const uint8_t* p, std::string& out,
                         std::string& error);

}  // namespace robustmsa::pickle::detail

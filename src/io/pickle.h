// A restricted pickle reader: it understands pickle protocols 0-5 as written by Python 2/3 and
// NumPy 1.x/2.x, builds a plain value tree, and never executes anything. Only the globals that
// NumPy arrays and Python-2 byte strings need are accepted (see kAllowedGlobals in pickle.cc);
// everything else raises a DataError naming the file, the byte offset, the opcode and what was
// expected. Memory is bounded by the input size: no allocation is made from a length that has
// not been checked against the bytes that remain.
//
// Usage:
//   robustmsa::pickle::ValuePtr root = robustmsa::pickle::load_file("mosi_data.pkl");
//   const auto& train = root->at("train");          // dict lookup by str or bytes key
//   const auto& audio = train.at("audio").array();  // NdArray, native byte order, C order
//   float first = audio.get<float>(0);               // numeric conversion from any dtype
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace robustmsa::pickle {

enum class DType : uint8_t {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat16,
  kFloat32,
  kFloat64,
  kObject,  // object arrays: elements are str or bytes, held in NdArray::objects
};

const char* dtype_name(DType d);  // NumPy's name: "float32", "int64", "bool", "object", ...
std::size_t dtype_size(DType d);  // bytes per element (0 for kObject)

// A NumPy array. Numeric data is always converted to native byte order and C (row-major) order
// when read; source_big_endian / source_fortran record what the file held.
struct NdArray {
  DType dtype = DType::kFloat64;
  std::vector<int64_t> shape;
  bool source_big_endian = false;
  bool source_fortran = false;
  // Numeric payload, numel() * dtype_size(dtype) bytes, native byte order, C order. It points
  // into the mapped file (no copy, when the file's bytes are already native C order — at any
  // byte offset, so read it with memcpy or get<T>, never through a typed pointer), into `owned`
  // (small copies) or into a buffer held by `keep_alive` (large copies, decoded protocol-2 data).
  const uint8_t* data = nullptr;
  std::size_t nbytes = 0;
  std::vector<uint8_t> owned;
  std::shared_ptr<const void> keep_alive;  // keeps a file mapping alive while `data` points in it
  std::vector<std::string> objects;        // kObject: one string per element (C order)
  std::vector<bool> object_is_bytes;       // kObject: true where the element was bytes, not str

  int64_t numel() const;
  // Element i (C order) converted to T (a numeric type). Throws for kObject.
  template <class T>
  T get(int64_t i) const;
  // Copies all elements converted to double / float (C order).
  std::vector<double> to_double() const;
  // Hint that the payload will not be read again: drops the pages of a file mapping (madvise)
  // so that peak memory while converting a large file stays near one copy of the data.
  void release_source() const;
};

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// A pickled Python value. The memo may share one object between several places.
struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kTuple, kDict, kArray, kDType };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
  std::string text;                                 // kStr (UTF-8) and kBytes (raw)
  std::vector<ValuePtr> items;                      // kList, kTuple
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;  // kDict, insertion order
  std::shared_ptr<NdArray> ndarray;                 // kArray
  // kDType: the dtype a numpy.dtype(...) object describes (its byte order is in `text`: "<",
  // ">", "|" or "=").
  DType dtype = DType::kFloat64;

  const char* kind_name() const;  // "None", "bool", "int", "float", "str", "bytes", ... "ndarray"
  bool is_dict() const { return kind == Kind::kDict; }
  // Dict lookup by a str or bytes key; find() returns nullptr when absent, at() throws a DataError.
  const Value* find(std::string_view key) const;
  const Value& at(std::string_view key) const;
  // The array of a kArray value; throws a DataError naming the kind found otherwise.
  const NdArray& array() const;
  // Keys of a dict that are str or bytes, in order.
  std::vector<std::string> keys() const;
};

// Parses pickle bytes. `name` is used in error messages (usually the file path). Pure function of
// the bytes: suitable for fuzzing. Arrays are copied into owned storage.
ValuePtr parse(const uint8_t* data, std::size_t size, const std::string& name);

// Maps the file read-only and parses it. Arrays whose bytes are already native C order point into
// the mapping (no copy). Throws DataError for unreadable paths, directories and empty files.
ValuePtr load_file(const std::string& path);

}  // namespace robustmsa::pickle

#include "io/pickle_write.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "util/error.h"

namespace robustmsa::pickle {

namespace {

// Pickle opcodes (Python's Lib/pickle.py names).
constexpr uint8_t kProto = 0x80, kEmptyDict = '}', kEmptyList = ']', kSetItem = 's', kAppend = 'a',
                  kAppends = 'e', kMark = '(', kTuple = 't', kEmptyTuple = ')', kTuple1 = 0x85,
                  kTuple2 = 0x86, kTuple3 = 0x87, kGlobal = 'c', kReduce = 'R', kBuild = 'b',
                  kNone = 'N', kNewTrue = 0x88, kNewFalse = 0x89, kBinInt1 = 'K', kBinInt = 'J',
                  kLong1 = 0x8a, kBinFloat = 'G', kShortBinUnicode = 0x8c, kBinUnicode = 'X',
                  kBinUnicode8 = 0x8d, kShortBinBytes = 'C', kBinBytes = 'B', kBinBytes8 = 0x8e,
                  kStop = '.';

// NumPy's ndarray.__setstate__ version and dtype.__setstate__ version it writes itself.
constexpr int kArrayStateVersion = 1;
constexpr int kDTypeStateVersion = 3;
// dtype flags NumPy stores for object arrays (NPY_ITEM_REFCOUNT | NPY_ITEM_HASOBJECT |
// NPY_LIST_PICKLE | NPY_ITEM_IS_POINTER | NPY_NEEDS_INIT | NPY_NEEDS_PYAPI).
constexpr int kObjectDTypeFlags = 63;

bool host_little_endian() {
  const uint16_t one = 1;
  uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

uint64_t numel_of(const std::vector<int64_t>& shape, const std::string& where) {
  uint64_t n = 1;
  for (int64_t s : shape) {
    if (s < 0) throw RunError(str(where, ": negative dimension ", s, " in the array shape"));
    n *= static_cast<uint64_t>(s);
  }
  return n;
}

}  // namespace

const char* numpy_dtype_code(DType dtype) {
  switch (dtype) {
    case DType::kBool:
      return "b1";
    case DType::kInt8:
      return "i1";
    case DType::kInt16:
      return "i2";
    case DType::kInt32:
      return "i4";
    case DType::kInt64:
      return "i8";
    case DType::kUInt8:
      return "u1";
    case DType::kUInt16:
      return "u2";
    case DType::kUInt32:
      return "u4";
    case DType::kUInt64:
      return "u8";
    case DType::kFloat16:
      return "f2";
    case DType::kFloat32:
      return "f4";
    case DType::kFloat64:
      return "f8";
    case DType::kObject:
      break;
  }
  throw RunError("pickle writer: object arrays have no numeric dtype code (use string_array)");
}

Writer::Writer(const std::string& path) : path_(path), tmp_path_(path + ".tmp") {
  out_.open(tmp_path_, std::ios::binary | std::ios::trunc);
  if (!out_)
    throw RunError(str("cannot create '", tmp_path_, "' for writing: ", std::strerror(errno)));
  stack_.push_back(Frame::kTop);
  const uint8_t header[2] = {kProto, 4};
  raw(header, 2);
}

Writer::~Writer() {
  if (!finished_) {
    out_.close();
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);  // best effort: we are already failing
  }
}

void Writer::misuse(const std::string& what) const {
  throw RunError(str("pickle writer for '", path_, "': ", what));
}

void Writer::raw(const void* p, std::size_t n) {
  out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
  if (!out_)
    throw RunError(
        str("writing '", tmp_path_, "' failed at byte ", written_, ": ", std::strerror(errno)));
  written_ += n;
}

void Writer::u32(uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  raw(b, 4);
}

void Writer::u64(uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  raw(b, 8);
}

void Writer::before_value(const char* what) {
  if (in_array_) misuse(str("a ", what, " was written inside an unfinished streamed array"));
  if (finished_) misuse(str("a ", what, " was written after finish()"));
  switch (stack_.back()) {
    case Frame::kTop:
      if (top_done_) misuse(str("a second top-level value (", what, ")"));
      break;
    case Frame::kDict:
      if (!key_pending_) misuse(str("a ", what, " in a dict without a key() before it"));
      break;
    case Frame::kList:
      break;
  }
}

void Writer::after_value() {
  switch (stack_.back()) {
    case Frame::kTop:
      top_done_ = true;
      break;
    case Frame::kDict:
      op(kSetItem);
      key_pending_ = false;
      break;
    case Frame::kList:
      op(kAppend);
      break;
  }
}

void Writer::begin_dict() {
  before_value("dict");
  op(kEmptyDict);
  key_pending_ = false;
  stack_.push_back(Frame::kDict);
}

void Writer::end_dict() {
  if (stack_.back() != Frame::kDict) misuse("end_dict() without a matching begin_dict()");
  if (key_pending_) misuse("end_dict() right after a key() that has no value");
  stack_.pop_back();
  // The dict itself is the value of its parent slot; a parent dict had its key pending.
  key_pending_ = stack_.back() == Frame::kDict;
  after_value();
}

void Writer::begin_list() {
  before_value("list");
  op(kEmptyList);
  stack_.push_back(Frame::kList);
}

void Writer::end_list() {
  if (stack_.back() != Frame::kList) misuse("end_list() without a matching begin_list()");
  stack_.pop_back();
  key_pending_ = stack_.back() == Frame::kDict;
  after_value();
}

void Writer::key(std::string_view k) {
  if (stack_.back() != Frame::kDict) misuse(str("key '", k, "' outside a dict"));
  if (key_pending_) misuse(str("key '", k, "' follows a key that has no value"));
  if (in_array_) misuse(str("key '", k, "' inside an unfinished streamed array"));
  // Write the key as a plain str (no SETITEM yet: the value follows).
  const uint64_t n = k.size();
  if (n < 256) {
    const uint8_t h[2] = {kShortBinUnicode, static_cast<uint8_t>(n)};
    raw(h, 2);
  } else if (n <= 0xffffffffULL) {
    op(kBinUnicode);
    u32(static_cast<uint32_t>(n));
  } else {
    op(kBinUnicode8);
    u64(n);
  }
  raw(k.data(), k.size());
  key_pending_ = true;
}

void Writer::none() {
  before_value("None");
  op(kNone);
  after_value();
}

void Writer::boolean(bool b) {
  before_value("bool");
  op(b ? kNewTrue : kNewFalse);
  after_value();
}

void Writer::integer(int64_t v) {
  before_value("int");
  if (v >= 0 && v < 256) {
    const uint8_t b[2] = {kBinInt1, static_cast<uint8_t>(v)};
    raw(b, 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    op(kBinInt);
    u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
  } else {
    const uint8_t b[2] = {kLong1, 8};  // 8 bytes, little-endian two's complement
    raw(b, 2);
    u64(static_cast<uint64_t>(v));
  }
  after_value();
}

void Writer::floating(double v) {
  before_value("float");
  op(kBinFloat);
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(bits >> (8 * (7 - i)));  // big-endian
  raw(b, 8);
  after_value();
}

void Writer::sized(std::string_view data, uint8_t op1, uint8_t op4, uint8_t op8) {
  const uint64_t n = data.size();  // the smallest length field that holds n
  if (n < 256) {
    const uint8_t h[2] = {op1, static_cast<uint8_t>(n)};
    raw(h, 2);
  } else if (n <= 0xffffffffULL) {
    op(op4);
    u32(static_cast<uint32_t>(n));
  } else {
    op(op8);
    u64(n);
  }
  raw(data.data(), data.size());
}

void Writer::string(std::string_view s) {
  before_value("str");
  sized(s, kShortBinUnicode, kBinUnicode, kBinUnicode8);
  after_value();
}

void Writer::bytes(std::string_view b) {
  before_value("bytes");
  sized(b, kShortBinBytes, kBinBytes, kBinBytes8);
  after_value();
}

void Writer::global(const char* module, const char* name) {
  op(kGlobal);
  raw(module, std::strlen(module));
  op('\n');
  raw(name, std::strlen(name));
  op('\n');
}

void Writer::shape_tuple(const std::vector<int64_t>& shape) {
  if (shape.size() > 3) op(kMark);
  for (int64_t s : shape) {
    if (s < 256) {
      const uint8_t b[2] = {kBinInt1, static_cast<uint8_t>(s)};
      raw(b, 2);
    } else if (s <= INT32_MAX) {
      op(kBinInt);
      u32(static_cast<uint32_t>(s));
    } else {
      const uint8_t b[2] = {kLong1, 8};
      raw(b, 2);
      u64(static_cast<uint64_t>(s));
    }
  }
  static const uint8_t kSmallTuple[4] = {kEmptyTuple, kTuple1, kTuple2, kTuple3};
  op(shape.size() > 3 ? kTuple : kSmallTuple[shape.size()]);
}

// Everything NumPy writes before the payload: _reconstruct(ndarray, (0,), b'b'), then the MARK of
// the state tuple (1, shape, dtype, is_fortran, <payload>).
void Writer::array_header(DType dtype, const std::vector<int64_t>& shape) {
  // numpy.core.multiarray is the name NumPy 1.x writes; NumPy 2.x still resolves it on load
  // (numpy._core is unknown to NumPy 1.x, so it would not load there).
  global("numpy.core.multiarray", "_reconstruct");
  global("numpy", "ndarray");
  const uint8_t zero_tuple[3] = {kBinInt1, 0, kTuple1};
  raw(zero_tuple, 3);
  const uint8_t b_bytes[3] = {kShortBinBytes, 1, 'b'};
  raw(b_bytes, 3);
  op(kTuple3);
  op(kReduce);
  op(kMark);
  const uint8_t version[2] = {kBinInt1, kArrayStateVersion};
  raw(version, 2);
  shape_tuple(shape);
  // numpy.dtype(code, False, True) + BUILD (3, byteorder, None, None, None, -1, -1, flags).
  global("numpy", "dtype");
  const bool object = dtype == DType::kObject;
  const std::string code = object ? "O8" : numpy_dtype_code(dtype);
  const uint8_t code_hdr[2] = {kShortBinUnicode, static_cast<uint8_t>(code.size())};
  raw(code_hdr, 2);
  raw(code.data(), code.size());
  op(kNewFalse);
  op(kNewTrue);
  op(kTuple3);
  op(kReduce);
  op(kMark);
  const uint8_t dversion[2] = {kBinInt1, kDTypeStateVersion};
  raw(dversion, 2);
  const char order = (object || dtype_size(dtype) == 1) ? '|' : (host_little_endian() ? '<' : '>');
  const uint8_t order_str[3] = {kShortBinUnicode, 1, static_cast<uint8_t>(order)};
  raw(order_str, 3);
  op(kNone);
  op(kNone);
  op(kNone);
  op(kBinInt);
  u32(0xffffffffu);  // -1: elsize of a non-flexible dtype
  op(kBinInt);
  u32(0xffffffffu);  // -1: alignment
  const uint8_t flags[2] = {kBinInt1, static_cast<uint8_t>(object ? kObjectDTypeFlags : 0)};
  raw(flags, 2);
  op(kTuple);
  op(kBuild);
  op(kNewFalse);  // is_fortran: we always write C order
}

void Writer::array_footer() {
  op(kTuple);
  op(kBuild);
}

void Writer::array(DType dtype, const std::vector<int64_t>& shape, const void* data) {
  begin_array(dtype, shape);
  array_data(data, array_expected_);
  end_array();
}

void Writer::begin_array(DType dtype, const std::vector<int64_t>& shape) {
  before_value("ndarray");
  if (dtype == DType::kObject) misuse("numeric array with dtype object (use string_array)");
  const uint64_t nbytes =
      numel_of(shape, str("pickle writer for '", path_, "'")) * dtype_size(dtype);
  array_header(dtype, shape);
  if (nbytes < 256) {
    const uint8_t h[2] = {kShortBinBytes, static_cast<uint8_t>(nbytes)};
    raw(h, 2);
  } else if (nbytes <= 0xffffffffULL) {
    op(kBinBytes);
    u32(static_cast<uint32_t>(nbytes));
  } else {
    op(kBinBytes8);
    u64(nbytes);
  }
  in_array_ = true;
  array_expected_ = nbytes;
  array_received_ = 0;
}

void Writer::array_data(const void* data, std::size_t nbytes) {
  if (!in_array_) misuse("array_data() without begin_array()");
  if (array_received_ + nbytes > array_expected_)
    misuse(str("array payload overflow: ", array_received_ + nbytes, " bytes for an array of ",
               array_expected_));
  if (nbytes > 0) raw(data, nbytes);
  array_received_ += nbytes;
}

void Writer::end_array() {
  if (!in_array_) misuse("end_array() without begin_array()");
  if (array_received_ != array_expected_)
    misuse(str("array payload has ", array_received_, " bytes, the shape needs ", array_expected_));
  in_array_ = false;
  array_footer();
  after_value();
}

void Writer::string_array(const std::vector<int64_t>& shape,
                          const std::vector<std::string>& values) {
  before_value("ndarray");
  const uint64_t n = numel_of(shape, str("pickle writer for '", path_, "'"));
  if (n != values.size())
    misuse(str("string array of shape with ", n, " elements given ", values.size(), " strings"));
  array_header(DType::kObject, shape);
  op(kEmptyList);
  // Appended in batches of 1000, as Python's pickler does.
  for (std::size_t start = 0; start < values.size(); start += 1000) {
    op(kMark);
    const std::size_t end = std::min(values.size(), start + 1000);
    for (std::size_t i = start; i < end; ++i) {
      const std::string& s = values[i];
      if (s.size() < 256) {
        const uint8_t h[2] = {kShortBinUnicode, static_cast<uint8_t>(s.size())};
        raw(h, 2);
      } else {
        op(kBinUnicode);
        u32(static_cast<uint32_t>(s.size()));
      }
      raw(s.data(), s.size());
    }
    op(kAppends);
  }
  array_footer();
  after_value();
}

void Writer::finish() {
  if (finished_) misuse("finish() called twice");
  if (in_array_) misuse("finish() inside an unfinished streamed array");
  if (stack_.size() != 1) misuse("finish() with an unclosed dict or list");
  if (!top_done_) misuse("finish() before any value was written");
  op(kStop);
  out_.flush();
  out_.close();
  if (!out_) throw RunError(str("closing '", tmp_path_, "' failed: ", std::strerror(errno)));
  std::error_code ec;
  std::filesystem::rename(tmp_path_, path_, ec);
  if (ec) throw RunError(str("renaming '", tmp_path_, "' to '", path_, "' failed: ", ec.message()));
  finished_ = true;
}

}  // namespace robustmsa::pickle

// Building pickles byte by byte for tests: hostile opcodes, hand-made NumPy arrays, truncations.
// Shared by the reader's unit tests (tests/core/pickle_test.cc) and the CLI's bad-input
// catalogue (tests/core/bad_input_test.cc).
//
// Usage:
//   robustmsa::test_util::Bytes b;
//   b.proto(2).global("os", "system").short_unicode("ls").op(0x85).op('R').op('.');
//   std::string file_bytes = b.str();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace robustmsa::test_util {

class Bytes {
 public:
  Bytes& op(int code) {
    s_.push_back(static_cast<char>(code));
    return *this;
  }
  Bytes& raw(std::string_view t) {
    s_.append(t);
    return *this;
  }
  Bytes& uint_le(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  Bytes& line(std::string_view t) { return raw(t).op('\n'); }
  Bytes& proto(int p) { return op(0x80).uint_le(p, 1); }
  Bytes& global(std::string_view module, std::string_view name) {
    return op('c').line(module).line(name);
  }
  Bytes& stack_global(std::string_view module, std::string_view name) {
    return short_unicode(module).short_unicode(name).op(0x93);
  }
  Bytes& short_unicode(std::string_view t) { return op(0x8c).uint_le(t.size(), 1).raw(t); }
  Bytes& binunicode(std::string_view t) { return op('X').uint_le(t.size(), 4).raw(t); }
  Bytes& short_bytes(std::string_view t) { return op('C').uint_le(t.size(), 1).raw(t); }
  Bytes& binbytes(std::string_view t) { return op('B').uint_le(t.size(), 4).raw(t); }
  Bytes& short_binstring(std::string_view t) { return op('U').uint_le(t.size(), 1).raw(t); }
  Bytes& binstring(std::string_view t) { return op('T').uint_le(t.size(), 4).raw(t); }
  Bytes& binint1(int v) { return op('K').uint_le(v, 1); }
  Bytes& binint(int32_t v) { return op('J').uint_le(static_cast<uint32_t>(v), 4); }
  std::size_t size() const { return s_.size(); }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// A NumPy array as NumPy >= 1.x pickles it with protocol 3: _reconstruct + BUILD with
// (1, shape, dtype, is_fortran, raw bytes).
inline Bytes& numpy_array(Bytes& b, std::string_view spec, char byteorder,
                          const std::vector<int64_t>& shape, bool fortran,
                          std::string_view payload,
                          std::string_view module = "numpy.core.multiarray") {
  b.global(module, "_reconstruct").global("numpy", "ndarray").binint1(0).op(0x85);
  b.short_bytes("b").op(0x87).op('R');
  b.op('(').binint1(1).op('(');
  for (int64_t d : shape) b.binint(static_cast<int32_t>(d));
  b.op('t');
  b.global("numpy", "dtype").short_unicode(spec).op(0x89).op(0x88).op(0x87).op('R');
  b.op('(').binint1(3).short_unicode(std::string(1, byteorder)).op('N').op('N').op('N');
  b.binint(-1).binint(-1).binint1(0).op('t').op('b');
  b.op(fortran ? 0x88 : 0x89);
  if (payload.size() < 256) {
    b.short_bytes(payload);
  } else {
    b.binbytes(payload);
  }
  return b.op('t').op('b');
}

}  // namespace robustmsa::test_util

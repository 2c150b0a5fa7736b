// Private to the pickle reader: decoders for the text encodings pickles use, and float16.
// Every function is a pure function of its input; failures are reported through `CodecStatus`
// with the position (relative to the input) and a description, so that the caller can add the
// file, byte offset and opcode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace robustmsa::pickle::detail {

struct CodecStatus {
  bool ok = true;
  std::size_t position = 0;  // offset of the offending byte in the input
  std::string message;
};

// Checks UTF-8 as Python's pickle decodes it ("utf-8" with "surrogatepass"): well-formed,
// shortest form, at most U+10FFFF; encoded surrogates (ED A0..BF xx) are accepted.
CodecStatus validate_utf8(const uint8_t* s, std::size_t n);

// str.encode('latin-1') of UTF-8 text: every code point must be <= U+00FF. `out` must have room
// for n + kLatin1Slack bytes (the output is at most n bytes; the vector code stores 8 bytes at a
// time); `out_size` receives the output length. The input need not be validated first: anything
// but ASCII and C2/C3 + continuation is an error. This is the hot path of protocol-2 pickles
// written by Python 3, where every bytes object (array payloads included) travels as
// _codecs.encode(<latin-1 text as str>, 'latin1').
constexpr std::size_t kLatin1Slack = 16;
CodecStatus utf8_to_latin1(const uint8_t* s, std::size_t n, uint8_t* out, std::size_t& out_size);

// Appends the UTF-8 encoding of code point `cp` (<= 0x10FFFF; surrogates encoded as is).
void append_utf8(std::string& out, uint32_t cp);

// Latin-1 bytes (each byte one code point) to UTF-8: how bytes.decode('latin-1') would look.
std::string latin1_to_utf8(const uint8_t* s, std::size_t n);

// Protocol 0 UNICODE argument: Python's "raw-unicode-escape" codec. Bytes are code points
// U+0000..U+00FF except \uXXXX and \UXXXXXXXX escapes preceded by an odd number of backslashes.
CodecStatus raw_unicode_escape_to_utf8(const uint8_t* s, std::size_t n, std::string& out);

// Protocol 0 STRING argument: a quoted Python 2 str literal ('...' or "...") with backslash
// escapes, decoded as codecs.escape_decode does.
CodecStatus python_string_literal(const uint8_t* s, std::size_t n, std::string& out);

// IEEE 754 binary16 to binary32 (exact: every half value is a float value).
float half_to_float(uint16_t h);

}  // namespace robustmsa::pickle::detail

#include "io/pickle_codec.h"

#include <array>
#include <cstring>

#include "util/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ROBUSTMSA_PICKLE_X86 1
#endif

namespace robustmsa::pickle::detail {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

CodecStatus failure(std::size_t position, std::string message) {
  CodecStatus s;
  s.ok = false;
  s.position = position;
  s.message = std::move(message);
  return s;
}

std::string hex_byte(uint8_t b) {
  static const char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

#ifdef ROBUSTMSA_PICKLE_X86
// For each 8-bit mask: the positions of its set bits, in order, padded with 0x80 (pshufb writes 0).
constexpr std::array<std::array<uint8_t, 8>, 256> make_compress_table() {
  std::array<std::array<uint8_t, 8>, 256> t{};
  for (int m = 0; m < 256; ++m) {
    int k = 0;
    for (int b = 0; b < 8; ++b) {
      if (m & (1 << b)) t[m][k++] = static_cast<uint8_t>(b);
    }
    while (k < 8) t[m][k++] = 0x80;
  }
  return t;
}
alignas(64) constexpr auto kCompress = make_compress_table();

bool cpu_has_ssse3_sse41() {
  static const bool has = __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1") &&
                          __builtin_cpu_supports("popcnt");
  return has;
}

// 16 input bytes per step: every lead byte (C2/C3) is merged with the byte after it into its
// latin-1 value, then the continuation bytes are squeezed out with two pshufb table lookups.
// Validity (a lead is exactly C2/C3 and is followed by a continuation, and every continuation
// follows a lead) is accumulated and checked once at the end. Consumes input while 17 bytes
// remain (each step also reads the byte after its 16) and stops on a character boundary.
// Returns false on invalid input; the caller then finds the position with the careful loop.
// Writes up to 8 bytes beyond the output it produces.
__attribute__((target("ssse3,sse4.1,popcnt"))) bool utf8_to_latin1_simd(const uint8_t* s,
                                                                        std::size_t n,
                                                                        std::size_t& i_out,
                                                                        uint8_t*& o_out) {
  if (n > 0 && (s[0] & 0xC0) == 0x80) return false;  // starts inside a character
  const __m128i k_c0 = _mm_set1_epi8(static_cast<char>(0xC0));
  const __m128i k_80 = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i k_3f = _mm_set1_epi8(0x3F);
  const __m128i k_fe = _mm_set1_epi8(static_cast<char>(0xFE));
  const __m128i k_c2 = _mm_set1_epi8(static_cast<char>(0xC2));
  const __m128i k_8 = _mm_set1_epi8(8);
  __m128i error = _mm_setzero_si128();
  std::size_t i = 0;
  uint8_t* o = o_out;
  while (n - i >= 17) {
    const __m128i in = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 1));
    if ((_mm_movemask_epi8(in) | _mm_movemask_epi8(next)) == 0) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), in);  // pure ASCII
      i += 16;
      o += 16;
      continue;
    }
    const __m128i is_cont = _mm_cmpeq_epi8(_mm_and_si128(in, k_c0), k_80);
    const __m128i next_cont = _mm_cmpeq_epi8(_mm_and_si128(next, k_c0), k_80);
    const __m128i high = _mm_cmplt_epi8(in, _mm_setzero_si128());  // byte >= 0x80
    const __m128i is_lead = _mm_andnot_si128(is_cont, high);
    const __m128i good_lead = _mm_cmpeq_epi8(_mm_and_si128(in, k_fe), k_c2);
    error = _mm_or_si128(error, _mm_xor_si128(is_lead, next_cont));
    error = _mm_or_si128(error, _mm_andnot_si128(good_lead, is_lead));
    // (lead << 6) keeps the lead's two low bits as bits 6-7; the 16-bit shift's spill-over from
    // the neighbouring byte lands in bits 0-5 and is masked off.
    const __m128i merged_lead =
        _mm_or_si128(_mm_and_si128(_mm_slli_epi16(in, 6), k_c0), _mm_and_si128(next, k_3f));
    const __m128i merged = _mm_blendv_epi8(in, merged_lead, is_lead);
    const unsigned keep = ~static_cast<unsigned>(_mm_movemask_epi8(is_cont)) & 0xFFFF;
    const unsigned lo = keep & 0xFF, hi = keep >> 8;
    const __m128i lo_idx = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kCompress[lo].data()));
    const __m128i hi_idx =
        _mm_add_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kCompress[hi].data())), k_8);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_shuffle_epi8(merged, lo_idx));
    o += __builtin_popcount(lo);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_shuffle_epi8(merged, hi_idx));
    o += __builtin_popcount(hi);
    i += 16;
  }
  if (!_mm_testz_si128(error, error)) return false;
  // A lead byte that ended the last block was merged with its continuation, which is skipped.
  if (i > 0 && s[i - 1] >= 0xC0) ++i;
  i_out = i;
  o_out = o;
  return true;
}
#endif

}  // namespace

CodecStatus validate_utf8(const uint8_t* s, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs dominate keys and names; skip them eight bytes at a time.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if ((w & kHighBits) == 0) {
        i += 8;
        continue;
      }
    }
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int need;
    uint32_t cp;
    uint32_t min_cp;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1, cp = c & 0x1F, min_cp = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2, cp = c & 0x0F, min_cp = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3, cp = c & 0x07, min_cp = 0x10000;
    } else {
      return failure(i, str("invalid UTF-8 start byte ", hex_byte(c)));
    }
    if (n - i - 1 < static_cast<std::size_t>(need)) {
      return failure(i, "UTF-8 sequence cut off by the end of the string");
    }
    for (int k = 1; k <= need; ++k) {
      const uint8_t t = s[i + k];
      if ((t & 0xC0) != 0x80) {
        return failure(i + k, str("invalid UTF-8 continuation byte ", hex_byte(t)));
      }
      cp = (cp << 6) | (t & 0x3F);
    }
    if (cp < min_cp) return failure(i, "overlong UTF-8 sequence");
    if (cp > 0x10FFFF) return failure(i, "UTF-8 code point above U+10FFFF");
    i += need + 1;
  }
  return {};
}

CodecStatus utf8_to_latin1(const uint8_t* s, std::size_t n, uint8_t* out, std::size_t& out_size) {
  out_size = 0;
  std::size_t i = 0;
  uint8_t* o = out;
  bool vectorised = false;
#ifdef ROBUSTMSA_PICKLE_X86
  if (cpu_has_ssse3_sse41()) {
    vectorised = true;
    if (!utf8_to_latin1_simd(s, n, i, o)) {
      i = 0;  // invalid somewhere: the careful loop below reports where
      o = out;
    }
  }
#endif
  // Array payloads are close to random bytes, so about half of the characters take two bytes
  // and a branch on "is this a lead byte" would be mispredicted half the time. The loop below
  // selects instead of branching and accumulates validity in `bad`; on failure the exact
  // position is found again by the careful loop at the end.
  while (!vectorised && n - i >= 2) {
    const std::size_t block_end = i + std::min<std::size_t>(n - i - 1, 4096);
    unsigned bad = 0;
    std::size_t j = i;
    uint8_t* oj = o;
    while (j < block_end) {
      if (j + 8 <= block_end) {
        uint64_t w;
        std::memcpy(&w, s + j, 8);
        if ((w & kHighBits) == 0) {
          std::memcpy(oj, &w, 8);
          j += 8, oj += 8;
          continue;
        }
      }
      const unsigned c = s[j];
      const unsigned d = s[j + 1];
      const unsigned lead = c >> 7;  // 1 when c starts a two-byte sequence
      bad |= lead & (((c & 0xFE) != 0xC2) | ((d & 0xC0) != 0x80));
      *oj++ = static_cast<uint8_t>(lead ? ((c << 6) | (d & 0x3F)) : c);
      j += 1 + lead;
    }
    if (bad) break;  // re-decode this block carefully below to locate the error
    i = j;
    o = oj;
  }
  while (i < n) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      *o++ = c;
      ++i;
      continue;
    }
    if (c == 0xC2 || c == 0xC3) {
      if (i + 1 >= n) return failure(i, "UTF-8 sequence cut off by the end of the string");
      const uint8_t d = s[i + 1];
      if ((d & 0xC0) != 0x80) {
        return failure(i + 1, str("invalid UTF-8 continuation byte ", hex_byte(d)));
      }
      *o++ = static_cast<uint8_t>((c << 6) | (d & 0x3F));
      i += 2;
      continue;
    }
    if (c >= 0xC4 && c <= 0xF4) {
      return failure(i, str("character starting with byte ", hex_byte(c),
                            " is above U+00FF and cannot be encoded as latin-1"));
    }
    return failure(i, str("invalid UTF-8 start byte ", hex_byte(c)));
  }
  out_size = static_cast<std::size_t>(o - out);
  return {};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string latin1_to_utf8(const uint8_t* s, std::size_t n) {
  std::string out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) append_utf8(out, s[i]);
  return out;
}

CodecStatus raw_unicode_escape_to_utf8(const uint8_t* s, std::size_t n, std::string& out) {
  out.clear();
  out.reserve(n);
  std::size_t i = 0;
  while (i < n) {
    if (s[i] != '\\') {
      append_utf8(out, s[i++]);
      continue;
    }
    // A run of backslashes is literal; only when its length is odd and it is followed by 'u' or
    // 'U' does the last backslash start an escape.
    std::size_t run = 0;
    while (i < n && s[i] == '\\') ++run, ++i;
    const bool escape = (run & 1) && i < n && (s[i] == 'u' || s[i] == 'U');
    out.append(escape ? run - 1 : run, '\\');
    if (!escape) continue;
    const std::size_t start = i - 1;
    const int digits = s[i] == 'u' ? 4 : 8;
    ++i;
    if (n - i < static_cast<std::size_t>(digits)) {
      return failure(start, str("truncated \\", digits == 4 ? "u" : "U", " escape"));
    }
    uint32_t cp = 0;
    for (int k = 0; k < digits; ++k, ++i) {
      const int v = hex_value(s[i]);
      if (v < 0) return failure(i, str("invalid hex digit ", hex_byte(s[i]), " in escape"));
      cp = (cp << 4) | static_cast<uint32_t>(v);
    }
    if (cp > 0x10FFFF) return failure(start, "\\U escape above U+10FFFF");
    append_utf8(out, cp);
  }
  return {};
}

CodecStatus python_string_literal(const uint8_t* s, std::size_t n, std::string& out) {
  out.clear();
  if (n < 2 || s[0] != s[n - 1] || (s[0] != '\'' && s[0] != '"')) {
    return failure(0, "the argument must be a quoted string literal ('...' or \"...\")");
  }
  const std::size_t end = n - 1;
  out.reserve(end - 1);
  std::size_t i = 1;
  while (i < end) {
    const uint8_t c = s[i];
    if (c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (i + 1 >= end) return failure(i, "trailing backslash in string literal");
    const uint8_t e = s[i + 1];
    i += 2;
    switch (e) {
      case '\n':
        break;  // line continuation
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x': {
        if (end - i < 2 || hex_value(s[i]) < 0 || hex_value(s[i + 1]) < 0) {
          return failure(i - 2, "invalid \\x escape (expected two hex digits)");
        }
        out.push_back(static_cast<char>(hex_value(s[i]) * 16 + hex_value(s[i + 1])));
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          unsigned v = e - '0';
          for (int k = 0; k < 2 && i < end && s[i] >= '0' && s[i] <= '7'; ++k) {
            v = v * 8 + (s[i++] - '0');
          }
          out.push_back(static_cast<char>(v & 0xFF));
        } else {
          // Unknown escapes are kept verbatim, as Python 2 did.
          out.push_back('\\');
          out.push_back(static_cast<char>(e));
        }
    }
  }
  return {};
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise into a float.
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mantissa & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace robustmsa::pickle::detail

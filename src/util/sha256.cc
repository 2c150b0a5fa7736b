#include "util/sha256.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "util/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define ROBUSTMSA_SHA256_X86 1
#endif

namespace robustmsa {
namespace {

// Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64
// primes (FIPS 180-4, section 4.2.2).
alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Portable compression of `count` 64-byte blocks.
void compress_portable(uint32_t state[8], const uint8_t* p, std::size_t count) {
  uint32_t w[64];
  for (; count > 0; --count, p += 64) {
    for (int i = 0; i < 16; ++i) w[i] = load_be32(p + 4 * i);
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t big1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = h + big1 + ch + kRound[i] + w[i];
      const uint32_t big0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = big0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#ifdef ROBUSTMSA_SHA256_X86
// Compression with the x86 SHA extensions. The instructions keep the eight state words in two
// registers as (A,B,E,F) and (C,D,G,H) and do two rounds per sha256rnds2.
__attribute__((target("sha,sse4.1,ssse3"))) void compress_shani(uint32_t state[8], const uint8_t* p,
                                                                std::size_t count) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  for (; count > 0; --count, p += 64) {
    const __m128i abef_in = abef;
    const __m128i cdgh_in = cdgh;
    __m128i m[4];  // the last 16 message words, four per register, in a ring
    for (int g = 0; g < 16; ++g) {
      __m128i w;
      if (g < 4) {
        w = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * g)),
                             byte_swap);
      } else {
        // W[i..i+3] from W[i-16..i-1]: msg1 adds sigma0, alignr supplies W[i-7..i-4], msg2
        // adds sigma1 (which needs the words it is producing, hence the dedicated instruction).
        const __m128i w16 = m[g & 3], w12 = m[(g + 1) & 3], w8 = m[(g + 2) & 3],
                      w4 = m[(g + 3) & 3];
        __m128i t = _mm_sha256msg1_epu32(w16, w12);
        t = _mm_add_epi32(t, _mm_alignr_epi8(w4, w8, 4));
        w = _mm_sha256msg2_epu32(t, w4);
      }
      m[g & 3] = w;
      const __m128i wk =
          _mm_add_epi32(w, _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * g)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

bool cpu_has_sha() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = (b >> 29) & 1;
  return ssse3 && sse41 && sha;
}
#endif

using CompressFn = void (*)(uint32_t*, const uint8_t*, std::size_t);

CompressFn pick_compress() {
#ifdef ROBUSTMSA_SHA256_X86
  if (cpu_has_sha()) return compress_shani;
#endif
  return compress_portable;
}

// Function-local so that hashing during another file's static initialisation is safe.
CompressFn default_compress() {
  static const CompressFn chosen = pick_compress();
  return chosen;
}

}  // namespace

bool sha256_uses_cpu_extensions() { return default_compress() != compress_portable; }

Sha256::Sha256(bool allow_cpu_extensions)
    : compress_(allow_cpu_extensions ? default_compress() : compress_portable),
      state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::update(const uint8_t* data, std::size_t size) {
  total_bytes_ += size;
  if (block_used_ > 0) {
    const std::size_t take = std::min(size, sizeof(block_) - block_used_);
    std::memcpy(block_ + block_used_, data, take);
    block_used_ += take;
    data += take;
    size -= take;
    if (block_used_ < sizeof(block_)) return;
    compress_(state_, block_, 1);
    block_used_ = 0;
  }
  const std::size_t whole = size / 64;
  if (whole > 0) compress_(state_, data, whole);
  data += whole * 64;
  size -= whole * 64;
  std::memcpy(block_, data, size);
  block_used_ = size;
}

std::string Sha256::hex_digest() {
  // Padding: 0x80, zeros up to 56 mod 64, then the message length in bits, big-endian.
  const uint64_t bits = total_bytes_ * 8;
  uint8_t tail[128] = {0x80};
  const std::size_t pad = (block_used_ < 56 ? 56 : 120) - block_used_;
  for (int i = 0; i < 8; ++i) tail[pad + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  update(tail, pad + 8);
  static const char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) out[8 * i + j] = kHex[(state_[i] >> (28 - 4 * j)) & 0xF];
  }
  return out;
}

std::string sha256_hex(const uint8_t* data, std::size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.hex_digest();
}

std::string sha256_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw DataError(str("file '", path, "': cannot open for hashing: ", std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw DataError(str("file '", path, "': is a directory; expected a file to hash"));
  }
  std::vector<uint8_t> buffer(1 << 20);
  Sha256 h;
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw DataError(str("file '", path, "': read failed while hashing: ", std::strerror(err)));
    }
    if (got == 0) break;
    h.update(buffer.data(), static_cast<std::size_t>(got));
  }
  ::close(fd);
  return h.hex_digest();
}

}  // namespace robustmsa

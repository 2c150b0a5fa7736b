// The one 64-bit mixing function of robustmsa: splitmix64 (Steele, Lea and Flood, OOPSLA 2014;
// the finaliser of Java's SplittableRandom). Every pseudo-random bit robustmsa draws without a
// generator object comes from it: the protocols' masks (data/protocol.h hash_words, specified in
// docs/protocols.md), the synthetic generator's streams, the trainer's sample order and torch
// seeds, and the attention kernel's dropout keys. Header-only and constexpr so that the kernels
// can inline it.
//
// Usage:
//   uint64_t h = robustmsa::splitmix64_mix(x);               // the finaliser alone
//   uint64_t r = robustmsa::splitmix64(seed, counter);       // output `counter` of stream `seed`
//   uint64_t k = robustmsa::mix_pair(seed, epoch);           // two words into one key
#pragma once

#include <cstdint>

namespace robustmsa {

inline constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;  // 2^64 / golden ratio

// splitmix64's output function: z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
// z *= 0x94D049BB133111EB; z ^= z >> 31 (all mod 2^64).
constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Output number `counter` (0-based) of the splitmix64 stream whose state starts at `seed`.
constexpr uint64_t splitmix64(uint64_t seed, uint64_t counter) {
  return splitmix64_mix(seed + (counter + 1) * kGoldenGamma);
}

// Two words into one: splitmix64_mix(a * golden + b + 0x632BE59BD9B4E019). Used for the
// trainer's per-(seed, epoch) sample order and torch seeds (a resumed run draws the same).
constexpr uint64_t mix_pair(uint64_t a, uint64_t b) {
  return splitmix64_mix(a * kGoldenGamma + b + 0x632BE59BD9B4E019ULL);
}

}  // namespace robustmsa

// SHA-256 (FIPS 180-4) of a byte buffer or a file, as lowercase hex. Used to record which data
// file a run was trained on. Files are streamed in 1 MiB blocks, so memory stays constant; on x86
// CPUs with the SHA extensions the compression function uses them (about 5x faster than the
// portable code, which matters for multi-GB feature files).
//
// Usage:
//   std::string h = robustmsa::sha256_file("mosi_data.pkl");  // "e3b0c442..." (64 hex digits)
//   std::string e = robustmsa::sha256_hex(data, size);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace robustmsa {

// Incremental hasher: update() any number of times, then hex_digest() once.
class Sha256 {
 public:
  // allow_cpu_extensions=false forces the portable code (tests compare both paths).
  explicit Sha256(bool allow_cpu_extensions = true);
  void update(const uint8_t* data, std::size_t size);
  // Finishes the hash and returns it as 64 lowercase hex digits. The object must not be
  // updated afterwards.
  std::string hex_digest();

 private:
  void (*compress_)(uint32_t* state, const uint8_t* blocks, std::size_t count);
  uint32_t state_[8];
  uint8_t block_[64];
  std::size_t block_used_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(const uint8_t* data, std::size_t size);

// True when this CPU has the SHA extensions and Sha256 uses them by default.
bool sha256_uses_cpu_extensions();

// Hashes a file's contents. Throws DataError naming the path when it cannot be opened or read.
std::string sha256_file(const std::string& path);

}  // namespace robustmsa

#include "util/sha256.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "util/error.h"

namespace robustmsa {
namespace {

std::string hash(const std::string& s, bool allow_cpu_extensions = true) {
  Sha256 h(allow_cpu_extensions);
  h.update(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return h.hex_digest();
}

// FIPS 180-4 / NIST CSRC example vectors.
TEST(Sha256, KnownVectors) {
  for (bool ext : {true, false}) {
    SCOPED_TRACE(ext ? "default implementation" : "portable implementation");
    EXPECT_EQ(hash("", ext), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hash("abc", ext), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", ext),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hash(std::string(1000000, 'a'), ext),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex(reinterpret_cast<const uint8_t*>(abc.data()), abc.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Both implementations and any split into update() calls give the same digest, at every length
// around the 55/56/64-byte padding boundaries.
TEST(Sha256, ImplementationsAndChunkingAgree) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len < 300; ++len) {
    std::string s(len, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    const std::string one_shot = hash(s, true);
    EXPECT_EQ(hash(s, false), one_shot) << "length " << len;
    Sha256 pieces;
    std::size_t pos = 0;
    while (pos < len) {
      const std::size_t n = std::min<std::size_t>(len - pos, rng() % 70);
      pieces.update(reinterpret_cast<const uint8_t*>(s.data()) + pos, n);
      pos += n;
    }
    EXPECT_EQ(pieces.hex_digest(), one_shot) << "length " << len;
  }
  std::printf("sha256 uses CPU extensions: %s\n", sha256_uses_cpu_extensions() ? "yes" : "no");
}

TEST(Sha256, FileMatchesBuffer) {
  char dir_template[] = "/tmp/robustmsa_sha_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/data.bin";
  // Larger than the 1 MiB read buffer so that several reads are hashed.
  std::string content(3 * (1 << 20) + 12345, '\0');
  std::mt19937 rng(3);
  for (auto& c : content) c = static_cast<char>(rng());
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
  std::fclose(f);
  EXPECT_EQ(sha256_file(path), hash(content));

  try {
    sha256_file(dir + "/missing.bin");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/missing.bin"), std::string::npos) << e.what();
  }
  try {
    sha256_file(dir);
    ADD_FAILURE() << "no error for a directory";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace robustmsa

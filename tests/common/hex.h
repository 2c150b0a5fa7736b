// Lowercase hex of a byte string, for test messages and byte-exact expectations.
#pragma once

#include <string>
#include <string_view>

namespace robustmsa::test_util {

inline std::string hex(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace robustmsa::test_util

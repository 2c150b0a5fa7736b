// Exceptions used across robustmsa. Every message says what went wrong, where (file, key, byte
// offset, option), what was found and what was expected. They are caught only in main():
// UsageError and ConfigError exit with code 2, everything else with code 1.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace robustmsa {

// Base of all robustmsa errors.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A data file (pickle, CSV, checkpoint, safetensors) is malformed, hostile or inconsistent.
class DataError : public Error {
 public:
  using Error::Error;
};

// A configuration value or key is wrong (unknown key, wrong type, impossible value). Exit code 2.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// The command line is wrong. Exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A run failed at run time (non-finite loss, I/O failure while writing results...). Exit code 1.
class RunError : public Error {
 public:
  using Error::Error;
};

// Concatenates its arguments with operator<< — for building messages in one expression:
//   throw DataError(str("file '", path, "': split \"valid\" key \"audio\": expected ..."));
template <class... Args>
std::string str(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

}  // namespace robustmsa

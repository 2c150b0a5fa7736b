// describe_error (include/robustmsa/train.h): the one line and exit code of an exception. Lives
// in the torch library because it must recognise LibTorch's c10::Error, whose what() carries a
// multi-line C++ backtrace.
#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

#include "robustmsa/train.h"

namespace robustmsa {

namespace {

bool backtrace_requested() {
  const char* env = std::getenv("ROBUSTMSA_BACKTRACE");
  return env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0;
}

std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

}  // namespace

ErrorReport describe_error(const std::exception& error) {
  ErrorReport r;
  const char* kind = "error";
  std::string what = error.what();
  if (dynamic_cast<const UsageError*>(&error)) {
    r.exit_code = 2;
    kind = "usage error";
  } else if (dynamic_cast<const ConfigError*>(&error)) {
    r.exit_code = 2;
    kind = "configuration error";
  } else if (dynamic_cast<const DataError*>(&error)) {
    kind = "data error";
  } else if (const auto* c10 = dynamic_cast<const c10::Error*>(&error)) {
    // LibTorch's message without the C++ backtrace it appends (ROBUSTMSA_BACKTRACE=1 shows it).
    if (backtrace_requested()) return {1, "robustmsa: error: " + what};
    what = one_line(c10->what_without_backtrace());
  }
  r.message = str("robustmsa: ", kind, ": ", what);
  return r;
}

}  // namespace robustmsa

// Where the text tests find the test model (all-MiniLM-L6-v2, fetched by
// scripts/fetch_test_model.sh) and a Python interpreter with given packages. Both are optional:
// the tests that need them skip with the reason.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace robustmsa::test_util {

// $ROBUSTMSA_TEST_MODEL, else <source>/build/test-models/all-MiniLM-L6-v2; "" when the folder
// lacks config.json, vocab.txt or model.safetensors.
inline std::string test_model_dir() {
  std::string dir;
  if (const char* env = std::getenv("ROBUSTMSA_TEST_MODEL"); env && *env) {
    dir = env;
  } else if (const char* src = std::getenv("ROBUSTMSA_SOURCE_DIR"); src && *src) {
    dir = std::string(src) + "/build/test-models/all-MiniLM-L6-v2";
  }
  namespace fs = std::filesystem;
  for (const char* f : {"config.json", "vocab.txt", "model.safetensors"})
    if (dir.empty() || !fs::exists(fs::path(dir) / f)) return "";
  return dir;
}

// The first of $ROBUSTMSA_PYTHON, python3, /usr/bin/python3 that imports every module of
// `imports` (e.g. "transformers" or "torch, transformers"); "" when none does. Debian's
// python3-torch lives in /usr/bin/python3's packages, which a pyenv python3 does not see.
inline std::string python_with(const std::string& imports) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("ROBUSTMSA_PYTHON"); env && *env) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const std::string& py : candidates) {
    const std::string cmd = "'" + py + "' -c 'import " + imports + "' > /dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

}  // namespace robustmsa::test_util

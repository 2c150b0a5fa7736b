// libFuzzer target: JSON configs go through the same loader as --config files; anything other
// than a ConfigError/UsageError for bad input is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/experiment.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    robustmsa::ExperimentConfig config;
    config.apply_json(j, "fuzz-input");
    config.to_json().dump();
  } catch (const robustmsa::ConfigError&) {
  } catch (const robustmsa::UsageError&) {
  }
  return 0;
}

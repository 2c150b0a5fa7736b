// `robustmsa inspect`: what a feature file holds — layout, splits, every key's shape and dtype,
// NaN/inf counts per split and modality, label statistics and the file's SHA-256.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace robustmsa {

nlohmann::json inspect_file(const std::string& path);
std::string format_inspection(const nlohmann::json& info);  // human-readable text

}  // namespace robustmsa

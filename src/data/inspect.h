// `robustmsa inspect`: what a feature file holds — layout, splits, every key's shape and dtype,
// NaN/inf counts per split and modality, label statistics and the file's SHA-256. Also the
// utterance-level sets (bc-LSTM CSVs, the HFFN pickle) and CMU SDK computational sequences.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace robustmsa {

nlohmann::json inspect_file(const std::string& path);
// The same with data options: utterance-level sets (data/utterance.h) take options.labels (the
// continuous labels and the join check) and the split options; a .csd file is described alone.
struct DataOptions;
nlohmann::json inspect_file(const std::string& path, const DataOptions& options);
std::string format_inspection(const nlohmann::json& info);  // human-readable text
// A regression label or score column: mean, std, min, max and the zero/positive/negative counts
// (null when empty); inspect's "labels" of a split and the utterance sets' "scores".
nlohmann::json score_summary(const std::vector<double>& y);

}  // namespace robustmsa

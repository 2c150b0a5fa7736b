// Reader for the transcript tables MMSA-FET writes (label.csv): a header, then one row per
// segment with either `video_id, clip_id, text, label, mode` or `id, text, label, mode` (other
// columns are ignored). Fields follow RFC 4180 (commas, double quotes, "" inside quotes, line
// breaks inside quotes). `mode` is train, valid (also dev / val) or test. Torch-free.
//
// Usage:
//   std::vector<robustmsa::text::LabelRow> rows = robustmsa::text::read_label_csv("label.csv");
//   // rows[0].id == "03bSnISJMiM_1" (id layout) or "video$_$clip" (MMSA's id for the other)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace robustmsa::text {

struct LabelRow {
  std::string id;
  std::string text;
  double label = 0;
  int split = 0;  // 0 train, 1 valid, 2 test (SplitId's order)
  int64_t line = 0;  // 1-based line of the row in the file, for messages
};

// DataError naming the file, line and column for a missing column, an unterminated quote, a
// label that is not a finite number or an unknown mode.
std::vector<LabelRow> read_label_csv(const std::string& path);
std::vector<LabelRow> parse_label_csv(std::string_view content, const std::string& path);

}  // namespace robustmsa::text

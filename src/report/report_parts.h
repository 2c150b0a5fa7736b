// Internal to src/report: what the report's translation units share (results.cc: results and
// oracle files; aggregate.cc: build_report; tables.cc: terminal, Markdown, CSV and JSON output;
// plots.cc: the curve files, gnuplot and write_report).
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace robustmsa::report_detail {

inline constexpr char kComplete[] = "complete";
inline constexpr char kAvg[] = "Avg";      // per seed, the mean of the suite's averaged conditions
inline constexpr char kAuilc[] = "AUILC";  // per seed, area under metric vs rate / rate span

template <class T>
std::string join(const std::vector<T>& items, const std::string& sep) {
  std::ostringstream out;
  for (size_t i = 0; i < items.size(); ++i) out << (i ? sep : "") << items[i];
  return out.str();
}

}  // namespace robustmsa::report_detail

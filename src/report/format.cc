#include "report/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace robustmsa {

std::string fixed(double v, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

std::string exact(double v) {
  if (!std::isfinite(v)) return "";
  char buffer[64];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  return buffer;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

// Display width of UTF-8 text (every code point one column: enough for "±" and "—").
size_t display_width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80 ? 1 : 0;
  return w;
}

std::string pad(const std::string& s, size_t width, bool right_align) {
  const size_t w = display_width(s);
  if (w >= width) return s;
  return right_align ? std::string(width - w, ' ') + s : s + std::string(width - w, ' ');
}

}  // namespace

std::string format_text_grid(const std::vector<std::vector<std::string>>& grid,
                             size_t first_right) {
  std::vector<size_t> widths;
  for (const auto& line : grid) {
    if (widths.size() < line.size()) widths.resize(line.size(), 0);
    for (size_t i = 0; i < line.size(); ++i)
      widths[i] = std::max(widths[i], display_width(line[i]));
  }
  std::string out;
  for (size_t li = 0; li < grid.size(); ++li) {
    std::string line;
    for (size_t i = 0; i < grid[li].size(); ++i)
      line += (i ? "  " : "") + pad(grid[li][i], widths[i], i >= first_right);
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
    if (li == 0) {
      size_t total = 0;
      for (size_t w : widths) total += w;
      out += std::string(total + 2 * (widths.size() - 1), '-') + "\n";
    }
  }
  return out;
}

std::string markdown_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace robustmsa

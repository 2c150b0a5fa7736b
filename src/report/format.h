// Number, CSV and Markdown text for the report writers (tables.cc, plots.cc, reported.cc).
#pragma once

#include <string>
#include <vector>

namespace robustmsa {

// v with `decimals` digits after the point ("%.*f").
std::string fixed(double v, int decimals);
// Shortest text that reads back to the same double (for CSV files meant for other programs);
// "" for NaN and infinities.
std::string exact(double v);
// s quoted for a CSV field when it holds a comma, quote or line break.
std::string csv_field(const std::string& s);
// Rows of cells as aligned plain text (UTF-8 aware: "±" and "—" are one column): columns two
// spaces apart, columns from `first_right` on right-aligned, a dashed rule under the first row.
std::string format_text_grid(const std::vector<std::vector<std::string>>& grid, size_t first_right);
// s for a Markdown table cell: '|' escaped as '\|'.
std::string markdown_escape(const std::string& s);

}  // namespace robustmsa

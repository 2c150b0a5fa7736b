#include "text/label_csv.h"

#include <cmath>
#include <cstdlib>
#include <map>

#include "io/csv.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::text {

std::vector<LabelRow> read_label_csv(const std::string& path) {
  return parse_label_csv(read_file(path), path);
}

std::vector<LabelRow> parse_label_csv(std::string_view content, const std::string& path) {
  std::vector<CsvRecord> records = parse_csv(content, path);
  if (records.empty()) throw DataError(str("file '", path, "': empty; expected a header row"));
  std::map<std::string, std::size_t> col;
  for (std::size_t k = 0; k < records[0].fields.size(); ++k) col[records[0].fields[k]] = k;
  const bool split_id = col.count("video_id") && col.count("clip_id");
  for (const char* need : {"text", "label", "mode"})
    if (!col.count(need))
      throw DataError(str("file '", path, "' line 1: no column \"", need,
                          "\"; expected MMSA-FET's header video_id,clip_id,text,label,mode or "
                          "id,text,label,mode"));
  if (!split_id && !col.count("id"))
    throw DataError(str("file '", path,
                        "' line 1: no column \"id\" (nor video_id and clip_id); expected MMSA-FET's "
                        "header video_id,clip_id,text,label,mode or id,text,label,mode"));
  std::vector<LabelRow> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    auto field = [&](const char* name) -> const std::string& {
      const std::size_t k = col.at(name);
      if (k >= rec.fields.size())
        throw DataError(str("file '", path, "' line ", rec.line, ": ", rec.fields.size(),
                            " fields; expected a value for column \"", name, "\" (column ", k + 1,
                            ")"));
      return rec.fields[k];
    };
    LabelRow row;
    row.line = rec.line;
    row.id = split_id ? field("video_id") + "$_$" + field("clip_id") : field("id");
    row.text = field("text");
    const std::string& label = field("label");
    char* end = nullptr;
    row.label = std::strtod(label.c_str(), &end);
    if (label.empty() || *end != '\0' || !std::isfinite(row.label))
      throw DataError(str("file '", path, "' line ", rec.line, " column \"label\": '", label,
                          "' is not a finite number"));
    const std::string& mode = field("mode");
    if (mode == "train") {
      row.split = 0;
    } else if (mode == "valid" || mode == "dev" || mode == "val") {
      row.split = 1;
    } else if (mode == "test") {
      row.split = 2;
    } else {
      throw DataError(str("file '", path, "' line ", rec.line, " column \"mode\": '", mode,
                          "'; expected train, valid (dev, val) or test"));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace robustmsa::text

#include "text/label_csv.h"

#include <cmath>
#include <cstdlib>
#include <map>

#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::text {

namespace {

struct Record {
  std::vector<std::string> fields;
  int64_t line = 0;
};

// RFC 4180 records; \r\n and \n end a record outside quotes.
std::vector<Record> parse_records(std::string_view s, const std::string& path) {
  std::vector<Record> out;
  std::size_t i = 0;
  int64_t line = 1;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 byte order mark
  while (i < s.size()) {
    Record r;
    r.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      if (i < s.size() && s[i] == '"') {
        const int64_t open_line = line;
        ++i;
        for (;;) {
          if (i >= s.size())
            throw DataError(str("file '", path, "' line ", open_line,
                                ": a quoted field is never closed; expected a closing \""));
          if (s[i] == '"') {
            if (i + 1 < s.size() && s[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (s[i] == '\n') ++line;
          field.push_back(s[i++]);
        }
      }
      while (i < s.size() && s[i] != ',' && s[i] != '\n' && s[i] != '\r') field.push_back(s[i++]);
      r.fields.push_back(std::move(field));
      field.clear();
      if (i >= s.size()) {
        done = true;
      } else if (s[i] == ',') {
        ++i;
      } else {
        if (s[i] == '\r') ++i;
        if (i < s.size() && s[i] == '\n') ++i;
        ++line;
        done = true;
      }
    }
    if (!(r.fields.size() == 1 && r.fields[0].empty())) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<LabelRow> read_label_csv(const std::string& path) {
  return parse_label_csv(read_file(path), path);
}

std::vector<LabelRow> parse_label_csv(std::string_view content, const std::string& path) {
  std::vector<Record> records = parse_records(content, path);
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
    const Record& rec = records[r];
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

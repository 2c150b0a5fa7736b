#include "io/csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "util/error.h"

namespace robustmsa {

std::vector<CsvRecord> parse_csv(std::string_view s, const std::string& path) {
  std::vector<CsvRecord> out;
  std::size_t i = 0;
  int64_t line = 1;
  if (s.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 byte order mark
  while (i < s.size()) {
    CsvRecord r;
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

double csv_number(const CsvRecord& record, std::size_t column, int64_t row,
                  const std::string& path) {
  const auto where = [&] {
    return str("file '", path, "' row ", row + 1, " (line ", record.line, ") column ", column + 1);
  };
  if (column >= record.fields.size())
    throw DataError(str(where(), ": the row has only ", record.fields.size(),
                        " columns; expected a number here"));
  const std::string& text = record.fields[column];
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0')
    throw DataError(str(where(), ": '", text, "' is not a number"));
  if (errno == ERANGE && std::isinf(v))
    throw DataError(str(where(), ": '", text, "' is beyond the range of a double"));
  return v;
}

}  // namespace robustmsa

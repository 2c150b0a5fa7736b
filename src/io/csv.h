// RFC 4180 records (commas, double quotes, "" inside quotes, line breaks inside quotes, \n or
// \r\n between records, an optional UTF-8 byte order mark), as plain strings with the 1-based
// line each record starts on, for messages. Torch-free. Used by the transcript tables
// (text/label_csv.h) and the bc-LSTM feature files (data/utterance.h).
//
// Usage:
//   std::vector<robustmsa::CsvRecord> rows = robustmsa::parse_csv(read_file(path), path);
//   double x = robustmsa::csv_number(rows[0], 3, path);  // DataError naming file, row, column
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace robustmsa {

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;  // 1-based line of the file where the record starts
};

// Blank lines are skipped. DataError naming the file and line for a quoted field that is never
// closed.
std::vector<CsvRecord> parse_csv(std::string_view content, const std::string& path);

// Field `column` (0-based) of record `row` (0-based among the records) as a number: a decimal or
// exponent form, "nan", "inf" and "-inf" included (the caller decides what to do with them).
// DataError "file 'x' row 12 (line 12) column 57: 'abc' is not a number" (row and column
// 1-based in the message) when the field is empty, has trailing characters or is out of double
// range.
double csv_number(const CsvRecord& record, std::size_t column, int64_t row,
                  const std::string& path);

}  // namespace robustmsa

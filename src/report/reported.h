// Numbers the papers REPORTED (torch-free): data/reported/missing_modality.json holds published
// F1 tables of the fixed missing-modality protocol ({l} ... {a,v}, Avg, {l,a,v}) on MOSI, MOSEI
// and IEMOCAP, each with its source. robustmsa did not measure any of them. A report made with
// `--reported mosi|mosei|iemocap` shows them in a section of their own, never mixed into the
// measured rows or their mean/std (docs/reported.md).
//
// Usage:
//   robustmsa::ReportedFile f = robustmsa::read_reported(robustmsa::default_reported_path());
//   robustmsa::ReportedSection s = robustmsa::select_reported(f, "mosi", "paper", "regression");
//   report.reported = s;  // format_markdown() etc. then add the section
//
// File format (every key required unless marked optional; DataError naming the file and key
// otherwise):
//   {"description": str (optional),
//    "condition_keys": ["{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}", "Avg", "{l,a,v}"],
//    "entries": [{"paper": str, "venue": str, "year": int, "url": str, "read_from": str,
//                 "source_kind": "primary"|"secondary", "table": str,
//                 "table_kind": "main"|"ablation", "dataset": str, "protocol": str,
//                 "scale": "percent", "metric": str, "metric_as_printed": str, "features": str,
//                 "baselines_note": str (optional), "rows": {"<row>": {"<condition key>": number,
//                 ...}, ...}}, ...]}
// A row may lack cells (a secondary source quoting a few); its values must lie in [0, 100].
// Rows keep the file's order. Other keys are ignored.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace robustmsa {

// The section's title wherever it is shown (Markdown, terminal, JSON, CSV status column).
inline constexpr char kReportedTitle[] = "Reported by the papers (not measured by robustmsa)";

// One printed row, e.g. "CorrKD" or (IEMOCAP) "CorrKD / Happy".
struct ReportedRow {
  std::string name;
  std::map<std::string, double> cells;  // condition key as printed ("{l}", "Avg", ...) -> value
};

// One table (or one block of a table) of one paper for one dataset.
struct ReportedEntry {
  std::string paper, venue;
  int64_t year = 0;
  std::string url, read_from;
  std::string source_kind;  // "primary" (read from the paper) or "secondary" (quoted elsewhere)
  std::string table;
  std::string table_kind;  // "main" or "ablation"
  std::string dataset, protocol, scale, metric, metric_as_printed, features, baselines_note;
  std::vector<ReportedRow> rows;
  // Digits after the point the source prints (the most any cell of the entry needs, at most 4),
  // so that 84.5 is shown as the table's "84.50".
  int decimals = 2;
};

struct ReportedFile {
  std::string path;
  std::string description;
  std::vector<std::string> condition_keys;
  std::vector<ReportedEntry> entries;
};

// The columns of the `paper` suite's table as the papers print them.
const std::vector<std::string>& reported_columns();

// Parses and validates (ordered_json keeps the rows in the file's order); `source` names the file
// in messages. DataError on any problem, e.g. "reported-numbers file 'x.json': key
// \"entries[1].rows.CorrKD.{l}\": expected a number, got string".
ReportedFile reported_from_json(const nlohmann::ordered_json& j, const std::string& source);
// Reads `path`; DataError when it is missing, unreadable, not JSON or malformed.
ReportedFile read_reported(const std::string& path);

// <source tree>/data/reported/missing_modality.json, the source tree baked in at build time.
std::string default_reported_path();

// What a report shows under kReportedTitle.
struct ReportedSection {
  std::string dataset;                 // as declared: "mosi", "mosei" or "iemocap"
  std::string file;                    // the file the numbers came from
  std::vector<std::string> columns;    // reported_columns()
  std::vector<ReportedEntry> entries;  // main tables from primary sources, file order
  std::vector<std::string> left_out;   // one line per entry of the dataset not shown, and why
  std::vector<std::string> notes;      // e.g. a data file that could not be checked
};

// The datasets --reported accepts and the task (data/dataset.h task_name) each one must have.
const std::vector<std::string>& reported_datasets();
std::string reported_task(const std::string& dataset);  // UsageError for other names

// The entries of `file` for `dataset` that a report shows: main tables from primary sources
// (ablation tables and secondary sources are listed in left_out). UsageError when `dataset` is
// not one of reported_datasets(), when `suite` is not "paper" (the only protocol the papers'
// tables follow) or when `task` (the runs' task; empty: not checked) is not the dataset's;
// DataError when the file has no such entry for the dataset.
ReportedSection select_reported(const ReportedFile& file, const std::string& dataset,
                                const std::string& suite, const std::string& task);

// The files beside `data_path` that mark it as robustmsa's synthetic benchmark
// (<data>.generator.json, <data>.oracle.json) and exist. Empty: not synthetic, as far as the
// file system tells.
std::vector<std::string> synthetic_markers(const std::string& data_path);

// The section in each output format (used by the report writers in report.cc). Values are
// printed in percent, as the papers print them; every format says so and says that they were
// not measured.
std::string format_reported_markdown(const ReportedSection& s);
std::string format_reported_terminal(const ReportedSection& s);
std::string format_reported_csv(const ReportedSection& s);
nlohmann::json reported_to_json(const ReportedSection& s);

}  // namespace robustmsa

// The papers' reported numbers: loading, validation, selection and the report section
// (docs/reported.md).
#include "report/reported.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "data/protocol.h"
#include "report/format.h"
#include "util/error.h"
#include "util/fs.h"

// The source tree, for the default data file (set for this file by CMakeLists.txt).
#ifndef ROBUSTMSA_SOURCE_DIR
#define ROBUSTMSA_SOURCE_DIR ""
#endif

namespace robustmsa {

using ojson = nlohmann::ordered_json;

namespace {

constexpr char kWhat[] = "reported-numbers file";

// Typed access with messages that name the file and the key path.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw DataError(str(kWhat, " '", source_, "': key \"", key, "\": ", message));
  }

  const ojson& get(const ojson& object, const std::string& prefix, const char* key) const {
    const auto it = object.find(key);
    if (it == object.end()) fail(path(prefix, key), "missing");
    return *it;
  }

  std::string string(const ojson& object, const std::string& prefix, const char* key,
                     bool required = true) const {
    if (!required && object.find(key) == object.end()) return "";
    const ojson& v = get(object, prefix, key);
    if (!v.is_string()) fail(path(prefix, key), str("expected a string, got ", v.type_name()));
    std::string s = v.get<std::string>();
    if (required && s.empty()) fail(path(prefix, key), "expected a non-empty string");
    return s;
  }

  std::string one_of(const ojson& object, const std::string& prefix, const char* key,
                     const std::vector<std::string>& allowed) const {
    std::string s = string(object, prefix, key);
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      fail(path(prefix, key), str("expected ", quoted_list(allowed, " or "), ", got \"", s, "\""));
    }
    return s;
  }

  int64_t integer(const ojson& object, const std::string& prefix, const char* key) const {
    const ojson& v = get(object, prefix, key);
    if (!v.is_number_integer()) {
      fail(path(prefix, key), str("expected an integer, got ", v.type_name(), " ", v.dump()));
    }
    return v.get<int64_t>();
  }

  static std::string path(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }

  static std::string quoted_list(const std::vector<std::string>& items, const char* last_sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += i + 1 == items.size() ? last_sep : ", ";
      out += "\"" + items[i] + "\"";
    }
    return out;
  }

 private:
  std::string source_;
};

// Digits after the point needed to print `v` as the source printed it (at most 4).
int decimals_of(double v) {
  for (int d = 0; d < 4; ++d) {
    const double scale = std::pow(10.0, d);
    if (std::fabs(std::round(v * scale) / scale - v) < 1e-9) return d;
  }
  return 4;
}

std::string cell_text(const ReportedEntry& e, const ReportedRow& row, const std::string& column) {
  const auto it = row.cells.find(column);
  return it == row.cells.end() ? std::string("—") : fixed(it->second, e.decimals);
}

std::string upper(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string entry_label(const ReportedEntry& e) {
  return str(e.paper, ", ", e.venue, " ", e.year, " — ", e.table);
}

// How to read the entry's metric against the measured tables.
std::string counterpart(const ReportedEntry& e) {
  if (e.metric == "F1_per_class") {
    return "rows `<model> / <class>`: compare with the `<class>_F1` table above (e.g. "
           "`Happy_F1`)";
  }
  return str("compare with the `", e.metric, "` table above");
}

// The lines every format repeats: what the numbers are and how they differ from the run's.
std::vector<std::string> caveats(const ReportedSection& s) {
  std::vector<std::string> lines;
  lines.push_back(str("Copied from published tables for ", upper(s.dataset),
                      " (dataset declared by the user with --reported ", s.dataset,
                      "; robustmsa cannot tell a real file from another of the same shape). "
                      "robustmsa did not measure these numbers; they are in no measured row, mean "
                      "or std."));
  lines.push_back(
      "Values are in percent, as the papers print them; the measured tables are fractions "
      "(0.7469 there is 74.69 here).");
  bool cmu_sdk = !s.entries.empty();
  for (const ReportedEntry& e : s.entries) {
    for (const char* name : {"GloVe", "COVAREP", "Facet"}) {
      cmu_sdk = cmu_sdk && e.features.find(name) != std::string::npos;
    }
  }
  lines.push_back(str(
      "Features and protocol details differ: the papers used ",
      cmu_sdk ? "GloVe (text), COVAREP (audio) and Facet (vision) features"
              : "the features named with each table",
      " with their own training setups and re-implemented baselines; the measured rows used the "
      "features of your data file and robustmsa's training. Same test conditions (only the "
      "listed modalities present), not the same experiment."));
  lines.push_back(
      "Avg is the paper's own mean over the six missing conditions; {l,a,v} is the complete "
      "condition.");
  return lines;
}

}  // namespace

const std::vector<std::string>& reported_columns() {
  // The fixed table of the suite the papers' tables follow (data/protocol.h: paper).
  static const std::vector<std::string> columns = [] {
    for (const Suite& s : suites())
      if (s.reported_tables) return s.fixed_columns;
    return std::vector<std::string>();
  }();
  return columns;
}

const std::vector<std::string>& reported_datasets() {
  static const std::vector<std::string> datasets = {"mosi", "mosei", "iemocap"};
  return datasets;
}

std::string reported_task(const std::string& dataset) {
  if (dataset == "mosi" || dataset == "mosei") return "regression";
  if (dataset == "iemocap") return "iemocap";
  throw UsageError(str("--reported '", dataset, "': expected ",
                       Reader::quoted_list(reported_datasets(), " or "),
                       " (the dataset your data file holds)"));
}

ReportedFile reported_from_json(const ojson& j, const std::string& source) {
  const Reader r(source);
  if (!j.is_object()) {
    throw DataError(str(kWhat, " '", source, "': expected a JSON object at the top level, got ",
                        j.type_name()));
  }
  ReportedFile f;
  f.path = source;
  f.description = r.string(j, "", "description", /*required=*/false);

  const ojson& keys = r.get(j, "", "condition_keys");
  if (!keys.is_array()) r.fail("condition_keys", str("expected an array, got ", keys.type_name()));
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].is_string()) {
      r.fail(str("condition_keys[", i, "]"), str("expected a string, got ", keys[i].type_name()));
    }
    f.condition_keys.push_back(keys[i].get<std::string>());
  }
  if (f.condition_keys != reported_columns()) {
    r.fail("condition_keys", str("expected [", Reader::quoted_list(reported_columns(), ", "),
                                 "] (the paper suite's columns), got ", keys.dump()));
  }
  const std::set<std::string> allowed(f.condition_keys.begin(), f.condition_keys.end());

  const ojson& entries = r.get(j, "", "entries");
  if (!entries.is_array()) r.fail("entries", str("expected an array, got ", entries.type_name()));
  if (entries.empty()) r.fail("entries", "expected at least one entry, got an empty array");
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string prefix = str("entries[", i, "]");
    const ojson& e = entries[i];
    if (!e.is_object()) r.fail(prefix, str("expected an object, got ", e.type_name()));
    ReportedEntry out;
    out.paper = r.string(e, prefix, "paper");
    out.venue = r.string(e, prefix, "venue");
    out.year = r.integer(e, prefix, "year");
    out.url = r.string(e, prefix, "url");
    out.read_from = r.string(e, prefix, "read_from");
    out.source_kind = r.one_of(e, prefix, "source_kind", {"primary", "secondary"});
    out.table = r.string(e, prefix, "table");
    out.table_kind = r.one_of(e, prefix, "table_kind", {"main", "ablation"});
    out.dataset = r.string(e, prefix, "dataset");
    out.protocol = r.string(e, prefix, "protocol");
    out.scale = r.one_of(e, prefix, "scale", {"percent"});
    out.metric = r.string(e, prefix, "metric");
    out.metric_as_printed = r.string(e, prefix, "metric_as_printed");
    out.features = r.string(e, prefix, "features");
    out.baselines_note = r.string(e, prefix, "baselines_note", /*required=*/false);
    const ojson& rows = r.get(e, prefix, "rows");
    const std::string rows_key = prefix + ".rows";
    if (!rows.is_object()) r.fail(rows_key, str("expected an object, got ", rows.type_name()));
    if (rows.empty()) r.fail(rows_key, "expected at least one row, got an empty object");
    int decimals = 0;
    for (auto it = rows.begin(); it != rows.end(); ++it) {
      const std::string row_key = rows_key + "." + it.key();
      if (it.key().empty()) r.fail(row_key, "empty row name");
      if (!it.value().is_object()) {
        r.fail(row_key,
               str("expected an object of condition -> number, got ", it.value().type_name()));
      }
      if (it.value().empty()) r.fail(row_key, "expected at least one cell, got an empty object");
      ReportedRow row;
      row.name = it.key();
      for (auto c = it.value().begin(); c != it.value().end(); ++c) {
        const std::string cell_key = row_key + "." + c.key();
        if (allowed.count(c.key()) == 0) {
          r.fail(cell_key, str("unknown condition; expected one of condition_keys (",
                               Reader::quoted_list(f.condition_keys, ", "), ")"));
        }
        if (!c.value().is_number()) {
          r.fail(cell_key, str("expected a number, got ", c.value().type_name()));
        }
        const double v = c.value().get<double>();
        if (!std::isfinite(v) || v < 0.0 || v > 100.0) {
          r.fail(cell_key, str("expected a percentage in [0, 100], got ", c.value().dump()));
        }
        row.cells[c.key()] = v;
        decimals = std::max(decimals, decimals_of(v));
      }
      out.rows.push_back(std::move(row));
    }
    out.decimals = decimals;
    f.entries.push_back(std::move(out));
  }
  return f;
}

ReportedFile read_reported(const std::string& path) {
  const std::string text = read_file(path);
  ojson j;
  try {
    j = ojson::parse(text);
  } catch (const ojson::parse_error& e) {
    throw DataError(
        str(kWhat, " '", path, "': byte offset ", e.byte, ": not valid JSON (", e.what(), ")"));
  }
  return reported_from_json(j, path);
}

std::string default_reported_path() {
  const std::string root = ROBUSTMSA_SOURCE_DIR;
  return (root.empty() ? std::string() : root + "/") + "data/reported/missing_modality.json";
}

ReportedSection select_reported(const ReportedFile& file, const std::string& dataset,
                                const std::string& suite, const std::string& task) {
  const std::string expected_task = reported_task(dataset);  // UsageError for unknown names
  const Suite* layout = find_suite(suite);
  if (layout == nullptr || !layout->reported_tables) {
    throw UsageError(str("--reported ", dataset,
                         ": the reported tables follow the `paper` suite's fixed missing-modality "
                         "conditions ({l} ... {a,v}, Avg, {l,a,v}); this report is suite \"",
                         suite, "\", which no reported table matches (use --suite paper)"));
  }
  if (!task.empty() && task != expected_task) {
    throw UsageError(str("--reported ", dataset, ": ", upper(dataset), " is a \"", expected_task,
                         "\" task but the runs are \"", task,
                         "\"; declare the dataset your data file holds"));
  }
  ReportedSection s;
  s.dataset = dataset;
  s.file = file.path;
  s.columns = reported_columns();
  for (const ReportedEntry& e : file.entries) {
    if (e.dataset != dataset) continue;
    if (e.source_kind != "primary") {
      s.left_out.push_back(str(entry_label(e), ": a secondary source (", e.rows.size(),
                               " row(s) quoted by a third party), not shown"));
    } else if (e.table_kind != "main") {
      s.left_out.push_back(
          str(entry_label(e), ": an ablation table (", e.rows.size(), " rows), not shown"));
    } else {
      s.entries.push_back(e);
    }
  }
  if (s.entries.empty()) {
    throw DataError(str(kWhat, " '", file.path, "': no main table from a primary source for \"",
                        dataset,
                        "\" (entries with table_kind \"main\" and source_kind "
                        "\"primary\")"));
  }
  return s;
}

std::vector<std::string> synthetic_markers(const std::string& data_path) {
  std::vector<std::string> found;
  if (data_path.empty()) return found;
  for (const char* suffix : {".generator.json", ".oracle.json"}) {
    std::error_code ec;
    const std::string p = data_path + suffix;
    if (std::filesystem::exists(p, ec)) found.push_back(p);
  }
  return found;
}

// ---- formatting --------------------------------------------------------------------------------

std::string format_reported_markdown(const ReportedSection& s) {
  std::ostringstream out;
  out << "\n## " << kReportedTitle << "\n\n";
  for (const std::string& line : caveats(s)) out << "- " << line << "\n";
  out << "- File: `" << s.file << "` (sources and caveats: data/reported/README.md).\n";
  for (const std::string& n : s.notes) out << "- Note: " << n << "\n";
  for (const ReportedEntry& e : s.entries) {
    out << "\n### " << markdown_escape(entry_label(e)) << " (reported)\n\n";
    out << "- **Source**: " << e.url << " — read from: " << e.read_from << "\n";
    out << "- **Metric as printed**: " << e.metric_as_printed << " Read as `" << e.metric << "`; "
        << counterpart(e) << " (×100).\n";
    out << "- **Features and protocol**: " << e.features << "; " << e.protocol << ".\n";
    if (!e.baselines_note.empty()) out << "- **Baselines**: " << e.baselines_note << "\n";
    out << "\n| model (reported, %) |";
    for (const std::string& c : s.columns) out << " " << markdown_escape(c) << " |";
    out << "\n|---|";
    for (size_t i = 0; i < s.columns.size(); ++i) out << "---:|";
    out << "\n";
    for (const ReportedRow& row : e.rows) {
      out << "| " << markdown_escape(row.name) << " |";
      for (const std::string& c : s.columns) out << " " << cell_text(e, row, c) << " |";
      out << "\n";
    }
    bool partial = false;
    for (const ReportedRow& row : e.rows) partial = partial || row.cells.size() < s.columns.size();
    if (partial) out << "\n— : not printed in the source.\n";
  }
  if (!s.left_out.empty()) {
    out << "\nAlso in the file for " << s.dataset << " but not shown:\n\n";
    for (const std::string& l : s.left_out) out << "- " << markdown_escape(l) << "\n";
  }
  return out.str();
}

std::string format_reported_terminal(const ReportedSection& s) {
  std::ostringstream out;
  out << "\n" << kReportedTitle << " — " << s.dataset << ", percent as printed\n";
  for (const ReportedEntry& e : s.entries) {
    out << "\n" << entry_label(e) << " — " << e.url << "\n";
    std::vector<std::vector<std::string>> grid;
    std::vector<std::string> header = {"model (reported, %)"};
    header.insert(header.end(), s.columns.begin(), s.columns.end());
    grid.push_back(header);
    for (const ReportedRow& row : e.rows) {
      std::vector<std::string> line = {row.name};
      for (const std::string& c : s.columns) line.push_back(cell_text(e, row, c));
      grid.push_back(std::move(line));
    }
    out << format_text_grid(grid, 1);
    out << "metric as printed: " << e.metric_as_printed << " Read as " << e.metric << ".\n";
  }
  for (const std::string& line : caveats(s)) out << "note: " << line << "\n";
  for (const std::string& n : s.notes) out << "note: " << n << "\n";
  for (const std::string& l : s.left_out) out << "not shown: " << l << "\n";
  return out.str();
}

std::string format_reported_csv(const ReportedSection& s) {
  std::ostringstream out;
  out << "status,dataset,paper,venue,year,table,source_kind,url,metric,metric_as_printed,row,"
         "condition,value_percent\n";
  const std::string status = "reported by the paper; not measured by robustmsa";
  for (const ReportedEntry& e : s.entries) {
    for (const ReportedRow& row : e.rows) {
      for (const std::string& c : s.columns) {
        const auto it = row.cells.find(c);
        if (it == row.cells.end()) continue;
        out << csv_field(status) << "," << csv_field(e.dataset) << "," << csv_field(e.paper) << ","
            << csv_field(e.venue) << "," << e.year << "," << csv_field(e.table) << ","
            << csv_field(e.source_kind) << "," << csv_field(e.url) << "," << csv_field(e.metric)
            << "," << csv_field(e.metric_as_printed) << "," << csv_field(row.name) << ","
            << csv_field(c) << "," << exact(it->second) << "\n";
      }
    }
  }
  return out.str();
}

nlohmann::json reported_to_json(const ReportedSection& s) {
  using nlohmann::json;
  json entries = json::array();
  for (const ReportedEntry& e : s.entries) {
    json rows = json::array();
    for (const ReportedRow& row : e.rows) {
      json cells = json::object();
      for (const auto& [k, v] : row.cells) cells[k] = v;
      rows.push_back({{"name", row.name}, {"cells", std::move(cells)}});
    }
    entries.push_back({{"paper", e.paper},
                       {"venue", e.venue},
                       {"year", e.year},
                       {"table", e.table},
                       {"url", e.url},
                       {"read_from", e.read_from},
                       {"source_kind", e.source_kind},
                       {"table_kind", e.table_kind},
                       {"protocol", e.protocol},
                       {"features", e.features},
                       {"metric", e.metric},
                       {"metric_as_printed", e.metric_as_printed},
                       {"rows", std::move(rows)}});
  }
  return {{"title", kReportedTitle},
          {"measured_by_robustmsa", false},
          {"dataset", s.dataset},
          {"declared_by", "the user (--reported)"},
          {"file", s.file},
          {"scale", "percent, as printed (the measured tables are fractions)"},
          {"columns", s.columns},
          {"caveats", caveats(s)},
          {"notes", s.notes},
          {"entries", std::move(entries)},
          {"left_out", s.left_out}};
}

}  // namespace robustmsa

// Reports of runs on disk (torch-free): the oracle beside the data file, the papers' reported
// numbers for a declared real dataset (docs/reported.md), a discussion file, one report per
// suite of a results directory, and the report of a sweep. What train, eval, compare, report and
// sweep print at the end.
//
// Usage:
//   robustmsa::ReportRequest req;
//   req.out_dir = "runs/cmp/report";
//   req.data_path = "synth.pkl";                   // its .oracle.json, when there is one
//   robustmsa::Report r = robustmsa::report_results(results, req);  // built and written
//   std::cout << robustmsa::format_terminal_table(r);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report/report.h"
#include "report/reported.h"
#include "run/sweep.h"

namespace robustmsa {

// --reported DATASET [--reported-file FILE]: the numbers the papers reported for the dataset the
// user declares their (real) data file holds.
struct ReportedRequest {
  std::string dataset;  // empty: no reported section
  std::string file;     // empty: default_reported_path()

  bool on() const { return !dataset.empty(); }
  // UsageError for a file without a dataset or an unknown dataset name.
  void validate() const;
  // The file, read and validated, and its entries for the declared dataset, checked against the
  // suite, the runs' task (empty: not checked yet) and the data files: UsageError when one is
  // robustmsa's synthetic benchmark (a <data>.generator.json or <data>.oracle.json beside it);
  // a data file that is not here or not named adds a note instead.
  ReportedSection load(const std::string& suite, const std::string& task,
                       const std::vector<std::string>& data_paths) const;
};

struct ReportRequest {
  std::string out_dir;
  std::string data_path;        // the oracle is looked for at <data_path>.oracle.json
  std::string oracle_path;      // an explicit oracle file instead
  std::string discussion_path;  // Markdown shown as the report's Discussion section
  ReportedRequest reported;
};

// What a report request names, checked before any work: the reported-numbers flags
// (ReportedRequest::validate) and the discussion file (DataError when it cannot be read).
void check_report_request(const ReportRequest& request);

// Builds the report of one suite's results (build_report), adds the oracle, the reported
// numbers and the discussion, writes it into out_dir (write_report) and returns it. RunError when
// there are no results; UsageError for --reported together with an oracle.
Report report_results(const std::vector<RunResult>& results, const ReportRequest& request);

// `robustmsa report DIR`: one report per suite of the results*.json under `dir` (into `out`, or
// DIR/report; "_<suite>" appended when there are several). With `reported`, only the paper
// suite's report gets the reported section, and a directory without paper-suite results is a
// UsageError. A `reference` variant is listed first, so every other is paired against it
// (UsageError naming the variants found when no run has it).
struct WrittenReport {
  std::string out_dir;
  std::string note;  // for stderr, e.g. why this report has no reported section ("" = none)
  Report report;
};
std::vector<WrittenReport> report_directory(const std::string& dir, const std::string& out,
                                            const std::string& oracle_path,
                                            const std::string& discussion_path,
                                            const ReportedRequest& reported,
                                            const std::string& reference = "");

// The report of a sweep directory (sweep.json): one report per dataset and suite over the cells
// that finished, in plan order, and the cells still missing. `reported` must be off (UsageError:
// a sweep may hold several datasets; report each real dataset's directory on its own).
struct SweepGroupReport {
  std::string dataset, suite;
  int64_t finished = 0, cells = 0;
  std::optional<WrittenReport> written;  // none when no cell of the group finished
};
struct SweepReport {
  std::string dir;
  int64_t cells = 0;
  std::vector<SweepGroupReport> groups;
  std::vector<SweepCell> missing;
};
SweepReport report_sweep(const std::string& sweep_dir, const std::string& oracle_path = "",
                         const ReportedRequest& reported = {});
// The closing lines of a sweep report: all finished, or the missing cells with their state.
std::string format_sweep_missing(const SweepReport& report);

}  // namespace robustmsa

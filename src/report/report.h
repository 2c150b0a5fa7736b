// Results files and the reports made from them (torch-free). The evaluator writes one
// results.json per run directory and suite; `robustmsa report DIR` collects them, aggregates
// over seeds and writes tables a researcher can paste into a paper (Markdown, CSV, JSON, a
// terminal table) plus the frame / rate / MR curves (CSV, gnuplot script, SVG/PNG).
//
// Usage:
//   std::vector<robustmsa::RunResult> runs = robustmsa::collect_results("runs/");
//   std::optional<robustmsa::RunResult> oracle = robustmsa::read_oracle("synth.oracle.json",
//   "paper"); robustmsa::ReportOptions opt;                 // suite and metrics inferred
//   robustmsa::Report r = robustmsa::build_report(runs, oracle, opt);
//   std::cout << robustmsa::format_terminal_table(r);
//   robustmsa::write_report(r, "runs/report");   // report.md, report.csv, ..., frame_curve.svg
//
// Aggregation rules (docs/metrics.md): each cell is mean ± sample std (n - 1) over seeds; "Avg"
// is, per seed, the mean of the six incomplete conditions, then mean ± std over seeds; "AUILC"
// is, per seed, the trapezoid area under metric-vs-rate divided by the rate span, then mean ±
// std. A cell computed from fewer seeds than expected is marked and listed, never hidden.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "metrics/metrics.h"
#include "report/reported.h"

namespace robustmsa {

inline constexpr char kResultsFormat[] = "robustmsa-results-1";
inline constexpr char kOracleFormat[] = "robustmsa-oracle-1";
inline constexpr char kReportFormat[] = "robustmsa-report-1";

// One evaluated condition of one run, e.g. {name "{l,a}", protocol "condition", parameter
// "l,a", mask_seed 0}. Names come from src/data/protocol.h: "complete", "{l}" ... "{a,v}",
// "frame=0.1" ... "frame=1.0", "rate=0.0" ... "rate=0.9", "MR=0.0" ... "MR=0.7".
struct ConditionResult {
  std::string name;
  std::string protocol;
  std::string parameter;
  int64_t mask_seed = 0;
  MetricMap metrics;
};

// One results.json: one variant (model or ablation), one training seed, one suite.
struct RunResult {
  std::string variant;
  int64_t seed = 0;
  std::string suite;  // "paper", "mmsa", "gcnet"
  std::string task;   // "regression", "sims", "iemocap" (task_name() in data/dataset.h)
  std::string data_sha256;
  std::vector<ConditionResult> conditions;
  // Also carried by results.json (defaults when a file omits them).
  std::string model;           // the model behind the variant; written as `variant` when empty
  std::string split = "test";  // the split that was evaluated
  std::string data_path;
  // Where the run was read from ("" when built in memory). Used in messages, never written.
  std::string source;

  // The condition called `name`, or nullptr.
  const ConditionResult* find(const std::string& name) const;
};

// results.json <-> RunResult. results_from_json() throws DataError naming `source` (a file name
// or a description) and the offending key, e.g. "results file 'runs/a/results.json': key
// \"conditions[2].metrics.MAE\": expected a number, got string". Unknown keys are ignored so that
// writers may add information; known keys must have the documented type. Condition names must be
// unique within a run.
nlohmann::json results_to_json(const RunResult& run);
RunResult results_from_json(const nlohmann::json& j, const std::string& source);
RunResult read_results(const std::string& path);                    // DataError on any problem
void write_results(const RunResult& run, const std::string& path);  // atomic; RunError on failure

// The synthetic benchmark's oracle: {"format": "robustmsa-oracle-1", "conditions": [...]} with the
// condition shape of results.json (mask_seed optional); optional "task", "suite", "seed",
// "data": {"path", "sha256"}. "format" may be absent (one suite's object taken out of a larger
// file) but must be "robustmsa-oracle-1" when present. Returned as a RunResult with variant
// "oracle" and shown as its own row.
RunResult oracle_from_json(const nlohmann::json& j, const std::string& source);
// The oracle of `suite` in an oracle file: the file itself when its "suite" (default "paper") is
// `suite`, else its "suites"[suite] object; nullopt when it has none for that suite. DataError
// naming the file when it cannot be read or parsed.
std::optional<RunResult> read_oracle(const std::string& path, const std::string& suite);

// Every file named results*.json under `dir` (recursively, in path order), parsed. Other files
// are skipped; a malformed results file throws DataError naming it. DataError if `dir` is not a
// readable directory. Finding nothing returns an empty vector.
std::vector<RunResult> collect_results(const std::string& dir);

// The metrics shown in the tables when none are requested.
//   regression: Non0_F1_score, Non0_acc_2, MAE, Corr, Mult_acc_7, Has0_F1_score
//   iemocap:    Happy_F1, Sad_F1, Angry_F1, Neutral_F1
//   sims:       Mult_acc_2, F1_score, Mult_acc_3, Mult_acc_5, MAE, Corr
// An unknown task returns an empty list (build_report then shows every metric it finds).
std::vector<std::string> default_metrics(const std::string& task);

struct ReportOptions {
  // The suite to report. Empty: the one suite all runs share (DataError if they do not). Set:
  // runs of other suites are left out and the report says how many.
  std::string suite;
  // Metrics for the tables, in order. Empty: default_metrics(task). report.csv / report.json
  // always hold every metric found.
  std::vector<std::string> metrics;
  // Seeds every variant should have. Empty: the union of the seeds found over all variants, so a
  // variant lacking a seed another variant has is flagged. Runs with other seeds are left out
  // and the report says so.
  std::vector<int64_t> seeds;
  int decimals = 4;  // digits after the point in Markdown and terminal tables
};

// One cell: one metric of one row under one column, over the row's expected seeds.
struct ReportCell {
  MeanStd stat;  // over the seeds that have a value; stat.n == 0 -> missing (mean/std NaN)
  int expected = 0;
  // Per expected seed, in the row's seed order; nullopt where the value is missing.
  std::vector<std::optional<double>> values;
  bool missing() const { return stat.n == 0; }
  bool partial() const { return stat.n < expected; }
};

struct ReportRow {
  std::string variant;
  bool oracle = false;
  std::vector<int64_t> seeds;     // expected seeds (the oracle: its one pseudo-seed)
  int seeds_found = 0;            // of those, how many have a results file
  std::vector<ReportCell> cells;  // one per column of the table
};

struct ReportTable {
  std::string id;     // "conditions", "frame", "rate", "mr" or "all" (unknown suites)
  std::string title;  // e.g. "Missing modalities"
  std::string metric;
  std::vector<std::string> columns;  // headers: "{l}", ..., "Avg", "{l,a,v}", "p=0.1", "AUILC"
  std::vector<std::string> keys;     // condition names or the derived "Avg" / "AUILC"
  std::vector<ReportRow> rows;       // variants in first-seen order, then the oracle
};

// Long format: every condition (incl. derived ones) × every metric × every row.
struct SummaryEntry {
  std::string variant;
  bool oracle = false;
  std::string condition;
  std::string metric;
  std::vector<int64_t> seeds;
  ReportCell cell;
};

// Something that should be there and is not. Empty condition: the whole seed is missing; empty
// metric: the whole condition is missing.
struct MissingEntry {
  std::string variant;
  std::optional<int64_t> seed;  // nullopt for the oracle
  std::string condition;
  std::string metric;
  std::string what;  // human-readable reason
};

// One variant against the report's first variant (the reference) on one metric of one summary
// condition (paper: Avg and complete; mmsa: AUILC), over the seeds both have: per seed the
// difference variant − reference, then its mean and the 95% Student-t interval of that mean.
struct PairedEntry {
  std::string variant;
  std::string reference;
  std::string condition;
  std::string metric;
  int n = 0;            // seeds with a value for both
  double mean = 0.0;    // mean difference (NaN when n == 0)
  double std = 0.0;     // sample std (n - 1) of the differences; NaN when n < 2
  double ci_low = 0.0;  // mean ∓ t(0.975, n - 1) · std / √n; NaN when n < 2
  double ci_high = 0.0;
  int better = 0;  // seeds on which the variant is better (lower for MAE, higher otherwise)
  int ties = 0;    // seeds with equal values
};

// The frame / rate / MR curve of a suite, for plotting.
struct ReportCurve {
  std::string id;        // file stem: "frame_curve", "rate_curve", "mr_curve"
  std::string x_label;   // e.g. "frame drop ratio p"
  std::string table_id;  // the tables holding its values ("frame", "rate", "mr")
  std::vector<double> x;
  std::vector<std::string> keys;  // condition names, aligned with x
};

struct Report {
  std::string suite;
  std::string task;
  std::string split;
  std::vector<std::string> metrics;      // table metrics
  std::vector<std::string> all_metrics;  // every metric found, table metrics first
  std::vector<std::string> variants;     // first-seen order (without the oracle)
  std::vector<int64_t> seeds;            // expected seeds
  std::map<std::string, std::vector<int64_t>> seeds_found;  // variant -> seeds with results
  std::vector<int64_t> mask_seeds;       // distinct mask seeds over all evaluated conditions
  std::vector<std::string> data_sha256;  // distinct data file hashes
  bool has_oracle = false;
  std::vector<std::string> conditions;  // every condition in report order (derived included)
  std::vector<ReportTable> tables;
  std::optional<ReportCurve> curve;
  std::vector<SummaryEntry> summary;
  std::vector<MissingEntry> missing;
  // Every other variant against the first, per table metric and summary condition; empty with
  // fewer than two variants.
  std::vector<PairedEntry> paired;
  std::vector<std::string> notes;  // warnings: mixed data files or mask seeds, runs left out...
  // The author's reading of the results (Markdown, e.g. why a variant wins or loses), shown under
  // "Discussion" in report.md and kept in report.json. Empty: no such section.
  std::string discussion;
  // Numbers the papers reported for the same protocol (src/report/reported.h), shown in a section
  // of their own ("Reported by the papers (not measured by robustmsa)") and in
  // report_reported.csv; never part of the tables, the summary or the missing values. Set by the
  // caller (build_report leaves it empty).
  std::optional<ReportedSection> reported;
  int decimals = 4;
};

// Aggregates the runs of one suite. Throws DataError when there is nothing to report, when the
// runs mix suites (and options.suite is empty) or tasks, or when one variant has two runs with the
// same seed (naming both files).
Report build_report(const std::vector<RunResult>& runs, const std::optional<RunResult>& oracle,
                    const ReportOptions& options);

struct WriteOptions {
  // gnuplot program (a name looked up on PATH, or a path). Empty: do not plot. When it cannot be
  // found, report.md says so and everything else is still written.
  std::string gnuplot = "gnuplot";
};

// Writes into out_dir (created if needed), every file atomically:
//   report.md, report.txt (the terminal table), report.csv (long: variant, condition, metric,
//   mean, std, n, expected), report_seeds.csv (variant, seed, condition, metric, value),
//   report.json (everything), report_reported.csv when report.reported is set (a stale one is
//   removed otherwise), and for suites with a curve <curve>.csv, <curve>.dat, <curve>.gp,
//   plus <curve>_<metric>.svg (and .png when gnuplot has a png terminal) when gnuplot runs.
// Throws RunError naming the path when a file cannot be written.
void write_report(const Report& report, const std::string& out_dir,
                  const WriteOptions& options = WriteOptions());

// The individual outputs, for tests and for the CLI.
std::string format_terminal_table(const Report& report);
// `plot_note`: a paragraph about the plots (which files, or why there are none); may be empty.
std::string format_markdown(const Report& report, const std::string& plot_note);
std::string format_summary_csv(const Report& report);
std::string format_seeds_csv(const Report& report);
nlohmann::json report_to_json(const Report& report);
// How one cell is printed: "0.8123 ± 0.0045", "0.8123" (one value), "missing", with " [k/n]"
// appended when only k of n expected seeds have a value.
std::string format_cell(const ReportCell& cell, int decimals);

}  // namespace robustmsa

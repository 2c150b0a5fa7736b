#include "run/reporting.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "data/protocol.h"
#include "run/run_dir.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace fs = std::filesystem;

void ReportedRequest::validate() const {
  if (!on()) {
    if (!file.empty()) {
      throw UsageError(str("--reported-file '", file,
                           "' needs --reported mosi|mosei|iemocap (the dataset your data file "
                           "holds)"));
    }
    return;
  }
  reported_task(dataset);  // UsageError for names other than mosi, mosei, iemocap
}

ReportedSection ReportedRequest::load(const std::string& suite, const std::string& task,
                                      const std::vector<std::string>& data_paths) const {
  validate();
  std::vector<std::string> notes;
  for (const std::string& p : data_paths) {
    if (p.empty()) {
      notes.push_back(
          "The results do not name their data file, so robustmsa could not check that it is not "
          "its synthetic benchmark.");
      continue;
    }
    const std::vector<std::string> markers = synthetic_markers(p);
    if (!markers.empty()) {
      throw UsageError(str("--reported ", dataset, ": the data file '", p,
                           "' is robustmsa's synthetic benchmark ('", markers.front(),
                           "' is beside it); the papers' numbers apply only to the real ", dataset,
                           " features, so they are not shown next to synthetic results"));
    }
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      notes.push_back(str("The data file '", p,
                          "' named by the results is not here, so robustmsa could not check that "
                          "it is not its synthetic benchmark."));
    }
  }
  const std::string path = file.empty() ? default_reported_path() : file;
  std::error_code ec;
  if (file.empty() && !fs::exists(path, ec)) {
    throw DataError(str("--reported: the default reported-numbers file '", path,
                        "' does not exist (it is read from the source tree robustmsa was built "
                        "from); pass --reported-file FILE"));
  }
  ReportedSection s = select_reported(read_reported(path), dataset, suite, task);
  s.notes.insert(s.notes.end(), notes.begin(), notes.end());
  return s;
}

void check_report_request(const ReportRequest& request) {
  request.reported.validate();
  if (!request.discussion_path.empty()) read_file(request.discussion_path);
}

Report report_results(const std::vector<RunResult>& results, const ReportRequest& request) {
  if (results.empty()) throw RunError("no results to report");
  const ReportedRequest& reported = request.reported;
  if (reported.on() && !request.oracle_path.empty()) {
    throw UsageError(str("--reported ", reported.dataset, " with --oracle '", request.oracle_path,
                         "': an oracle exists only for the synthetic benchmark, and the papers' "
                         "numbers apply only to the real datasets"));
  }
  // Checked before the oracle is read: an oracle beside the data file is what marks it synthetic.
  // (build_report then refuses results that mix suites or tasks.)
  std::optional<ReportedSection> section;
  if (reported.on()) {
    std::vector<std::string> paths;
    for (const RunResult& r : results) {
      if (std::find(paths.begin(), paths.end(), r.data_path) == paths.end()) {
        paths.push_back(r.data_path);
      }
    }
    section = reported.load(results.front().suite, results.front().task, paths);
  }
  std::optional<RunResult> oracle =
      find_oracle(request.data_path, results.front().suite, request.oracle_path);
  Report report = build_report(results, oracle, ReportOptions{});
  report.reported = std::move(section);
  if (!request.discussion_path.empty()) report.discussion = read_file(request.discussion_path);
  write_report(report, request.out_dir);
  return report;
}

std::vector<WrittenReport> report_directory(const std::string& dir, const std::string& out,
                                            const std::string& oracle_path,
                                            const std::string& discussion_path,
                                            const ReportedRequest& reported,
                                            const std::string& reference) {
  reported.validate();
  std::vector<RunResult> all = collect_results(dir);
  if (all.empty()) throw DataError(str("report: no results*.json under '", dir, "'"));
  if (!reference.empty()) {  // the reference variant first: every other is paired against it
    auto first = std::stable_partition(all.begin(), all.end(),
                                       [&](const RunResult& r) { return r.variant == reference; });
    if (first == all.begin()) {
      std::set<std::string> found;
      for (const auto& r : all) found.insert(r.variant);
      std::string names;
      for (const auto& v : found) names += (names.empty() ? "" : ", ") + v;
      throw UsageError(str("report --reference '", reference, "': no run of that variant under '",
                           dir, "' (found: ", names, ")"));
    }
  }
  std::map<std::string, std::vector<RunResult>> by_suite;
  for (auto& r : all) by_suite[r.suite].push_back(r);
  // The reported tables follow the paper suite's fixed table: with --reported, only that suite's
  // report gets them, and a directory without such results is refused.
  auto has_reported_tables = [](const std::string& suite) {
    const Suite* s = find_suite(suite);
    return s != nullptr && s->reported_tables;
  };
  if (reported.on() && std::none_of(by_suite.begin(), by_suite.end(), [&](const auto& kv) {
        return has_reported_tables(kv.first);
      })) {
    std::string suites;
    for (const auto& [suite, results] : by_suite) suites += (suites.empty() ? "" : ", ") + suite;
    throw UsageError(str("--reported ", reported.dataset,
                         ": the reported tables follow the `paper` suite's conditions, but '", dir,
                         "' holds results of suite(s) ", suites, " only"));
  }
  std::vector<WrittenReport> written;
  for (auto& [suite, results] : by_suite) {
    WrittenReport w;
    w.out_dir = out.empty() ? report_dir(dir) : out;
    if (by_suite.size() > 1) w.out_dir += "_" + suite;
    const bool with_reported = reported.on() && has_reported_tables(suite);
    if (reported.on() && !with_reported) {
      w.note = str("note: --reported applies to the paper suite; the ", suite, " report (",
                   w.out_dir, ") has no reported section");
    }
    ReportRequest req;
    req.out_dir = w.out_dir;
    req.data_path = results.front().data_path;
    req.oracle_path = oracle_path;
    req.discussion_path = discussion_path;
    if (with_reported) req.reported = reported;
    w.report = report_results(results, req);
    written.push_back(std::move(w));
  }
  return written;
}

SweepReport report_sweep(const std::string& sweep_dir, const std::string& oracle_path,
                         const ReportedRequest& reported) {
  if (reported.on()) {
    throw UsageError(str("--reported with the sweep directory '", sweep_dir,
                         "': a sweep may hold several datasets; run `robustmsa report "
                         "<sweep>/<dataset>/paper --reported <dataset>` for each real "
                         "dataset instead"));
  }
  SweepPlan plan = read_sweep_plan(sweep_dir);
  SweepReport out;
  out.dir = sweep_dir;
  out.cells = static_cast<int64_t>(plan.cells.size());
  // One report per (dataset, suite) over the finished cells, in plan order.
  std::vector<std::string> groups;
  std::map<std::string, std::vector<const SweepCell*>> by_group;
  for (const SweepCell& c : plan.cells) {
    if (!by_group.count(c.compare_out)) groups.push_back(c.compare_out);
    by_group[c.compare_out].push_back(&c);
    if (!sweep_cell_finished(c)) out.missing.push_back(c);
  }
  for (const std::string& g : groups) {
    std::vector<RunResult> results;
    for (const SweepCell* c : by_group[g])
      if (sweep_cell_finished(*c)) results.push_back(read_results(RunPaths(c->run_dir).results));
    const SweepCell& first = *by_group[g].front();
    SweepGroupReport group;
    group.dataset = first.dataset;
    group.suite = first.suite;
    group.finished = static_cast<int64_t>(results.size());
    group.cells = static_cast<int64_t>(by_group[g].size());
    if (!results.empty()) {
      ReportRequest req;
      req.out_dir = report_dir(g);
      req.data_path = first.data;
      req.oracle_path = oracle_path;
      WrittenReport w;
      w.out_dir = req.out_dir;
      w.report = report_results(results, req);
      group.written = std::move(w);
    }
    out.groups.push_back(std::move(group));
  }
  return out;
}

std::string format_sweep_missing(const SweepReport& r) {
  std::ostringstream out;
  if (r.missing.empty()) {
    out << "\nsweep " << r.dir << ": all " << r.cells << " cell(s) finished\n";
    return out.str();
  }
  out << "\nsweep " << r.dir << ": " << r.missing.size() << " of " << r.cells
      << " cell(s) missing (rerun `robustmsa sweep` with the same grid to finish them):\n";
  for (const SweepCell& c : r.missing)
    out << "  cell " << c.id << ": " << c.dataset << " " << c.suite << " " << c.variant << " seed "
        << c.seed << " (" << c.run_dir
        << (fs::exists(RunPaths(c.run_dir).checkpoint) ? ", has a checkpoint" : ", not started")
        << ")\n";
  return out.str();
}

}  // namespace robustmsa

// The report's text outputs (report/report.h): the terminal table, report.md, the CSV files
// and report.json.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/protocol.h"
#include "report/format.h"
#include "report/report.h"
#include "report/report_parts.h"
#include "util/error.h"

namespace robustmsa {

using nlohmann::json;
using report_detail::join;
using report_detail::kComplete;

namespace {

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string seeds_column(const ReportRow& row) {
  if (row.oracle) return "—";
  const int expected = static_cast<int>(row.seeds.size());
  return row.seeds_found == expected ? str(expected) : str(row.seeds_found, "/", expected);
}

std::string missing_line(const MissingEntry& m) {
  std::string who = m.variant;
  if (m.seed) who += str(" seed ", *m.seed);
  return str(who, ": ", m.what);
}

std::string protocol_description(const Report& r) {
  const Suite* s = find_suite(r.suite);
  return s ? s->protocol_description : "unknown suite";
}

}  // namespace

std::string format_cell(const ReportCell& cell, int decimals) {
  if (cell.missing()) return "missing";
  std::string s = fixed(cell.stat.mean, decimals);
  if (cell.stat.n >= 2) s += " ± " + fixed(cell.stat.std, decimals);
  if (cell.partial()) s += str(" [", cell.stat.n, "/", cell.expected, "]");
  return s;
}

namespace {

std::string signed_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "—";
  return (v >= 0 ? "+" : "−") + fixed(std::fabs(v), decimals);
}

std::string condition_header(const std::string& condition) {
  return condition == kComplete ? "{l,a,v}" : condition;
}

std::string paired_interval(const PairedEntry& e, int decimals) {
  if (e.n < 2) return "—";
  return "[" + signed_fixed(e.ci_low, decimals) + ", " + signed_fixed(e.ci_high, decimals) + "]";
}

std::string paired_better(const PairedEntry& e) {
  std::string s = str(e.better, " of ", e.n);
  if (e.ties > 0) s += str(" (", e.ties, " tied)");
  return s;
}

const char kPairedExplanation[] =
    "Per seed, the variant's value minus the reference's on the same seed (seeds both have), "
    "then the mean of these differences and its 95% confidence interval (Student t, n − 1 "
    "degrees of freedom). *Better on* counts the seeds on which the variant is better (lower for "
    "MAE, higher for every other metric). An interval that contains 0 means these seeds do not "
    "separate the two.";

}  // namespace

std::string format_terminal_table(const Report& r) {
  std::ostringstream out;
  out << "suite " << r.suite << " · task " << r.task << " · split " << r.split << " · seeds "
      << join(r.seeds, ",") << " · mask seed " << join(r.mask_seeds, ",")
      << " · mean ± std (n-1) over seeds\n";
  for (const ReportTable& t : r.tables) {
    std::vector<std::vector<std::string>> grid;
    std::vector<std::string> header = {"variant", "seeds"};
    header.insert(header.end(), t.columns.begin(), t.columns.end());
    grid.push_back(header);
    for (const ReportRow& row : t.rows) {
      std::vector<std::string> line = {row.variant, seeds_column(row)};
      for (const ReportCell& c : row.cells) line.push_back(format_cell(c, r.decimals));
      grid.push_back(std::move(line));
    }
    out << "\n" << t.title << " — " << t.metric << "\n";
    out << format_text_grid(grid, 2);
  }
  if (!r.paired.empty()) {
    const std::string& metric = r.metrics.front();
    out << "\nPaired against " << r.paired.front().reference << " — " << metric
        << " (variant − reference per seed):\n";
    std::vector<std::vector<std::string>> grid = {
        {"variant", "condition", "mean", "95% CI", "better on"}};
    for (const PairedEntry& e : r.paired) {
      if (e.metric != metric) continue;
      grid.push_back({e.variant, condition_header(e.condition), signed_fixed(e.mean, r.decimals),
                      paired_interval(e, r.decimals), paired_better(e)});
    }
    out << format_text_grid(grid, 2);
  }
  if (r.reported) out << format_reported_terminal(*r.reported);
  if (!r.missing.empty()) {
    out << "\nMissing (" << r.missing.size() << "):\n";
    const size_t shown = std::min<size_t>(r.missing.size(), 20);
    for (size_t i = 0; i < shown; ++i) out << "  " << missing_line(r.missing[i]) << "\n";
    if (shown < r.missing.size()) {
      out << "  ... and " << r.missing.size() - shown << " more (report.md lists all)\n";
    }
  }
  for (const std::string& n : r.notes) out << "note: " << n << "\n";
  return out.str();
}

std::string format_markdown(const Report& r, const std::string& plot_note) {
  std::ostringstream out;
  out << "# robustmsa report — suite `" << r.suite << "`\n\n";
  out << "- **Protocol** (DESIGN §3): " << protocol_description(r) << ".\n";
  out << "- **Task**: " << r.task << "; **split**: " << r.split
      << "; **data** sha256: " << join(r.data_sha256, ", ") << ".\n";
  out << "- **Mask seed**: " << join(r.mask_seeds, ", ")
      << (r.mask_seeds.size() == 1 ? " (the same for every condition and run)" : "") << ".\n";
  out << "- **Seeds** expected: " << join(r.seeds, ", ") << " (" << r.seeds.size() << ").";
  for (const std::string& v : r.variants) {
    const auto it = r.seeds_found.find(v);
    const std::vector<int64_t> found =
        it == r.seeds_found.end() ? std::vector<int64_t>() : it->second;
    std::vector<int64_t> lacking;
    for (int64_t s : r.seeds) {
      if (std::find(found.begin(), found.end(), s) == found.end()) lacking.push_back(s);
    }
    out << (v == r.variants.front() ? " Found: " : ", ") << "`" << v << "` "
        << (r.seeds.size() - lacking.size()) << "/" << r.seeds.size();
    if (!lacking.empty()) out << " (missing " << join(lacking, ", ") << ")";
  }
  out << ".\n";
  out << "- **Cells**: mean ± sample standard deviation (n − 1) over seeds of the values as the "
         "metrics return them (fractions, not percentages), shown to "
      << r.decimals
      << " decimals. `[k/n]` marks a cell computed from only k of the n expected seeds; `missing` "
         "marks a cell with no value. Both are listed under *Missing values*.\n";
  const Suite* suite = find_suite(r.suite);
  if (suite && !suite->averaged.empty()) {
    out << "- **Avg**: per seed, the mean of the six incomplete conditions {l} … {a,v} (only when "
           "all six are present for that seed), then mean ± std over seeds. {l,a,v} is the "
           "complete condition.\n";
  }
  if (suite && suite->auilc) {
    out << "- **AUILC**: per seed, the trapezoid area under the metric-vs-rate curve divided by "
           "the rate span (a mean level), then mean ± std over seeds.\n";
  }
  if (r.reported) {
    out << "- **Reported numbers**: the section *" << kReportedTitle
        << "* holds published numbers for " << r.reported->dataset
        << ", in percent as printed, with their sources. They were not measured here and are in "
           "no table, mean or std of this report's own rows.\n";
  }
  if (r.has_oracle) {
    out << "- **Row `oracle`**: not a trained model — the synthetic benchmark's oracle, the best "
           "score any model can reach given what survives the masks (one value, no seeds).\n";
  }
  out << "- **Metric definitions**: docs/metrics.md (MMSA's names and definitions). ";
  if (r.task == "iemocap") {
    out << "Per emotion, `<Emotion>_Acc` and `<Emotion>_F1` compare the argmax of the two logits "
           "with the label; F1 is scikit-learn's support-weighted F1 with the label as the truth, "
           "`f1_score(y, p, average='weighted')`, as MulT's eval_iemocap.\n";
  } else if (r.task == "sims") {
    out << "Values clipped to [-1, 1]; `Mult_acc_2` bins [-1,0] / (0,1], `Mult_acc_3` "
           "[-1,-0.1] / (-0.1,0.1] / (0.1,1], `Mult_acc_5` [-1,-0.7] / (-0.7,-0.1] / (-0.1,0.1] / "
           "(0.1,0.7] / (0.7,1]; `F1_score` is the support-weighted F1 of the 2-class version with "
           "the label as the truth.\n";
  } else {
    out << "`Non0_F1_score` is scikit-learn's support-weighted F1 with the labels as the truth, "
           "`f1_score(y > 0, p > 0, average='weighted')` over samples with y ≠ 0; "
           "`Non0_F1_score_mult` is the same with the arguments swapped, as MulT's code computes "
           "it (weighted F1 is not symmetric). `Has0_*` use y ≥ 0 vs p ≥ 0 over all samples. "
           "`Mult_acc_7`/`Mult_acc_5` clip to ±3/±2 and round half to even. We read the "
           "UMDF/CorrKD tables' \"F1\" as `Non0_F1_score`.\n";
  }

  std::string section;
  for (const ReportTable& t : r.tables) {
    if (t.title != section) {
      out << "\n## " << t.title << "\n";
      section = t.title;
    }
    out << "\n### " << t.metric << "\n\n| variant | seeds |";
    for (const std::string& c : t.columns) out << " " << markdown_escape(c) << " |";
    out << "\n|---|---|";
    for (size_t i = 0; i < t.columns.size(); ++i) out << "---:|";
    out << "\n";
    for (const ReportRow& row : t.rows) {
      out << "| " << (row.oracle ? "*oracle*" : markdown_escape(row.variant)) << " | "
          << seeds_column(row) << " |";
      for (const ReportCell& c : row.cells) out << " " << format_cell(c, r.decimals) << " |";
      out << "\n";
    }
  }
  if (!r.paired.empty()) {
    out << "\n## Paired differences against `" << markdown_escape(r.paired.front().reference)
        << "`\n\n"
        << kPairedExplanation << "\n\n"
        << "| variant | condition | metric | mean difference | 95% CI | better on |\n"
        << "|---|---|---|---:|---:|---:|\n";
    for (const PairedEntry& e : r.paired) {
      out << "| " << markdown_escape(e.variant) << " | " << condition_header(e.condition) << " | "
          << e.metric << " | " << signed_fixed(e.mean, r.decimals) << " | "
          << paired_interval(e, r.decimals) << " | " << paired_better(e) << " |\n";
    }
  }
  if (r.reported) out << format_reported_markdown(*r.reported);
  if (!plot_note.empty()) out << "\n## Plots\n\n" << plot_note << "\n";
  out << "\n## Missing values\n\n";
  if (r.missing.empty()) {
    out << "None: every variant has every expected seed, condition and table metric.\n";
  } else {
    for (const MissingEntry& m : r.missing) out << "- " << markdown_escape(missing_line(m)) << "\n";
  }
  if (!r.notes.empty()) {
    out << "\n## Notes\n\n";
    for (const std::string& n : r.notes) out << "- " << n << "\n";
  }
  if (!r.discussion.empty()) {
    out << "\n## Discussion\n\n" << r.discussion;
    if (r.discussion.back() != '\n') out << "\n";
  }
  out << "\nFiles: report.csv (mean/std/n per variant, condition, metric — all metrics), "
         "report_seeds.csv (every value per seed), report.json (everything)"
      << (r.reported ? "; report_reported.csv (the reported numbers, not measured)" : "") << ".\n";
  return out.str();
}

std::string format_summary_csv(const Report& r) {
  std::ostringstream out;
  out << "variant,condition,metric,mean,std,n,expected\n";
  for (const SummaryEntry& e : r.summary) {
    out << csv_field(e.variant) << "," << csv_field(e.condition) << "," << csv_field(e.metric)
        << "," << (e.cell.missing() ? "" : exact(e.cell.stat.mean)) << ","
        << (e.cell.stat.n >= 2 ? exact(e.cell.stat.std) : "") << "," << e.cell.stat.n << ","
        << e.cell.expected << "\n";
  }
  return out.str();
}

std::string format_seeds_csv(const Report& r) {
  std::ostringstream out;
  out << "variant,seed,condition,metric,value\n";
  for (const SummaryEntry& e : r.summary) {
    for (size_t i = 0; i < e.seeds.size(); ++i) {
      out << csv_field(e.variant) << "," << (e.oracle ? "" : str(e.seeds[i])) << ","
          << csv_field(e.condition) << "," << csv_field(e.metric) << ","
          << (e.cell.values[i] ? exact(*e.cell.values[i]) : "") << "\n";
    }
  }
  return out.str();
}

namespace {

json cell_to_json(const ReportCell& c, const std::vector<int64_t>& seeds, bool oracle) {
  json values = json::array();
  for (size_t i = 0; i < seeds.size(); ++i) {
    values.push_back({{"seed", oracle ? json(nullptr) : json(seeds[i])},
                      {"value", c.values[i] ? json(*c.values[i]) : json(nullptr)}});
  }
  return {{"mean", number_or_null(c.stat.mean)},
          {"std", c.stat.n >= 2 ? number_or_null(c.stat.std) : json(nullptr)},
          {"n", c.stat.n},
          {"expected", c.expected},
          {"values", std::move(values)}};
}

}  // namespace

json report_to_json(const Report& r) {
  json variants = json::array();
  for (const std::string& v : r.variants) {
    const auto it = r.seeds_found.find(v);
    variants.push_back(
        {{"name", v},
         {"seeds_found", it == r.seeds_found.end() ? json::array() : json(it->second)}});
  }
  json tables = json::array();
  for (const ReportTable& t : r.tables) {
    json rows = json::array();
    for (const ReportRow& row : t.rows) {
      json cells = json::array();
      for (const ReportCell& c : row.cells) cells.push_back(cell_to_json(c, row.seeds, row.oracle));
      rows.push_back({{"variant", row.variant},
                      {"oracle", row.oracle},
                      {"seeds", row.seeds},
                      {"seeds_found", row.seeds_found},
                      {"cells", std::move(cells)}});
    }
    tables.push_back({{"id", t.id},
                      {"title", t.title},
                      {"metric", t.metric},
                      {"columns", t.columns},
                      {"keys", t.keys},
                      {"rows", std::move(rows)}});
  }
  json summary = json::array();
  for (const SummaryEntry& e : r.summary) {
    json entry = cell_to_json(e.cell, e.seeds, e.oracle);
    entry["variant"] = e.variant;
    entry["oracle"] = e.oracle;
    entry["condition"] = e.condition;
    entry["metric"] = e.metric;
    summary.push_back(std::move(entry));
  }
  json missing = json::array();
  for (const MissingEntry& m : r.missing) {
    missing.push_back({{"variant", m.variant},
                       {"seed", m.seed ? json(*m.seed) : json(nullptr)},
                       {"condition", m.condition},
                       {"metric", m.metric},
                       {"what", m.what}});
  }
  json paired = json::array();
  for (const PairedEntry& e : r.paired) {
    paired.push_back({{"variant", e.variant},
                      {"reference", e.reference},
                      {"condition", e.condition},
                      {"metric", e.metric},
                      {"n", e.n},
                      {"mean", number_or_null(e.mean)},
                      {"std", number_or_null(e.std)},
                      {"ci95", {number_or_null(e.ci_low), number_or_null(e.ci_high)}},
                      {"better", e.better},
                      {"ties", e.ties}});
  }
  json out = {{"format", kReportFormat},
              {"suite", r.suite},
              {"task", r.task},
              {"split", r.split},
              {"metrics", r.metrics},
              {"all_metrics", r.all_metrics},
              {"variants", std::move(variants)},
              {"seeds", r.seeds},
              {"mask_seeds", r.mask_seeds},
              {"data_sha256", r.data_sha256},
              {"has_oracle", r.has_oracle},
              {"conditions", r.conditions},
              {"tables", std::move(tables)},
              {"summary", std::move(summary)},
              {"missing", std::move(missing)},
              {"paired", std::move(paired)},
              {"paired_definition",
               "per seed variant minus reference (the first variant) over the seeds both have; "
               "mean, sample std, 95% Student-t interval of the mean; better = seeds on which the "
               "variant is better (lower MAE, higher otherwise)"},
              {"notes", r.notes},
              {"discussion", r.discussion},
              {"metric_definitions", "docs/metrics.md"},
              {"aggregation",
               "mean and sample std (n-1) over seeds; Avg per seed over the six incomplete "
               "conditions; AUILC per seed = trapezoid area / rate span"}};
  if (r.reported) out["reported"] = reported_to_json(*r.reported);
  if (r.curve) {
    out["curve"] = {{"id", r.curve->id},
                    {"x_label", r.curve->x_label},
                    {"x", r.curve->x},
                    {"conditions", r.curve->keys}};
  }
  return out;
}

}  // namespace robustmsa

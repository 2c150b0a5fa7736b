// Results files, aggregation over seeds (numbers computed by hand), missing values, writers and
// the atomic file helpers.
#include "report/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;

using robustmsa::test_util::TempDir;

const std::vector<std::string> kPaperConditions = {"{l}",   "{a}",   "{v}",     "{l,a}",
                                                   "{l,v}", "{a,v}", "complete"};

// value(condition index in kPaperConditions or 7+ for frame points, metric) for one run.
using ValueFn = std::function<double(int, const std::string&)>;

RunResult make_run(const std::string& variant, int64_t seed, const ValueFn& value,
                   const std::vector<std::string>& frames = {"frame=1.0", "frame=0.1",
                                                             "frame=0.5"}) {
  RunResult r;
  r.variant = variant;
  r.model = variant;
  r.seed = seed;
  r.suite = "paper";
  r.task = "regression";
  r.data_sha256 = "abc123";
  r.data_path = "synth.pkl";
  std::vector<std::string> names = kPaperConditions;
  names.insert(names.end(), frames.begin(), frames.end());
  for (size_t i = 0; i < names.size(); ++i) {
    ConditionResult c;
    c.name = names[i];
    c.protocol = i < 6 ? "condition" : (i == 6 ? "complete" : "frame");
    c.parameter = i < 6 ? names[i].substr(1, names[i].size() - 2) : "";
    c.mask_seed = 0;
    for (const char* m : {"Non0_F1_score", "MAE"}) c.metrics[m] = value(static_cast<int>(i), m);
    r.conditions.push_back(std::move(c));
  }
  return r;
}

// umdf seed k (0, 1, 2): Non0_F1_score = 0.5 + 0.05 i + 0.01 k, MAE = 1 - 0.05 i + 0.02 k for the
// seven paper conditions; frame p: 0.8 - 0.3 p + 0.01 k.
ValueFn umdf_values(int k) {
  return [k](int i, const std::string& metric) {
    if (i >= 7) return 0.0;  // overwritten below for frames
    return metric == "MAE" ? 1.0 - 0.05 * i + 0.02 * k : 0.5 + 0.05 * i + 0.01 * k;
  };
}

// mult seed k: Non0_F1_score = 0.4 + 0.02 i + 0.03 k, MAE = 1.2.
ValueFn mult_values(int k) {
  return [k](int i, const std::string& metric) {
    if (i >= 7) return 0.0;
    return metric == "MAE" ? 1.2 : 0.4 + 0.02 * i + 0.03 * k;
  };
}

void set_frames(RunResult& r, int k) {
  for (ConditionResult& c : r.conditions) {
    if (c.name.rfind("frame=", 0) != 0) continue;
    const double p = std::stod(c.name.substr(6));
    c.metrics["Non0_F1_score"] = 0.8 - 0.3 * p + 0.01 * k;
    c.metrics["MAE"] = 0.5 + p;
  }
}

// mult first so that row order (first seen) is mult, umdf. mult seed 1113 lacks "{a}".
std::vector<RunResult> fake_runs() {
  std::vector<RunResult> runs;
  for (int k = 0; k < 3; ++k) {
    RunResult m = make_run("mult", 1111 + k, mult_values(k));
    set_frames(m, k);
    if (k == 2) m.conditions.erase(m.conditions.begin() + 1);  // "{a}"
    runs.push_back(m);
    RunResult u = make_run("umdf", 1111 + k, umdf_values(k));
    set_frames(u, k);
    runs.push_back(u);
  }
  return runs;
}

const ReportTable& table(const Report& r, const std::string& id, const std::string& metric) {
  for (const ReportTable& t : r.tables) {
    if (t.id == id && t.metric == metric) return t;
  }
  throw std::runtime_error("no table " + id + " " + metric);
}

size_t column(const ReportTable& t, const std::string& key) {
  for (size_t i = 0; i < t.keys.size(); ++i) {
    if (t.keys[i] == key) return i;
  }
  throw std::runtime_error("no column " + key);
}

const ReportRow& row(const ReportTable& t, const std::string& variant) {
  for (const ReportRow& r : t.rows) {
    if (r.variant == variant) return r;
  }
  throw std::runtime_error("no row " + variant);
}

const double kStd2 = 0.03 / std::sqrt(2.0);  // sample std of two values 0.03 apart

TEST(BuildReport, PaperTablesByHand) {
  const Report r = build_report(fake_runs(), std::nullopt, ReportOptions{});
  EXPECT_EQ(r.suite, "paper");
  EXPECT_EQ(r.task, "regression");
  EXPECT_EQ(r.variants, (std::vector<std::string>{"mult", "umdf"}));
  EXPECT_EQ(r.seeds, (std::vector<int64_t>{1111, 1112, 1113}));
  EXPECT_EQ(r.mask_seeds, (std::vector<int64_t>{0}));
  EXPECT_EQ(r.metrics, default_metrics("regression"));
  const ReportTable& t = table(r, "conditions", "Non0_F1_score");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}",
                                                 "Avg", "{l,a,v}"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].variant, "mult");

  const ReportRow& u = row(t, "umdf");
  // {l}: 0.50, 0.51, 0.52 -> 0.51 ± 0.01.
  const ReportCell& l = u.cells[column(t, "{l}")];
  EXPECT_NEAR(l.stat.mean, 0.51, 1e-12);
  EXPECT_NEAR(l.stat.std, 0.01, 1e-12);
  EXPECT_EQ(l.stat.n, 3);
  EXPECT_EQ(l.expected, 3);
  // Avg per seed: 0.5 + 0.05 * 2.5 + 0.01 k = 0.625 + 0.01 k -> 0.635 ± 0.01.
  const ReportCell& avg = u.cells[column(t, "Avg")];
  EXPECT_NEAR(avg.stat.mean, 0.635, 1e-12);
  EXPECT_NEAR(avg.stat.std, 0.01, 1e-12);
  EXPECT_NEAR(*avg.values[1], 0.635, 1e-12);
  // complete: 0.8 + 0.01 k.
  EXPECT_NEAR(u.cells[column(t, "complete")].stat.mean, 0.81, 1e-12);

  const ReportRow& m = row(t, "mult");
  // {a} lacks seed 1113: 0.42, 0.45 -> 0.435 ± 0.0212, 2 of 3.
  const ReportCell& a = m.cells[column(t, "{a}")];
  EXPECT_NEAR(a.stat.mean, 0.435, 1e-12);
  EXPECT_NEAR(a.stat.std, kStd2, 1e-12);
  EXPECT_EQ(a.stat.n, 2);
  EXPECT_EQ(a.expected, 3);
  EXPECT_FALSE(a.values[2].has_value());
  EXPECT_EQ(format_cell(a, 4), "0.4350 ± 0.0212 [2/3]");
  // Avg of seed 1113 cannot be formed without {a}: the seeds 1111, 1112 give 0.45, 0.48.
  const ReportCell& mavg = m.cells[column(t, "Avg")];
  EXPECT_NEAR(mavg.stat.mean, 0.465, 1e-12);
  EXPECT_EQ(mavg.stat.n, 2);
  EXPECT_TRUE(mavg.partial());
  // MAE table: mult is 1.2 everywhere -> std 0.
  const ReportTable& mae = table(r, "conditions", "MAE");
  EXPECT_EQ(format_cell(row(mae, "mult").cells[column(mae, "{l}")], 3), "1.200 ± 0.000");

  // Frame table: columns sorted by p whatever the order in the files.
  const ReportTable& f = table(r, "frame", "Non0_F1_score");
  EXPECT_EQ(f.columns, (std::vector<std::string>{"p=0.1", "p=0.5", "p=1.0"}));
  EXPECT_NEAR(row(f, "umdf").cells[0].stat.mean, 0.8 - 0.03 + 0.01, 1e-12);
  ASSERT_TRUE(r.curve.has_value());
  EXPECT_EQ(r.curve->id, "frame_curve");
  EXPECT_EQ(r.curve->x, (std::vector<double>{0.1, 0.5, 1.0}));

  // Missing: exactly mult seed 1113 condition {a}.
  ASSERT_EQ(r.missing.size(), 1u);
  EXPECT_EQ(r.missing[0].variant, "mult");
  EXPECT_EQ(r.missing[0].seed, 1113);
  EXPECT_EQ(r.missing[0].condition, "{a}");
  EXPECT_EQ(r.missing[0].metric, "");

  // The metrics asked for but absent everywhere are named in the notes.
  bool noted = false;
  for (const std::string& n : r.notes)
    noted |= n.find("\"Corr\" is in no results file") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(BuildReport, MissingSeedIsFlaggedNotHidden) {
  std::vector<RunResult> runs = fake_runs();
  runs.erase(runs.begin() + 5);  // umdf seed 1113
  const Report r = build_report(runs, std::nullopt, ReportOptions{});
  const ReportTable& t = table(r, "conditions", "Non0_F1_score");
  const ReportRow& u = row(t, "umdf");
  EXPECT_EQ(u.seeds_found, 2);
  const ReportCell& l = u.cells[column(t, "{l}")];
  EXPECT_EQ(l.stat.n, 2);
  EXPECT_EQ(l.expected, 3);
  EXPECT_NEAR(l.stat.mean, 0.505, 1e-12);
  bool found = false;
  for (const MissingEntry& e : r.missing) {
    found |= e.variant == "umdf" && e.seed == 1113 && e.condition.empty();
  }
  EXPECT_TRUE(found);
  const std::string text = format_terminal_table(r);
  EXPECT_NE(text.find("umdf seed 1113: no results for seed 1113"), std::string::npos) << text;
  EXPECT_NE(text.find("2/3"), std::string::npos);
  const std::string md = format_markdown(r, "");
  EXPECT_NE(md.find("`umdf` 2/3 (missing 1113)"), std::string::npos) << md;
  EXPECT_NE(md.find("0.5050 ± 0.0071 [2/3]"), std::string::npos) << md;
}

TEST(BuildReport, RequestedSeedsMakeAbsentOnesMissing) {
  ReportOptions opt;
  opt.seeds = {1111, 1112, 1113, 1114};
  const Report r = build_report(fake_runs(), std::nullopt, opt);
  const ReportTable& t = table(r, "conditions", "Non0_F1_score");
  EXPECT_EQ(row(t, "umdf").cells[0].expected, 4);
  EXPECT_EQ(row(t, "umdf").cells[0].stat.n, 3);
  int seed_missing = 0;
  for (const MissingEntry& e : r.missing) seed_missing += e.seed == 1114 ? 1 : 0;
  EXPECT_EQ(seed_missing, 2);  // both variants
}

TEST(BuildReport, OracleRow) {
  RunResult oracle = make_run("oracle", 0, [](int i, const std::string& metric) {
    return metric == "MAE" ? 0.3 : 0.9 + 0.01 * i;
  });
  set_frames(oracle, 0);
  oracle.variant = "oracle";
  const Report r = build_report(fake_runs(), oracle, ReportOptions{});
  EXPECT_TRUE(r.has_oracle);
  const ReportTable& t = table(r, "conditions", "Non0_F1_score");
  ASSERT_EQ(t.rows.size(), 3u);
  const ReportRow& o = t.rows.back();
  EXPECT_TRUE(o.oracle);
  EXPECT_NEAR(o.cells[column(t, "Avg")].stat.mean, 0.925, 1e-12);
  EXPECT_EQ(format_cell(o.cells[column(t, "{v}")], 4), "0.9200");
  const std::string md = format_markdown(r, "");
  EXPECT_NE(md.find("| *oracle* | — | 0.9000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Row `oracle`"), std::string::npos);
}

TEST(BuildReport, DiscussionSectionOnlyWhenGiven) {
  Report r = build_report(fake_runs(), std::nullopt, ReportOptions{});
  EXPECT_EQ(format_markdown(r, "").find("## Discussion"), std::string::npos);
  r.discussion = "UMDF is *within one std* of its ablation.";
  const std::string md = format_markdown(r, "");
  const auto at = md.find("## Discussion\n\nUMDF is *within one std* of its ablation.\n");
  ASSERT_NE(at, std::string::npos) << md;
  EXPECT_GT(at, md.find("## Missing values"));  // after the tables and the missing values
  EXPECT_EQ(report_to_json(r).at("discussion"), r.discussion);
}

const PairedEntry& paired(const Report& r, const std::string& condition,
                          const std::string& metric) {
  for (const PairedEntry& e : r.paired) {
    if (e.condition == condition && e.metric == metric) return e;
  }
  throw std::runtime_error("no paired entry " + condition + " " + metric);
}

TEST(BuildReport, PairedDifferencesAgainstTheFirstVariant) {
  const Report r = build_report(fake_runs(), std::nullopt, ReportOptions{});
  ASSERT_FALSE(r.paired.empty());
  // Avg: umdf 0.625 + 0.01 k, mult 0.45 + 0.03 k, but mult has no Avg on seed 1113 ({a} lacks):
  // differences 0.175, 0.155 on two seeds; t(0.975, 1) = 12.7062 (scipy.stats.t.ppf).
  const PairedEntry& avg = paired(r, "Avg", "Non0_F1_score");
  EXPECT_EQ(avg.variant, "umdf");
  EXPECT_EQ(avg.reference, "mult");
  EXPECT_EQ(avg.n, 2);
  EXPECT_NEAR(avg.mean, 0.165, 1e-12);
  EXPECT_NEAR(avg.std, 0.02 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(avg.ci_high - avg.mean, 12.706204736174694 * 0.01, 1e-8);
  EXPECT_NEAR(avg.mean - avg.ci_low, 12.706204736174694 * 0.01, 1e-8);
  EXPECT_EQ(avg.better, 2);
  // Complete: 0.8 + 0.01 k against 0.52 + 0.03 k: 0.28, 0.26, 0.24; t(0.975, 2) = 4.302653.
  const PairedEntry& complete = paired(r, "complete", "Non0_F1_score");
  EXPECT_EQ(complete.n, 3);
  EXPECT_NEAR(complete.mean, 0.26, 1e-12);
  EXPECT_NEAR(complete.ci_high, 0.26 + 4.302652729749462 * 0.02 / std::sqrt(3.0), 1e-8);
  // MAE: lower is better, so umdf's smaller values count as better.
  const PairedEntry& mae = paired(r, "Avg", "MAE");
  EXPECT_NEAR(mae.mean, -0.315, 1e-12);
  EXPECT_EQ(mae.better, 2);
  // A metric in no file: no pairs, no interval.
  const PairedEntry& corr = paired(r, "Avg", "Corr");
  EXPECT_EQ(corr.n, 0);
  EXPECT_TRUE(std::isnan(corr.ci_low));

  const std::string md = format_markdown(r, "");
  EXPECT_NE(md.find("## Paired differences against `mult`"), std::string::npos) << md;
  EXPECT_NE(md.find("| umdf | Avg | Non0_F1_score | +0.1650 | [+0.0379, +0.2921] | 2 of 2 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| umdf | {l,a,v} | MAE |"), std::string::npos) << md;
  const std::string term = format_terminal_table(r);
  EXPECT_NE(term.find("Paired against mult — Non0_F1_score"), std::string::npos) << term;
  const auto j = report_to_json(r).at("paired");
  ASSERT_EQ(j.size(), r.paired.size());
  EXPECT_EQ(j[0].at("reference"), "mult");

  // One variant: nothing to pair.
  std::vector<RunResult> one;
  for (const RunResult& run : fake_runs())
    if (run.variant == "umdf") one.push_back(run);
  const Report single = build_report(one, std::nullopt, ReportOptions{});
  EXPECT_TRUE(single.paired.empty());
  EXPECT_EQ(format_markdown(single, "").find("Paired differences"), std::string::npos);
}

TEST(BuildReport, MmsaSuiteAuilcPerSeed) {
  std::vector<RunResult> runs;
  for (int k = 0; k < 3; ++k) {
    RunResult r;
    r.variant = "tfr";
    r.seed = 1111 + k;
    r.suite = "mmsa";
    r.task = "regression";
    for (double rate : {0.0, 0.3, 0.9}) {
      ConditionResult c;
      char name[32];
      std::snprintf(name, sizeof name, "rate=%.1f", rate);
      c.name = name;
      c.protocol = "frame_rate";
      // Linear in the rate: AUILC = value at the middle of the span, 0.8 - 0.5 * 0.45 + 0.01 k.
      c.metrics["Non0_F1_score"] = 0.8 - 0.5 * rate + 0.01 * k;
      r.conditions.push_back(c);
    }
    runs.push_back(r);
  }
  ReportOptions opt;
  opt.metrics = {"Non0_F1_score"};
  const Report r = build_report(runs, std::nullopt, opt);
  const ReportTable& t = table(r, "rate", "Non0_F1_score");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"r=0.0", "r=0.3", "r=0.9", "AUILC"}));
  const ReportCell& a = t.rows[0].cells[3];
  EXPECT_NEAR(a.stat.mean, 0.585, 1e-12);
  EXPECT_NEAR(a.stat.std, 0.01, 1e-12);
  EXPECT_EQ(r.curve->id, "rate_curve");
  EXPECT_TRUE(r.missing.empty());
}

TEST(BuildReport, GcnetAndUnknownSuites) {
  RunResult r;
  r.variant = "gcnet";
  r.suite = "gcnet";
  r.task = "iemocap";
  for (const char* name : {"MR=0.7", "MR=0.0", "MR=0.3", "complete"}) {
    ConditionResult c;
    c.name = name;
    c.protocol = "modality_drop";
    c.metrics["Happy_F1"] = 0.5;
    r.conditions.push_back(c);
  }
  const Report g = build_report({r}, std::nullopt, ReportOptions{});
  EXPECT_EQ(g.metrics, default_metrics("iemocap"));
  const ReportTable& t = table(g, "mr", "Happy_F1");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"MR=0.0", "MR=0.3", "MR=0.7"}));
  EXPECT_EQ(g.curve->id, "mr_curve");
  // "complete" is outside the gcnet layout: kept in the summary and said so.
  EXPECT_NE(std::find(g.conditions.begin(), g.conditions.end(), "complete"), g.conditions.end());
  bool noted = false;
  for (const std::string& n : g.notes)
    noted |= n.find("outside the gcnet layout") != std::string::npos;
  EXPECT_TRUE(noted);

  r.suite = "custom";
  const Report u = build_report({r}, std::nullopt, ReportOptions{});
  const ReportTable& all = table(u, "all", "Happy_F1");
  EXPECT_EQ(all.keys.size(), 4u);  // every condition as found
  EXPECT_FALSE(u.curve.has_value());
}

TEST(BuildReport, RejectsAmbiguousInput) {
  EXPECT_THROW(build_report({}, std::nullopt, ReportOptions{}), DataError);
  std::vector<RunResult> runs = fake_runs();
  runs.push_back(runs[0]);
  runs.back().source = "b/results.json";
  try {
    build_report(runs, std::nullopt, ReportOptions{});
    FAIL() << "duplicate seed accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("appears twice"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("b/results.json"), std::string::npos) << e.what();
  }
  runs = fake_runs();
  runs[1].suite = "gcnet";
  EXPECT_THROW(build_report(runs, std::nullopt, ReportOptions{}), DataError);
  ReportOptions paper;
  paper.suite = "paper";
  const Report r = build_report(runs, std::nullopt, paper);  // umdf 1111 left out, and said so
  EXPECT_EQ(r.seeds_found.at("umdf"), (std::vector<int64_t>{1112, 1113}));
  EXPECT_NE(r.notes.front().find("other suites"), std::string::npos);
  runs = fake_runs();
  runs[2].task = "iemocap";
  EXPECT_THROW(build_report(runs, std::nullopt, ReportOptions{}), DataError);
}

TEST(ResultsJson, RoundTrip) {
  const RunResult a = fake_runs()[3];
  const RunResult b = results_from_json(results_to_json(a), "memory");
  EXPECT_EQ(b.variant, a.variant);
  EXPECT_EQ(b.model, a.model);
  EXPECT_EQ(b.seed, a.seed);
  EXPECT_EQ(b.suite, a.suite);
  EXPECT_EQ(b.split, "test");
  EXPECT_EQ(b.task, a.task);
  EXPECT_EQ(b.data_sha256, a.data_sha256);
  EXPECT_EQ(b.data_path, a.data_path);
  ASSERT_EQ(b.conditions.size(), a.conditions.size());
  for (size_t i = 0; i < a.conditions.size(); ++i) {
    EXPECT_EQ(b.conditions[i].name, a.conditions[i].name);
    EXPECT_EQ(b.conditions[i].protocol, a.conditions[i].protocol);
    EXPECT_EQ(b.conditions[i].parameter, a.conditions[i].parameter);
    EXPECT_EQ(b.conditions[i].mask_seed, a.conditions[i].mask_seed);
    EXPECT_EQ(b.conditions[i].metrics, a.conditions[i].metrics);  // bit-exact doubles
  }
  const nlohmann::json j = results_to_json(a);
  EXPECT_EQ(j.at("format"), "robustmsa-results-1");
  EXPECT_EQ(j.at("metric_definitions"), "docs/metrics.md");

  TempDir dir;
  write_results(a, dir / "results.json");
  const RunResult c = read_results(dir / "results.json");
  EXPECT_EQ(c.source, dir / "results.json");
  EXPECT_EQ(c.conditions[4].metrics, a.conditions[4].metrics);
  EXPECT_FALSE(fs::exists(atomic_temp_path(dir / "results.json")));

  RunResult bad = a;
  bad.conditions[0].metrics["Corr"] = NAN;
  EXPECT_THROW(results_to_json(bad), RunError);
}

void expect_data_error(const nlohmann::json& j, const std::string& fragment) {
  try {
    results_from_json(j, "x/results.json");
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("x/results.json"), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(ResultsJson, MalformedFilesNameTheKey) {
  const nlohmann::json good = results_to_json(fake_runs()[0]);
  nlohmann::json j = good;
  j["format"] = "robustmsa-results-0";
  expect_data_error(j, "\"format\": expected \"robustmsa-results-1\"");
  j = good;
  j.erase("seed");
  expect_data_error(j, "\"seed\": missing");
  j = good;
  j["seed"] = "1111";
  expect_data_error(j, "\"seed\": expected an integer, got string");
  j = good;
  j["conditions"][2]["metrics"]["MAE"] = "0.5";
  expect_data_error(j, "\"conditions[2].metrics.MAE\": expected a number, got string");
  j = good;
  j["conditions"][3]["name"] = j["conditions"][0]["name"];
  expect_data_error(j, "appears twice");
  j = good;
  j["data"].erase("sha256");
  expect_data_error(j, "\"data.sha256\": missing");
  expect_data_error(nlohmann::json::array(), "top level");
  j = good;
  j["extra"] = {1, 2};  // unknown keys are allowed
  EXPECT_NO_THROW(results_from_json(j, "x/results.json"));

  TempDir dir;
  write_file_atomic(dir / "results.json", "{\"format\": ");
  try {
    read_results(dir / "results.json");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(OracleJson, ReadsConditions) {
  nlohmann::json j = {{"format", "robustmsa-oracle-1"},
                      {"conditions",
                       {{{"name", "{l}"},
                         {"protocol", "condition"},
                         {"parameter", "l"},
                         {"metrics", {{"Non0_F1_score", 0.91}}}}}}};
  const RunResult o = oracle_from_json(j, "synth.pkl.oracle.json");
  EXPECT_EQ(o.variant, "oracle");
  ASSERT_EQ(o.conditions.size(), 1u);
  EXPECT_EQ(o.conditions[0].metrics.at("Non0_F1_score"), 0.91);
  j["format"] = "robustmsa-results-1";
  EXPECT_THROW(oracle_from_json(j, "o.json"), DataError);
  j.erase("format");  // one suite's object out of a larger file
  EXPECT_NO_THROW(oracle_from_json(j, "o.json"));
}

TEST(CollectResults, WalksTreeAndSkipsOtherFiles) {
  TempDir dir;
  const std::vector<RunResult> runs = fake_runs();
  fs::create_directories(dir / "umdf/seed_1111");
  fs::create_directories(dir / "mult/seed_1111");
  write_results(runs[1], dir / "umdf/seed_1111/results.json");
  write_results(runs[0], dir / "mult/seed_1111/results.json");
  RunResult other = runs[0];
  other.suite = "mmsa";
  write_results(other, dir / "mult/seed_1111/results_mmsa.json");
  write_file_atomic(dir / "mult/seed_1111/config.json", "{}");
  write_file_atomic(dir / "notes.txt", "not a result");
  write_file_atomic(dir / "umdf/seed_1111/results.json.new", "garbage");
  const std::vector<RunResult> found = collect_results(dir.str());
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].variant, "mult");  // path order
  EXPECT_EQ(found[0].suite, "paper");
  EXPECT_EQ(found[1].suite, "mmsa");
  EXPECT_EQ(found[2].variant, "umdf");

  write_file_atomic(dir / "umdf/results_broken.json", "{\"format\": \"robustmsa-results-1\"}");
  try {
    collect_results(dir.str());
    FAIL() << "malformed file accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("results_broken.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(collect_results(dir / "no_such_dir"), DataError);
}

// The fields of the line starting with `prefix` (no quoted fields in it), or {} if none.
std::vector<std::string> csv_line(const std::string& csv, const std::string& prefix) {
  const size_t at = csv.find("\n" + prefix);
  if (at == std::string::npos) return {};
  const std::string line = csv.substr(at + 1, csv.find('\n', at + 1) - at - 1);
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t comma; (comma = line.find(',', start)) != std::string::npos; start = comma + 1) {
    fields.push_back(line.substr(start, comma - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

TEST(WriteReport, WritesEveryFileAndSaysWhenGnuplotIsAbsent) {
  TempDir dir;
  const Report r = build_report(fake_runs(), std::nullopt, ReportOptions{});
  WriteOptions no_gnuplot;
  no_gnuplot.gnuplot = "robustmsa-no-such-gnuplot";
  write_report(r, dir / "report", no_gnuplot);
  for (const char* f : {"report.md", "report.txt", "report.csv", "report_seeds.csv", "report.json",
                        "frame_curve.csv", "frame_curve.dat", "frame_curve.gp"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / ("report/" + std::string(f)))) << f;
  }
  for (const auto& e : fs::directory_iterator(dir / "report")) {
    EXPECT_NE(e.path().extension(), ".tmp") << e.path();
  }
  const std::string md = read_file(dir / "report/report.md");
  EXPECT_NE(md.find("was not found on PATH"), std::string::npos) << md;
  EXPECT_NE(md.find("Non0_F1_score_mult"), std::string::npos);
  EXPECT_NE(md.find("- mult seed 1113: condition {a} not evaluated"), std::string::npos) << md;

  // Long CSV: one line per variant × condition × metric, with quoted condition names.
  const std::string csv = read_file(dir / "report/report.csv");
  EXPECT_EQ(csv.rfind("variant,condition,metric,mean,std,n,expected\n", 0), 0u);
  EXPECT_NE(csv.find("umdf,\"{l,a}\",Non0_F1_score,"), std::string::npos);
  const std::vector<std::string> a = csv_line(csv, "mult,{a},Non0_F1_score,");
  ASSERT_EQ(a.size(), 7u) << csv;
  EXPECT_NEAR(std::stod(a[3]), 0.435, 1e-12);
  EXPECT_NEAR(std::stod(a[4]), kStd2, 1e-12);
  EXPECT_EQ(a[5], "2");
  EXPECT_EQ(a[6], "3");
  const std::string seeds = read_file(dir / "report/report_seeds.csv");
  EXPECT_NE(seeds.find("mult,1113,{a},Non0_F1_score,\n"), std::string::npos);  // empty = missing
  const std::vector<std::string> avg = csv_line(seeds, "umdf,1112,Avg,Non0_F1_score,");
  ASSERT_EQ(avg.size(), 5u) << seeds;
  EXPECT_NEAR(std::stod(avg[4]), 0.635, 1e-12);

  const nlohmann::json j = nlohmann::json::parse(read_file(dir / "report/report.json"));
  EXPECT_EQ(j.at("format"), "robustmsa-report-1");
  EXPECT_EQ(j.at("missing").size(), 1u);
  EXPECT_EQ(j.at("tables").size(), 12u);  // 6 metrics × (conditions, frame)

  // With gnuplot on PATH the SVGs appear; with none requested the report says so.
  WriteOptions plain;
  write_report(r, dir / "report2", plain);
  const std::string md2 = read_file(dir / "report2/report.md");
  if (md2.find("was not found on PATH") == std::string::npos) {
    EXPECT_TRUE(fs::is_regular_file(dir / "report2/frame_curve_Non0_F1_score.svg")) << md2;
    EXPECT_NE(md2.find("![frame_curve_Non0_F1_score.svg]"), std::string::npos) << md2;
    EXPECT_FALSE(fs::exists(dir / "report2/frame_curve.gnuplot.log")) << md2;
  }
  WriteOptions off;
  off.gnuplot = "";
  write_report(r, dir / "report3", off);
  EXPECT_NE(read_file(dir / "report3/report.md").find("Plotting was not requested"),
            std::string::npos);
}

TEST(WriteReport, UnwritableDirectoryIsRunError) {
  TempDir dir;
  write_file_atomic(dir / "file", "x");
  const Report r = build_report(fake_runs(), std::nullopt, ReportOptions{});
  EXPECT_THROW(write_report(r, dir / "file/report"), RunError);
}

TEST(Fs, AtomicWriteReplacesWholeFile) {
  TempDir dir;
  const std::string path = dir / "a.json";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second, longer");
  EXPECT_EQ(read_file(path), "second, longer");
  EXPECT_FALSE(fs::exists(atomic_temp_path(path)));
  write_file_atomic(path, "");
  EXPECT_EQ(read_file(path), "");
}

TEST(Fs, FailedWriteLeavesPreviousFileAndNoTemp) {
  TempDir dir;
  // Missing directory.
  try {
    write_file_atomic(dir / "no/such/dir/a.json", "x");
    FAIL();
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir/a.json"), std::string::npos) << e.what();
  }
  // The temporary cannot be created: the previous file stays as it was.
  const std::string path = dir / "b.json";
  write_file_atomic(path, "previous");
  fs::create_directories(atomic_temp_path(path));
  EXPECT_THROW(write_file_atomic(path, "new"), RunError);
  EXPECT_EQ(read_file(path), "previous");
  fs::remove_all(atomic_temp_path(path));
  // The rename fails (the target is a non-empty directory): the temporary is removed.
  const std::string target = dir / "c";
  fs::create_directories(target + "/inside");
  EXPECT_THROW(write_file_atomic(target, "new"), RunError);
  EXPECT_FALSE(fs::exists(atomic_temp_path(target)));
  EXPECT_TRUE(fs::is_directory(target + "/inside"));
}

TEST(Fs, ReadFileErrors) {
  TempDir dir;
  EXPECT_THROW(read_file(dir / "missing"), DataError);
  try {
    read_file(dir.str());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
}

TEST(DefaultMetrics, PerTask) {
  EXPECT_EQ(default_metrics("iemocap"),
            (std::vector<std::string>{"Happy_F1", "Sad_F1", "Angry_F1", "Neutral_F1"}));
  EXPECT_EQ(default_metrics("regression").front(), "Non0_F1_score");
  EXPECT_TRUE(default_metrics("unknown").empty());
}

}  // namespace
}  // namespace robustmsa

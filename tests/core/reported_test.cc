// The papers' reported numbers (src/report/reported.h): the real data file, validation errors,
// selection rules, the report section (kept apart from the measured rows) and the CLI flags
// `--reported` / `--reported-file` of compare and report.
#include "report/reported.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "report/report.h"
#include "util/error.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;

using robustmsa::test_util::slurp;
using robustmsa::test_util::TempDir;
using robustmsa::test_util::write_bytes;
using ojson = nlohmann::ordered_json;

const std::vector<std::string> kSix = {"{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}"};

std::string source_dir() {
  const char* d = std::getenv("ROBUSTMSA_SOURCE_DIR");
  return d != nullptr ? d : "";
}

std::string real_file() { return source_dir() + "/data/reported/missing_modality.json"; }

// The message of the E that f throws ("" and a test failure when it throws nothing or another
// type).
template <class E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

const ReportedRow& row_named(const ReportedEntry& e, const std::string& name) {
  for (const ReportedRow& r : e.rows) {
    if (r.name == name) return r;
  }
  ADD_FAILURE() << "no row " << name << " in " << e.table;
  static const ReportedRow none;
  return none;
}

// A small valid file: one primary main entry for mosi.
ojson small_file() {
  ojson row = {{"{l}", 81.2},    {"{a}", 66.52},   {"{v}", 60.72}, {"{l,a}", 83.56},
               {"{l,v}", 82.41}, {"{a,v}", 73.74}, {"Avg", 74.69}, {"{l,a,v}", 83.94}};
  ojson entry = {{"paper", "P"},
                 {"venue", "V"},
                 {"year", 2024},
                 {"url", "https://example.org/p"},
                 {"read_from", "the PDF"},
                 {"source_kind", "primary"},
                 {"table", "Table 1"},
                 {"table_kind", "main"},
                 {"dataset", "mosi"},
                 {"protocol", "fixed missing modality"},
                 {"scale", "percent"},
                 {"metric", "Non0_F1_score"},
                 {"metric_as_printed", "F1"},
                 {"features", "GloVe/COVAREP/Facet"},
                 {"rows", {{"CorrKD", row}}}};
  return {{"condition_keys", reported_columns()}, {"entries", ojson::array({entry})}};
}

TEST(ReportedLoader, RealFileHrlfMosi) {
  const ReportedFile f = read_reported(real_file());
  EXPECT_EQ(f.condition_keys, reported_columns());
  const ReportedSection s = select_reported(f, "mosi", "paper", "regression");
  ASSERT_EQ(s.entries.size(), 1u);
  const ReportedEntry& e = s.entries[0];
  EXPECT_EQ(e.table, "Table 1 (MOSI block)");
  EXPECT_EQ(e.url, "https://arxiv.org/abs/2411.02793");
  EXPECT_EQ(e.metric, "Non0_F1_score");
  EXPECT_EQ(e.decimals, 2);
  ASSERT_EQ(e.rows.size(), 9u);
  EXPECT_EQ(e.rows.front().name, "Self-MM");  // the paper's row order, not alphabetical
  EXPECT_EQ(e.rows.back().name, "HRLF");
  const ReportedRow& corrkd = row_named(e, "CorrKD");
  ASSERT_EQ(corrkd.cells.size(), 8u);
  double sum = 0;
  for (const std::string& c : kSix) sum += corrkd.cells.at(c);
  EXPECT_NEAR(corrkd.cells.at("Avg"), sum / 6, 0.01);
  EXPECT_DOUBLE_EQ(corrkd.cells.at("{l,a,v}"), 83.94);
  // The ablation table and the secondary source are listed, not shown.
  ASSERT_EQ(s.left_out.size(), 2u);
  EXPECT_NE(s.left_out[0].find("ablation"), std::string::npos) << s.left_out[0];
  EXPECT_NE(s.left_out[1].find("secondary"), std::string::npos) << s.left_out[1];
}

TEST(ReportedLoader, RealFileMoseiAndIemocap) {
  const ReportedFile f = read_reported(real_file());
  const ReportedSection mosei = select_reported(f, "mosei", "paper", "regression");
  ASSERT_EQ(mosei.entries.size(), 1u);
  EXPECT_EQ(mosei.entries[0].rows.size(), 9u);
  EXPECT_DOUBLE_EQ(row_named(mosei.entries[0], "CorrKD").cells.at("Avg"), 74.02);
  const ReportedSection iemocap = select_reported(f, "iemocap", "paper", "iemocap");
  ASSERT_EQ(iemocap.entries.size(), 1u);
  EXPECT_EQ(iemocap.entries[0].table, "Table 2");
  EXPECT_EQ(iemocap.entries[0].rows.size(), 36u);  // 9 models x 4 classes
  EXPECT_EQ(iemocap.entries[0].decimals, 1);
  EXPECT_TRUE(iemocap.left_out.empty());
}

// Transcription check over the whole file: every complete row's Avg is the mean of its six
// conditions up to the rounding of the printed digits.
TEST(ReportedLoader, EveryAvgIsTheMeanOfItsSixConditions) {
  const ReportedFile f = read_reported(real_file());
  int checked = 0;
  for (const ReportedEntry& e : f.entries) {
    for (const ReportedRow& r : e.rows) {
      if (r.cells.size() != 8) continue;
      double sum = 0;
      for (const std::string& c : kSix) sum += r.cells.at(c);
      EXPECT_LE(std::fabs(r.cells.at("Avg") - sum / 6), 0.5 * std::pow(10.0, -e.decimals) + 1e-9)
          << e.table << " " << r.name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 9 + 9 + 36 + 4);
}

TEST(ReportedLoader, ErrorsNameTheFileTheKeyAndWhatWasExpected) {
  TempDir tmp;
  const std::string path = tmp / "numbers.json";
  auto load = [&](const ojson& j) {
    write_bytes(path, j.dump(2));
    return message_of<DataError>([&] { read_reported(path); });
  };
  EXPECT_NO_THROW({
    write_bytes(path, small_file().dump());
    read_reported(path);
  });

  write_bytes(path, "{\"condition_keys\": [");
  std::string m = message_of<DataError>([&] { read_reported(path); });
  EXPECT_NE(m.find("reported-numbers file '" + path + "'"), std::string::npos) << m;
  EXPECT_NE(m.find("not valid JSON"), std::string::npos) << m;

  m = message_of<DataError>([&] { read_reported(tmp / "absent.json"); });
  EXPECT_NE(m.find("absent.json"), std::string::npos) << m;

  ojson j = small_file();
  j["entries"][0].erase("url");
  m = load(j);
  EXPECT_NE(m.find("reported-numbers file '" + path + "': key \"entries[0].url\": missing"),
            std::string::npos)
      << m;

  j = small_file();
  j["entries"][0]["year"] = "2024";
  m = load(j);
  EXPECT_NE(m.find("key \"entries[0].year\": expected an integer, got string"), std::string::npos)
      << m;

  j = small_file();
  j["entries"][0]["rows"]["CorrKD"]["{l}"] = "81.2";
  m = load(j);
  EXPECT_NE(m.find("key \"entries[0].rows.CorrKD.{l}\": expected a number, got string"),
            std::string::npos)
      << m;

  j = small_file();
  j["entries"][0]["rows"]["CorrKD"]["{l}"] = 0.812e3;
  m = load(j);
  EXPECT_NE(m.find("expected a percentage in [0, 100], got 812"), std::string::npos) << m;

  j = small_file();
  j["entries"][0]["rows"]["CorrKD"]["{t}"] = 50;
  m = load(j);
  EXPECT_NE(m.find("key \"entries[0].rows.CorrKD.{t}\": unknown condition"), std::string::npos)
      << m;

  j = small_file();
  j["entries"][0]["source_kind"] = "tertiary";
  m = load(j);
  EXPECT_NE(m.find("key \"entries[0].source_kind\": expected \"primary\" or \"secondary\", got "
                   "\"tertiary\""),
            std::string::npos)
      << m;

  j = small_file();
  j["entries"][0]["scale"] = "fraction";
  m = load(j);
  EXPECT_NE(m.find("key \"entries[0].scale\": expected \"percent\""), std::string::npos) << m;

  j = small_file();
  j["condition_keys"] = {"{l}", "{a}"};
  m = load(j);
  EXPECT_NE(m.find("key \"condition_keys\": expected [\"{l}\""), std::string::npos) << m;

  j = small_file();
  j["entries"] = ojson::object();
  m = load(j);
  EXPECT_NE(m.find("key \"entries\": expected an array, got object"), std::string::npos) << m;

  m = load(ojson::array());
  EXPECT_NE(m.find("expected a JSON object at the top level, got array"), std::string::npos) << m;
}

TEST(ReportedSelect, RefusesOtherSuitesTasksAndDatasets) {
  const ReportedFile f = reported_from_json(small_file(), "small.json");
  std::string m = message_of<UsageError>([&] { select_reported(f, "mosi", "gcnet", ""); });
  EXPECT_NE(m.find("`paper` suite"), std::string::npos) << m;
  EXPECT_NE(m.find("\"gcnet\""), std::string::npos) << m;
  m = message_of<UsageError>([&] { select_reported(f, "sims", "paper", ""); });
  EXPECT_NE(m.find("--reported 'sims': expected \"mosi\", \"mosei\" or \"iemocap\""),
            std::string::npos)
      << m;
  m = message_of<UsageError>([&] { select_reported(f, "mosi", "paper", "iemocap"); });
  EXPECT_NE(m.find("\"regression\" task but the runs are \"iemocap\""), std::string::npos) << m;
  m = message_of<DataError>([&] { select_reported(f, "mosei", "paper", ""); });
  EXPECT_NE(m.find("small.json"), std::string::npos) << m;
  EXPECT_NE(m.find("no main table from a primary source for \"mosei\""), std::string::npos) << m;
  // Only ablation or secondary entries: nothing to show is an error, not an empty section.
  ojson j = small_file();
  j["entries"][0]["table_kind"] = "ablation";
  m = message_of<DataError>(
      [&] { select_reported(reported_from_json(j, "abl.json"), "mosi", "paper", ""); });
  EXPECT_NE(m.find("no main table"), std::string::npos) << m;
}

TEST(ReportedSelect, SyntheticMarkers) {
  TempDir tmp;
  const std::string data = tmp / "x.pkl";
  write_bytes(data, "x");
  EXPECT_TRUE(synthetic_markers(data).empty());
  write_bytes(data + ".oracle.json", "{}");
  ASSERT_EQ(synthetic_markers(data).size(), 1u);
  EXPECT_EQ(synthetic_markers(data)[0], data + ".oracle.json");
  write_bytes(data + ".generator.json", "{}");
  EXPECT_EQ(synthetic_markers(data).size(), 2u);
  EXPECT_TRUE(synthetic_markers("").empty());
}

RunResult paper_run(int64_t seed) {
  RunResult r;
  r.variant = "umdf";
  r.seed = seed;
  r.suite = "paper";
  r.task = "regression";
  r.data_sha256 = "abc";
  std::vector<std::string> names = kSix;
  names.push_back("complete");
  for (size_t i = 0; i < names.size(); ++i) {
    ConditionResult c;
    c.name = names[i];
    c.protocol = i < 6 ? "condition" : "complete";
    c.metrics["Non0_F1_score"] = 0.6 + 0.01 * static_cast<double>(i) + 0.001 * seed;
    r.conditions.push_back(std::move(c));
  }
  return r;
}

TEST(ReportedFormat, SectionIsApartFromTheMeasuredRows) {
  const Report plain = build_report({paper_run(1), paper_run(2)}, std::nullopt, ReportOptions{});
  Report with = plain;
  with.reported = select_reported(read_reported(real_file()), "mosi", "paper", "regression");
  // The measured numbers are untouched.
  EXPECT_EQ(format_summary_csv(with), format_summary_csv(plain));
  EXPECT_EQ(format_seeds_csv(with), format_seeds_csv(plain));
  const nlohmann::json jp = report_to_json(plain), jw = report_to_json(with);
  EXPECT_EQ(jw["tables"], jp["tables"]);
  EXPECT_EQ(jw["summary"], jp["summary"]);
  EXPECT_FALSE(jp.contains("reported"));
  ASSERT_TRUE(jw.contains("reported"));
  EXPECT_EQ(jw["reported"]["measured_by_robustmsa"], false);
  EXPECT_EQ(jw["reported"]["entries"][0]["rows"][7]["name"], "CorrKD");
  EXPECT_DOUBLE_EQ(jw["reported"]["entries"][0]["rows"][7]["cells"]["Avg"].get<double>(), 74.69);

  const std::string md = format_markdown(with, "");
  const size_t section = md.find("## Reported by the papers (not measured by robustmsa)");
  ASSERT_NE(section, std::string::npos) << md;
  EXPECT_LT(md.find("## Missing modalities"), section);
  EXPECT_NE(md.find("| CorrKD | 81.20 | 66.52 | 60.72 | 83.56 | 82.41 | 73.74 | 74.69 | 83.94 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("https://arxiv.org/abs/2411.02793"), std::string::npos);
  EXPECT_NE(md.find("GloVe"), std::string::npos);
  EXPECT_NE(md.find("percent"), std::string::npos);
  EXPECT_EQ(format_markdown(plain, "").find("Reported by the papers"), std::string::npos);

  const std::string txt = format_terminal_table(with);
  EXPECT_NE(txt.find("Reported by the papers (not measured by robustmsa)"), std::string::npos);
  EXPECT_NE(txt.find("CorrKD"), std::string::npos) << txt;

  const std::string csv = format_reported_csv(*with.reported);
  EXPECT_EQ(csv.rfind("status,dataset,paper,", 0), 0u);
  EXPECT_NE(csv.find("reported by the paper; not measured by robustmsa,mosi,"), std::string::npos);
  EXPECT_NE(csv.find(",CorrKD,Avg,74.69\n"), std::string::npos) << csv;
}

TEST(ReportedFormat, WriteReportAddsAndRemovesTheCsv) {
  TempDir tmp;
  Report r = build_report({paper_run(1)}, std::nullopt, ReportOptions{});
  r.reported = select_reported(read_reported(real_file()), "mosi", "paper", "regression");
  write_report(r, tmp.str(), WriteOptions{""});
  EXPECT_TRUE(fs::exists(tmp / "report_reported.csv"));
  EXPECT_NE(slurp(tmp / "report.md").find("report_reported.csv"), std::string::npos);
  r.reported.reset();
  write_report(r, tmp.str(), WriteOptions{""});
  EXPECT_FALSE(fs::exists(tmp / "report_reported.csv"));
}

// ---- the command line ----------------------------------------------------------------------

using robustmsa::test_util::CliResult;
using robustmsa::test_util::run_cli;

class ReportedCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (robustmsa::test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN not set";
  }
  // compare arguments for a one-epoch tiny UMDF on `data`.
  static std::string tiny_compare(const std::string& data, const std::string& out,
                                  const std::string& extra) {
    return "compare --data " + data + " --models umdf --seeds 1111 --threads 1" +
           " --set model.width=8 --set model.heads=2 --set train.batch_size=32" +
           " --set train.epochs=1 --out " + out + " " + extra;
  }
};

TEST_F(ReportedCli, RefusesSyntheticDataAndWorksOnAFileWithoutSiblings) {
  TempDir tmp;
  const std::string synth = tmp / "tiny.pkl";
  CliResult r = run_cli("synth --like mosi --seed 3 --n 96 --set seq_len=[20,20,20] " + synth);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(synth + ".generator.json"));

  // The synthetic file: refused before any training.
  r = run_cli(tiny_compare(synth, tmp / "refused", "--reported mosi"));
  EXPECT_EQ(r.code, 2) << r.err;
  ASSERT_EQ(r.error_lines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("synthetic benchmark ('" + synth + ".generator.json' is beside it)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(tmp / "refused/umdf"));
  // Another suite, another dataset name, --reported-file alone: usage errors before training.
  fs::create_directories(tmp / "real");
  const std::string real = tmp / "real/mosi_data.pkl";
  fs::copy_file(synth, real);
  r = run_cli(tiny_compare(real, tmp / "gcnet", "--suite gcnet --reported mosi"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("`paper` suite"), std::string::npos) << r.err;
  r = run_cli(tiny_compare(real, tmp / "sims", "--reported sims"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--reported 'sims'"), std::string::npos) << r.err;
  r = run_cli(tiny_compare(real, tmp / "iemocap", "--reported iemocap"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("\"iemocap\" task but the runs are \"regression\""), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(tmp / "iemocap/umdf"));

  // A copy without the .generator.json/.oracle.json siblings: the user's word is taken.
  const std::string out = tmp / "run";
  r = run_cli(tiny_compare(real, out, "--reported mosi"), "", 600);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Reported by the papers (not measured by robustmsa)"), std::string::npos)
      << r.out;
  const std::string md = slurp(out + "/report/report.md");
  EXPECT_NE(md.find("## Reported by the papers (not measured by robustmsa)"), std::string::npos)
      << md;
  EXPECT_NE(md.find("not measured"), std::string::npos);
  EXPECT_NE(md.find("| CorrKD | 81.20 |"), std::string::npos) << md;
  EXPECT_NE(slurp(out + "/report/report_reported.csv").find(",CorrKD,Avg,74.69"),
            std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(slurp(out + "/report/report.json"));
  EXPECT_EQ(j["reported"]["dataset"], "mosi");
  EXPECT_EQ(j["tables"][0]["rows"].size(), 1u);  // only the measured umdf row

  // report: the same section; a missing numbers file names it; without --reported, none.
  r = run_cli("report " + out + " --out " + out + "/r2 --reported mosi");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(out + "/r2/report.md").find("| CorrKD | 81.20 |"), std::string::npos);
  r = run_cli("report " + out + " --out " + out + "/r3 --reported mosi --reported-file " +
              (tmp / "nope.json"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(tmp / "nope.json"), std::string::npos) << r.err;
  r = run_cli("report " + out + " --out " + out + "/r2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(out + "/r2/report.md").find("Reported by the papers"), std::string::npos);
  EXPECT_FALSE(fs::exists(out + "/r2/report_reported.csv"));
  r = run_cli("report " + out + " --out " + out + "/r4 --reported-file x.json");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("needs --reported"), std::string::npos) << r.err;

  // Once an oracle sits beside the data file, it is the synthetic benchmark: refused.
  write_bytes(real + ".oracle.json", "{}");
  r = run_cli("report " + out + " --out " + out + "/r5 --reported mosi");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(real + ".oracle.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out + "/r5/report.md"));
}

}  // namespace
}  // namespace robustmsa

// Helpers the subcommands share (defined in commands.cc): model variants as compare names them,
// their directory names, and the report every command prints and writes.
#pragma once

#include <CLI/CLI.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "report/report.h"
#include "util/error.h"

namespace robustmsa::cli {

// Options shared by train and compare: layered config.
struct ConfigFlags {
  std::string data;
  std::vector<std::string> configs;
  std::vector<std::string> sets;
  std::string seeds, text_encoder;
  int64_t threads = -1;
  bool dump = false, finetune_text = false;

  void add(CLI::App& app) {
    // realmosi: the utterance-level sets too (docs/real-mosi.md).
    app.add_option("--data", data,
                   "feature file: MulT/CMU or MMSA pickle, bc-LSTM CSV directory, HFFN utterance "
                   "pickle");
    app.add_option("--config", configs, "JSON config file(s); later files override earlier ones")
        ->check(CLI::ExistingFile);
    app.add_option("--set", sets, "override one option: section.key=value (e.g. train.lr=1e-3)");
    app.add_option(
        "--seeds", seeds,
        "a count N < 1000 (the seeds 1111 ... 1110+N), one seed, or a comma-separated list");
    app.add_option("--threads", threads,
                   "intra-op threads (default: train.threads, 0 = all cores)");
    app.add_option("--text-encoder", text_encoder,
                   "BERT-family model folder whose features of the file's text_bert rows replace "
                   "its text features (data.text_encoder; docs/text.md)");
    app.add_flag("--finetune-text", finetune_text,
                 "train the --text-encoder with the model at train.text_lr (data.text_finetune)");
    app.add_flag("--dump-config", dump, "print the resolved configuration and exit");
  }

  ExperimentConfig resolve(const std::string& model) const {
    ExperimentConfig cfg;
    if (!model.empty()) cfg.model = model;
    for (const auto& c : configs) cfg.apply_json(read_config_file(c), c);
    if (!model.empty() && cfg.model != model) {
      cfg.model = model;
      cfg.model_options = nlohmann::json::object();
    }
    if (!data.empty()) cfg.data.path = data;
    if (!text_encoder.empty()) cfg.data.text_encoder = text_encoder;
    if (finetune_text) cfg.data.text_finetune = true;
    for (const auto& s : sets) cfg.apply_set(s);
    if (!seeds.empty()) cfg.train.seeds = parse_seeds(seeds);
    if (threads >= 0) cfg.train.threads = threads;
    cfg.train.validate();
    return cfg;
  }

  static std::vector<int64_t> parse_seeds(const std::string& text) {
    std::vector<int64_t> out;
    try {
      if (text.find(',') == std::string::npos) {
        int64_t n = std::stoll(text);
        if (n < 1) throw std::invalid_argument("count");
        if (n >= 1000) return {n};  // one seed (seeds are 1111-style numbers)
        for (int64_t i = 0; i < n; ++i) out.push_back(1111 + i);
        return out;
      }
      std::stringstream ss(text);
      std::string part;
      while (std::getline(ss, part, ',')) out.push_back(std::stoll(part));
    } catch (const std::exception&) {
      throw UsageError(
          str("--seeds '", text,
              "': expected a count below 1000, one seed (>= 1000) or a comma-separated list"));
    }
    return out;
  }
};

// compare's and report's --reported / --reported-file: the papers' numbers for the dataset the
// user declares (docs/reported.md).
struct ReportedFlags {
  std::string dataset;  // empty: no reported section
  std::string file;     // empty: default_reported_path()

  void add(CLI::App& app) {
    app.add_option("--reported", dataset,
                   "mosi, mosei or iemocap: the dataset your (real) data file holds; adds the "
                   "numbers the papers reported for the paper suite, marked as not measured");
    app.add_option("--reported-file", file,
                   "reported-numbers JSON (default: data/reported/missing_modality.json of the "
                   "source tree)");
  }
  bool on() const { return !dataset.empty(); }
  // UsageError for --reported-file without --reported or an unknown dataset name.
  void validate() const;
  // The file, read and validated, and its entries for the declared dataset, checked against the
  // suite, the runs' task (empty: not checked yet) and the data files (UsageError when one is
  // robustmsa's synthetic benchmark: a <data>.generator.json or <data>.oracle.json beside it).
  ReportedSection load(const std::string& suite, const std::string& task,
                       const std::vector<std::string>& data_paths) const;
};

// A model variant for compare: "umdf" or "umdf:distill=false,coarse=false".
struct Variant {
  std::string label;
  std::string model;
  std::vector<std::string> sets;  // "model.key=value"
};

// Parses compare's --models list (UsageError for unknown models).
std::vector<Variant> parse_variants(const std::string& text);
// A label as a directory name.
std::string slug(const std::string& label);
// base/seed_<seed>
std::string seed_dir(const std::string& base, int64_t seed);
// Builds, writes and prints the report of one suite's results (the oracle from `oracle_path`,
// or from beside the data file; the Markdown of `discussion_path`, when given, as the report's
// Discussion section; the papers' reported numbers when `reported.on()`).
void print_and_write_report(const std::vector<RunResult>& results, const std::string& out_dir,
                            const std::string& data_path, const std::string& oracle_path = "",
                            const std::string& discussion_path = "",
                            const ReportedFlags& reported = ReportedFlags());

// The report of a sweep directory (sweep.json): one report per dataset and suite over the cells
// that finished, then the list of cells without results. Returns the number of missing cells.
int64_t report_sweep(const std::string& sweep_dir, const std::string& oracle_path = "");

}  // namespace robustmsa::cli

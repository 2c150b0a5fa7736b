// robustmsa — multimodal sentiment analysis under uncertain missing modalities.
// Exit codes: 0 success, 1 runtime or data error, 2 usage or configuration error
// (describe_error, include/robustmsa/train.h; ROBUSTMSA_BACKTRACE=1 adds LibTorch's backtrace).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "commands.h"
#include "robustmsa/robustmsa.h"

int main(int argc, char** argv) {
  CLI::App app{
      "robustmsa: multimodal sentiment analysis that stays accurate when modalities go "
      "missing (UMDF and baselines, on LibTorch)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", robustmsa::build_info());
  using robustmsa::cli::Runner;
  std::map<CLI::App*, Runner> runners;
  auto add = [&](const char* name, const char* help, Runner (*reg)(CLI::App&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    runners[sub] = reg(*sub);
  };
  add("models", "list the registered models with their papers and default options",
      robustmsa::cli::add_models);
  add("inspect", "show a feature file: layout, splits, shapes, dtypes, NaN/inf counts, labels",
      robustmsa::cli::add_inspect);
  add("synth", "write a synthetic benchmark in the real file formats, with its oracle",
      robustmsa::cli::add_synth);
  add("train", "train one model (one run directory per seed)", robustmsa::cli::add_train);
  add("eval", "evaluate trained runs on a suite (paper, mmsa, gcnet)", robustmsa::cli::add_eval);
  add("compare", "train and evaluate several models/variants over seeds, then report",
      robustmsa::cli::add_compare);
  add("report", "aggregate results under a directory into tables and plots",
      robustmsa::cli::add_report);
  add("predict", "predict with a trained run on new features (any subset of modalities)",
      robustmsa::cli::add_predict);
  add("features", "transcripts (label.csv) -> MMSA-layout features from a BERT-family text encoder",
      robustmsa::cli::add_features);
  add("sweep", "run a grid of models x seeds x datasets x suites here (N workers) or on Slurm",
      robustmsa::cli::add_sweep);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, like every other error (CLI11's own report adds a second one).
    std::string what = e.what();
    for (char& c : what)
      if (c == '\n') c = ' ';
    std::fprintf(stderr, "robustmsa: usage error: %s (see --help)\n", what.c_str());
    return 2;
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) run();
  } catch (const std::exception& e) {
    const robustmsa::ErrorReport r = robustmsa::describe_error(e);
    std::fprintf(stderr, "%s\n", r.message.c_str());
    return r.exit_code;
  }
  return 0;
}

// Flags the subcommands share, as CLI11 options that fill the library's request types, and the
// report every command prints. Parsing and printing only: the meaning of every flag is the
// library's (include/robustmsa).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "robustmsa/robustmsa.h"

namespace robustmsa::cli {

// --data, --config, --set, --seeds, --threads, --text-encoder, --finetune-text, --dump-config,
// --help-config: the configuration layers of train, compare and sweep (run/config_layers.h).
struct ConfigFlags {
  ConfigLayers layers;
  bool dump = false, help_config = false;
  void add(CLI::App& app);
};

// compare's and report's --reported / --reported-file (docs/reported.md).
struct ReportedFlags {
  ReportedRequest request;
  void add(CLI::App& app);
};

// --help-config: every configuration key, with the options of each model in `models` (a
// --models list, or one model name).
void print_config_help(const std::string& models);
// Prints the report's terminal table and where it was written.
void print_report(const Report& report, const std::string& out_dir);
// Prints a sweep's reports (one per dataset and suite) and its missing cells.
void print_sweep_report(const SweepReport& report);
// Prints one line of a command's log (robustmsa::LogLine) to stderr.
void log_line(const std::string& line);

}  // namespace robustmsa::cli

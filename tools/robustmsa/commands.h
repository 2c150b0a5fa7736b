// The robustmsa subcommands. Each registers its options on a CLI11 subcommand and returns the
// function that runs it. Tools stay thin: the work is in the library.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace robustmsa::cli {

using Runner = std::function<void()>;

Runner add_models(CLI::App& app);
Runner add_inspect(CLI::App& app);
Runner add_synth(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_compare(CLI::App& app);
Runner add_report(CLI::App& app);
Runner add_predict(CLI::App& app);
Runner add_sweep(CLI::App& app);
Runner add_features(CLI::App& app);

}  // namespace robustmsa::cli

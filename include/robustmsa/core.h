// robustmsa's torch-free API: data files, missing-modality protocols, the synthetic benchmark,
// metrics, configurations, runs on disk and reports. Including this header does not include
// LibTorch; link robustmsa_core (CMake target) for everything declared here.
//
// What is where (each header documents its functions; the ones a client calls are listed):
//
//   Data files (data/dataset.h, data/inspect.h, data/data_options.h)
//     inspect_file(path[, DataOptions]) -> json, format_inspection(json)   layout, splits, NaN/inf
//     load_dataset(path, DataOptions) -> Dataset      MulT/CMU, MMSA pickles; utterance-level sets
//     data_options(config.data) -> DataOptions        the config's data section as reader options
//   Protocols (data/protocol.h)
//     suites(), suite_named("paper") -> Suite                    conditions, report layout
//     parse_condition("frame:0.3"), make_masks(c, split, seed)   keep/present masks
//     uncertain_masks(...)                                       UMDF's training-time holes
//   Synthetic benchmark (synth/synth.h)
//     SynthOptions, set_option(o, key, text, "synth"), scale_synth_splits(o, n)
//     write_synthetic(o, path) -> SynthResult                    pickle + .oracle.json
//   Metrics (metrics/metrics.h)
//     regression_metrics, sims_metrics, iemocap_metrics, mean_std, auilc
//   Configuration (config/experiment.h, run/config_layers.h)
//     ExperimentConfig (data, model, train, missing, eval sections; apply_json, apply_set)
//     resolve_config(ConfigLayers, model), parse_seeds("3")      --config/--set/--seeds precedence
//   Runs on disk (run/run_dir.h, run/variant.h, run/sweep.h)
//     RunPaths, seed_dir, find_runs, find_oracle, require_same_run, refuse_overwrite
//     parse_variants("umdf,umdf:distill=false", names), slug(label)
//     plan_sweep, run_sweep_locally, slurm_script
//   Results and reports (report/report.h, report/reported.h, run/reporting.h)
//     read_results, collect_results, build_report, write_report, format_terminal_table
//     report_results(results, ReportRequest), report_directory(dir, ...), report_sweep(dir)
//   Errors (util/error.h)
//     DataError, ConfigError, UsageError, RunError (robustmsa::Error); str(...) for messages
#pragma once

#include "config/experiment.h"
#include "data/data_options.h"
#include "data/dataset.h"
#include "data/inspect.h"
#include "data/protocol.h"
#include "metrics/metrics.h"
#include "report/report.h"
#include "report/reported.h"
#include "run/config_layers.h"
#include "run/reporting.h"
#include "run/run_dir.h"
#include "run/sweep.h"
#include "run/variant.h"
#include "synth/synth.h"
#include "util/error.h"

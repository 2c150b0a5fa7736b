// robustmsa — multimodal sentiment analysis (text, audio, vision) that stays accurate when
// modalities go missing: UMDF (Li et al., AAAI 2024) and baselines on LibTorch, the field's
// feature files read without executing them, the missing-modality protocols of the papers, the
// field's metrics under their exact names, and reports.
//
// The public API is this header and the three it includes:
//   robustmsa/core.h      torch-free: data files, protocols, synthetic data, metrics,
//                         configurations, runs on disk, reports (link robustmsa_core)
//   robustmsa/train.h     models, training, compare, eval, predict, features, sweeps (link
//                         robustmsa; still no LibTorch header)
//   robustmsa/observer.h  progress events of the training loop
// The command-line tool (tools/robustmsa) is a thin client of exactly this API.
//
// Usage — the whole path from a file to a report:
//
//   #include <robustmsa/robustmsa.h>
//   using namespace robustmsa;
//
//   // 1. Look at a feature file (MulT/CMU or MMSA pickle; or make a synthetic one).
//   SynthOptions so;
//   set_option(so, "like", "mosi", "synth");
//   scale_synth_splits(so, 256);                       // 256 / 45 / 136 samples
//   write_synthetic(so, "mosi_like.pkl");              // + mosi_like.pkl.oracle.json
//   std::cout << format_inspection(inspect_file("mosi_like.pkl"));
//
//   // 2. A protocol's masks: the same inputs for every model, run and machine.
//   Dataset ds = load_dataset("mosi_like.pkl", DataOptions{});
//   for (const Condition& c : suite_named("paper").conditions) {
//     Masks m = make_masks(c, ds.split(SplitId::kTest), /*mask_seed=*/0);
//   }
//
//   // 3. Train, evaluate, compare (one run directory per variant and seed).
//   ConfigLayers layers;
//   layers.data = "mosi_like.pkl";
//   layers.sets = {"train.epochs=3"};
//   layers.seeds = "2";                                // seeds 1111, 1112
//   ComparePlan plan = plan_compare("umdf,umdf:distill=false", layers, "paper", "runs/cmp");
//   std::shared_ptr<PreparedData> data = load_data(plan.configs.front().data);
//   std::vector<RunResult> results = run_compare(plan, *data, RunOptions{});
//   EvalRequest ev;                                    // the umdf runs on another suite
//   ev.run = "runs/cmp/umdf";
//   ev.suite = "mmsa";
//   EvalOutcome other = evaluate_runs(ev, RunOptions{});
//
//   // 4. Report: tables beside the synthetic oracle, written as Markdown, CSV, JSON and plots.
//   ReportRequest req;
//   req.out_dir = "runs/cmp/report";
//   req.data_path = "mosi_like.pkl";
//   Report report = report_results(results, req);
//   std::cout << format_terminal_table(report);
//
//   // 5. Predict with a trained run (any subset of modalities).
//   PredictRequest p;
//   p.run = "runs/cmp/umdf/seed_1111";
//   p.input = "features.json";                         // {"samples": [{"text": [[...]], ...}]}
//   nlohmann::json predictions = predict_run(p, RunOptions{});
//
// Errors are exceptions derived from robustmsa::Error (util/error.h) whose messages name the
// file, key or byte offset, what was found and what was expected; describe_error turns any
// exception into the one line and exit code the command-line tool prints.
#pragma once

#include "robustmsa/core.h"
#include "robustmsa/observer.h"
#include "robustmsa/train.h"

#include "commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli_common.h"
#include "progress.h"

namespace robustmsa::cli {

void ConfigFlags::add(CLI::App& app) {
  app.add_option("--data", layers.data,
                 "feature file: MulT/CMU or MMSA pickle, bc-LSTM CSV directory, HFFN utterance "
                 "pickle");
  app.add_option("--config", layers.configs,
                 "JSON config file(s); later files override earlier ones")
      ->check(CLI::ExistingFile);
  app.add_option("--set", layers.sets,
                 "override one option: section.key=value (e.g. train.lr=1e-3)");
  app.add_option(
      "--seeds", layers.seeds,
      "a count N < 1000 (the seeds 1111 ... 1110+N), one seed, or a comma-separated list");
  app.add_option("--threads", layers.threads,
                 "intra-op threads (default: train.threads, 0 = all cores)");
  app.add_option("--text-encoder", layers.text_encoder,
                 "BERT-family model folder whose features of the file's text_bert rows replace "
                 "its text features (data.text_encoder; docs/text.md)");
  app.add_flag("--finetune-text", layers.finetune_text,
               "train the --text-encoder with the model at train.text_lr (data.text_finetune)");
  app.add_flag("--dump-config", dump, "print the resolved configuration and exit");
  app.add_flag("--help-config", help_config,
               "print every configuration key (data, train, missing, eval and the model's "
               "options) with its type, default and meaning, and exit");
}

void ReportedFlags::add(CLI::App& app) {
  app.add_option("--reported", request.dataset,
                 "mosi, mosei or iemocap: the dataset your (real) data file holds; adds the "
                 "numbers the papers reported for the paper suite, marked as not measured");
  app.add_option("--reported-file", request.file,
                 "reported-numbers JSON (default: data/reported/missing_modality.json of the "
                 "source tree)");
}

void print_report(const Report& report, const std::string& out_dir) {
  std::cout << format_terminal_table(report);
  std::cout << "\nreport written to " << out_dir << "/report.md\n";
}

void log_line(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

// --help-config: every configuration key, with the options of each model in `models` (a
// --models list, or one model name).
void print_config_help(const std::string& models) {
  std::cout << config_help();
  std::vector<std::string> shown;
  for (const Variant& v : parse_variants(models, model_names())) {
    if (std::find(shown.begin(), shown.end(), v.model) != shown.end()) continue;
    shown.push_back(v.model);
    for (const ModelInfo& m : list_models())
      if (m.name == v.model) std::cout << "model (" << m.name << "):\n" << m.help;
  }
}

namespace {

void print_config(const ExperimentConfig& cfg) {
  std::cout << resolved_config(cfg).dump(2) << "\n";
}

}  // namespace

Runner add_models(CLI::App& app) {
  struct Flags {
    bool json = false, help_config = false;
  };
  auto f = std::make_shared<Flags>();
  app.add_flag("--json", f->json, "machine-readable output");
  app.add_flag("--help-config", f->help_config,
               "every option of every model with its type, default and meaning");
  return [f] {
    nlohmann::json all = nlohmann::json::array();
    for (const ModelInfo& m : list_models()) {
      if (f->json) {
        all.push_back({{"name", m.name}, {"paper", m.paper}, {"options", m.options}});
      } else if (f->help_config) {
        std::cout << m.name << "  —  " << m.paper << "\n" << m.help << "\n";
      } else {
        std::cout << m.name << "  —  " << m.paper << "\n    " << m.options.dump() << "\n";
      }
    }
    if (f->json) std::cout << all.dump(2) << "\n";
  };
}

Runner add_inspect(CLI::App& app) {
  struct Flags {
    std::string file, labels;
    std::vector<std::string> sets;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("FILE", f->file,
                 "feature pickle, bc-LSTM CSV directory or file, HFFN pickle, or .csd sequence")
      ->required();
  app.add_flag("--json", f->json, "machine-readable output");
  app.add_option("--labels", f->labels,
                 "utterance-level sets: the .csd label sequence to join (data.labels)");
  app.add_option("--set", f->sets, "utterance-level sets: data.split, data.valid_videos, ...");
  return [f] {
    ExperimentConfig cfg;
    for (const auto& s : f->sets) cfg.apply_set(s);
    if (!f->labels.empty()) cfg.data.labels = f->labels;
    nlohmann::json info = inspect_file(f->file, data_options(cfg.data));
    if (const auto& note = info["sanitized"].get_ref<const std::string&>(); !note.empty())
      std::fprintf(stderr, "%s\n", note.c_str());
    std::cout << (f->json ? info.dump(2) + "\n" : format_inspection(info));
  };
}

Runner add_synth(CLI::App& app) {
  struct Flags {
    std::string like = "mosi", layout = "mult", kind = "linear", out;
    int64_t seed = 1;
    int64_t n = 0;
    std::vector<std::string> sets;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("OUT", f->out, "output pickle (the oracle is written to OUT.oracle.json)")
      ->required();
  app.add_option("--like", f->like, "mosi, mosei or iemocap")->capture_default_str();
  app.add_option("--layout", f->layout, "mult, mmsa_aligned or mmsa_unaligned")
      ->capture_default_str();
  app.add_option("--kind", f->kind, "generator family: linear or interaction")
      ->capture_default_str();
  app.add_option("--seed", f->seed, "generator seed")->capture_default_str();
  app.add_option("--n", f->n, "scale all split sizes so that train has N samples (0 = real sizes)");
  app.add_option("--set", f->sets, "any generator option: key=value (see docs/synthetic.md)");
  return [f] {
    SynthOptions o;
    set_option(o, "like", f->like, "synth");
    set_option(o, "layout", f->layout, "synth");
    set_option(o, "kind", f->kind, "synth");
    set_option(o, "seed", std::to_string(f->seed), "synth");
    scale_synth_splits(o, f->n);  // keeps the real dataset's split proportions
    for (const auto& s : f->sets) {
      auto eq = s.find('=');
      if (eq == std::string::npos) throw UsageError(str("--set '", s, "': expected key=value"));
      set_option(o, s.substr(0, eq), s.substr(eq + 1), "synth");
    }
    auto t0 = std::chrono::steady_clock::now();
    write_synthetic(o, f->out);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "wrote %s (+ .oracle.json, .generator.json) in %.1f s\n", f->out.c_str(),
                 secs);
  };
}

Runner add_train(CLI::App& app) {
  struct Flags {
    ConfigFlags cfg;
    std::string model, out;
    bool resume = false, no_tensorboard = false;
    int64_t nproc = 1;
  };
  auto f = std::make_shared<Flags>();
  f->cfg.add(app);
  app.add_option("--model", f->model, "model name (see `robustmsa models`)");
  app.add_option("--out", f->out, "run directory; each seed goes to OUT/seed_<seed>");
  app.add_flag("--resume", f->resume, "continue interrupted runs from their checkpoint");
  app.add_flag("--no-tensorboard", f->no_tensorboard,
               "write no TensorBoard event files (default: OUT/seed_<seed>/tensorboard)");
  app.add_option("--nproc", f->nproc,
                 "data-parallel ranks to start on this machine (needs train.shards >= N; "
                 "see docs/scaling.md)");
  return [f] {
    if (f->cfg.help_config)
      return print_config_help(f->model.empty() ? resolve_config(f->cfg.layers).model : f->model);
    if (f->cfg.dump) return print_config(resolve_config(f->cfg.layers, f->model));
    const TrainRequest request{f->cfg.layers, f->model, f->out};
    // N ranks over Gloo on loopback, each running this command again.
    if (f->nproc != 1) return train_local_ranks(train_config(request), f->nproc);
    ProgressPrinter progress;
    RunOptions options;
    options.resume = f->resume;
    options.observer = &progress;
    options.tensorboard = !f->no_tensorboard;
    CommandResult done = train_command(request, options, log_line);
    if (is_main_process()) print_report(done.report, done.report_dir);  // rank 0 reports
  };
}

Runner add_eval(CLI::App& app) {
  struct Flags {
    EvalRequest req;
    int64_t threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--run", f->req.run, "a run directory, or a directory of runs (all seeds)")
      ->required();
  app.add_option("--suite", f->req.suite, "paper, mmsa or gcnet")->capture_default_str();
  app.add_option("--data", f->req.data, "feature file (default: the one the run was trained on)");
  app.add_option("--mask-seed", f->req.mask_seed, "evaluation mask seed (default: the run's)");
  app.add_option("--threads", f->threads, "intra-op threads (0 = all cores)");
  return [f] {
    set_threads(f->threads);
    CommandResult done = eval_command(f->req, RunOptions{}, log_line);
    print_report(done.report, done.report_dir);
  };
}

Runner add_compare(CLI::App& app) {
  struct Flags {
    ConfigFlags cfg;
    std::string models = "umdf", out, suite, discussion;
    bool no_tensorboard = false;
    ReportedFlags reported;
  };
  auto f = std::make_shared<Flags>();
  f->cfg.add(app);
  app.add_option("--models", f->models,
                 "comma-separated models or variants, e.g. umdf,umdf:distill=false,mult, or all")
      ->capture_default_str();
  app.add_option("--suite", f->suite, "evaluation suite (default eval.suite: paper)");
  // Required (plan_compare says so), not by CLI11: --help-config needs no --out.
  app.add_option("--out", f->out,
                 "output directory (required): OUT/<variant>/seed_<seed>, OUT/report");
  app.add_option("--discussion", f->discussion,
                 "Markdown file shown as the report's Discussion section (your reading of the "
                 "results)");
  app.add_flag("--no-tensorboard", f->no_tensorboard,
               "write no TensorBoard event files (default: in every run directory)");
  f->reported.add(app);
  return [f] {
    if (f->cfg.help_config) return print_config_help(f->models);
    if (f->cfg.dump) {
      for (const auto& c : plan_compare(f->models, f->cfg.layers, f->suite, f->out).configs)
        print_config(c);
      return;
    }
    ProgressPrinter progress;
    RunOptions options;
    options.observer = &progress;
    options.tensorboard = !f->no_tensorboard;
    CommandResult done = compare_command(
        {f->cfg.layers, f->models, f->suite, f->out, f->discussion, f->reported.request}, options,
        log_line);
    if (is_main_process()) print_report(done.report, done.report_dir);  // rank 0 reports
  };
}

Runner add_report(CLI::App& app) {
  struct Flags {
    std::string dir, out, oracle, discussion, reference;
    ReportedFlags reported;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("DIR", f->dir, "directory holding run directories (results*.json)")->required();
  app.add_option("--reference", f->reference,
                 "the variant listed first, against which every other is paired (default: the "
                 "first in path order)");
  app.add_option("--out", f->out, "where to write the report (default DIR/report)");
  app.add_option("--oracle", f->oracle, "oracle JSON (default: <data>.oracle.json when it exists)");
  app.add_option("--discussion", f->discussion,
                 "Markdown file shown as the report's Discussion section");
  f->reported.add(app);
  return [f] {
    const ReportedRequest& reported = f->reported.request;
    reported.validate();
    // A sweep directory: one report per dataset and suite, and the cells still missing.
    if (is_sweep_dir(f->dir)) {
      if (!f->reference.empty())
        throw UsageError(str("--reference with the sweep directory '", f->dir,
                             "': report one of its <dataset>/<suite> directories instead"));
      return print_sweep_report(report_sweep(f->dir, f->oracle, reported));
    }
    for (const WrittenReport& w :
         report_directory(f->dir, f->out, f->oracle, f->discussion, reported, f->reference)) {
      if (!w.note.empty()) std::fprintf(stderr, "%s\n", w.note.c_str());
      print_report(w.report, w.out_dir);
    }
  };
}

Runner add_predict(CLI::App& app) {
  struct Flags {
    PredictRequest req;
    int64_t threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--run", f->req.run, "a run directory (seed_<seed>)")->required();
  app.add_option("--input", f->req.input,
                 "features: a JSON file {\"samples\": [{\"text\": [[...]], \"audio\": null, ...}]} "
                 "or a pickle in a supported layout");
  app.add_option("--text", f->req.texts,
                 "score sentences (repeatable) with text only: tokenised and encoded by the run's "
                 "data.text_encoder or --text-encoder (docs/text.md)");
  app.add_option("--text-encoder", f->req.text_encoder,
                 "BERT-family model folder for --text (default: the run's data.text_encoder)");
  app.add_option("--split", f->req.split, "split of a pickle input")->capture_default_str();
  app.add_option("--threads", f->threads, "intra-op threads (0 = all cores)");
  return [f] {
    set_threads(f->threads);
    std::cout << predict_run(f->req, RunOptions{}).dump(2) << "\n";
  };
}

}  // namespace robustmsa::cli

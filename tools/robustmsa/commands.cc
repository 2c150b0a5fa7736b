#include "commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "cli_common.h"
#include "config/experiment.h"
#include "data/data_options.h"
#include "data/inspect.h"
#include "data/protocol.h"
#include "nn/model.h"
#include "report/report.h"
#include "synth/synth.h"
#include "train/distributed.h"
#include "train/evaluate.h"
#include "train/predict_input.h"
#include "train/text_encoder.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::cli {

namespace fs = std::filesystem;

namespace {

void print_config(const ExperimentConfig& cfg) {
  nlohmann::json j = cfg.to_json();
  j["model"] = resolved_model_options(cfg);
  j["model"]["name"] = cfg.model;
  UncertainOptions uncertain;
  options_from_json(uncertain, cfg.missing, "missing");
  j["missing"] = options_to_json(uncertain);
  std::cout << j.dump(2) << "\n";
}

}  // namespace

std::vector<Variant> parse_variants(const std::string& text) {
  std::vector<Variant> out;
  std::stringstream ss(text);
  std::string token;
  while (std::getline(ss, token, ',')) {
    if (token.empty()) continue;
    if (token == "all") {
      for (const auto& e : model_registry()) out.push_back({e.name, e.name, {}});
      continue;
    }
    auto colon = token.find(':');
    if (colon == std::string::npos && token.find('=') != std::string::npos) {
      // "coarse=false" continues the previous variant's option list.
      if (out.empty())
        throw UsageError(str("--models '", text, "': option '", token, "' before any model name"));
      out.back().label += "," + token;
      out.back().sets.push_back("model." + token);
      continue;
    }
    Variant v;
    v.label = token;
    v.model = token.substr(0, colon);
    find_model(v.model);  // UsageError for unknown names
    if (colon != std::string::npos) v.sets.push_back("model." + token.substr(colon + 1));
    out.push_back(v);
  }
  if (out.empty()) throw UsageError("--models: expected at least one model name (or 'all')");
  return out;
}

std::string slug(const std::string& label) {
  std::string s;
  for (char c : label)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
             ? c
             : (c == '=' ? '-' : '_');
  return s;
}

std::string seed_dir(const std::string& base, int64_t seed) {
  return (fs::path(base) / ("seed_" + std::to_string(seed))).string();
}

namespace {

// Finds run directories (holding config.json) at or under `path`.
std::vector<std::string> find_runs(const std::string& path) {
  std::vector<std::string> runs;
  if (!fs::is_directory(path))
    throw UsageError(str("--run '", path, "': expected a run directory (or a directory of runs)"));
  if (fs::exists(fs::path(path) / "config.json")) return {path};
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file() && e.path().filename() == "config.json")
      runs.push_back(e.path().parent_path().string());
  std::sort(runs.begin(), runs.end());
  if (runs.empty())
    throw UsageError(str("--run '", path, "': no run directory (with config.json) found under it"));
  return runs;
}

// The synthetic benchmark's oracle for `suite`, from the given file or from <data>.oracle.json
// beside the data file; nullopt when there is none for that suite.
std::optional<RunResult> oracle_for(const std::string& data_path, const std::string& suite,
                                    const std::string& explicit_path = "") {
  std::string path = explicit_path.empty() ? data_path + ".oracle.json" : explicit_path;
  if (explicit_path.empty() && (data_path.empty() || !fs::exists(path))) return std::nullopt;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(str("oracle file '", path, "': byte offset ", e.byte, ": invalid JSON"));
  }
  if (j.value("suite", std::string("paper")) == suite) return oracle_from_json(j, path);
  if (j.contains("suites") && j["suites"].contains(suite))
    return oracle_from_json(j["suites"][suite], path + " (suite " + suite + ")");
  return std::nullopt;
}

}  // namespace

void ReportedFlags::validate() const {
  if (!on()) {
    if (!file.empty()) {
      throw UsageError(str("--reported-file '", file,
                           "' needs --reported mosi|mosei|iemocap (the dataset your data file "
                           "holds)"));
    }
    return;
  }
  reported_task(dataset);  // UsageError for names other than mosi, mosei, iemocap
}

ReportedSection ReportedFlags::load(const std::string& suite, const std::string& task,
                                    const std::vector<std::string>& data_paths) const {
  validate();
  std::vector<std::string> notes;
  for (const std::string& p : data_paths) {
    if (p.empty()) {
      notes.push_back(
          "The results do not name their data file, so robustmsa could not check that it is not "
          "its synthetic benchmark.");
      continue;
    }
    const std::vector<std::string> markers = synthetic_markers(p);
    if (!markers.empty()) {
      throw UsageError(str("--reported ", dataset, ": the data file '", p,
                           "' is robustmsa's synthetic benchmark ('", markers.front(),
                           "' is beside it); the papers' numbers apply only to the real ", dataset,
                           " features, so they are not shown next to synthetic results"));
    }
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      notes.push_back(str("The data file '", p,
                          "' named by the results is not here, so robustmsa could not check that "
                          "it is not its synthetic benchmark."));
    }
  }
  const std::string path = file.empty() ? default_reported_path() : file;
  std::error_code ec;
  if (file.empty() && !fs::exists(path, ec)) {
    throw DataError(str("--reported: the default reported-numbers file '", path,
                        "' does not exist (it is read from the source tree robustmsa was built "
                        "from); pass --reported-file FILE"));
  }
  ReportedSection s = select_reported(read_reported(path), dataset, suite, task);
  s.notes.insert(s.notes.end(), notes.begin(), notes.end());
  return s;
}

void print_and_write_report(const std::vector<RunResult>& results, const std::string& out_dir,
                            const std::string& data_path, const std::string& oracle_path,
                            const std::string& discussion_path, const ReportedFlags& reported) {
  if (results.empty()) throw RunError("no results to report");
  if (reported.on() && !oracle_path.empty()) {
    throw UsageError(str("--reported ", reported.dataset, " with --oracle '", oracle_path,
                         "': an oracle exists only for the synthetic benchmark, and the papers' "
                         "numbers apply only to the real datasets"));
  }
  // Checked before the oracle is read: an oracle beside the data file is what marks it synthetic.
  // (build_report then refuses results that mix suites or tasks.)
  std::optional<ReportedSection> section;
  if (reported.on()) {
    std::vector<std::string> paths;
    for (const RunResult& r : results) {
      if (std::find(paths.begin(), paths.end(), r.data_path) == paths.end()) {
        paths.push_back(r.data_path);
      }
    }
    section = reported.load(results.front().suite, results.front().task, paths);
  }
  std::optional<RunResult> oracle = oracle_for(data_path, results.front().suite, oracle_path);
  Report report = build_report(results, oracle, ReportOptions{});
  report.reported = std::move(section);
  if (!discussion_path.empty()) report.discussion = read_file(discussion_path);
  write_report(report, out_dir);
  std::cout << format_terminal_table(report);
  std::cout << "\nreport written to " << out_dir << "/report.md\n";
}

Runner add_models(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  app.add_flag("--json", *json, "machine-readable output");
  return [json] {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& e : model_registry()) {
      if (*json) {
        all.push_back({{"name", e.name}, {"paper", e.paper}, {"options", e.default_options()}});
      } else {
        std::cout << e.name << "  —  " << e.paper << "\n    " << e.default_options().dump() << "\n";
      }
    }
    if (*json) std::cout << all.dump(2) << "\n";
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
  // realmosi: utterance-level sets (docs/real-mosi.md).
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
    std::string like = "mosi", layout = "mult", out;
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
  app.add_option("--seed", f->seed, "generator seed")->capture_default_str();
  app.add_option("--n", f->n, "scale all split sizes so that train has N samples (0 = real sizes)");
  app.add_option("--set", f->sets, "any generator option: key=value (see docs/synthetic.md)");
  return [f] {
    SynthOptions o;
    set_option(o, "like", f->like, "synth");
    set_option(o, "layout", f->layout, "synth");
    set_option(o, "seed", std::to_string(f->seed), "synth");
    if (f->n > 0) {  // keep the real dataset's split proportions
      SynthShape shape = resolve_synth(o);
      o.n_train = f->n;
      o.n_valid = std::max<int64_t>(8, f->n * shape.n[1] / shape.n[0]);
      o.n_test = std::max<int64_t>(8, f->n * shape.n[2] / shape.n[0]);
    }
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
    bool resume = false;
    int64_t nproc = 1;
  };
  auto f = std::make_shared<Flags>();
  f->cfg.add(app);
  app.add_option("--model", f->model, "model name (see `robustmsa models`)");
  app.add_option("--out", f->out, "run directory; each seed goes to OUT/seed_<seed>");
  app.add_flag("--resume", f->resume, "continue interrupted runs from their checkpoint");
  app.add_option("--nproc", f->nproc,
                 "data-parallel ranks to start on this machine (needs train.shards >= N; "
                 "see docs/scaling.md)");
  return [f] {
    ExperimentConfig cfg = f->cfg.resolve(f->model);
    if (f->cfg.dump) return print_config(cfg);
    if (f->out.empty()) throw UsageError("train: --out RUN is required");
    resolved_model_options(cfg);  // unknown model keys fail before any data is read
    if (f->nproc != 1) {          // one machine, N ranks over Gloo on loopback
      if (f->nproc < 1 || f->nproc > cfg.train.shards)
        throw ConfigError(str("--nproc ", f->nproc, ": expected 1 ... train.shards (",
                              cfg.train.shards, "); set --set train.shards=", f->nproc));
      if (int code = launch_local(f->nproc, own_arguments_without("--nproc")))
        throw RunError(str("train --nproc ", f->nproc, ": a rank failed (exit code ", code, ")"));
      return;
    }
    int threads = configure_threads(cfg.train.threads);
    PreparedData data = prepare_data(cfg.data);
    std::fprintf(stderr, "data %s: %ld/%ld/%ld samples, %s, threads %d\n", cfg.data.path.c_str(),
                 static_cast<long>(data.tensors[0].n), static_cast<long>(data.tensors[1].n),
                 static_cast<long>(data.tensors[2].n), task_name(data.info.task), threads);
    std::vector<RunResult> results;
    for (int64_t seed : cfg.train.seeds)
      results.push_back(train_run(cfg, cfg.model, seed, data, seed_dir(f->out, seed), f->resume));
    if (!default_distributed().is_main()) return;  // rank 0 reports
    print_and_write_report(results, (fs::path(f->out) / "report").string(), cfg.data.path);
  };
}

Runner add_eval(CLI::App& app) {
  struct Flags {
    std::string run, suite = "paper", data;
    int64_t threads = 0, mask_seed = -1;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--run", f->run, "a run directory, or a directory of runs (all seeds)")
      ->required();
  app.add_option("--suite", f->suite, "paper, mmsa or gcnet")->capture_default_str();
  app.add_option("--data", f->data, "feature file (default: the one the run was trained on)");
  app.add_option("--mask-seed", f->mask_seed, "evaluation mask seed (default: the run's)");
  app.add_option("--threads", f->threads, "intra-op threads (0 = all cores)");
  return [f] {
    std::vector<Condition> conditions = suite_conditions(f->suite);
    configure_threads(f->threads);
    std::vector<std::string> runs = find_runs(f->run);
    std::unique_ptr<PreparedData> data;
    std::vector<RunResult> results;
    for (const auto& dir : runs) {
      LoadedRun cfg_only = read_run_config(dir);
      std::string path = f->data.empty() ? cfg_only.config.data.path : f->data;
      if (!data || data->info.path != path) {
        DataSection ds = cfg_only.config.data;
        ds.path = path;
        data = std::make_unique<PreparedData>(prepare_data(ds));
      }
      LoadedRun run = load_run(dir, data->spec);
      int64_t mask_seed = f->mask_seed >= 0 ? f->mask_seed : run.config.eval.mask_seed;
      RunResult r;
      r.variant = run.variant;
      r.model = run.config.model;
      r.seed = run.seed;
      r.suite = f->suite;
      r.split = "test";
      r.task = task_name(data->info.task);
      r.data_path = data->info.path;
      r.data_sha256 = data->info.sha256;
      r.conditions = evaluate_conditions(
          *run.model, data->split(SplitId::kTest),
          with_text_features(*run.model, data->tensor(SplitId::kTest), run.config.eval.batch_size),
          conditions, static_cast<uint64_t>(mask_seed), run.config.eval.batch_size,
          data->info.task);
      std::string name =
          f->suite == run.config.eval.suite ? "results.json" : "results_" + f->suite + ".json";
      std::string out = (fs::path(dir) / name).string();
      std::string text = results_to_json(r).dump(2) + "\n";
      // Never overwrite an earlier evaluation that differs (another data file or mask seed).
      const bool differs = fs::exists(out) && read_file(out) != text;
      if (differs)
        std::fprintf(stderr,
                     "note: %s differs from this evaluation; kept the old file, wrote %s.new\n",
                     out.c_str(), out.c_str());
      write_file_atomic(differs ? out + ".new" : out, text);
      std::fprintf(stderr, "evaluated %s (%s seed %ld) on %zu conditions\n", dir.c_str(),
                   run.variant.c_str(), static_cast<long>(run.seed), conditions.size());
      results.push_back(std::move(r));
    }
    std::string report_dir = (fs::path(f->run) / ("report_" + f->suite)).string();
    print_and_write_report(results, report_dir, data ? data->info.path : "");
  };
}

Runner add_compare(CLI::App& app) {
  struct Flags {
    ConfigFlags cfg;
    std::string models = "umdf", out, suite, discussion;
    ReportedFlags reported;
  };
  auto f = std::make_shared<Flags>();
  f->cfg.add(app);
  app.add_option("--models", f->models,
                 "comma-separated models or variants, e.g. umdf,umdf:distill=false,mult, or all")
      ->capture_default_str();
  app.add_option("--suite", f->suite, "evaluation suite (default eval.suite: paper)");
  app.add_option("--out", f->out, "output directory: OUT/<variant>/seed_<seed>, OUT/report")
      ->required();
  app.add_option("--discussion", f->discussion,
                 "Markdown file shown as the report's Discussion section (your reading of the "
                 "results)");
  f->reported.add(app);
  return [f] {
    if (!f->discussion.empty()) read_file(f->discussion);  // a bad path fails before training
    std::vector<Variant> variants = parse_variants(f->models);
    std::vector<ExperimentConfig> configs;
    for (const auto& v : variants) {
      ExperimentConfig cfg = f->cfg.resolve(v.model);
      for (const auto& s : v.sets) cfg.apply_set(s);
      if (!f->suite.empty()) cfg.apply_set("eval.suite=" + f->suite);
      resolved_model_options(cfg);  // fail on bad options before any training
      configs.push_back(cfg);
    }
    if (f->cfg.dump) {
      for (const auto& c : configs) print_config(c);
      return;
    }
    // --reported: a synthetic file, another suite, an unknown dataset or a bad numbers file fail
    // before the data is read, a task that is not the dataset's before any training.
    f->reported.validate();
    if (f->reported.on()) {
      for (const auto& c : configs) f->reported.load(c.eval.suite, "", {c.data.path});
    }
    int threads = configure_threads(configs.front().train.threads);
    PreparedData data = prepare_data(configs.front().data);
    if (f->reported.on()) {
      f->reported.load(configs.front().eval.suite, task_name(data.info.task),
                       {configs.front().data.path});
    }
    std::fprintf(stderr, "compare: %zu variant(s) x %zu seed(s) on %s (threads %d)\n",
                 variants.size(), configs.front().train.seeds.size(),
                 configs.front().data.path.c_str(), threads);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<RunResult> results;
    for (std::size_t i = 0; i < variants.size(); ++i) {
      for (int64_t seed : configs[i].train.seeds) {
        std::string dir = seed_dir((fs::path(f->out) / slug(variants[i].label)).string(), seed);
        // resume: a finished run of the same configuration is read, an interrupted one goes on.
        results.push_back(
            train_run(configs[i], variants[i].label, seed, data, dir, /*resume=*/true));
      }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "compare finished in %.0f s\n", secs);
    if (!default_distributed().is_main()) return;  // rank 0 reports
    print_and_write_report(results, (fs::path(f->out) / "report").string(),
                           configs.front().data.path, "", f->discussion, f->reported);
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
    f->reported.validate();
    // A sweep directory: one report per dataset and suite, and the cells still missing.
    if (fs::exists(fs::path(f->dir) / "sweep.json")) {
      if (f->reported.on()) {
        throw UsageError(str("--reported with the sweep directory '", f->dir,
                             "': a sweep may hold several datasets; run `robustmsa report "
                             "<sweep>/<dataset>/paper --reported <dataset>` for each real "
                             "dataset instead"));
      }
      if (!f->reference.empty()) {
        throw UsageError(str("--reference with the sweep directory '", f->dir,
                             "': report one of its <dataset>/<suite> directories instead"));
      }
      report_sweep(f->dir, f->oracle);
      return;
    }
    std::vector<RunResult> all = collect_results(f->dir);
    if (all.empty()) throw DataError(str("report: no results*.json under '", f->dir, "'"));
    if (!f->reference.empty()) {
      auto first = std::stable_partition(
          all.begin(), all.end(), [&](const RunResult& r) { return r.variant == f->reference; });
      if (first == all.begin()) {
        std::set<std::string> found;
        for (const auto& r : all) found.insert(r.variant);
        std::string names;
        for (const auto& v : found) names += (names.empty() ? "" : ", ") + v;
        throw UsageError(str("report --reference '", f->reference,
                             "': no run of that variant under '", f->dir, "' (found: ", names,
                             ")"));
      }
    }
    // One report per suite.
    std::map<std::string, std::vector<RunResult>> by_suite;
    for (auto& r : all) by_suite[r.suite].push_back(r);
    // The reported tables follow the paper suite: with --reported, only that suite's report gets
    // them, and a directory without paper-suite results is refused.
    if (f->reported.on() && !by_suite.count("paper")) {
      std::string suites;
      for (const auto& [suite, results] : by_suite) suites += (suites.empty() ? "" : ", ") + suite;
      throw UsageError(str("--reported ", f->reported.dataset,
                           ": the reported tables follow the `paper` suite's conditions, but '",
                           f->dir, "' holds results of suite(s) ", suites, " only"));
    }
    for (auto& [suite, results] : by_suite) {
      std::string out = f->out.empty() ? (fs::path(f->dir) / "report").string() : f->out;
      if (by_suite.size() > 1) out += "_" + suite;
      const bool with_reported = f->reported.on() && suite == "paper";
      if (f->reported.on() && !with_reported) {
        std::fprintf(stderr,
                     "note: --reported applies to the paper suite; the %s report (%s) has no "
                     "reported section\n",
                     suite.c_str(), out.c_str());
      }
      print_and_write_report(results, out, results.front().data_path, f->oracle, f->discussion,
                             with_reported ? f->reported : ReportedFlags());
    }
  };
}

Runner add_predict(CLI::App& app) {
  struct Flags {
    std::string run, input, split = "test", encoder;
    std::vector<std::string> texts;
    int64_t threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--run", f->run, "a run directory (seed_<seed>)")->required();
  app.add_option("--input", f->input,
                 "features: a JSON file {\"samples\": [{\"text\": [[...]], \"audio\": null, ...}]} "
                 "or a pickle in a supported layout");
  app.add_option("--text", f->texts,
                 "score sentences (repeatable) with text only: tokenised and encoded by the run's "
                 "data.text_encoder or --text-encoder (docs/text.md)");
  app.add_option("--text-encoder", f->encoder,
                 "BERT-family model folder for --text (default: the run's data.text_encoder)");
  app.add_option("--split", f->split, "split of a pickle input")->capture_default_str();
  app.add_option("--threads", f->threads, "intra-op threads (0 = all cores)");
  return [f] {
    configure_threads(f->threads);
    std::vector<std::string> runs = find_runs(f->run);
    if (runs.size() != 1)
      throw UsageError(
          str("predict --run '", f->run, "': expected one run directory, found ", runs.size()));
    InputSpec spec = run_input_spec(runs[0]);
    if (f->input.empty() == f->texts.empty())
      throw UsageError("predict: pass exactly one of --input FILE and --text \"...\"");
    LoadedRun run = load_run(runs[0], spec);
    if (!f->texts.empty()) {
      const std::string dir = f->encoder.empty() ? run.config.data.text_encoder : f->encoder;
      if (dir.empty())
        throw UsageError(str("predict --text: run '", runs[0],
                             "' was not trained with data.text_encoder; pass --text-encoder DIR "
                             "(the model that made its text features)"));
      TextEncoder enc = load_text_encoder(dir);  // a fine-tuned run: its tokenizer only
      PredictInput in = text_predict_input(enc, f->texts, spec, run.model.get());
      nlohmann::json out = predict_json(*run.model, in, spec);
      std::cout << out.dump(2) << "\n";
      return;
    }
    if (run.model->text_encoder)
      throw UsageError(str("predict --input: run '", runs[0],
                           "' fine-tuned its text encoder (data.text_finetune), so text features "
                           "from elsewhere do not fit it; score text with --text \"...\""));
    PredictInput in = read_predict_input(f->input, f->split, spec);
    std::cout << predict_json(*run.model, in, spec).dump(2) << "\n";
  };
}

}  // namespace robustmsa::cli

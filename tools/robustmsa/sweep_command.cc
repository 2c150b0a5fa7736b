// robustmsa sweep: a grid of compare cells (datasets x suites x models x seeds), run here with N
// worker processes or written as a Slurm job array. The planning is in src/config/sweep.h.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "cli_common.h"
#include "commands.h"
#include "config/sweep.h"
#include "data/protocol.h"
#include "train/trainer.h"
#include "util/fs.h"

namespace robustmsa::cli {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

std::string own_executable() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec)
    throw RunError(str("sweep: cannot find this program's path (/proc/self/exe): ", ec.message()));
  return p.string();
}

}  // namespace

int64_t report_sweep(const std::string& sweep_dir, const std::string& oracle_path) {
  SweepPlan plan = read_sweep_plan(sweep_dir);
  // One report per (dataset, suite) over the finished cells, in plan order.
  std::vector<std::string> groups;
  std::map<std::string, std::vector<const SweepCell*>> by_group;
  std::vector<const SweepCell*> missing;
  for (const SweepCell& c : plan.cells) {
    if (!by_group.count(c.compare_out)) groups.push_back(c.compare_out);
    by_group[c.compare_out].push_back(&c);
    if (!sweep_cell_finished(c)) missing.push_back(&c);
  }
  for (const std::string& g : groups) {
    std::vector<RunResult> results;
    for (const SweepCell* c : by_group[g])
      if (sweep_cell_finished(*c))
        results.push_back(read_results((fs::path(c->run_dir) / "results.json").string()));
    const SweepCell& first = *by_group[g].front();
    std::cout << "\n== " << first.dataset << " / " << first.suite << ": " << results.size()
              << " of " << by_group[g].size() << " cell(s) finished\n";
    if (results.empty()) continue;
    print_and_write_report(results, (fs::path(g) / "report").string(), first.data, oracle_path);
  }
  if (missing.empty()) {
    std::cout << "\nsweep " << sweep_dir << ": all " << plan.cells.size() << " cell(s) finished\n";
  } else {
    std::cout << "\nsweep " << sweep_dir << ": " << missing.size() << " of " << plan.cells.size()
              << " cell(s) missing (rerun `robustmsa sweep` with the same grid to finish them):\n";
    for (const SweepCell* c : missing)
      std::cout << "  cell " << c->id << ": " << c->dataset << " " << c->suite << " " << c->variant
                << " seed " << c->seed << " (" << c->run_dir
                << (fs::exists(fs::path(c->run_dir) / "checkpoint.pt") ? ", has a checkpoint"
                                                                       : ", not started")
                << ")\n";
  }
  return static_cast<int64_t>(missing.size());
}

Runner add_sweep(CLI::App& app) {
  struct Flags {
    ConfigFlags cfg;
    std::string models = "umdf", suites, out;
    int64_t workers = 1;
    bool slurm = false;
    int64_t cpus_per_task = 1, max_parallel = 0;
    std::vector<std::string> sbatch;
  };
  auto f = std::make_shared<Flags>();
  f->cfg.add(app);  // --data takes a comma-separated list here
  app.add_option("--models", f->models, "models or variants, as compare takes them")
      ->capture_default_str();
  app.add_option("--suites", f->suites, "comma-separated suites (default eval.suite: paper)");
  app.add_option("--out", f->out, "sweep directory: OUT/<dataset>/<suite>/<variant>/seed_<seed>")
      ->required();
  app.add_option("--workers", f->workers, "cells run at once on this machine")
      ->capture_default_str();
  app.add_flag("--slurm", f->slurm,
               "write OUT/sweep.sbatch (a job array, one task per unfinished cell) instead of "
               "running the cells");
  app.add_option("--cpus-per-task", f->cpus_per_task, "Slurm: cores (and threads) per cell")
      ->capture_default_str();
  app.add_option("--max-parallel", f->max_parallel, "Slurm: at most N array tasks at once");
  app.add_option("--sbatch", f->sbatch, "Slurm: an extra #SBATCH option, e.g. --partition=cpu");
  return [f] {
    if (f->cfg.data.empty()) throw UsageError("sweep: --data FILE[,FILE...] is required");
    SweepGrid grid;
    grid.data = split_list(f->cfg.data);
    for (const Variant& v : parse_variants(f->models)) {
      // Resolve every cell's configuration now, so that a bad option fails before any cell runs.
      ConfigFlags one = f->cfg;
      one.data = grid.data.front();
      ExperimentConfig cfg = one.resolve(v.model);
      for (const auto& s : v.sets) cfg.apply_set(s);
      resolved_model_options(cfg);
      if (grid.seeds.empty()) grid.seeds = cfg.train.seeds;
      if (grid.suites.empty())
        grid.suites =
            f->suites.empty() ? std::vector<std::string>{cfg.eval.suite} : split_list(f->suites);
      grid.variants.push_back({v.label, slug(v.label)});
    }
    for (const auto& s : grid.suites) suite_conditions(s);  // UsageError for an unknown suite
    grid.out = f->out;
    grid.program = own_executable();
    for (const auto& c : f->cfg.configs) {
      grid.forwarded.push_back("--config");
      grid.forwarded.push_back(fs::absolute(c).string());
    }
    for (const auto& s : f->cfg.sets) {
      grid.forwarded.push_back("--set");
      grid.forwarded.push_back(s);
    }
    // Threads per cell: as given, else the cores shared among the workers (Slurm: per task).
    int64_t threads = f->cfg.threads;
    if (threads < 0)
      threads = f->slurm ? f->cpus_per_task
                         : std::max<int64_t>(1, std::thread::hardware_concurrency() / f->workers);
    grid.forwarded.push_back("--threads");
    grid.forwarded.push_back(std::to_string(threads));
    for (auto& d : grid.data) d = fs::absolute(d).string();
    SweepPlan plan = plan_sweep(grid);
    write_sweep_plan(plan);

    if (f->slurm) {
      SlurmOptions so;
      so.cpus_per_task = f->cpus_per_task;
      so.max_parallel = f->max_parallel;
      so.sbatch = f->sbatch;
      std::string array;
      const std::string path = (fs::path(plan.out) / "sweep.sbatch").string();
      fs::create_directories(fs::path(plan.out) / "logs");
      write_file_atomic(path, slurm_script(plan, so, &array));
      fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
      if (array.empty())
        std::cout << "all " << plan.cells.size() << " cell(s) finished; nothing to submit\n";
      else
        std::cout << "wrote " << path << " (" << plan.cells.size() << " cell(s), array " << array
                  << ")\nsubmit with: sbatch " << path << "\nthen: robustmsa report " << plan.out
                  << "\n";
      return;
    }
    SweepRunSummary s = run_sweep_locally(plan, f->workers);
    std::fprintf(stderr, "sweep: %ld skipped, %ld finished now, %zu failed\n",
                 static_cast<long>(s.skipped), static_cast<long>(s.finished), s.failed.size());
    report_sweep(plan.out);
    if (!s.failed.empty()) {
      std::string ids;
      for (int64_t id : s.failed) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      throw RunError(str("sweep: cell(s) ", ids, " failed; their logs are in ",
                         (fs::path(plan.out) / "logs").string(),
                         "; rerun the sweep to retry them"));
    }
  };
}

}  // namespace robustmsa::cli

// robustmsa sweep: a grid of compare cells (datasets x suites x models x seeds), run here with N
// worker processes or written as a Slurm job array. The planning is in src/run/sweep.h and
// plan_sweep_request (include/robustmsa/train.h).
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli_common.h"
#include "commands.h"

namespace robustmsa::cli {

void print_sweep_report(const SweepReport& r) {
  for (const SweepGroupReport& g : r.groups) {
    std::cout << "\n== " << g.dataset << " / " << g.suite << ": " << g.finished << " of " << g.cells
              << " cell(s) finished\n";
    if (g.written) print_report(g.written->report, g.written->out_dir);
  }
  std::cout << format_sweep_missing(r);
}

Runner add_sweep(CLI::App& app) {
  struct Flags {
    ConfigFlags cfg;
    SweepRequest req;
    int64_t max_parallel = 0;
    std::vector<std::string> sbatch;
  };
  auto f = std::make_shared<Flags>();
  f->cfg.add(app);  // --data takes a comma-separated list here
  app.add_option("--models", f->req.models, "models or variants, as compare takes them")
      ->capture_default_str();
  app.add_option("--suites", f->req.suites, "comma-separated suites (default eval.suite: paper)");
  // Required (plan_sweep_request says so), not by CLI11: --help-config needs no --out.
  app.add_option("--out", f->req.out,
                 "sweep directory (required): OUT/<dataset>/<suite>/<variant>/seed_<seed>");
  app.add_option("--workers", f->req.workers, "cells run at once on this machine")
      ->capture_default_str();
  app.add_flag("--slurm", f->req.slurm,
               "write OUT/sweep.sbatch (a job array, one task per unfinished cell) instead of "
               "running the cells");
  app.add_option("--cpus-per-task", f->req.cpus_per_task, "Slurm: cores (and threads) per cell")
      ->capture_default_str();
  app.add_option("--max-parallel", f->max_parallel, "Slurm: at most N array tasks at once");
  app.add_option("--sbatch", f->sbatch, "Slurm: an extra #SBATCH option, e.g. --partition=cpu");
  return [f] {
    if (f->cfg.help_config) return print_config_help(f->req.models);
    f->req.layers = f->cfg.layers;
    SweepPlan plan = plan_sweep_request(f->req);
    if (f->req.slurm) {
      SlurmOptions so;
      so.cpus_per_task = f->req.cpus_per_task;
      so.max_parallel = f->max_parallel;
      so.sbatch = f->sbatch;
      std::string array;
      const std::string path = write_slurm_script(plan, so, &array);
      if (array.empty())
        std::cout << "all " << plan.cells.size() << " cell(s) finished; nothing to submit\n";
      else
        std::cout << "wrote " << path << " (" << plan.cells.size() << " cell(s), array " << array
                  << ")\nsubmit with: sbatch " << path << "\nthen: robustmsa report " << plan.out
                  << "\n";
      return;
    }
    SweepRunSummary s = run_sweep_locally(plan, f->req.workers);
    std::fprintf(stderr, "sweep: %ld skipped, %ld finished now, %zu failed\n",
                 static_cast<long>(s.skipped), static_cast<long>(s.finished), s.failed.size());
    print_sweep_report(report_sweep(plan.out));
    if (!s.failed.empty()) {
      std::string ids;
      for (int64_t id : s.failed) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
      throw RunError(str("sweep: cell(s) ", ids, " failed; their logs are in ",
                         sweep_log_dir(plan.out), "; rerun the sweep to retry them"));
    }
  };
}

}  // namespace robustmsa::cli

#include "run/sweep.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "run/run_dir.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

namespace robustmsa {

namespace fs = std::filesystem;

namespace {

std::string sweep_plan_path(const std::string& sweep_dir) {
  return (fs::path(sweep_dir) / "sweep.json").string();
}

void require_axis(bool ok, const char* what) {
  if (!ok) throw UsageError(str("sweep: no ", what, " given; expected at least one"));
}

std::string dataset_name(const std::string& path, std::set<std::string>& used) {
  std::string stem = fs::path(path).stem().string();
  if (stem.empty()) stem = "data";
  std::string name = stem;
  for (int i = 2; used.count(name); ++i) name = stem + "_" + std::to_string(i);
  used.insert(name);
  return name;
}

}  // namespace

SweepPlan plan_sweep(const SweepGrid& grid) {
  require_axis(!grid.data.empty(), "data file (--data)");
  require_axis(!grid.suites.empty(), "suite (--suites)");
  require_axis(!grid.variants.empty(), "model (--models)");
  require_axis(!grid.seeds.empty(), "seed (--seeds)");
  if (grid.out.empty()) throw UsageError("sweep: --out DIR is required");
  SweepPlan plan;
  plan.out = grid.out;
  plan.seeds = grid.seeds;
  std::set<std::string> used;
  for (const std::string& data : grid.data) {
    const std::string ds = dataset_name(data, used);
    for (const std::string& suite : grid.suites) {
      const std::string compare_out = (fs::path(grid.out) / ds / suite).string();
      for (const SweepVariant& v : grid.variants) {
        for (int64_t seed : grid.seeds) {
          SweepCell c;
          c.id = static_cast<int64_t>(plan.cells.size());
          c.dataset = ds;
          c.data = data;
          c.suite = suite;
          c.variant = v.label;
          c.seed = seed;
          c.compare_out = compare_out;
          c.run_dir = seed_dir((fs::path(compare_out) / v.slug).string(), seed);
          // compare reads "--seeds 5" as a count; "5," is the one-seed list {5}.
          const std::string seeds = std::to_string(seed) + (seed < 1000 ? "," : "");
          c.argv = {grid.program, "compare", "--data",  data,  "--models", v.label,
                    "--seeds",    seeds,     "--suite", suite, "--out",    compare_out};
          c.argv.insert(c.argv.end(), grid.forwarded.begin(), grid.forwarded.end());
          plan.cells.push_back(std::move(c));
        }
      }
    }
  }
  return plan;
}

nlohmann::json sweep_plan_to_json(const SweepPlan& plan) {
  nlohmann::json cells = nlohmann::json::array();
  for (const SweepCell& c : plan.cells)
    cells.push_back({{"id", c.id},
                     {"dataset", c.dataset},
                     {"data", c.data},
                     {"suite", c.suite},
                     {"variant", c.variant},
                     {"seed", c.seed},
                     {"compare_out", c.compare_out},
                     {"run_dir", c.run_dir},
                     {"argv", c.argv}});
  return {
      {"format", "robustmsa-sweep-1"}, {"out", plan.out}, {"seeds", plan.seeds}, {"cells", cells}};
}

void write_sweep_plan(const SweepPlan& plan) {
  fs::create_directories(plan.out);
  write_file_atomic(sweep_plan_path(plan.out), sweep_plan_to_json(plan).dump(2) + "\n");
}

bool is_sweep_dir(const std::string& dir) { return fs::exists(sweep_plan_path(dir)); }

SweepPlan read_sweep_plan(const std::string& sweep_dir) {
  const std::string path = sweep_plan_path(sweep_dir);
  SweepPlan plan;
  try {
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    if (j.at("format") != "robustmsa-sweep-1")
      throw DataError(str("sweep plan '", path, "': format ", j.at("format").dump(),
                          "; expected \"robustmsa-sweep-1\""));
    plan.out = j.at("out").get<std::string>();
    plan.seeds = j.at("seeds").get<std::vector<int64_t>>();
    for (const auto& c : j.at("cells")) {
      SweepCell cell;
      cell.id = c.at("id").get<int64_t>();
      cell.dataset = c.at("dataset").get<std::string>();
      cell.data = c.at("data").get<std::string>();
      cell.suite = c.at("suite").get<std::string>();
      cell.variant = c.at("variant").get<std::string>();
      cell.seed = c.at("seed").get<int64_t>();
      cell.compare_out = c.at("compare_out").get<std::string>();
      cell.run_dir = c.at("run_dir").get<std::string>();
      cell.argv = c.at("argv").get<std::vector<std::string>>();
      plan.cells.push_back(std::move(cell));
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(str("sweep plan '", path, "': ", e.what(),
                        "; expected the sweep.json that `robustmsa sweep` writes"));
  }
  return plan;
}

bool sweep_cell_finished(const SweepCell& cell) {
  return fs::exists(RunPaths(cell.run_dir).results);
}

std::string sweep_log_dir(const std::string& sweep_dir) {
  return (fs::path(sweep_dir) / "logs").string();
}

SweepRunSummary run_sweep_locally(const SweepPlan& plan, int64_t workers) {
  if (workers < 1) throw UsageError(str("sweep --workers ", workers, ": expected >= 1"));
  SweepRunSummary summary;
  std::vector<const SweepCell*> todo;
  for (const SweepCell& c : plan.cells) {
    if (sweep_cell_finished(c))
      ++summary.skipped;
    else
      todo.push_back(&c);
  }
  std::fprintf(stderr,
               "sweep: %zu cell(s), %ld finished before (skipped), %zu to run, %ld worker(s)\n",
               plan.cells.size(), static_cast<long>(summary.skipped), todo.size(),
               static_cast<long>(workers));
  const fs::path logs = sweep_log_dir(plan.out);
  fs::create_directories(logs);
  std::map<pid_t, const SweepCell*> running;
  std::size_t next = 0;
  while (next < todo.size() || !running.empty()) {
    while (next < todo.size() && static_cast<int64_t>(running.size()) < workers) {
      const SweepCell& c = *todo[next++];
      ProcessSpec p;
      p.argv = c.argv;
      p.output = (logs / ("cell_" + std::to_string(c.id) + ".log")).string();
      // Die with the sweep: an interrupted sweep must not leave cells writing behind it.
      p.die_with_parent = true;
      const pid_t pid = start_process(p);
      std::fprintf(stderr, "sweep: cell %ld started (%s %s %s seed %ld), log %s\n",
                   static_cast<long>(c.id), c.dataset.c_str(), c.suite.c_str(), c.variant.c_str(),
                   static_cast<long>(c.seed), p.output.c_str());
      running[pid] = &c;
    }
    int code = 0;
    const pid_t pid = wait_any_process(&code);
    if (pid < 0) throw RunError(str("sweep: waitpid(): ", std::strerror(errno)));
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const SweepCell& c = *it->second;
    running.erase(it);
    if (code == 0 && sweep_cell_finished(c)) {
      ++summary.finished;
      std::fprintf(stderr, "sweep: cell %ld finished\n", static_cast<long>(c.id));
    } else {
      summary.failed.push_back(c.id);
      std::fprintf(stderr, "sweep: cell %ld failed (exit code %d); see %s\n",
                   static_cast<long>(c.id), code,
                   (logs / ("cell_" + std::to_string(c.id) + ".log")).string().c_str());
    }
  }
  return summary;
}

std::string compress_ids(const std::vector<int64_t>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string slurm_script(const SweepPlan& plan, const SlurmOptions& options, std::string* array) {
  std::vector<int64_t> pending;
  for (const SweepCell& c : plan.cells)
    if (!sweep_cell_finished(c)) pending.push_back(c.id);
  std::string ids = compress_ids(pending);
  if (array) *array = ids;
  const std::string logs = sweep_log_dir(plan.out);
  std::string s;
  s += "#!/bin/bash\n";
  s += "# robustmsa sweep: one Slurm array task per unfinished cell (task id = cell id).\n";
  s +=
      "# Submit with: sbatch " + shell_quote((fs::path(plan.out) / "sweep.sbatch").string()) + "\n";
  s += "#SBATCH --job-name=robustmsa-sweep\n";
  if (!ids.empty()) {
    s += "#SBATCH --array=" + ids;
    if (options.max_parallel > 0) s += "%" + std::to_string(options.max_parallel);
    s += "\n";
  }
  s += "#SBATCH --ntasks=1\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(options.cpus_per_task) + "\n";
  s += "#SBATCH --output=" + logs + "/cell_%a.log\n";
  for (const std::string& o : options.sbatch) s += "#SBATCH " + o + "\n";
  s += "set -euo pipefail\n";
  s += ": \"${SLURM_ARRAY_TASK_ID:?run this script with sbatch (it is a job array)}\"\n";
  s += "case \"$SLURM_ARRAY_TASK_ID\" in\n";
  for (const SweepCell& c : plan.cells) {
    s += "  " + std::to_string(c.id) + ")\n";
    s += "    run_dir=" + shell_quote(c.run_dir) + "\n";
    s += "    cell=(";
    for (std::size_t i = 0; i < c.argv.size(); ++i) s += (i ? " " : "") + shell_quote(c.argv[i]);
    s += ")\n    ;;\n";
  }
  s += "  *) echo \"robustmsa sweep: no cell $SLURM_ARRAY_TASK_ID in this sweep\" >&2; exit 2 ;;\n";
  s += "esac\n";
  const std::string results = std::string("$run_dir/") + kResultsFile;  // sweep_cell_finished
  s += "if [ -f \"" + results + "\" ]; then\n";
  s += "  echo \"cell $SLURM_ARRAY_TASK_ID finished already (" + results + ")\"\n";
  s += "  exit 0\n";
  s += "fi\n";
  s += "exec \"${cell[@]}\"\n";
  return s;
}

std::string write_slurm_script(const SweepPlan& plan, const SlurmOptions& options,
                               std::string* array) {
  const std::string path = (fs::path(plan.out) / "sweep.sbatch").string();
  fs::create_directories(sweep_log_dir(plan.out));
  write_file_atomic(path, slurm_script(plan, options, array));
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  return path;
}

}  // namespace robustmsa

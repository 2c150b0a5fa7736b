// Experiment sweeps: a grid (datasets x suites x model variants x seeds) expanded into
// independent cells. Each cell is one `robustmsa compare` of one variant and one seed, so it
// writes exactly the run directory compare writes (OUT/<dataset>/<suite>/<variant>/seed_<seed>)
// and is resumed the way compare resumes: a cell with results.json is finished and skipped, a
// cell with a checkpoint continues from it. Cells run on this machine with N worker processes, or
// as a Slurm job array (one array task per cell). Torch-free.
//
// Usage:
//   robustmsa::SweepPlan plan = robustmsa::plan_sweep(grid);
//   robustmsa::write_sweep_plan(plan);                 // OUT/sweep.json
//   robustmsa::run_sweep_locally(plan, /*workers=*/2);  // or write_slurm_script(plan, {})
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace robustmsa {

struct SweepVariant {
  std::string label;  // as compare's --models takes it: "umdf" or "umdf:distill=false"
  std::string slug;   // its directory name (compare's)
};

struct SweepGrid {
  std::vector<std::string> data;  // feature files
  std::vector<std::string> suites;
  std::vector<SweepVariant> variants;
  std::vector<int64_t> seeds;
  std::string out;                     // sweep directory
  std::string program;                 // the robustmsa executable (absolute path)
  std::vector<std::string> forwarded;  // options passed to every cell (--config, --set...)
};

struct SweepCell {
  int64_t id = 0;
  std::string dataset;  // directory name of the data file (its stem, made unique)
  std::string data;
  std::string suite;
  std::string variant;  // label
  int64_t seed = 0;
  std::string compare_out;        // OUT/<dataset>/<suite>: compare's --out
  std::string run_dir;            // compare_out/<slug>/seed_<seed>
  std::vector<std::string> argv;  // the command that runs the cell
};

struct SweepPlan {
  std::string out;
  std::vector<int64_t> seeds;
  std::vector<SweepCell> cells;
};

// Expands the grid in the order dataset, suite, variant, seed (cell ids follow that order).
// UsageError for an empty axis.
SweepPlan plan_sweep(const SweepGrid& grid);
// OUT/sweep.json (written atomically) and back; DataError naming the file for a malformed one.
void write_sweep_plan(const SweepPlan& plan);
// Whether `dir` is a sweep directory (holds the sweep.json that write_sweep_plan writes).
bool is_sweep_dir(const std::string& dir);
SweepPlan read_sweep_plan(const std::string& sweep_dir);
nlohmann::json sweep_plan_to_json(const SweepPlan& plan);

// A cell is finished when its run directory holds results.json.
bool sweep_cell_finished(const SweepCell& cell);
// OUT/logs: where every cell's output goes (cell_<id>.log), run here or by Slurm.
std::string sweep_log_dir(const std::string& sweep_dir);

struct SweepRunSummary {
  int64_t skipped = 0;          // finished before this run
  int64_t finished = 0;         // finished by this run
  std::vector<int64_t> failed;  // cell ids whose command failed
};
// Runs the unfinished cells with `workers` processes at a time, each cell's output in
// OUT/logs/cell_<id>.log. A worker dies with the sweep (so an interrupted sweep leaves no
// orphans); rerunning skips what finished and resumes what was interrupted.
SweepRunSummary run_sweep_locally(const SweepPlan& plan, int64_t workers);

struct SlurmOptions {
  int64_t cpus_per_task = 1;
  int64_t max_parallel = 0;         // %N throttle of the array (0 = none)
  std::vector<std::string> sbatch;  // extra "#SBATCH" options, e.g. "--partition=cpu"
};
// A bash script for `sbatch`: an array with one task per unfinished cell (task id = cell id),
// each running that cell's command (and exiting early when the cell has finished meanwhile).
// Returns the script; `array` receives the --array list ("" when every cell has finished).
std::string slurm_script(const SweepPlan& plan, const SlurmOptions& options, std::string* array);

// Writes slurm_script into OUT/sweep.sbatch (executable; OUT/logs created for the task logs) and
// returns its path.
std::string write_slurm_script(const SweepPlan& plan, const SlurmOptions& options,
                               std::string* array);

// "0-3,5,7-8" for sorted ids.
std::string compress_ids(const std::vector<int64_t>& ids);
// Single-quotes `s` for bash.
std::string shell_quote(const std::string& s);

}  // namespace robustmsa

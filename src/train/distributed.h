// Data-parallel training on PyTorch's c10d (the backend DistributedDataParallel uses): a TCPStore
// rendezvous, ProcessGroupGloo on CPU (ProcessGroupNCCL in CUDA builds), and a bucketed gradient
// all-reduce. The trainer asks for the default group (like torch.distributed's default process
// group), which is configured the way PyTorch jobs are launched: the environment variables RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (torchrun, srun and mpirun wrappers set
// them), or `robustmsa train --nproc N`, which starts N ranks on this machine.
//
// Why the result does not depend on the number of ranks: every global batch is cut into
// train.shards shards (contiguous, sizes differing by at most one); shard k is processed by rank
// k mod WORLD_SIZE with torch's generator reseeded from (seed, epoch, step, k), its loss scaled by
// its share of the batch; the missing-view sampler is already a hash of (seed, epoch, step,
// sample index). Summing the shard gradients over ranks gives the same gradient as one process
// running the shards one after the other (up to float summation order).
//
// Usage (what the trainer does each step):
//   robustmsa::Distributed& dist = robustmsa::default_distributed();
//   robustmsa::GradientReducer reducer(model->parameters());
//   ... backward on this rank's shards ...
//   reducer.reduce(dist, stats);  // sums gradients (and `stats`) over ranks
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace robustmsa {

// Where this process stands in the job, from the environment.
struct DistEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  // How long a collective (or the rendezvous) may wait for a peer before failing:
  // ROBUSTMSA_DIST_TIMEOUT seconds (default 1800, PyTorch's default).
  std::chrono::milliseconds timeout{1800 * 1000};
  // "gloo" or "nccl" (ROBUSTMSA_DIST_BACKEND; default gloo, the only one in CPU builds).
  std::string backend = "gloo";
};
// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, ROBUSTMSA_DIST_TIMEOUT and
// ROBUSTMSA_DIST_BACKEND; UsageError naming the variable for a malformed value. Without
// WORLD_SIZE (or with WORLD_SIZE=1) the job has one rank.
DistEnv dist_env_from_environment();

// A process group: this rank's view of the job. With one rank every collective is a no-op.
class Distributed {
 public:
  // Joins the job described by `env` (blocks until every rank has joined, or `env.timeout`).
  explicit Distributed(const DistEnv& env);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int64_t rank() const { return env_.rank; }
  int64_t world_size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }
  const DistEnv& env() const { return env_; }

  // In-place sum over ranks of each tensor (contiguous, same shape on every rank). RunError
  // naming the rank and the peer problem when a peer died or did not answer within the timeout.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  // In-place copy of `root`'s tensor to every rank.
  void broadcast(torch::Tensor& tensor, int64_t root);
  void barrier();

 private:
  struct Impl;
  DistEnv env_;
  std::unique_ptr<Impl> impl_;
};

// The process-wide group, made from the environment on first use (one rank when WORLD_SIZE is
// unset).
Distributed& default_distributed();

// Sums the gradients of `params` over ranks, flattened into buckets of at most `bucket_bytes`
// (one all-reduce per bucket, like DDP's 25 MB buckets). A gradient that is undefined on every
// rank stays undefined (an unused parameter is not updated, exactly as in one process); one that
// is defined on some rank only counts as zero on the others.
class GradientReducer {
 public:
  explicit GradientReducer(std::vector<torch::Tensor> params,
                           int64_t bucket_bytes = 25 * 1024 * 1024);
  // Reduces the gradients and `stats` (a small float64 tensor of per-step sums, e.g. losses;
  // summed in place). Returns the seconds spent in collectives.
  double reduce(Distributed& dist, torch::Tensor& stats);
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t numel() const;  // gradient values reduced per step

 private:
  std::vector<torch::Tensor> params_;
  std::vector<std::vector<std::size_t>> buckets_;  // parameter indices per bucket
};

// The shards of a batch of `n` rows cut into `shards` pieces: [begin, end) of shard k.
std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t shards, int64_t k);

// Starts `nproc` copies of this program on this machine with RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR=127.0.0.1 and MASTER_PORT (the environment's, or a free port) set, and the given
// arguments; waits for all of them. When one fails, the others are stopped. Returns the exit
// code for the launcher (0 when every rank succeeded, else the first failing rank's code).
int launch_local(int64_t nproc, const std::vector<std::string>& args);

// This process's command line (/proc/self/cmdline) without `option` and its value ("--nproc 2"
// or "--nproc=2"): what each rank started by launch_local runs.
std::vector<std::string> own_arguments_without(const std::string& option);

}  // namespace robustmsa

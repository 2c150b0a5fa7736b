#include "train/distributed.h"

// ProcessGroupGloo.hpp only declares the class when USE_C10D_GLOO is defined (PyTorch's own build
// defines it); Debian's libtorch_cpu.so carries the implementation, and libgloo-dev the headers.
#if __has_include(<gloo/config.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#endif
// NCCL only in CUDA builds of LibTorch whose NCCL headers CMake found (ROBUSTMSA_NCCL).
#if defined(ROBUSTMSA_NCCL) && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL
#endif

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include <torch/torch.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "util/error.h"
#include "util/process.h"

namespace robustmsa {

namespace {

int64_t env_int(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v, &end, 10);
  if (errno != 0 || *end != '\0' || x < lo || x > hi)
    throw UsageError(str("environment variable ", name, "='", v, "': expected an integer in [", lo,
                         ", ", hi, "]"));
  return x;
}

std::string env_str(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// The local address this machine uses to reach `host` (what the peers must connect to): the
// source address the kernel picks for a UDP "connection" to it (no packet is sent).
std::string local_address_towards(const std::string& host, int64_t port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    throw UsageError(str("MASTER_ADDR='", host, "': cannot resolve it to an IPv4 address"));
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  std::string out;
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_in self{};
    socklen_t len = sizeof self;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) == 0) {
      char buf[INET_ADDRSTRLEN];
      if (inet_ntop(AF_INET, &self.sin_addr, buf, sizeof buf)) out = buf;
    }
  }
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  if (out.empty())
    throw RunError(str("MASTER_ADDR='", host, "': no route from this machine to it"));
  return out;
}

std::string describe(const DistEnv& e) {
  return str("rank ", e.rank, " of ", e.world_size, " (", e.backend, ", MASTER_ADDR ",
             e.master_addr, ":", e.master_port, ")");
}

}  // namespace

DistEnv dist_env_from_environment() {
  DistEnv e;
  e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  e.rank = env_int("RANK", 0, 0, e.world_size - 1);
  e.local_rank = env_int("LOCAL_RANK", e.rank, 0, 1 << 20);
  e.master_addr = env_str("MASTER_ADDR", "127.0.0.1");
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  e.timeout =
      std::chrono::milliseconds(env_int("ROBUSTMSA_DIST_TIMEOUT", 1800, 1, 86400 * 7) * 1000);
  e.backend = env_str("ROBUSTMSA_DIST_BACKEND", "gloo");
  if (e.backend != "gloo" && e.backend != "nccl")
    throw UsageError(str("environment variable ROBUSTMSA_DIST_BACKEND='", e.backend,
                         "': expected gloo or nccl"));
#ifndef USE_C10D_NCCL
  if (e.backend == "nccl")
    throw UsageError(
        "ROBUSTMSA_DIST_BACKEND=nccl: this build has no NCCL (it needs a CUDA build of LibTorch "
        "and NCCL's headers); use gloo");
#endif
  return e;
}

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::Store> store;
#ifdef USE_C10D_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  void wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }
};

Distributed::Distributed(const DistEnv& env) : env_(env) {
  if (env_.world_size <= 1) return;
  impl_ = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(env_.master_port);
    opts.isServer = env_.rank == 0;
    opts.numWorkers = static_cast<std::size_t>(env_.world_size);
    opts.waitWorkers = true;
    opts.timeout = env_.timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, opts);
    if (env_.backend == "nccl") {
#ifdef USE_C10D_NCCL
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = env_.timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          impl_->store, static_cast<int>(env_.rank), static_cast<int>(env_.world_size), o);
#endif
    } else {
#ifndef USE_C10D_GLOO
      throw UsageError(str(describe(env_),
                           ": this build has no Gloo (its headers were not "
                           "found when it was compiled; Debian: libgloo-dev)"));
#else
      auto o = c10d::ProcessGroupGloo::Options::create(env_.timeout);
      // GLOO_SOCKET_IFNAME (PyTorch's variable) picks the interface; otherwise the address this
      // machine uses to reach MASTER_ADDR, so that peers on other machines can connect back.
      std::string ifname = env_str("GLOO_SOCKET_IFNAME", "");
      o->devices.push_back(ifname.empty()
                               ? c10d::ProcessGroupGloo::createDeviceForHostname(
                                     local_address_towards(env_.master_addr, env_.master_port))
                               : c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      o->threads = 1;
      impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
          impl_->store, static_cast<int>(env_.rank), static_cast<int>(env_.world_size), o);
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw RunError(str(describe(env_), ": rendezvous failed within ", env_.timeout.count() / 1000,
                       " s (are all ", env_.world_size,
                       " ranks started with the same MASTER_ADDR/MASTER_PORT?): ", e.what()));
  }
}

Distributed::~Distributed() = default;

namespace {
template <class F>
void collective(const DistEnv& env, const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    // Gloo reports a dead peer as a closed connection and a silent one after the timeout.
    std::string msg = e.what();
    auto nl = msg.find('\n');
    if (nl != std::string::npos) msg = msg.substr(0, nl);
    throw RunError(str(describe(env), ": ", what,
                       " failed: a peer rank exited or did not answer within ",
                       env.timeout.count() / 1000,
                       " s (ROBUSTMSA_DIST_TIMEOUT); see the other ranks' output (", msg, ")"));
  }
}
}  // namespace

void Distributed::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  if (env_.world_size <= 1 || tensors.empty()) return;
  collective(env_, "all-reduce", [&] {
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
#ifdef USE_C10D_NCCL
      if (impl_->nccl) {
        impl_->wait(impl_->nccl->allreduce(one));
        continue;
      }
#endif
#ifdef USE_C10D_GLOO
      impl_->wait(impl_->gloo->allreduce(one));
#endif
    }
  });
}

void Distributed::broadcast(torch::Tensor& tensor, int64_t root) {
  if (env_.world_size <= 1) return;
  collective(env_, "broadcast", [&] {
    std::vector<at::Tensor> one{tensor};
    c10d::BroadcastOptions o;
    o.rootRank = root;
#ifdef USE_C10D_NCCL
    if (impl_->nccl) return impl_->wait(impl_->nccl->broadcast(one, o));
#endif
#ifdef USE_C10D_GLOO
    impl_->wait(impl_->gloo->broadcast(one, o));
#endif
  });
}

void Distributed::barrier() {
  if (env_.world_size <= 1) return;
  auto t = torch::zeros({1}, torch::kFloat64);
  std::vector<torch::Tensor> v{t};
  all_reduce_sum(v);
}

Distributed& default_distributed() {
  static Distributed group(dist_env_from_environment());
  return group;
}

GradientReducer::GradientReducer(std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : params_(std::move(params)) {
  // Consecutive parameters of one dtype and device share a bucket up to `bucket_bytes`.
  int64_t bytes = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& p = params_[i];
    int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    bool fits = !buckets_.empty() && bytes + b <= bucket_bytes &&
                params_[buckets_.back().front()].dtype() == p.dtype() &&
                params_[buckets_.back().front()].device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bytes += b;
  }
}

int64_t GradientReducer::numel() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel();
  return n;
}

double GradientReducer::reduce(Distributed& dist, torch::Tensor& stats) {
  if (dist.world_size() <= 1) return 0.0;
  torch::NoGradGuard no_grad;
  auto t0 = std::chrono::steady_clock::now();
  // Which gradients exist on this rank, reduced with the caller's statistics (one small
  // collective), so that every rank agrees on which ones stay undefined.
  const int64_t n = static_cast<int64_t>(params_.size());
  auto meta = torch::zeros({n + stats.numel()}, torch::kFloat64);
  auto acc = meta.accessor<double, 1>();
  for (int64_t i = 0; i < n; ++i) acc[i] = params_[i].grad().defined() ? 1.0 : 0.0;
  meta.narrow(0, n, stats.numel()).copy_(stats.reshape({-1}));
  std::vector<torch::Tensor> tensors{meta};
  for (const auto& bucket : buckets_) {
    std::vector<torch::Tensor> flat;
    flat.reserve(bucket.size());
    for (std::size_t i : bucket) {
      const auto& p = params_[i];
      flat.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros_like(p).view({-1}));
    }
    tensors.push_back(torch::cat(flat));
  }
  dist.all_reduce_sum(tensors);
  acc = tensors[0].accessor<double, 1>();
  stats.copy_(tensors[0].narrow(0, n, stats.numel()).view_as(stats));
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    int64_t offset = 0;
    for (std::size_t i : buckets_[b]) {
      auto& p = params_[i];
      const int64_t k = p.numel();
      if (acc[static_cast<int64_t>(i)] == 0.0) {
        p.mutable_grad() = torch::Tensor();
      } else {
        auto slice = tensors[b + 1].narrow(0, offset, k).view_as(p);
        if (p.grad().defined())
          p.mutable_grad().copy_(slice);
        else
          p.mutable_grad() = slice.clone();
      }
      offset += k;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t shards, int64_t k) {
  return {n * k / shards, n * (k + 1) / shards};
}

namespace {
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw RunError(str("--nproc: socket(): ", std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw RunError(str("--nproc: cannot find a free port on 127.0.0.1: ", std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}
}  // namespace

int launch_local(int64_t nproc, const std::vector<std::string>& args) {
  if (nproc < 1) throw UsageError(str("--nproc ", nproc, ": expected an integer >= 1"));
  const int64_t port =
      std::getenv("MASTER_PORT") ? env_int("MASTER_PORT", 0, 1, 65535) : free_port();
  std::vector<pid_t> pids;
  for (int64_t r = 0; r < nproc; ++r) {
    ProcessSpec p;
    p.argv = args;
    p.program = "/proc/self/exe";
    p.die_with_parent = true;  // a rank dies with its launcher (like torchrun's)
    p.env = {{"RANK", std::to_string(r)},
             {"LOCAL_RANK", std::to_string(r)},
             {"WORLD_SIZE", std::to_string(nproc)},
             {"MASTER_ADDR", "127.0.0.1"},
             {"MASTER_PORT", std::to_string(port)}};
    try {
      pids.push_back(start_process(p));
    } catch (const RunError& e) {
      for (pid_t q : pids) ::kill(q, SIGTERM);
      throw RunError(str("--nproc: rank ", r, ": ", e.what()));
    }
  }
  std::fprintf(stderr, "launched %ld ranks on 127.0.0.1:%ld\n", static_cast<long>(nproc),
               static_cast<long>(port));
  int first_failure = 0;
  std::size_t running = pids.size();
  while (running > 0) {
    int code = 0;
    const pid_t pid = wait_any_process(&code);
    if (pid < 0) break;
    auto it = std::find(pids.begin(), pids.end(), pid);
    if (it == pids.end()) continue;
    const long rank = static_cast<long>(it - pids.begin());
    *it = -1;
    --running;
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      std::fprintf(stderr, "robustmsa: rank %ld exited with code %d; stopping the other ranks\n",
                   rank, code);
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGTERM);
    }
  }
  return first_failure;
}

std::vector<std::string> own_arguments_without(const std::string& option) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> all, out;
  std::string arg;
  while (std::getline(in, arg, '\0')) all.push_back(arg);
  if (all.empty()) throw RunError("cannot read /proc/self/cmdline to start the ranks");
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i] == option) {
      ++i;  // and its value
      continue;
    }
    if (all[i].rfind(option + "=", 0) == 0) continue;
    out.push_back(all[i]);
  }
  return out;
}

}  // namespace robustmsa

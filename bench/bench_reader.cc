// Throughput of the safe pickle reader on a real-sized feature file.
//
//   ROBUSTMSA_BENCH_PICKLE=mosei_senti_data.pkl build/bench_reader
//
// scripts/bench_reader.sh makes MOSEI-sized files with NumPy and prints Python's pickle.load time
// for the same files next to these numbers. Benchmarks (MB/s are of the file's size):
//   LoadFile            load_file() only: parses the opcode stream; payloads stay in the mapping
//   LoadFileTouch       load_file() + reads every byte of every array (what Python's load costs)
//   LoadFileTouchRelease  as above + release_source() after each array (the dataset loader's way)
//   ParseCopy           parse() of bytes already in memory: every array is copied
//   FirstLoad           LoadFileTouchRelease once: run it alone in a fresh process to compare with
//                       one pickle.load in a fresh Python (later iterations of the others reuse
//                       memory that the allocator already has, which a real first load cannot)
// The reader is single-threaded; the thread count is printed only for comparison with others.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "io/pickle.h"

namespace {

using robustmsa::pickle::NdArray;
using robustmsa::pickle::Value;
using robustmsa::pickle::ValuePtr;

const char* bench_path() { return std::getenv("ROBUSTMSA_BENCH_PICKLE"); }

std::size_t file_size(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  return f ? static_cast<std::size_t>(f.tellg()) : 0;
}

// All arrays in a value tree (iteratively; shared arrays listed once is not needed here).
std::vector<const NdArray*> arrays_in(const Value& root) {
  std::vector<const NdArray*> out;
  std::vector<const Value*> todo{&root};
  while (!todo.empty()) {
    const Value* v = todo.back();
    todo.pop_back();
    if (v->kind == Value::Kind::kArray) out.push_back(v->ndarray.get());
    for (const auto& i : v->items) todo.push_back(i.get());
    for (const auto& [k, x] : v->dict) todo.push_back(x.get());
  }
  return out;
}

// Reads every byte of an array's payload (XOR of 8-byte words: memory-bound, vectorised).
uint64_t touch(const NdArray& a) {
  if (a.dtype == robustmsa::pickle::DType::kObject) {
    uint64_t n = 0;
    for (const auto& s : a.objects) n += s.size();
    return n;
  }
  uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= a.nbytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, a.data + i, 8);
    acc ^= w;
  }
  for (; i < a.nbytes; ++i) acc ^= a.data[i];
  return acc;
}

void report(benchmark::State& state, std::size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * static_cast<int64_t>(state.iterations()));
  state.counters["file_MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["threads"] = 1;
  state.counters["cores"] = std::thread::hardware_concurrency();
}

bool have_file(benchmark::State& state) {
  if (bench_path() == nullptr || *bench_path() == '\0') {
    state.SkipWithError(
        "set ROBUSTMSA_BENCH_PICKLE to a pickle file (see scripts/bench_reader.sh)");
    return false;
  }
  return true;
}

void BM_LoadFile(benchmark::State& state) {
  if (!have_file(state)) return;
  const std::string path = bench_path();
  for (auto _ : state) {
    ValuePtr v = robustmsa::pickle::load_file(path);
    benchmark::DoNotOptimize(v.get());
  }
  report(state, file_size(path));
}

void BM_LoadFileTouch(benchmark::State& state) {
  if (!have_file(state)) return;
  const std::string path = bench_path();
  const bool release = state.range(0) != 0;
  for (auto _ : state) {
    ValuePtr v = robustmsa::pickle::load_file(path);
    uint64_t acc = 0;
    for (const NdArray* a : arrays_in(*v)) {
      acc ^= touch(*a);
      if (release) a->release_source();
    }
    benchmark::DoNotOptimize(acc);
  }
  report(state, file_size(path));
}

void BM_ParseCopy(benchmark::State& state) {
  if (!have_file(state)) return;
  const std::string path = bench_path();
  std::ifstream f(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                   std::istreambuf_iterator<char>());
  for (auto _ : state) {
    ValuePtr v = robustmsa::pickle::parse(bytes.data(), bytes.size(), path);
    benchmark::DoNotOptimize(v.get());
  }
  report(state, bytes.size());
}

BENCHMARK(BM_LoadFile)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_LoadFileTouch)
    ->ArgName("release")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_ParseCopy)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_LoadFileTouch)
    ->Name("FirstLoad")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();

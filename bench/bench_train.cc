// UMDF (or any registered model) training and evaluation throughput on a feature file, with
// peak resident memory. Prints one line per measurement; never a pass/fail. The timed step is the
// trainer's own (Trainer::train_step, train/fit.h): the same optimiser set-up (train.optimizer,
// lr, weight decay), the uncertain-missing view, gradient clipping at train.grad_clip and the
// non-finite checks that `robustmsa train` runs.
//
//   bench_train DATA.pkl [--model umdf] [--batch 128] [--steps 20] [--threads 2] [--set k=v ...]
#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "data/protocol.h"
#include "train/evaluate.h"
#include "train/fit.h"
#include "train/trainer.h"

using namespace robustmsa;

namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_train DATA.pkl [--model M] [--batch B] [--steps S] [--threads T] "
                 "[--set k=v]\n");
    return 2;
  }
  ExperimentConfig cfg;
  cfg.data.path = argv[1];
  int64_t steps = 20, threads = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model")
      cfg.model = v;
    else if (k == "--batch")
      cfg.train.batch_size = std::stoll(v);
    else if (k == "--steps")
      steps = std::stoll(v);
    else if (k == "--threads")
      threads = std::stoll(v);
    else if (k == "--set")
      cfg.apply_set(v);
  }
  try {
    int used = configure_threads(threads);
    double t0 = now();
    PreparedData data = prepare_data(cfg.data);
    double load_s = now() - t0;
    const SplitTensors& train = data.tensor(SplitId::kTrain);
    std::printf(
        "data %s: train %ld, load %.1f s, tensors %.0f MB, threads %d, model %s, batch %ld\n",
        cfg.data.path.c_str(), static_cast<long>(train.n), load_s, tensor_bytes(train) / 1e6, used,
        cfg.model.c_str(), static_cast<long>(cfg.train.batch_size));
    Trainer trainer(cfg, cfg.model, 1111, data, /*run_dir=*/"");
    trainer.model().train();
    const int64_t b = cfg.train.batch_size;
    double t_train = 0;
    int64_t samples = 0;
    // ROBUSTMSA_PROFILE=trace.json records a chrome trace of the timed steps.
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    for (int64_t s = 0; s < steps + 2; ++s) {
      if (s == 2 && std::getenv("ROBUSTMSA_PROFILE"))
        profile = std::make_unique<torch::autograd::profiler::RecordProfile>(
            std::getenv("ROBUSTMSA_PROFILE"));
      std::vector<int64_t> rows;
      for (int64_t i = 0; i < b; ++i) rows.push_back((s * b + i) % train.n);
      double ts = now();
      trainer.train_step(/*epoch=*/0, /*step=*/s, rows);
      if (s >= 2) {  // two warm-up steps
        t_train += now() - ts;
        samples += b;
      }
    }
    profile.reset();
    std::printf("train: %.1f samples/s (%.1f ms/step, %ld steps)\n", samples / t_train,
                1000.0 * t_train / steps, static_cast<long>(steps));
    const SplitTensors& test = data.tensor(SplitId::kTest);
    Condition c = parse_condition("frame:0.5");
    MaskTensors masks = to_tensors(make_masks(c, data.split(SplitId::kTest), 0));
    double te = now();
    predict(trainer.model(), test, &masks, 256);
    double eval_s = now() - te;
    std::printf("eval: %.1f samples/s (%ld test samples, one condition)\n", test.n / eval_s,
                static_cast<long>(test.n));
    std::printf("peak resident memory: %.0f MB\n", peak_rss_mb());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
  return 0;
}

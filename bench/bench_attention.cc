// Fused masked attention (src/nn/fused_attention.*) forward and backward time on the shapes of
// MulT's crossmodal blocks, dh = 5 (width 50, 10 heads): aligned (50 x 50) and MMSA-unaligned
// (vision 500 queries x audio 375 keys). Prints ms per call and ns per attention-map element;
// never a pass/fail.
//
//   bench_attention [--threads T] [--batch B]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "nn/fused_attention.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void run(const char* name, int64_t b, int64_t tq, int64_t tk, double dropout) {
  const int64_t h = 10, dh = 5;
  torch::manual_seed(1);
  auto q = torch::randn({b, h, tq, dh}).requires_grad_();
  auto k = torch::randn({b, h, tk, dh}).requires_grad_();
  auto v = torch::randn({b, h, tk, dh}).requires_grad_();
  auto allowed = torch::rand({b, 1, 1, tk}) > 0.1;  // (B, 1, 1, Tk)
  auto dout = torch::randn({b, h, tq, dh});
  double fwd = 1e30, bwd = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    double t0 = now();
    auto out = robustmsa::fused_attention_with_seed(q, k, v, allowed, 1 / std::sqrt(5.0), dropout,
                                                    1234 + rep);
    double t1 = now();
    out.backward(dout);
    double t2 = now();
    if (rep > 0) {  // the first call warms up
      fwd = std::min(fwd, t1 - t0);
      bwd = std::min(bwd, t2 - t1);
    }
  }
  const double elems = static_cast<double>(b * h * tq * tk);
  std::printf(
      "%-28s B %3ld Tq %3ld Tk %3ld dropout %.1f: forward %8.1f ms (%5.2f ns/elem), "
      "backward %8.1f ms (%5.2f ns/elem)\n",
      name, static_cast<long>(b), static_cast<long>(tq), static_cast<long>(tk), dropout, fwd * 1e3,
      fwd * 1e9 / elems, bwd * 1e3, bwd * 1e9 / elems);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t threads = 1, batch = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--threads") threads = std::stoll(argv[i + 1]);
    if (k == "--batch") batch = std::stoll(argv[i + 1]);
  }
  torch::set_num_threads(static_cast<int>(threads));
  std::printf("fused attention, %ld thread(s), H 10, dh 5\n", static_cast<long>(threads));
  run("aligned l<-a", batch, 50, 50, 0.2);
  run("unaligned v<-a", batch, 500, 375, 0.2);
  run("unaligned v<-a, no dropout", batch, 500, 375, 0.0);
  return 0;
}

// Throughput of the text front end on real transcripts (sentences per second, CPU):
//   tokenizer  WordPiece encode() to MMSA's (3, 50) rows, every transcript of the file, 1 thread;
//   encoder    BERT-family token features of those rows (frozen, no gradients), batch 64, with the
//              given intra-op threads, on the first --encode-n transcripts (in file order).
//
//   build/bench_text --csv ../shared/data/mosei/label.csv --model build/test-models/all-MiniLM-L6-v2
//                    [--threads 2] [--encode-n 2048] [--max-length 50] [--batch 64]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "text/label_csv.h"
#include "train/text_encoder.h"
#include "train/trainer.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string csv, model;
  if (const char* m = std::getenv("ROBUSTMSA_TEST_MODEL")) model = m;
  int64_t threads = 0, encode_n = 2048, max_length = 50, batch = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--csv") csv = v;
    else if (k == "--model") model = v;
    else if (k == "--threads") threads = std::stoll(v);
    else if (k == "--encode-n") encode_n = std::stoll(v);
    else if (k == "--max-length") max_length = std::stoll(v);
    else if (k == "--batch") batch = std::stoll(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (csv.empty() || model.empty()) {
    std::fprintf(stderr, "usage: bench_text --csv label.csv --model DIR [--threads N] "
                         "[--encode-n N] [--max-length L] [--batch B]\n");
    return 2;
  }
  try {
    const int used = robustmsa::configure_threads(threads);
    auto rows = robustmsa::text::read_label_csv(csv);
    std::vector<std::string> texts;
    for (const auto& r : rows) texts.push_back(r.text);
    robustmsa::TextEncoder enc = robustmsa::load_text_encoder(model);

    auto t0 = std::chrono::steady_clock::now();
    int64_t tokens = 0;
    for (const auto& t : texts) {
      auto e = enc.tokenizer.encode(t, max_length);
      for (int64_t m : e.mask) tokens += m;
    }
    const double tok_s = seconds_since(t0);
    std::printf("tokenizer: %zu transcripts in %.3f s = %.0f sentences/s (1 thread; %.1f real "
                "tokens per sentence at L=%ld)\n",
                texts.size(), tok_s, texts.size() / tok_s,
                static_cast<double>(tokens) / texts.size(), static_cast<long>(max_length));

    const auto n = std::min<std::size_t>(texts.size(), static_cast<std::size_t>(encode_n));
    std::vector<std::string> sample(texts.begin(), texts.begin() + static_cast<std::ptrdiff_t>(n));
    auto token_rows = robustmsa::tokenize_texts(enc, sample, max_length);
    robustmsa::encode_token_rows(enc, token_rows.slice(0, 0, std::min<int64_t>(batch, n)), batch);
    t0 = std::chrono::steady_clock::now();
    auto h = robustmsa::encode_token_rows(enc, token_rows, batch);
    const double enc_s = seconds_since(t0);
    const auto& c = enc.bert->config();
    std::printf("encoder: %zu transcripts in %.3f s = %.1f sentences/s (%ld layers x %ld hidden, "
                "batch %ld, L=%ld, %d threads, LibTorch %s)\n",
                n, enc_s, n / enc_s, static_cast<long>(c.num_hidden_layers),
                static_cast<long>(c.hidden_size), static_cast<long>(batch),
                static_cast<long>(max_length), used, TORCH_VERSION);
    std::printf("checksum %.6f\n", h.sum().item<double>());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_text: %s\n", e.what());
    return 1;
  }
  return 0;
}

// robustmsa features: transcripts with labels and splits (MMSA-FET's label.csv) -> an
// MMSA-layout pickle whose text is a BERT-family encoder's token features, with text_bert rows and
// empty audio and vision (read back as missing modalities). docs/text.md.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "io/pickle_write.h"
#include "text/label_csv.h"
#include "train/text_encoder.h"
#include "train/trainer.h"
#include "util/error.h"

namespace robustmsa::cli {

Runner add_features(CLI::App& app) {
  struct Flags {
    std::string csv, encoder, out;
    int64_t max_length = 50, batch_size = 64, threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--csv", f->csv,
                 "transcripts: MMSA-FET label.csv (video_id,clip_id,text,label,mode or "
                 "id,text,label,mode)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--text-encoder", f->encoder,
                 "Hugging Face BERT-family model folder (config.json, vocab.txt, "
                 "model.safetensors)")
      ->required();
  app.add_option("--out", f->out, "output pickle (MMSA layout)")->required();
  app.add_option("--max-length", f->max_length,
                 "tokens per transcript incl. [CLS] and [SEP] (MMSA's aligned_50: 50)")
      ->capture_default_str();
  app.add_option("--batch-size", f->batch_size, "sentences per encoder batch")
      ->capture_default_str();
  app.add_option("--threads", f->threads, "intra-op threads (0 = all cores)");
  return [f] {
    if (f->max_length < 2) throw UsageError(str("--max-length ", f->max_length, ": expected >= 2"));
    if (f->batch_size < 1) throw UsageError(str("--batch-size ", f->batch_size, ": expected >= 1"));
    const int threads = configure_threads(f->threads);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<text::LabelRow> rows = text::read_label_csv(f->csv);
    TextEncoder enc = load_text_encoder(f->encoder);
    const int64_t hidden = enc.bert->config().hidden_size;
    std::array<std::vector<const text::LabelRow*>, 3> by_split;
    for (const auto& r : rows) {
      if (!(r.label >= -3.0 && r.label <= 3.0))
        throw DataError(str("file '", f->csv, "' line ", r.line, ": label ", r.label,
                            " is outside [-3, 3] (MOSI/MOSEI sentiment)"));
      by_split[static_cast<std::size_t>(r.split)].push_back(&r);
    }
    for (int s = 0; s < 3; ++s)
      if (by_split[s].empty())
        throw DataError(str("file '", f->csv, "': no row has mode ", kSplitNames[s],
                            "; expected train, valid (or dev) and test rows"));

    pickle::Writer w(f->out);
    w.begin_dict();
    for (int s = 0; s < 3; ++s) {
      const auto& split = by_split[s];
      const int64_t n = static_cast<int64_t>(split.size());
      std::vector<std::string> texts, ids;
      std::vector<float> labels;
      for (const auto* r : split) {
        texts.push_back(r->text);
        ids.push_back(r->id);
        labels.push_back(static_cast<float>(r->label));
      }
      torch::Tensor tb = tokenize_texts(enc, texts, f->max_length);  // (N, 3, L) int64
      torch::Tensor h = encode_token_rows(enc, tb, f->batch_size).contiguous();
      w.key(kSplitNames[s]);
      w.begin_dict();
      w.key("id");
      w.string_array({n}, ids);
      w.key("raw_text");
      w.string_array({n}, texts);
      w.key("regression_labels");
      w.array(pickle::DType::kFloat32, {n}, labels.data());
      w.key("text");
      w.array(pickle::DType::kFloat32, {n, f->max_length, hidden}, h.data_ptr<float>());
      w.key("text_bert");
      w.array(pickle::DType::kInt64, {n, 3, f->max_length}, tb.contiguous().data_ptr<int64_t>());
      // Absent modalities: empty arrays with N rows (data/dataset.h, ModalityData::absent).
      for (const char* m : {"audio", "vision"}) {
        w.key(m);
        w.array(pickle::DType::kFloat32, {n, 0, 0}, nullptr);
      }
      w.end_dict();
      std::fprintf(stderr, "features: %s %ld transcripts\n", kSplitNames[s], static_cast<long>(n));
    }
    w.end_dict();
    w.finish();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "features: wrote '%s' (%zu transcripts, text %ld x %ld, audio and vision absent) "
                 "in %.1f s with %d threads\n",
                 f->out.c_str(), rows.size(), static_cast<long>(f->max_length),
                 static_cast<long>(hidden), secs, threads);
  };
}

}  // namespace robustmsa::cli

// robustmsa features: transcripts with labels and splits (MMSA-FET's label.csv) -> an
// MMSA-layout pickle whose text is a BERT-family encoder's token features, with text_bert rows and
// empty audio and vision (read back as missing modalities). docs/text.md.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "robustmsa/robustmsa.h"

namespace robustmsa::cli {

Runner add_features(CLI::App& app) {
  struct Flags {
    FeaturesRequest req;
    int64_t threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--csv", f->req.csv,
                 "transcripts: MMSA-FET label.csv (video_id,clip_id,text,label,mode or "
                 "id,text,label,mode)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--text-encoder", f->req.text_encoder,
                 "Hugging Face BERT-family model folder (config.json, vocab.txt, "
                 "model.safetensors)")
      ->required();
  app.add_option("--out", f->req.out, "output pickle (MMSA layout)")->required();
  app.add_option("--max-length", f->req.max_length,
                 "tokens per transcript incl. [CLS] and [SEP] (MMSA's aligned_50: 50)")
      ->capture_default_str();
  app.add_option("--batch-size", f->req.batch_size, "sentences per encoder batch")
      ->capture_default_str();
  app.add_option("--threads", f->threads, "intra-op threads (0 = all cores)");
  return [f] {
    const int threads = set_threads(f->threads);
    const FeaturesSummary s = make_text_features(f->req, [](const std::string& split, int64_t n) {
      std::fprintf(stderr, "features: %s %ld transcripts\n", split.c_str(), static_cast<long>(n));
    });
    std::fprintf(stderr,
                 "features: wrote '%s' (%ld transcripts, text %ld x %ld, audio and vision absent) "
                 "in %.1f s with %d threads\n",
                 f->req.out.c_str(), static_cast<long>(s.transcripts),
                 static_cast<long>(s.max_length), static_cast<long>(s.hidden), s.seconds, threads);
  };
}

}  // namespace robustmsa::cli

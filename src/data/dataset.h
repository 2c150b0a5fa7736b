// The in-memory dataset (torch-free): three splits, each with text/audio/vision features as
// float32 (N, T_m, D_m) arrays, frame validity, labels and ids. Built from the field's pickle
// files (MulT/CMU and MMSA layouts, detected from the keys) by load_dataset().
//
// Usage:
//   robustmsa::DataOptions opt;                       // defaults: no z-scoring
//   robustmsa::Dataset ds = robustmsa::load_dataset("mosi_data.pkl", opt);
//   const robustmsa::Split& train = ds.split(robustmsa::SplitId::kTrain);
//   float x = train.modality[robustmsa::kAudio].at(i, t, d);
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace robustmsa {

// Modality order is always text, audio, vision ("l", "a", "v" in the papers' tables).
enum ModalityId : int { kText = 0, kAudio = 1, kVision = 2 };
constexpr int kNumModalities = 3;
extern const std::array<const char*, 3> kModalityNames;    // "text", "audio", "vision"
extern const std::array<const char*, 3> kModalityLetters;  // "l", "a", "v"

enum class SplitId : int { kTrain = 0, kValid = 1, kTest = 2 };
extern const std::array<const char*, 3> kSplitNames;  // "train", "valid", "test"

// What the labels are.
enum class Task {
  kRegression,  // MOSI / MOSEI: one score in [-3, 3]
  kSims,        // CH-SIMS: one score in [-1, 1]
  kIemocap,     // IEMOCAP: four binary emotions (neutral, happy, sad, angry)
};
const char* task_name(Task t);  // "regression", "sims", "iemocap"

// kBcLstm, kHffn: utterance-level CMU-MOSI sets (data/utterance.h).
enum class Layout { kMulT, kMMSA, kBcLstm, kHffn };
const char* layout_name(Layout l);  // "mult", "mmsa", "bclstm", "hffn"

// One modality of one split.
struct ModalityData {
  int64_t n = 0, t = 0, d = 0;
  std::vector<float> x;        // (n, t, d) row-major; zero where padded
  std::vector<uint8_t> valid;  // (n, t): 1 where the frame exists (not padding)
  // Sanitising counts (DESIGN §2.3): values replaced or clamped while loading.
  int64_t nan_count = 0, posinf_count = 0, neginf_count = 0, clamped_count = 0;
  // The file marks the modality absent (None, or an empty (N, 0, D) / (N, T, 0) array, as
  // `robustmsa features` writes audio and vision): a placeholder of one zero frame of one
  // zero feature per sample, never valid, so every protocol sees the modality as missing.
  bool absent = false;
  float at(int64_t i, int64_t f, int64_t k) const { return x[(i * t + f) * d + k]; }
};

struct Split {
  std::string name;
  int64_t n = 0;
  std::array<ModalityData, 3> modality;
  // Regression / SIMS: n values. IEMOCAP: n * 4 class indices (0 or 1) stored as float.
  std::vector<float> labels;
  std::vector<std::string> ids;  // empty strings where the file has no ids
  // MMSA's text_bert (n, 3, L): token ids, attention mask, segment ids, row-major; empty when the
  // file has none. A text encoder (--text-encoder) turns it into text features.
  std::vector<int32_t> text_bert;
  int64_t text_bert_len = 0;
};

struct Dataset {
  std::string path;
  std::string sha256;  // of the file's bytes
  Layout layout = Layout::kMulT;
  Task task = Task::kRegression;
  bool aligned = true;  // all modalities share T and (for MulT) word alignment
  std::array<Split, 3> splits;
  // How the splits were made when robustmsa made them (utterance-level sets: the split rule, its
  // seed, the validation videos, the labels file); null for files that carry their own splits.
  // Recorded in every run's config.json.
  nlohmann::json split_info;
  const Split& split(SplitId s) const { return splits[static_cast<int>(s)]; }
  Split& split(SplitId s) { return splits[static_cast<int>(s)]; }
  int64_t label_dim() const { return task == Task::kIemocap ? 4 : 1; }
};

struct DataOptions {
  // z-score audio and vision with mean/std of the train split over valid frames (DESIGN §2.3).
  bool zscore = false;
  // Utterance-level sets only (data/utterance.h, docs/real-mosi.md):
  std::string labels;          // CMU SDK label sequence (.csd) with the continuous scores
  std::string split = "file";  // "file": the released split; "cmu_std": the SDK's standard folds
  int64_t valid_videos = 10;   // split "file": training videos moved to the validation split
  int64_t split_seed = 0;      // split "file": seed of the choice of those videos
  // 0: the per-utterance form. N >= 1: the context form with up to N utterances of the same video
  // before and after each target; -1: the whole video (data/utterance.h utterance_dataset).
  int64_t context = 0;
};

// Reads a MulT/CMU or MMSA pickle, or an utterance-level set (a bc-LSTM CSV directory or one of
// its files, the HFFN pickle; data/utterance.h), detected from the content. Throws DataError naming
// the file, split and key for anything inconsistent ("split \"valid\" key \"audio\": expected 3
// dimensions (N, T, D), found (229, 50)").
Dataset load_dataset(const std::string& path, const DataOptions& options);

// One line for stderr that reports the feature values sanitised while loading (DESIGN §2.3),
// per split and modality, e.g.
//   file 'x.pkl': sanitised 7 feature values (NaN/+inf/-inf -> 0, beyond float32 -> clamped):
//   train audio -inf 5; test vision NaN 1 clamped 1
// or "" when the file had none, so that no replacement is ever silent.
std::string sanitize_summary(const Dataset& ds);

namespace pickle {
struct Value;
}
// The same from an already parsed pickle (`path` is for messages; sha256 is left empty).
Dataset dataset_from_pickle(const pickle::Value& root, const std::string& path,
                            const DataOptions& options);

}  // namespace robustmsa

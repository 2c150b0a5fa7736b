// Utterance-level CMU-MOSI as the context-dependent papers release it (docs/real-mosi.md), read as
// it is (torch-free):
//   * the bc-LSTM CSV set (Poria et al., ACL 2017): a directory with
//     {text,audio,video}_{train,test}0.csv (no header, quoted numbers, binary label last; row r is
//     the same utterance in all three files of a split) and transcripts.csv (utterance id
//     `<video>_<k>`, transcript, video number, binary label);
//   * the padded unimodal pickle of HFFN (Mai et al., ACL 2019), unimodal_mosi_2way.pickle:
//     {text,audio,video}_{train,test} (videos, 63, 50), {train,test}_mask, one-hot
//     {train,test}_label, no utterance ids;
//   * continuous labels from a CMU Multimodal SDK label sequence (CMU_MOSI_Opinion_Labels.csd,
//     io/csd.h), joined by utterance id: utterance `<video>_<k>` is segment k - 1 of entry <video>.
//
// Usage:
//   robustmsa::UtteranceSet set = robustmsa::read_utterance_source("…/mosi-utterance/bclstm");
//   robustmsa::join_labels(set, robustmsa::read_csd("…/CMU_MOSI_Opinion_Labels.csd"));
//   robustmsa::DataOptions opt;  // split "file": the released train/test, 10 validation videos
//   robustmsa::Dataset ds = robustmsa::utterance_dataset(set, opt);
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace robustmsa {

namespace pickle {
struct Value;
}
struct ComputationalSequence;

struct Utterance {
  std::string id;     // "<video>_<k>"; "" while unknown (the pickle before join_labels)
  std::string video;  // video id; for the pickle before the join "train#3" (its padded row)
  int64_t k = 0;      // 1-based utterance number within the video (the id's suffix)
  SplitId released = SplitId::kTrain;  // the file's split: train or test
  int64_t row = 0;   // row in its split's CSV files, or padded position video * 63 + slot
  int label = 0;     // binary label of the file: 1 positive, 0 negative
  double score = 0;  // continuous score in [-3, 3] (join_labels)
  bool has_score = false;
  // Values replaced while reading, per modality (DESIGN §2.3): NaN, +inf, -inf -> 0, clamped.
  std::array<std::array<int32_t, 4>, 3> sanitized{};
};

enum class UtteranceFormat { kBcLstmCsv, kHffnPickle };
const char* utterance_format_name(UtteranceFormat f);  // "bclstm_csv", "hffn_pickle"

struct UtteranceSet {
  UtteranceFormat format = UtteranceFormat::kBcLstmCsv;
  std::string path;                // what the user named
  std::vector<std::string> files;  // every file read, in reading order
  std::vector<std::string> file_sha256;
  std::array<int64_t, 3> dim{};  // feature dims: text, audio, vision
  std::vector<Utterance> utterances;
  std::array<std::vector<float>, 3> features;  // (utterances, dim[m]) row-major, same order
  bool ids_known = false;  // bc-LSTM: from transcripts.csv; pickle: after join_labels
  // The labels join (join_labels).
  std::string labels_path, labels_sha256;
  int64_t label_segments = 0;         // segments in the labels file
  int64_t label_segments_unused = 0;  // segments no utterance of the set refers to
  bool joined() const { return !labels_path.empty(); }
};

// True when `path` is a bc-LSTM CSV set (the directory, or one of its seven CSV files): decided
// from the files' content (quoted numeric rows, a label column of 0/1, transcripts with
// `<video>_<k>` ids) after their names place them; false for anything else, including pickles.
bool is_bclstm_source(const std::string& path);
// True when a parsed pickle has the padded HFFN layout (keys text_train and train_mask).
bool is_hffn_pickle(const pickle::Value& root);

// Reads the bc-LSTM set in the directory `path` (or the directory of the file `path`). Utterance
// ids come from transcripts.csv (docs/real-mosi.md, "The join"): a split's CSV rows are its
// utterances, label 1 before label 0, each in transcripts.csv order; the training split holds the
// lowest-numbered videos. DataError naming the file, row and column for a wrong column count, a
// value that is not a number, a label that is not 0 or 1, files of one split that disagree in
// rows or labels, and ids or labels that cannot be joined to the CSV rows.
UtteranceSet read_bclstm(const std::string& path);
// The HFFN pickle, already parsed. DataError naming the key for missing keys, shapes that do not
// fit ((videos, T, D) features, (videos, T) 0/1 masks, (videos, T, 2) one-hot labels).
UtteranceSet hffn_from_pickle(const pickle::Value& root, const std::string& path,
                              const std::string& sha256);
// Either of the two, detected from the content. DataError when `path` is neither.
UtteranceSet read_utterance_source(const std::string& path);

// Joins the continuous scores of a one-dimensional numeric label sequence. bc-LSTM: utterance
// `<video>_<k>` takes segment k - 1 of entry <video>; DataError naming the utterance for an
// unknown video, a segment beyond the entry's rows, a score that is not finite or outside [-3, 3],
// and a binary label that is not (score >= 0). Pickle: its videos carry no ids, so a padded video
// is the one entry whose segments' signs (score >= 0) equal its binary labels, in order; DataError
// when a video matches no entry or several. Sets ids, scores, labels_* and label_segments*.
void join_labels(UtteranceSet& set, const ComputationalSequence& labels);

// The CMU Multimodal SDK's standard folds of CMU-MOSI (cmu_mosi_std_folds.py): fold 0 train
// (52 videos), 1 valid (10), 2 test (31), or -1 for a video that is in none.
int cmu_mosi_std_fold(const std::string& video);

// Which split each utterance goes to, and the validation videos chosen (DataOptions::split):
//   "file"    the released split; valid_videos of the training videos move to validation, chosen
//             by a hash of (split_seed, video id): a pure function of the set and the options;
//   "cmu_std" the SDK's standard folds (needs utterance ids: the pickle only after join_labels).
struct SplitPlan {
  std::vector<SplitId> split;             // per utterance
  std::vector<std::string> valid_videos;  // sorted
  std::array<int64_t, 3> videos{}, utterances{};
  // Frames per sample of the Dataset (options.context): 1, 2 * context + 1, or the longest video.
  int64_t frames = 1;
  nlohmann::json to_json(const UtteranceSet& set, const DataOptions& options) const;
};
SplitPlan plan_splits(const UtteranceSet& set, const DataOptions& options);

// The Dataset: every utterance one sample, with its continuous score as the label.
//   options.context == 0, the per-utterance form: each modality a sequence of one frame (N, 1, D);
//   options.context != 0, the context form (docs/real-mosi.md): the sample's sequence is its own
//     video's utterances, from `context` before it to `context` after it (the whole video for
//     -1), in order, clipped at the video's ends, packed from frame 0 and padded (invalid) to
//     T = 2 * context + 1 frames (the longest video for -1); one feature is added to every
//     modality, 1 on the target utterance's frame and 0 elsewhere, so that a model can tell which
//     utterance of the window it predicts. (N, T, D + 1).
// Needs joined continuous labels (ConfigError naming data.labels without).
// Dataset::split_info records the plan (split, seed, validation videos, labels file).
Dataset utterance_dataset(const UtteranceSet& set, const DataOptions& options);

// Joins options.labels (when set) to `set`, plans the splits and builds the form: what
// load_dataset does for these sets (dataset.cc detects them and calls this).
Dataset dataset_from_utterances(UtteranceSet set, const DataOptions& options);

// `inspect`: layout, files, shapes, splits (released, the plan of `options`, the CMU folds),
// label statistics, the join check (with options.labels) and NaN/inf counts, for a set already
// read; and the text inspect prints for it.
nlohmann::json inspect_utterances(UtteranceSet set, const DataOptions& options);
std::string format_utterance_inspection(const nlohmann::json& info);

}  // namespace robustmsa

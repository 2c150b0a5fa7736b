// The synthetic benchmark (DESIGN §8; docs/synthetic.md): a generator that writes the field's real
// file formats (MulT/CMU mosi_data.pkl-like, MMSA aligned_50/unaligned_50-like) with a known
// structure — a latent sentiment expressed partly redundantly (shared factors, seen by every
// modality) and partly complementarily (private factors, seen by one modality), at a few marked
// informative frames among noise frames, with distractor dimensions and COVAREP-like -inf values —
// together with the exact oracle: the Bayes predictor given exactly the frames that survive each
// protocol condition's masks (make_masks with the evaluator's seed), scored with the same metric
// functions as every model. Two families (`kind`):
//   linear       linear-Gaussian; the oracle is the closed-form posterior mean (the default);
//   interaction  adds two discrete contexts per sample — irony (the words' literal sentiment, and
//                per `irony_inverts` other modalities', is inverted, revealed by cues in every
//                modality, weakest in the words) and intensity
//                (the label's scale, revealed by the voice) — so that a missing modality changes
//                what the present ones mean; the oracle enumerates the four contexts (Gaussian
//                parts in closed form) and predicts the exact posterior median.
//
// Usage:
//   robustmsa::SynthOptions o;          // defaults: MOSI-like, MulT layout, real split sizes
//   o.like = "iemocap";
//   robustmsa::SynthResult r = robustmsa::write_synthetic(o, "synth_iemocap.pkl");
//   // writes synth_iemocap.pkl, synth_iemocap.pkl.oracle.json, synth_iemocap.pkl.generator.json
//   double ceiling = r.oracle["conditions"][0]["metrics"]["Avg_F1"];
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/options.h"
#include "data/dataset.h"

namespace robustmsa {

struct SynthOptions {
  std::string kind = "linear";  // linear | interaction (docs/synthetic.md)
  std::string like = "mosi";    // mosi | mosei | iemocap: label type, split sizes, dims
  std::string layout = "mult";  // mult | mmsa_aligned | mmsa_unaligned (mosi/mosei only)
  int64_t seed = 0;             // same seed, same options -> same bytes
  int64_t n_train = 0;          // 0: the real dataset's split size
  int64_t n_valid = 0;
  int64_t n_test = 0;
  std::vector<int64_t> seq_len = {0, 0, 0};  // frames per modality (l, a, v); 0: layout default
  std::vector<int64_t> dims = {0, 0, 0};     // feature dims per modality; 0: layout default
  int64_t min_length = 8;                    // shortest valid text length (frames)
  int64_t shared_factors = 3;                // latent factors seen by every modality
  int64_t private_factors = 1;               // latent factors per modality, seen by it alone
  std::vector<int64_t> informative_dims = {8, 4, 6};    // dims 1..k carry B_m z + noise
  std::vector<int64_t> informative_frames = {3, 3, 3};  // informative frames per sample
  std::vector<double> shared_gain = {1.0, 0.25, 0.25};  // loading scale of the shared factors
  std::vector<double> private_gain = {1.0, 1.0, 1.0};   // loading scale of the private factors
  std::vector<double> noise_sd = {0.7, 0.7, 0.7};       // observation noise at informative dims
  double distractor_sd = 0.3;                           // sd of every pure-noise value
  double label_shared_weight = 1.0;                     // |c_shared|
  std::vector<double> label_private_weight = {0.9, 0.5, 0.5};  // |c_private,m|
  double label_noise_sd = 0.25;  // label = c^T z + N(0, sd^2): the irreducible part
  // IEMOCAP-like: share of positives per emotion (neutral, happy, sad, angry).
  std::vector<double> emotion_prevalence = {0.4, 0.15, 0.2, 0.25};
  double neginf_rate = 0.02;  // probability that an audio sample holds one -inf (like COVAREP)
  int64_t mask_seed = 0;      // the mask seed the oracle is computed for (the evaluator's default)
  // "valid": a development copy whose test split holds the validation split's samples (the same
  // bytes as its valid split), so that evaluating on "test" and the oracle score validation.
  std::string test_split = "test";
  // kind = interaction only (ConfigError when changed for kind = linear).
  double irony_rate = 0.5;  // P(ironic): inverted modalities carry -B_m z, not B_m z
  std::vector<double> irony_cue = {0.9, 1.6, 1.4};      // per modality: cue shift when ironic
  std::vector<int64_t> irony_inverts = {1, 0, 1};       // per modality: 1 = -B_m z when ironic
  double intensity_rate = 0.5;                          // P(intense)
  std::vector<double> intensity_gain = {0.7, 1.3};      // label scale: mild, intense
  std::vector<double> intensity_cue = {0.0, 1.2, 0.0};  // per modality: cue shift when intense

  template <class V>
  void visit(V& v) {
    v("kind", kind,
      "generator family: linear (linear-Gaussian) or interaction (irony and intensity contexts "
      "that change what each modality means; regression only)");
    v("like", like, "dataset to imitate: mosi, mosei or iemocap");
    v("layout", layout, "file layout: mult, mmsa_aligned or mmsa_unaligned");
    v("seed", seed, "generator seed (same seed and options give the same file bytes)");
    v("n_train", n_train, "train samples (0: the real dataset's size)");
    v("n_valid", n_valid, "valid samples (0: the real dataset's size)");
    v("n_test", n_test, "test samples (0: the real dataset's size)");
    v("seq_len", seq_len, "frames per modality l,a,v (0: the layout's default)");
    v("dims", dims, "feature dims per modality l,a,v (0: the layout's default)");
    v("min_length", min_length, "shortest valid text length in frames");
    v("shared_factors", shared_factors, "latent factors expressed by all three modalities");
    v("private_factors", private_factors, "latent factors expressed by one modality only");
    v("informative_dims", informative_dims,
      "per modality: dims 1..k of an informative frame carry B_m z + noise");
    v("informative_frames", informative_frames, "per modality: informative frames per sample");
    v("shared_gain", shared_gain, "per modality: loading scale of the shared factors");
    v("private_gain", private_gain, "per modality: loading scale of its private factors");
    v("noise_sd", noise_sd, "per modality: observation noise sd at informative dims");
    v("distractor_sd", distractor_sd, "sd of noise frames and distractor dims");
    v("label_shared_weight", label_shared_weight, "norm of the label weights on shared factors");
    v("label_private_weight", label_private_weight,
      "per modality: norm of the label weights on its private factors");
    v("label_noise_sd", label_noise_sd, "sd of label noise (irreducible error)");
    v("emotion_prevalence", emotion_prevalence,
      "iemocap: share of positives per emotion (neutral, happy, sad, angry)");
    v("neginf_rate", neginf_rate, "probability that an audio sample holds one -inf value");
    v("mask_seed", mask_seed, "mask seed of the protocol masks the oracle is computed for");
    v("test_split", test_split,
      "test (the default) or valid: the test split then holds the validation split's samples, so "
      "that evaluation and the oracle score validation (a development copy for model selection)");
    v("irony_rate", irony_rate,
      "interaction: probability that an utterance is ironic (its words say the opposite)");
    v("irony_cue", irony_cue,
      "interaction, per modality: shift of an informative frame along its irony cue direction "
      "when the utterance is ironic");
    v("irony_inverts", irony_inverts,
      "interaction, per modality: 1 = its informative dims carry -B_m z when the utterance is "
      "ironic (the literal sentiment is the opposite of the label's), 0 = B_m z as always");
    v("intensity_rate", intensity_rate, "interaction: probability that an utterance is intense");
    v("intensity_gain", intensity_gain,
      "interaction: scale of the label for mild and intense utterances (2 values)");
    v("intensity_cue", intensity_cue,
      "interaction, per modality: shift of an informative frame along its intensity cue "
      "direction when the utterance is intense");
  }
  // ConfigError naming the key for impossible values (checks that need the resolved sizes, e.g.
  // informative_dims < dims, are made by resolve_synth).
  void validate() const;
};

// Sizes after defaults: what the file will hold.
struct SynthShape {
  Task task = Task::kRegression;
  Layout layout = Layout::kMulT;
  bool aligned = true;         // one T for all modalities (MulT, mmsa_aligned)
  bool front_padding = true;   // MulT pads at the front, MMSA at the end
  bool lengths = false;        // MMSA unaligned: audio_lengths / vision_lengths keys
  std::array<int64_t, 3> n{};  // train, valid, test
  std::array<int64_t, 3> t{};  // frames per modality
  std::array<int64_t, 3> d{};  // dims per modality
  std::array<const char*, 3> keys{"text", "audio", "vision"};
};
// Validates the options and fills in the defaults. ConfigError naming the key otherwise.
SynthShape resolve_synth(const SynthOptions& options);

struct SynthResult {
  std::string data_path, oracle_path, generator_path;
  std::string sha256;        // of the data file
  nlohmann::json oracle;     // the content of oracle_path
  nlohmann::json generator;  // the content of generator_path
};

// Progress: stage ("train text", "test oracle", ...), units done, units total.
using SynthProgress = std::function<void(const std::string& stage, int64_t done, int64_t total)>;

// Writes out_path (the pickle), out_path + ".oracle.json" and out_path + ".generator.json"
// (every parameter needed to recompute the oracle independently). Each file is written to a
// temporary name and renamed, so an interruption leaves no truncated file. Large arrays are
// streamed: memory stays near one chunk of samples plus the test split's informative frames.
SynthResult write_synthetic(const SynthOptions& options, const std::string& out_path,
                            const SynthProgress& progress = {});

// `synth --n N`: scales the split sizes so that train has n_train samples, keeping the imitated
// dataset's split proportions (valid and test at least 8 each). n_train <= 0 leaves the real sizes.
void scale_synth_splits(SynthOptions& options, int64_t n_train);

// The oracle sample by sample on the test split under one condition (a protocol condition string
// as parse_condition reads it, e.g. "condition:l", "frame:0.5", "complete"), together with the
// generator's hidden draws: what the Monte Carlo check of the oracle needs (tests/core). The test
// split is regenerated in memory exactly as write_synthetic writes it (nothing is written), and
// the oracle file's metrics are regression_metrics(prediction, label) of these vectors.
// Regression only (RunError for like = iemocap).
struct OracleSamples {
  std::vector<double> prediction;    // the oracle's prediction: posterior median of the label
  std::vector<double> mean;          // posterior mean of the (clipped) label
  std::vector<double> cdf_below;     // posterior P(label < stored label)
  std::vector<double> cdf_at;        // posterior P(label <= stored label) (differs at the clip)
  std::vector<double> p_ironic;      // posterior P(ironic | surviving frames); 0 for kind = linear
  std::vector<double> label;         // the stored label (float32 values)
  std::vector<int> ironic, intense;  // the hidden contexts (0 for kind = linear)
  // Per modality, a summary of the evidence: the mean over its surviving informative frames of
  // the projection of the frame on the irony cue direction (kind = interaction) or on B_m w (kind
  // = linear); NaN when no informative frame of the modality survives. A correct posterior stays
  // calibrated within any subset of samples chosen by such a statistic; one that ignores or
  // misweighs that evidence does not.
  std::array<std::vector<double>, 3> statistic;
};
OracleSamples oracle_samples(const SynthOptions& options, const std::string& condition);

}  // namespace robustmsa

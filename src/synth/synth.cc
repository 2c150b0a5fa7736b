// The synthetic benchmark generator and its closed-form oracle. The generative process, the
// defaults and the measured oracle numbers are documented in docs/synthetic.md; the mask hash in
// docs/protocols.md. tests/python/check_synth.py recomputes everything here independently.
#include "synth/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "data/protocol.h"
#include "io/pickle_write.h"
#include "metrics/metrics.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace robustmsa {

namespace {

// Random streams: the first word of every hashed stream key (protocol.h's tags are 1..4).
constexpr uint64_t kTagSynthPlan = 101;     // (tag, seed, split, sample)
constexpr uint64_t kTagSynthFeature = 102;  // (tag, seed, split, sample, modality)
constexpr uint64_t kTagSynthLoading = 103;  // (tag, seed, modality)
constexpr uint64_t kTagSynthLabel = 104;    // (tag, seed)
constexpr uint64_t kTagSynthContext = 105;  // (tag, seed, split, sample): interaction contexts
constexpr uint64_t kTagSynthCue = 106;      // (tag, seed, modality): cue directions
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kLabelBound = 3.0;  // MOSI / MOSEI scores live in [-3, 3]

constexpr const char* kLetters[3] = {"l", "a", "v"};
constexpr const char* kSplitKeys[3] = {"train", "valid", "test"};
constexpr const char* kEmotions[4] = {"neutral", "happy", "sad", "angry"};

// A splitmix64 stream keyed by a hash of its coordinates, so that every (split, sample,
// modality) has its own reproducible stream whatever order things are generated in. Normals by
// Box-Muller with libm's log/cos/sin (std::normal_distribution differs between standard
// libraries; libm results are the same on every glibc x86-64 build we target).
class Stream {
 public:
  explicit Stream(uint64_t key) : key_(key) {}
  uint64_t next() { return hash_mix(key_ + (++counter_) * kGolden); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int64_t below(int64_t n) {  // uniform integer in [0, n)
    return std::min<int64_t>(n - 1, static_cast<int64_t>(uniform() * static_cast<double>(n)));
  }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(kTwoPi * u2);
    has_spare_ = true;
    return r * std::cos(kTwoPi * u2);
  }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// The real datasets' split sizes (DESIGN §2.1) and the layouts' shapes.
struct LikeInfo {
  const char* name;
  std::array<int64_t, 3> n;
  Task task;
};
const LikeInfo kLikes[] = {{"mosi", {1284, 229, 686}, Task::kRegression},
                           {"mosei", {16326, 1871, 4659}, Task::kRegression},
                           {"iemocap", {2717, 798, 938}, Task::kIemocap}};

const LikeInfo& like_info(const std::string& like) {
  for (const LikeInfo& l : kLikes)
    if (like == l.name) return l;
  throw ConfigError(
      str("config key 'synth.like': expected one of mosi, mosei, iemocap, found ", like));
}

// x^T M x style helpers on small dense matrices (row-major).
std::vector<double> matvec(const std::vector<double>& a, int64_t rows, int64_t cols,
                           const std::vector<double>& x) {
  std::vector<double> y(static_cast<std::size_t>(rows), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r] += a[r * cols + c] * x[c];
  return y;
}

// Orthonormalises the columns (rows >= cols) of a row-major matrix by modified Gram-Schmidt.
void orthonormalise_columns(std::vector<double>& a, int64_t rows, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t p = 0; p < c; ++p) {
      double dot = 0.0;
      for (int64_t r = 0; r < rows; ++r) dot += a[r * cols + c] * a[r * cols + p];
      for (int64_t r = 0; r < rows; ++r) a[r * cols + c] -= dot * a[r * cols + p];
    }
    double norm = 0.0;
    for (int64_t r = 0; r < rows; ++r) norm += a[r * cols + c] * a[r * cols + c];
    norm = std::sqrt(norm);
    if (!(norm > 1e-9)) throw RunError("synth: degenerate random loading matrix (change the seed)");
    for (int64_t r = 0; r < rows; ++r) a[r * cols + c] /= norm;
  }
}

// Solves (SPD) A x = b in place by Cholesky; A is k x k row-major.
std::vector<double> solve_spd(std::vector<double> a, std::vector<double> b, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    double d = a[j * k + j];
    for (int64_t p = 0; p < j; ++p) d -= a[j * k + p] * a[j * k + p];
    if (!(d > 0.0)) throw RunError("synth oracle: posterior precision is not positive definite");
    d = std::sqrt(d);
    a[j * k + j] = d;
    for (int64_t i = j + 1; i < k; ++i) {
      double s = a[i * k + j];
      for (int64_t p = 0; p < j; ++p) s -= a[i * k + p] * a[j * k + p];
      a[i * k + j] = s / d;
    }
  }
  for (int64_t i = 0; i < k; ++i) {  // L y = b
    double s = b[i];
    for (int64_t p = 0; p < i; ++p) s -= a[i * k + p] * b[p];
    b[i] = s / a[i * k + i];
  }
  for (int64_t i = k - 1; i >= 0; --i) {  // L^T x = y
    double s = b[i];
    for (int64_t p = i + 1; p < k; ++p) s -= a[p * k + i] * b[p];
    b[i] = s / a[i * k + i];
  }
  return b;
}

// Standard normal quantile by bisection on erfc (only used for the four IEMOCAP thresholds,
// which are stored in the generator file, so no other program needs to recompute it).
double normal_quantile(double p) {
  double lo = -40.0, hi = 40.0;
  for (int it = 0; it < 200; ++it) {
    double mid = 0.5 * (lo + hi);
    if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

// Exact 64-bit checksum of an array's bytes, reproducible with NumPy (docs/synthetic.md):
// the bytes, zero-padded to a multiple of 8, read as little-endian uint64 words w_k;
// wordsum = sum_k hash_mix(w_k + k * 0x9E3779B97F4A7C15) mod 2^64.
class WordSum {
 public:
  void update(const uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      pending_ |= static_cast<uint64_t>(p[i]) << (8 * fill_);
      if (++fill_ == 8) flush();
    }
  }
  uint64_t finish() {
    if (fill_ > 0) flush();
    return sum_;
  }

 private:
  void flush() {
    sum_ += hash_mix(pending_ + index_ * kGolden);
    ++index_;
    pending_ = 0;
    fill_ = 0;
  }
  uint64_t sum_ = 0, index_ = 0, pending_ = 0;
  int fill_ = 0;
};

std::string hex64(uint64_t v) {
  std::ostringstream out;
  out << "0x" << std::hex;
  out.width(16);
  out.fill('0');
  out << v;
  return out.str();
}

// Fixed parameters of one generated file.
struct Model {
  SynthShape shape;
  uint64_t seed = 0;
  int64_t ks = 0, kp = 0, k = 0;  // shared, private per modality, total latent factors
  int64_t min_length = 1;
  std::array<int64_t, 3> inf_dims{}, inf_frames{};
  std::array<double, 3> noise_sd{};
  double distractor_sd = 1.0;
  double label_noise_sd = 0.0;
  double neginf_rate = 0.0;
  std::array<std::vector<double>, 3> loading;  // (inf_dims[m], k) row-major: B_m
  std::vector<std::vector<double>> weights;    // one (regression) or four (IEMOCAP) c vectors
  std::vector<double> tau;                     // IEMOCAP thresholds
  // kind = interaction: two binary contexts per sample (docs/synthetic.md).
  bool interaction = false;
  double irony_rate = 0.0, intensity_rate = 0.0;
  std::array<double, 2> intensity_gain{1.0, 1.0};               // label scale: mild, intense
  std::array<double, 3> irony_cue{}, intensity_cue{};           // shift sizes per modality
  std::array<bool, 3> irony_inverts{};                          // -B_m z when ironic
  std::array<std::vector<double>, 3> irony_dir, intensity_dir;  // unit vectors in R^inf_dims[m]
};

// Everything drawn once per sample (the plan stream).
struct SamplePlan {
  std::vector<double> z;
  std::array<int64_t, 3> length{};                  // valid frames per modality
  std::array<std::vector<int64_t>, 3> informative;  // array frame positions, increasing
  int64_t neginf_frame = -1, neginf_dim = -1;       // audio
  std::vector<float> label;                         // 1 score, or 4 classes (0/1)
  int ironic = 0, intense = 0;                      // kind = interaction: the contexts
};

int64_t modality_length(const SynthShape& s, int m, int64_t text_length) {
  if (m == 0 || s.aligned) return text_length;
  double scaled =
      static_cast<double>(text_length) * static_cast<double>(s.t[m]) / static_cast<double>(s.t[0]);
  return std::clamp<int64_t>(std::llround(scaled), 1, s.t[m]);
}

int64_t frame_offset(const SynthShape& s, int m, int64_t length) {
  return s.front_padding ? s.t[m] - length : 0;
}

// Unit vector of a (nonzero) vector; RunError for a degenerate random draw.
void normalise(std::vector<double>& x) {
  double norm = 0.0;
  for (double v : x) norm += v * v;
  norm = std::sqrt(norm);
  if (!(norm > 1e-9)) throw RunError("synth: degenerate random cue direction (change the seed)");
  for (double& v : x) v /= norm;
}

// The interaction family's contexts and their cue directions. Per modality two orthonormal
// directions in its informative dims (irony, intensity): random, with the loading columns
// projected out group by group of equal gain, strongest first, as long as two dimensions remain
// afterwards — so a cue shares its dimensions only with the modality's weakest sentiment loadings,
// if with any (with the defaults: text and vision cues orthogonal to all loadings; the audio cues
// in the span of its weak shared-factor loadings). When a modality has fewer informative dims than
// visible factors the loading columns are not orthogonal and nothing is projected out.
void build_contexts(const SynthOptions& o, Model& md) {
  md.interaction = true;
  md.irony_rate = o.irony_rate;
  md.intensity_rate = o.intensity_rate;
  md.intensity_gain = {o.intensity_gain[0], o.intensity_gain[1]};
  for (int m = 0; m < 3; ++m) {
    md.irony_cue[m] = o.irony_cue[m];
    md.irony_inverts[m] = o.irony_inverts[m] != 0;
    md.intensity_cue[m] = o.intensity_cue[m];
    const int64_t rows = md.inf_dims[m], k = md.k;
    Stream st(hash_words({kTagSynthCue, md.seed, uint64_t(m)}));
    std::vector<double> g1(static_cast<std::size_t>(rows)), g2(g1.size());
    for (double& x : g1) x = st.normal();
    for (double& x : g2) x = st.normal();
    // Visible columns (unit vectors) with their gains.
    std::vector<std::pair<double, std::vector<double>>> cols;
    const int64_t visible = md.ks + md.kp;
    if (rows >= visible) {
      for (int64_t c = 0; c < k; ++c) {
        std::vector<double> col(static_cast<std::size_t>(rows));
        double norm = 0.0;
        for (int64_t r = 0; r < rows; ++r) {
          col[r] = md.loading[m][r * k + c];
          norm += col[r] * col[r];
        }
        if (norm == 0.0) continue;
        const bool shared = c < md.ks;
        normalise(col);
        cols.emplace_back(shared ? o.shared_gain[m] : o.private_gain[m], std::move(col));
      }
    }
    std::stable_sort(cols.begin(), cols.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    int64_t left = rows;
    for (std::size_t begin = 0; begin < cols.size();) {
      std::size_t end = begin;
      while (end < cols.size() && cols[end].first == cols[begin].first) ++end;
      const int64_t group = static_cast<int64_t>(end - begin);
      if (left - group < 2) break;
      for (std::size_t c = begin; c < end; ++c) {
        for (std::vector<double>* g : {&g1, &g2}) {
          double dot = 0.0;
          for (int64_t r = 0; r < rows; ++r) dot += (*g)[r] * cols[c].second[r];
          for (int64_t r = 0; r < rows; ++r) (*g)[r] -= dot * cols[c].second[r];
        }
      }
      left -= group;
      begin = end;
    }
    normalise(g1);
    double dot = 0.0;
    for (int64_t r = 0; r < rows; ++r) dot += g2[r] * g1[r];
    for (int64_t r = 0; r < rows; ++r) g2[r] -= dot * g1[r];
    normalise(g2);
    md.irony_dir[m] = std::move(g1);
    md.intensity_dir[m] = std::move(g2);
  }
}

Model build_model(const SynthOptions& o, const SynthShape& shape) {
  Model md;
  md.shape = shape;
  md.seed = static_cast<uint64_t>(o.seed);
  md.ks = o.shared_factors;
  md.kp = o.private_factors;
  md.k = md.ks + 3 * md.kp;
  md.min_length = o.min_length;
  md.distractor_sd = o.distractor_sd;
  md.label_noise_sd = o.label_noise_sd;
  md.neginf_rate = o.neginf_rate;
  for (int m = 0; m < 3; ++m) {
    md.inf_dims[m] = o.informative_dims[m];
    md.inf_frames[m] = o.informative_frames[m];
    md.noise_sd[m] = o.noise_sd[m];
    // B_m: orthonormal directions (so B_m^T B_m is diagonal and the information a modality
    // carries depends on the gains and noise only, not on the random draw), scaled per factor.
    const int64_t rows = md.inf_dims[m], km = md.ks + md.kp;
    Stream s(hash_words({kTagSynthLoading, md.seed, uint64_t(m)}));
    std::vector<double> g(static_cast<std::size_t>(rows * km));
    for (double& x : g) x = s.normal();
    if (rows >= km) {
      orthonormalise_columns(g, rows, km);
    } else {  // fewer dims than factors: orthonormal rows instead
      std::vector<double> t(static_cast<std::size_t>(km * rows));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < km; ++c) t[c * rows + r] = g[r * km + c];
      orthonormalise_columns(t, km, rows);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < km; ++c) g[r * km + c] = t[c * rows + r];
    }
    md.loading[m].assign(static_cast<std::size_t>(rows * md.k), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < km; ++c) {
        const bool shared = c < md.ks;
        const int64_t col = shared ? c : md.ks + m * md.kp + (c - md.ks);
        md.loading[m][r * md.k + col] =
            g[r * km + c] * (shared ? o.shared_gain[m] : o.private_gain[m]);
      }
    }
  }
  if (shape.task == Task::kIemocap) {
    Stream s(hash_words({kTagSynthLabel, md.seed}));
    for (int e = 0; e < 4; ++e) {
      std::vector<double> c(static_cast<std::size_t>(md.k), 0.0);
      double norm = 0.0;
      for (int64_t j = 0; j < md.ks; ++j) {
        c[j] = s.normal();
        norm += c[j] * c[j];
      }
      for (int64_t j = 0; j < md.ks; ++j) c[j] *= o.label_shared_weight / std::sqrt(norm);
      for (int m = 0; m < 3; ++m)
        for (int64_t j = 0; j < md.kp; ++j)
          c[md.ks + m * md.kp + j] = (s.uniform() < 0.5 ? -1.0 : 1.0) * o.label_private_weight[m] /
                                     std::sqrt(double(md.kp));
      double var = md.label_noise_sd * md.label_noise_sd;
      for (double x : c) var += x * x;
      md.tau.push_back(std::sqrt(var) * normal_quantile(1.0 - o.emotion_prevalence[e]));
      md.weights.push_back(std::move(c));
    }
  } else {
    std::vector<double> c(static_cast<std::size_t>(md.k), 0.0);
    for (int64_t j = 0; j < md.ks; ++j) c[j] = o.label_shared_weight / std::sqrt(double(md.ks));
    for (int m = 0; m < 3; ++m)
      for (int64_t j = 0; j < md.kp; ++j)
        c[md.ks + m * md.kp + j] = o.label_private_weight[m] / std::sqrt(double(md.kp));
    md.weights.push_back(std::move(c));
  }
  if (o.kind == "interaction") build_contexts(o, md);
  return md;
}

SamplePlan make_plan(const Model& md, int split, int64_t i) {
  const SynthShape& s = md.shape;
  Stream st(hash_words({kTagSynthPlan, md.seed, uint64_t(split), uint64_t(i)}));
  SamplePlan p;
  p.z.resize(static_cast<std::size_t>(md.k));
  for (double& x : p.z) x = st.normal();
  const std::size_t n_labels = s.task == Task::kIemocap ? 4 : 1;
  std::vector<double> eps(n_labels);
  for (double& e : eps) e = st.normal();
  const int64_t text_length = md.min_length + st.below(s.t[0] - md.min_length + 1);
  for (int m = 0; m < 3; ++m) {
    const int64_t len = modality_length(s, m, text_length);
    p.length[m] = len;
    std::vector<int64_t> rel;
    while (static_cast<int64_t>(rel.size()) < md.inf_frames[m]) {
      int64_t f = st.below(len);
      if (std::find(rel.begin(), rel.end(), f) == rel.end()) rel.push_back(f);
    }
    std::sort(rel.begin(), rel.end());
    const int64_t off = frame_offset(s, m, len);
    for (int64_t f : rel) p.informative[m].push_back(off + f);
  }
  // One -inf at a valid, non-informative audio frame and a non-marker dim, like COVAREP.
  const double u = st.uniform();
  if (u < md.neginf_rate && p.length[kAudio] > md.inf_frames[kAudio]) {
    const int64_t off = frame_offset(s, kAudio, p.length[kAudio]);
    const auto& inf = p.informative[kAudio];
    int64_t f;
    do {
      f = off + st.below(p.length[kAudio]);
    } while (std::find(inf.begin(), inf.end(), f) != inf.end());
    p.neginf_frame = f;
    p.neginf_dim = 1 + st.below(s.d[kAudio] - 1);
  }
  double gain = 1.0;
  if (md.interaction) {  // its own stream: the latent draws above are the linear family's
    Stream ctx(hash_words({kTagSynthContext, md.seed, uint64_t(split), uint64_t(i)}));
    p.ironic = ctx.uniform() < md.irony_rate ? 1 : 0;
    p.intense = ctx.uniform() < md.intensity_rate ? 1 : 0;
    gain = md.intensity_gain[p.intense];
  }
  for (std::size_t e = 0; e < n_labels; ++e) {
    double score = md.label_noise_sd * eps[e];  // linear: this order of sums, as always
    if (md.interaction) {
      double sentiment = 0.0;
      for (int64_t j = 0; j < md.k; ++j) sentiment += md.weights[e][j] * p.z[j];
      score += gain * sentiment;
    } else {
      for (int64_t j = 0; j < md.k; ++j) score += md.weights[e][j] * p.z[j];
    }
    if (s.task == Task::kIemocap) {
      p.label.push_back(score > md.tau[e] ? 1.0f : 0.0f);
    } else {
      p.label.push_back(static_cast<float>(std::clamp(score, -kLabelBound, kLabelBound)));
    }
  }
  return p;
}

// The observations of one informative frame: its array position and dims 1..inf_dims as stored
// (float32), which is what the oracle conditions on.
struct Observation {
  int64_t frame = 0;
  std::vector<double> x;
};

// Mean of informative dim r (0-based, dim r + 1 of the frame) of modality m given the latents:
// (B_m z)_r for kind = linear; for kind = interaction the loading of the words (and of every
// modality irony_inverts names) is inverted when the utterance is ironic, and the cues shift the
// frame along their directions.
double informative_mean(const Model& md, int m, const SamplePlan& p, const std::vector<double>& bz,
                        int64_t r) {
  if (!md.interaction) return bz[r];
  double mean = (md.irony_inverts[m] && p.ironic) ? -bz[r] : bz[r];
  if (p.ironic) mean += md.irony_cue[m] * md.irony_dir[m][r];
  if (p.intense) mean += md.intensity_cue[m] * md.intensity_dir[m][r];
  return mean;
}

// Fills out (t_m, d_m) with sample i's features of modality m; appends the informative frames'
// stored values to `obs` when given.
void make_features(const Model& md, int split, int64_t i, int m, const SamplePlan& p, float* out,
                   std::vector<Observation>* obs) {
  const SynthShape& s = md.shape;
  const int64_t t = s.t[m], d = s.d[m], len = p.length[m], off = frame_offset(s, m, len);
  std::fill(out, out + t * d, 0.0f);
  Stream st(hash_words({kTagSynthFeature, md.seed, uint64_t(split), uint64_t(i), uint64_t(m)}));
  const std::vector<double> bz = matvec(md.loading[m], md.inf_dims[m], md.k, p.z);
  const auto& inf = p.informative[m];
  std::size_t next_inf = 0;
  for (int64_t f = off; f < off + len; ++f) {
    float* row = out + f * d;
    const bool informative = next_inf < inf.size() && inf[next_inf] == f;
    if (informative) {
      ++next_inf;
      row[0] = 1.0f;  // the marker dimension
      Observation ob;
      ob.frame = f;
      for (int64_t q = 1; q <= md.inf_dims[m]; ++q) {
        row[q] = static_cast<float>(informative_mean(md, m, p, bz, q - 1) +
                                    md.noise_sd[m] * st.normal());
        ob.x.push_back(row[q]);
      }
      for (int64_t q = md.inf_dims[m] + 1; q < d; ++q)
        row[q] = static_cast<float>(md.distractor_sd * st.normal());
      if (obs) obs->push_back(std::move(ob));
    } else {
      bool nonzero = false;
      for (int64_t q = 1; q < d; ++q) {
        row[q] = static_cast<float>(md.distractor_sd * st.normal());
        nonzero = nonzero || row[q] != 0.0f;
      }
      // Validity is read from non-zero frames in the MulT layout: a valid frame is never all 0.
      if (!nonzero) row[1] = static_cast<float>(md.distractor_sd);
      if (m == kAudio && f == p.neginf_frame)
        row[p.neginf_dim] = -std::numeric_limits<float>::infinity();
    }
  }
}

// Checksums of one written array (docs/synthetic.md).
struct ArrayStats {
  WordSum words;
  double finite_sum = 0.0;
  int64_t neginf = 0, posinf = 0, nan = 0;
  void add_floats(const float* v, std::size_t n) {
    words.update(reinterpret_cast<const uint8_t*>(v), n * sizeof(float));
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(v[i])) {
        ++nan;
      } else if (std::isinf(v[i])) {
        ++(v[i] < 0 ? neginf : posinf);
      } else {
        finite_sum += v[i];
      }
    }
  }
  nlohmann::json to_json(const std::vector<int64_t>& shape, const char* dtype) {
    return {{"shape", shape},
            {"dtype", dtype},
            {"wordsum", hex64(words.finish())},
            {"finite_sum", finite_sum},
            {"neginf", neginf},
            {"posinf", posinf},
            {"nan", nan}};
  }
};

nlohmann::json string_stats(const std::vector<int64_t>& shape,
                            const std::vector<std::string>& values) {
  WordSum w;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) w.update(reinterpret_cast<const uint8_t*>("\n"), 1);
    w.update(reinterpret_cast<const uint8_t*>(values[i].data()), values[i].size());
  }
  return {{"shape", shape}, {"dtype", "object"}, {"joined_wordsum", hex64(w.finish())}};
}

// The split whose samples the test split holds: the validation split's for test_split=valid.
int test_source(const SynthOptions& o) { return o.test_split == "valid" ? 1 : 2; }

// What the oracle needs from the test split.
struct TestData {
  std::vector<SamplePlan> plans;
  std::vector<std::array<std::vector<Observation>, 3>> obs;
};

// Writes one split's dict under the key of `split`, with the samples of split `source` (the same
// split but for the test split of a test_split=valid copy); returns its checksums.
nlohmann::json write_split(pickle::Writer& w, const Model& md, const std::string& like, int split,
                           int source, int64_t n, TestData* test, const SynthProgress& progress) {
  const SynthShape& s = md.shape;
  std::vector<SamplePlan> plans;
  plans.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) plans.push_back(make_plan(md, source, i));
  if (test) test->obs.assign(static_cast<std::size_t>(n), {});
  nlohmann::json sums = nlohmann::json::object();
  const std::string split_name = kSplitKeys[source];  // in the ids: where the samples come from
  w.key(kSplitKeys[split]);
  w.begin_dict();
  for (int m = 0; m < 3; ++m) {
    const int64_t per_sample = s.t[m] * s.d[m];
    // About 8 MiB of features per chunk.
    const int64_t chunk = std::max<int64_t>(1, (int64_t{8} << 20) / (4 * per_sample));
    std::vector<float> buf(static_cast<std::size_t>(std::min(n, chunk) * per_sample));
    ArrayStats stats;
    const std::vector<int64_t> shape = {n, s.t[m], s.d[m]};
    w.key(s.keys[m]);
    w.begin_array(pickle::DType::kFloat32, shape);
    const std::string stage = std::string(kSplitKeys[split]) + " " + s.keys[m];
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t end = std::min(n, start + chunk);
      for (int64_t i = start; i < end; ++i)
        make_features(md, source, i, m, plans[i], buf.data() + (i - start) * per_sample,
                      test ? &test->obs[i][m] : nullptr);
      const std::size_t count = static_cast<std::size_t>((end - start) * per_sample);
      stats.add_floats(buf.data(), count);
      w.array_data(buf.data(), count * sizeof(float));
      if (progress) progress(stage, end, n);
    }
    w.end_array();
    sums[s.keys[m]] = stats.to_json(shape, "float32");
  }
  if (s.lengths) {
    for (int m : {kAudio, kVision}) {
      std::vector<int64_t> len(static_cast<std::size_t>(n));
      for (int64_t i = 0; i < n; ++i) len[i] = plans[i].length[m];
      const std::string key = std::string(s.keys[m]) + "_lengths";
      w.key(key);
      w.array(pickle::DType::kInt64, {n}, len.data());
      WordSum ws;
      ws.update(reinterpret_cast<const uint8_t*>(len.data()), len.size() * 8);
      sums[key] = {{"shape", {n}}, {"dtype", "int64"}, {"wordsum", hex64(ws.finish())}};
    }
  }
  // Labels.
  {
    std::vector<float> lab;
    std::vector<int64_t> shape;
    std::string key = s.layout == Layout::kMulT ? "labels" : "regression_labels";
    if (s.task == Task::kIemocap) {
      shape = {n, 4, 2};
      for (const SamplePlan& p : plans)
        for (float c : p.label) {
          lab.push_back(1.0f - c);  // one-hot: [absent, present]
          lab.push_back(c);
        }
    } else {
      shape = s.layout == Layout::kMulT ? std::vector<int64_t>{n, 1, 1} : std::vector<int64_t>{n};
      for (const SamplePlan& p : plans) lab.push_back(p.label[0]);
    }
    w.key(key);
    w.array(pickle::DType::kFloat32, shape, lab.data());
    ArrayStats stats;
    stats.add_floats(lab.data(), lab.size());
    sums[key] = stats.to_json(shape, "float32");
  }
  // Ids (and MMSA's raw_text), in the forms the real files use.
  {
    std::vector<std::string> ids;
    std::vector<int64_t> shape;
    if (s.layout == Layout::kMulT) {
      shape = {n, 3};
      for (int64_t i = 0; i < n; ++i) {
        ids.push_back(str("synth_", like, "_", split_name));
        ids.push_back(std::to_string(i));
        ids.push_back(std::to_string(plans[i].length[0]));
      }
    } else {
      shape = {n};
      for (int64_t i = 0; i < n; ++i) ids.push_back(str("synth_", like, "_", split_name, "$_$", i));
    }
    w.key("id");
    w.string_array(shape, ids);
    sums["id"] = string_stats(shape, ids);
    if (s.layout == Layout::kMMSA) {
      std::vector<std::string> text;
      for (int64_t i = 0; i < n; ++i)
        text.push_back(str("synthetic ", like, " ", split_name, " sample ", i));
      w.key("raw_text");
      w.string_array({n}, text);
      sums["raw_text"] = string_stats({n}, text);
    }
  }
  w.end_dict();
  if (test) test->plans = std::move(plans);
  return sums;
}

// The test split as make_masks sees it: sizes and frame validity only.
Split mask_view(const Model& md, const TestData& test) {
  Split sp;
  sp.name = "test";
  sp.n = static_cast<int64_t>(test.plans.size());
  for (int m = 0; m < 3; ++m) {
    ModalityData& mo = sp.modality[m];
    mo.n = sp.n;
    mo.t = md.shape.t[m];
    mo.d = md.shape.d[m];
    mo.valid.assign(static_cast<std::size_t>(sp.n * mo.t), 0);
    for (int64_t i = 0; i < sp.n; ++i) {
      const int64_t len = test.plans[i].length[m], off = frame_offset(md.shape, m, len);
      std::fill_n(mo.valid.begin() + i * mo.t + off, len, uint8_t{1});
    }
  }
  return sp;
}

// Per-modality precision contribution of one informative frame: B_m^T B_m / s_m^2 (k x k).
std::array<std::vector<double>, 3> frame_grams(const Model& md) {
  const int64_t k = md.k;
  std::array<std::vector<double>, 3> gram;
  for (int m = 0; m < 3; ++m) {
    gram[m].assign(static_cast<std::size_t>(k * k), 0.0);
    const double inv_var = 1.0 / (md.noise_sd[m] * md.noise_sd[m]);
    for (int64_t r = 0; r < md.inf_dims[m]; ++r)
      for (int64_t a = 0; a < k; ++a)
        for (int64_t b = 0; b < k; ++b)
          gram[m][a * k + b] += md.loading[m][r * k + a] * md.loading[m][r * k + b] * inv_var;
  }
  return gram;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// The posterior of one test sample given its surviving informative frames.
struct LabelPosterior {
  std::vector<double> mu;  // kind = linear: E[z | frames]
  // Regression: the unclipped label score as a mixture over the contexts (one component for kind
  // = linear): weights, means and standard deviations. `sd` is filled only when asked for (or
  // when the median needs it, kind = interaction).
  std::vector<double> weight, mean, sd;
  double p_ironic = 0.0;
};

double mixture_cdf(const LabelPosterior& p, double t) {
  double f = 0.0;
  for (std::size_t d = 0; d < p.weight.size(); ++d)
    f += p.weight[d] *
         (p.sd[d] > 0 ? normal_cdf((t - p.mean[d]) / p.sd[d]) : (t >= p.mean[d] ? 1.0 : 0.0));
  return f;
}

// The posterior median of the unclipped score (clipping commutes with the median). One Gaussian:
// its mean, as the linear family always computed it; a mixture: bisection of the exact CDF to the
// resolution of a double.
double mixture_median(const LabelPosterior& p) {
  if (p.weight.size() == 1) return p.mean[0];
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::size_t d = 0; d < p.weight.size(); ++d) {
    lo = std::min(lo, p.mean[d] - 40.0 * p.sd[d] - 1.0);
    hi = std::max(hi, p.mean[d] + 40.0 * p.sd[d] + 1.0);
  }
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (mixture_cdf(p, mid) < 0.5 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// E[clip(score, -3, 3)] under the mixture (closed form per Gaussian component).
double clipped_mean(const LabelPosterior& p) {
  const double a = -kLabelBound, b = kLabelBound, inv_sqrt_2pi = 0.3989422804014326779399461;
  double e = 0.0;
  for (std::size_t d = 0; d < p.weight.size(); ++d) {
    const double m = p.mean[d], s = p.sd[d];
    if (!(s > 0)) {
      e += p.weight[d] * std::clamp(m, a, b);
      continue;
    }
    const double al = (a - m) / s, be = (b - m) / s;
    const double fa = normal_cdf(al), fb = normal_cdf(be);
    const double pa = inv_sqrt_2pi * std::exp(-0.5 * al * al);
    const double pb = inv_sqrt_2pi * std::exp(-0.5 * be * be);
    e += p.weight[d] * (a * fa + b * (1.0 - fb) + m * (fb - fa) + s * (pa - pb));
  }
  return e;
}

// Posterior of sample i of the test split under `masks`. kind = linear:
//   Λ = I + Σ_kept B^T B / s^2,  μ = Λ^-1 Σ_kept B^T x / s^2,  score ~ N(w^T μ, w^T Λ^-1 w +
//   σ_y^2).
// kind = interaction: for each context d = (ironic c, intense k) with prior mass, the frames are
// x = s_c,m B_m z + c·γ_m u_m + k·η_m v_m + noise (s_c,m = -1 for an inverted modality of an ironic
// utterance, else +1), so given d the posterior of z is Gaussian with the same Λ and
//   h_d = Σ_kept s_c,m B_m^T r / s^2 (r = x minus the cue shifts),  μ_d = Λ^-1 h_d,
// and the marginal likelihood is, up to terms equal for every d, exp(-q_d/2 + h_d^T μ_d / 2) with
// q_d = Σ_kept |r|^2 / s^2. The score g_k w^T z + ε is then the mixture over d of
// N(g_k w^T μ_d, g_k^2 w^T Λ^-1 w + σ_y^2) with weights P(d | frames).
LabelPosterior sample_posterior(const Model& md, const std::array<std::vector<Observation>, 3>& obs,
                                const Masks& masks, int64_t i,
                                const std::array<std::vector<double>, 3>& gram, bool spread) {
  const int64_t k = md.k;
  std::vector<double> prec(static_cast<std::size_t>(k * k), 0.0), rhs(k, 0.0);
  for (int64_t a = 0; a < k; ++a) prec[a * k + a] = 1.0;
  for (int m = 0; m < 3; ++m) {
    const double inv_var = 1.0 / (md.noise_sd[m] * md.noise_sd[m]);
    for (const Observation& ob : obs[m]) {
      if (!masks.kept(m, i, ob.frame)) continue;
      for (std::size_t q = 0; q < gram[m].size(); ++q) prec[q] += gram[m][q];
      if (md.interaction) continue;
      for (int64_t r = 0; r < md.inf_dims[m]; ++r)
        for (int64_t a = 0; a < k; ++a) rhs[a] += md.loading[m][r * k + a] * ob.x[r] * inv_var;
    }
  }
  LabelPosterior out;
  const bool regression = md.shape.task != Task::kIemocap;
  if (!md.interaction) {
    out.mu = solve_spd(prec, rhs, k);
    if (!regression) return out;
    double score = 0.0;
    for (int64_t a = 0; a < k; ++a) score += md.weights[0][a] * out.mu[a];
    out.weight = {1.0};
    out.mean = {score};
    out.sd = {0.0};
    if (spread)
      out.sd[0] = std::sqrt(dot(md.weights[0], solve_spd(prec, md.weights[0], k)) +
                            md.label_noise_sd * md.label_noise_sd);
    return out;
  }
  const std::vector<double>& w = md.weights[0];
  const double var = dot(w, solve_spd(prec, w, k));  // w^T Λ^-1 w, the same for every context
  std::vector<double> log_weight;
  std::vector<int> ironic;
  std::vector<double> r;
  for (int c = 0; c < 2; ++c) {
    const double pc = c ? md.irony_rate : 1.0 - md.irony_rate;
    for (int g = 0; g < 2; ++g) {
      const double pg = g ? md.intensity_rate : 1.0 - md.intensity_rate;
      if (!(pc > 0) || !(pg > 0)) continue;
      std::vector<double> h(static_cast<std::size_t>(k), 0.0);
      double q = 0.0;
      for (int m = 0; m < 3; ++m) {
        const double inv_var = 1.0 / (md.noise_sd[m] * md.noise_sd[m]);
        const double sign = (md.irony_inverts[m] && c) ? -1.0 : 1.0;
        r.resize(static_cast<std::size_t>(md.inf_dims[m]));
        for (const Observation& ob : obs[m]) {
          if (!masks.kept(m, i, ob.frame)) continue;
          for (int64_t d = 0; d < md.inf_dims[m]; ++d) {
            r[d] = ob.x[d];
            if (c) r[d] -= md.irony_cue[m] * md.irony_dir[m][d];
            if (g) r[d] -= md.intensity_cue[m] * md.intensity_dir[m][d];
            q += r[d] * r[d] * inv_var;
          }
          for (int64_t d = 0; d < md.inf_dims[m]; ++d)
            for (int64_t a = 0; a < k; ++a)
              h[a] += sign * md.loading[m][d * k + a] * r[d] * inv_var;
        }
      }
      const std::vector<double> mu = solve_spd(prec, h, k);
      log_weight.push_back(std::log(pc) + std::log(pg) - 0.5 * q + 0.5 * dot(h, mu));
      out.mean.push_back(md.intensity_gain[g] * dot(w, mu));
      out.sd.push_back(std::sqrt(md.intensity_gain[g] * md.intensity_gain[g] * var +
                                 md.label_noise_sd * md.label_noise_sd));
      ironic.push_back(c);
    }
  }
  const double top = *std::max_element(log_weight.begin(), log_weight.end());
  double total = 0.0;
  for (double lw : log_weight) {
    out.weight.push_back(std::exp(lw - top));
    total += out.weight.back();
  }
  for (std::size_t d = 0; d < out.weight.size(); ++d) {
    out.weight[d] /= total;
    if (ironic[d]) out.p_ironic += out.weight[d];
  }
  return out;
}

// Oracle metrics of one condition: the posterior of every test sample given its surviving
// informative frames (sample_posterior), then the Bayes decision per task.
nlohmann::json oracle_condition(const Model& md, const TestData& test, const Split& view,
                                const Condition& c, uint64_t mask_seed) {
  const int64_t n = view.n, k = md.k;
  const Masks masks = make_masks(c, view, mask_seed);
  const std::array<std::vector<double>, 3> gram = frame_grams(md);
  std::vector<double> pred, label;
  std::vector<int> pred_class, label_class;
  int64_t dropped_slots = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int m = 0; m < 3; ++m) {
      bool all_dropped = masks.t[m] > 0;
      for (int64_t f = 0; f < masks.t[m]; ++f) all_dropped = all_dropped && !masks.kept(m, i, f);
      dropped_slots += all_dropped ? 1 : 0;
    }
    const LabelPosterior post = sample_posterior(md, test.obs[i], masks, i, gram, false);
    const SamplePlan& p = test.plans[i];
    if (md.shape.task == Task::kIemocap) {
      for (int e = 0; e < 4; ++e) {
        double score = 0.0;
        for (int64_t a = 0; a < k; ++a) score += md.weights[e][a] * post.mu[a];
        pred_class.push_back(score > md.tau[e] ? 1 : 0);
        label_class.push_back(p.label[e] > 0.5f ? 1 : 0);
      }
    } else {
      pred.push_back(std::clamp(mixture_median(post), -kLabelBound, kLabelBound));
      label.push_back(p.label[0]);
    }
  }
  nlohmann::json out = {{"name", c.name},
                        {"protocol", c.protocol()},
                        {"parameter", c.parameter()},
                        {"mask_seed", mask_seed}};
  const MetricMap metrics = md.shape.task == Task::kIemocap
                                ? iemocap_metrics(pred_class, label_class)
                                : regression_metrics(pred, label);
  out["metrics"] = nlohmann::json(metrics);
  if (c.kind == Condition::Kind::kModalityDrop)
    out["realised_missing_rate"] = static_cast<double>(dropped_slots) / static_cast<double>(3 * n);
  return out;
}

nlohmann::json model_json(const Model& md, const SynthOptions& o) {
  nlohmann::json mods = nlohmann::json::array();
  for (int m = 0; m < 3; ++m) {
    std::vector<int64_t> dims;
    for (int64_t q = 1; q <= md.inf_dims[m]; ++q) dims.push_back(q);
    std::vector<std::vector<double>> b;
    for (int64_t r = 0; r < md.inf_dims[m]; ++r)
      b.emplace_back(md.loading[m].begin() + r * md.k, md.loading[m].begin() + (r + 1) * md.k);
    mods.push_back({{"name", kModalityNames[m]},
                    {"letter", kLetters[m]},
                    {"key", md.shape.keys[m]},
                    {"frames", md.shape.t[m]},
                    {"dim", md.shape.d[m]},
                    {"marker_dim", 0},
                    {"informative_dims", dims},
                    {"informative_frames", md.inf_frames[m]},
                    {"noise_sd", md.noise_sd[m]},
                    {"distractor_sd", md.distractor_sd},
                    {"loading", b}});
  }
  std::vector<std::string> factors;
  for (int64_t j = 0; j < md.ks; ++j) factors.push_back(str("shared", j));
  for (int m = 0; m < 3; ++m)
    for (int64_t j = 0; j < md.kp; ++j) factors.push_back(str("private_", kLetters[m], j));
  nlohmann::json label = {{"noise_sd", md.label_noise_sd}};
  if (md.shape.task == Task::kIemocap) {
    label["kind"] = "iemocap";
    label["emotions"] = {kEmotions[0], kEmotions[1], kEmotions[2], kEmotions[3]};
    label["weights"] = md.weights;
    label["tau"] = md.tau;
    label["rule"] =
        "class_e = [w_e^T z + noise_e > tau_e]; stored one-hot (N, 4, 2) as [1 - class, class]";
  } else {
    label["kind"] = "regression";
    label["weights"] = md.weights[0];
    label["clip"] = {-kLabelBound, kLabelBound};
    label["rule"] = md.interaction ? "y = clip(intensity_gain[intense] * w^T z + noise, -3, 3)"
                                   : "y = clip(w^T z + noise, -3, 3)";
  }
  std::string rule =
      "mu = (I + sum_kept B_m^T B_m / s_m^2)^-1 sum_kept B_m^T x / s_m^2 over surviving "
      "informative frames (marker_dim == 1); regression: clip(w^T mu, -3, 3); iemocap: "
      "[w_e^T mu > tau_e]";
  nlohmann::json context;
  if (md.interaction) {
    rule =
        "for each context d = (ironic, intense) with prior mass: r = x - ironic * irony_cue[m] * "
        "irony_dir[m] - intense * intensity_cue[m] * intensity_dir[m] over surviving informative "
        "frames, A_m = -B_m for a modality inverted_when_ironic in an ironic context, else B_m; "
        "Lambda = I + sum B_m^T "
        "B_m / s_m^2; h_d = sum A_m^T r / s_m^2; mu_d = Lambda^-1 h_d; log P(d | x) = log prior_d "
        "- sum |r|^2 / (2 s_m^2) + h_d^T mu_d / 2 + const; the label score is the mixture over d "
        "of N(g_d w^T mu_d, g_d^2 w^T Lambda^-1 w + noise_sd^2), g_d = intensity_gain[intense]; "
        "prediction: clip(posterior median, -3, 3)";
    nlohmann::json cues = nlohmann::json::array();
    for (int m = 0; m < 3; ++m)
      cues.push_back({{"letter", kLetters[m]},
                      {"irony_cue", md.irony_cue[m]},
                      {"irony_dir", md.irony_dir[m]},
                      {"intensity_cue", md.intensity_cue[m]},
                      {"intensity_dir", md.intensity_dir[m]},
                      {"inverted_when_ironic", md.irony_inverts[m]}});
    context = {{"ironic", {{"prior", md.irony_rate}}},
               {"intense", {{"prior", md.intensity_rate}}},
               {"intensity_gain", md.intensity_gain},
               {"modalities", cues},
               {"rule",
                "ironic ~ Bernoulli(irony_rate), intense ~ Bernoulli(intensity_rate), independent "
                "of z and of each other; informative dims x = A_m z + ironic * irony_cue[m] * "
                "irony_dir[m] + intense * intensity_cue[m] * intensity_dir[m] + noise, A_m = "
                "-B_m for a modality inverted_when_ironic of an ironic utterance, else B_m"}};
  }
  nlohmann::json out = {
      {"format", "robustmsa-synth-generator-1"},
      {"options", options_to_json(o)},
      {"task", task_name(md.shape.task)},
      {"layout", o.layout},
      {"padding", md.shape.front_padding ? "front" : "end"},
      {"latent",
       {{"k", md.k},
        {"shared", md.ks},
        {"private_per_modality", md.kp},
        {"factors", factors},
        {"prior", "N(0, I)"}}},
      {"modalities", mods},
      {"label", label},
      {"oracle", {{"split", "test"}, {"mask_seed", o.mask_seed}, {"rule", rule}}}};
  out["kind"] = md.interaction ? "interaction" : "linear";
  if (md.interaction) out["context"] = context;
  return out;
}

}  // namespace

// ---- options -----------------------------------------------------------------------------------

void SynthOptions::validate() const {
  like_info(like);
  require(layout == "mult" || layout == "mmsa_aligned" || layout == "mmsa_unaligned",
          "synth.layout", layout, "one of mult, mmsa_aligned, mmsa_unaligned");
  require(!(like == "iemocap" && layout != "mult"), "synth.layout", layout,
          "mult for like=iemocap (the MMSA layouts hold regression labels only)");
  require(n_train >= 0, "synth.n_train", n_train, "an integer >= 0 (0: real size)");
  require(n_valid >= 0, "synth.n_valid", n_valid, "an integer >= 0 (0: real size)");
  require(n_test >= 0, "synth.n_test", n_test, "an integer >= 0 (0: real size)");
  auto three = [](const auto& v, const char* key) {
    require(v.size() == 3, str("synth.", key), nlohmann::json(v).dump(),
            "a list of 3 values (text, audio, vision)");
  };
  three(seq_len, "seq_len");
  three(dims, "dims");
  three(informative_dims, "informative_dims");
  three(informative_frames, "informative_frames");
  three(shared_gain, "shared_gain");
  three(private_gain, "private_gain");
  three(noise_sd, "noise_sd");
  three(label_private_weight, "label_private_weight");
  for (int m = 0; m < 3; ++m) {
    const std::string at = str("[", m, "]");
    require(seq_len[m] >= 0, "synth.seq_len" + at, seq_len[m], "an integer >= 0");
    require(dims[m] >= 0, "synth.dims" + at, dims[m], "an integer >= 0");
    require(informative_dims[m] >= 1, "synth.informative_dims" + at, informative_dims[m],
            "an integer >= 1");
    require(informative_frames[m] >= 0, "synth.informative_frames" + at, informative_frames[m],
            "an integer >= 0");
    require(std::isfinite(shared_gain[m]) && shared_gain[m] >= 0, "synth.shared_gain" + at,
            shared_gain[m], "a finite number >= 0");
    require(std::isfinite(private_gain[m]) && private_gain[m] >= 0, "synth.private_gain" + at,
            private_gain[m], "a finite number >= 0");
    require(std::isfinite(noise_sd[m]) && noise_sd[m] > 0, "synth.noise_sd" + at, noise_sd[m],
            "a finite number > 0");
    require(std::isfinite(label_private_weight[m]) && label_private_weight[m] >= 0,
            "synth.label_private_weight" + at, label_private_weight[m], "a finite number >= 0");
  }
  require(min_length >= 1, "synth.min_length", min_length, "an integer >= 1");
  require(shared_factors >= 0, "synth.shared_factors", shared_factors, "an integer >= 0");
  require(private_factors >= 0, "synth.private_factors", private_factors, "an integer >= 0");
  require(shared_factors + private_factors >= 1, "synth.shared_factors", shared_factors,
          "at least one latent factor in total (shared_factors + private_factors >= 1)");
  require(std::isfinite(distractor_sd) && distractor_sd > 0, "synth.distractor_sd", distractor_sd,
          "a finite number > 0");
  require(std::isfinite(label_shared_weight) && label_shared_weight >= 0,
          "synth.label_shared_weight", label_shared_weight, "a finite number >= 0");
  require(std::isfinite(label_noise_sd) && label_noise_sd >= 0, "synth.label_noise_sd",
          label_noise_sd, "a finite number >= 0");
  require(emotion_prevalence.size() == 4, "synth.emotion_prevalence",
          nlohmann::json(emotion_prevalence).dump(),
          "a list of 4 values (neutral, happy, sad, angry)");
  for (std::size_t e = 0; e < 4; ++e)
    require(emotion_prevalence[e] > 0 && emotion_prevalence[e] < 1,
            str("synth.emotion_prevalence[", e, "]"), emotion_prevalence[e], "a number in (0, 1)");
  require(neginf_rate >= 0 && neginf_rate <= 1, "synth.neginf_rate", neginf_rate,
          "a number in [0, 1]");
  require(mask_seed >= 0, "synth.mask_seed", mask_seed, "an integer >= 0");
  require(test_split == "test" || test_split == "valid", "synth.test_split", test_split,
          "test or valid");
  require(test_split == "test" || n_test == 0, "synth.n_test", n_test,
          "0 with test_split=valid (the test split then holds the n_valid validation samples)");
  require(kind == "linear" || kind == "interaction", "synth.kind", kind, "linear or interaction");
  if (kind == "linear") {  // the interaction options would be silently ignored
    const SynthOptions d;
    const std::pair<const char*, bool> unchanged[] = {
        {"irony_rate", irony_rate == d.irony_rate},
        {"irony_cue", irony_cue == d.irony_cue},
        {"irony_inverts", irony_inverts == d.irony_inverts},
        {"intensity_rate", intensity_rate == d.intensity_rate},
        {"intensity_gain", intensity_gain == d.intensity_gain},
        {"intensity_cue", intensity_cue == d.intensity_cue}};
    for (const auto& [key, same] : unchanged)
      if (!same)
        throw ConfigError(str("config key 'synth.", key,
                              "': applies to synth.kind=interaction only; found it changed with "
                              "kind=linear (set kind=interaction or leave it at its default)"));
    return;
  }
  require(like != "iemocap", "synth.like", like,
          "mosi or mosei for kind=interaction (its oracle is defined for regression labels)");
  require(std::isfinite(irony_rate) && irony_rate >= 0 && irony_rate <= 1, "synth.irony_rate",
          irony_rate, "a number in [0, 1]");
  require(std::isfinite(intensity_rate) && intensity_rate >= 0 && intensity_rate <= 1,
          "synth.intensity_rate", intensity_rate, "a number in [0, 1]");
  three(irony_cue, "irony_cue");
  three(intensity_cue, "intensity_cue");
  three(irony_inverts, "irony_inverts");
  require(intensity_gain.size() == 2, "synth.intensity_gain", nlohmann::json(intensity_gain).dump(),
          "a list of 2 values (mild, intense)");
  for (int g = 0; g < 2; ++g)
    require(std::isfinite(intensity_gain[g]) && intensity_gain[g] >= 0,
            str("synth.intensity_gain[", g, "]"), intensity_gain[g], "a finite number >= 0");
  for (int m = 0; m < 3; ++m) {
    const std::string at = str("[", m, "]");
    require(std::isfinite(irony_cue[m]) && irony_cue[m] >= 0, "synth.irony_cue" + at, irony_cue[m],
            "a finite number >= 0");
    require(std::isfinite(intensity_cue[m]) && intensity_cue[m] >= 0, "synth.intensity_cue" + at,
            intensity_cue[m], "a finite number >= 0");
    require(irony_inverts[m] == 0 || irony_inverts[m] == 1, "synth.irony_inverts" + at,
            irony_inverts[m], "0 or 1");
    require(informative_dims[m] >= 2, "synth.informative_dims" + at, informative_dims[m],
            "an integer >= 2 for kind=interaction (room for two cue directions)");
  }
}

SynthShape resolve_synth(const SynthOptions& o) {
  o.validate();
  const LikeInfo& info = like_info(o.like);
  SynthShape s;
  s.task = info.task;
  std::array<int64_t, 3> t_default{}, d_default{};
  if (o.layout == "mult") {
    s.layout = Layout::kMulT;
    s.front_padding = true;
    t_default = {50, 50, 50};
    d_default = {300, 74, 35};  // GloVe, COVAREP, Facet as in the MulT release
  } else {
    s.layout = Layout::kMMSA;
    s.front_padding = false;
    s.aligned = o.layout == "mmsa_aligned";
    s.lengths = !s.aligned;
    s.keys = {"text", "audio", "vision"};
    const bool mosi = o.like == "mosi";
    d_default = mosi ? std::array<int64_t, 3>{768, 5, 20} : std::array<int64_t, 3>{768, 74, 35};
    t_default = s.aligned ? std::array<int64_t, 3>{50, 50, 50}
                          : (mosi ? std::array<int64_t, 3>{50, 375, 500}
                                  : std::array<int64_t, 3>{50, 500, 500});
  }
  const std::array<int64_t, 3> n_opt = {o.n_train, o.n_valid, o.n_test};
  for (int k = 0; k < 3; ++k) s.n[k] = n_opt[k] > 0 ? n_opt[k] : info.n[k];
  if (o.test_split == "valid") s.n[2] = s.n[1];
  require(s.n[2] >= 2, "synth.n_test", s.n[2], "at least 2 test samples (metrics need them)");
  for (int m = 0; m < 3; ++m) {
    s.t[m] = o.seq_len[m] > 0 ? o.seq_len[m] : t_default[m];
    s.d[m] = o.dims[m] > 0 ? o.dims[m] : d_default[m];
    require(o.informative_dims[m] <= s.d[m] - 1, str("synth.informative_dims[", m, "]"),
            o.informative_dims[m],
            str("at most dims - 1 = ", s.d[m] - 1, " (dim 0 is the marker)"));
  }
  if (s.aligned)
    require(s.t[0] == s.t[1] && s.t[1] == s.t[2], "synth.seq_len", nlohmann::json(s.t).dump(),
            "three equal lengths for an aligned layout");
  require(o.min_length <= s.t[0], "synth.min_length", o.min_length,
          str("at most the text length ", s.t[0]));
  for (int m = 0; m < 3; ++m) {
    const int64_t shortest = modality_length(s, m, o.min_length);
    require(o.informative_frames[m] <= shortest, str("synth.informative_frames[", m, "]"),
            o.informative_frames[m],
            str("at most the shortest valid length of ", kModalityNames[m], " (", shortest,
                " frames at min_length = ", o.min_length, ")"));
  }
  return s;
}

OracleSamples oracle_samples(const SynthOptions& options, const std::string& condition) {
  const SynthShape shape = resolve_synth(options);
  if (shape.task == Task::kIemocap)
    throw RunError("oracle_samples: defined for regression labels; found like=iemocap");
  const Model md = build_model(options, shape);
  TestData test;
  const int64_t n = shape.n[2];
  const int source = test_source(options);
  for (int64_t i = 0; i < n; ++i) test.plans.push_back(make_plan(md, source, i));
  test.obs.assign(static_cast<std::size_t>(n), {});
  std::vector<float> buf;
  for (int m = 0; m < 3; ++m) {
    buf.resize(static_cast<std::size_t>(shape.t[m] * shape.d[m]));
    for (int64_t i = 0; i < n; ++i)
      make_features(md, source, i, m, test.plans[i], buf.data(), &test.obs[i][m]);
  }
  const Split view = mask_view(md, test);
  const Masks masks =
      make_masks(parse_condition(condition), view, static_cast<uint64_t>(options.mask_seed));
  const std::array<std::vector<double>, 3> gram = frame_grams(md);
  OracleSamples out;
  for (int64_t i = 0; i < n; ++i) {
    const LabelPosterior post = sample_posterior(md, test.obs[i], masks, i, gram, true);
    const SamplePlan& p = test.plans[i];
    const double y = p.label[0];
    out.prediction.push_back(std::clamp(mixture_median(post), -kLabelBound, kLabelBound));
    out.mean.push_back(clipped_mean(post));
    out.cdf_below.push_back(y <= -kLabelBound ? 0.0 : mixture_cdf(post, y));
    out.cdf_at.push_back(y >= kLabelBound ? 1.0 : mixture_cdf(post, y));
    out.p_ironic.push_back(post.p_ironic);
    out.label.push_back(y);
    out.ironic.push_back(p.ironic);
    out.intense.push_back(p.intense);
    for (int m = 0; m < 3; ++m) {
      std::vector<double> dir = md.interaction ? md.irony_dir[m] : std::vector<double>();
      if (!md.interaction) {  // B_m w
        dir.assign(static_cast<std::size_t>(md.inf_dims[m]), 0.0);
        for (int64_t r = 0; r < md.inf_dims[m]; ++r)
          for (int64_t a = 0; a < md.k; ++a)
            dir[r] += md.loading[m][r * md.k + a] * md.weights[0][a];
      }
      double sum = 0.0;
      int64_t count = 0;
      for (const Observation& ob : test.obs[i][m]) {
        if (!masks.kept(m, i, ob.frame)) continue;
        sum += dot(dir, ob.x);
        ++count;
      }
      out.statistic[m].push_back(count ? sum / static_cast<double>(count)
                                       : std::numeric_limits<double>::quiet_NaN());
    }
  }
  return out;
}

SynthResult write_synthetic(const SynthOptions& options, const std::string& out_path,
                            const SynthProgress& progress) {
  const SynthShape shape = resolve_synth(options);
  const Model md = build_model(options, shape);
  SynthResult result;
  result.data_path = out_path;
  result.oracle_path = out_path + ".oracle.json";
  result.generator_path = out_path + ".generator.json";

  TestData test;
  nlohmann::json checksums = nlohmann::json::object();
  {
    pickle::Writer w(out_path);
    w.begin_dict();
    for (int split = 0; split < 3; ++split)
      checksums[kSplitKeys[split]] =
          write_split(w, md, options.like, split, split == 2 ? test_source(options) : split,
                      shape.n[split], split == 2 ? &test : nullptr, progress);
    w.end_dict();
    w.finish();
  }
  result.sha256 = sha256_file(out_path);

  // The oracle for every suite, with the evaluator's masks.
  const Split view = mask_view(md, test);
  const uint64_t mask_seed = static_cast<uint64_t>(options.mask_seed);
  nlohmann::json suites = nlohmann::json::object();
  for (const std::string& suite : suite_names()) {
    nlohmann::json conds = nlohmann::json::array();
    const std::vector<Condition> list = suite_conditions(suite);
    for (std::size_t c = 0; c < list.size(); ++c) {
      conds.push_back(oracle_condition(md, test, view, list[c], mask_seed));
      if (progress)
        progress("oracle " + suite, static_cast<int64_t>(c + 1), static_cast<int64_t>(list.size()));
    }
    suites[suite] = {{"suite", suite}, {"conditions", conds}};
  }
  const nlohmann::json data = {{"path", out_path}, {"sha256", result.sha256}};
  result.oracle = {{"format", "robustmsa-oracle-1"},
                   {"suite", "paper"},
                   {"split", "test"},
                   {"test_samples", kSplitKeys[test_source(options)]},
                   {"mask_seed", options.mask_seed},
                   {"task", task_name(shape.task)},
                   {"synth_seed", options.seed},
                   {"data", data},
                   {"conditions", suites["paper"]["conditions"]},
                   {"suites", suites}};
  for (auto& [name, s] : result.oracle["suites"].items()) {
    s["split"] = "test";
    s["mask_seed"] = options.mask_seed;
    s["task"] = task_name(shape.task);
  }

  result.generator = model_json(md, options);
  result.generator["data"] = data;
  nlohmann::json splits = nlohmann::json::object();
  for (int split = 0; split < 3; ++split) {
    const std::string name = kSplitKeys[split];
    splits[name] = {{"n", shape.n[split]},
                    {"neginf", checksums[name]["audio"]["neginf"]},
                    {"checksums", checksums[name]}};
  }
  result.generator["splits"] = splits;
  write_file_atomic(result.oracle_path, result.oracle.dump(1) + "\n");
  write_file_atomic(result.generator_path, result.generator.dump(1) + "\n");
  return result;
}

void scale_synth_splits(SynthOptions& o, int64_t n_train) {
  if (n_train <= 0) return;
  const SynthShape shape = resolve_synth(o);
  o.n_train = n_train;
  o.n_valid = std::max<int64_t>(8, n_train * shape.n[1] / shape.n[0]);
  o.n_test = std::max<int64_t>(8, n_train * shape.n[2] / shape.n[0]);
}

}  // namespace robustmsa

// Dataset loading for the MulT/CMU and MMSA pickle layouts (DESIGN §2). The layout is detected
// from the keys of the split dicts, never from the file name.
#include "data/dataset.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "data/utterance.h"
#include "io/csd.h"
#include "io/pickle.h"
#include "util/error.h"
#include "util/sha256.h"

namespace robustmsa {

const std::array<const char*, 3> kModalityNames = {"text", "audio", "vision"};
const std::array<const char*, 3> kModalityLetters = {"l", "a", "v"};
const std::array<const char*, 3> kSplitNames = {"train", "valid", "test"};

const char* task_name(Task t) {
  switch (t) {
    case Task::kRegression:
      return "regression";
    case Task::kSims:
      return "sims";
    case Task::kIemocap:
      return "iemocap";
  }
  return "?";
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::kMulT:
      return "mult";
    case Layout::kMMSA:
      return "mmsa";
    case Layout::kBcLstm:
      return "bclstm";
    case Layout::kHffn:
      return "hffn";
  }
  return "?";
}

namespace {

using pickle::NdArray;
using pickle::Value;

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Error prefix: file 'x': split "valid" key "audio":
struct Where {
  const std::string& path;
  std::string split;
  std::string prefix(const std::string& key) const {
    return str("file '", path, "': split \"", split, "\" key \"", key, "\": ");
  }
};

const NdArray& numeric_array(const Value& split, const std::string& key, const Where& w) {
  const Value* v = split.find(key);
  if (!v) throw DataError(w.prefix(key) + "missing; expected a NumPy array");
  if (v->kind != Value::Kind::kArray)
    throw DataError(str(w.prefix(key), "expected a NumPy array, found ", v->kind_name()));
  const NdArray& a = *v->ndarray;
  if (a.dtype == pickle::DType::kObject)
    throw DataError(str(w.prefix(key), "expected a numeric array, found dtype object"));
  return a;
}

// Converts a (N, T, D) feature array to float32, replacing NaN/±inf by 0 before the cast and
// clamping finite values beyond float32 range (DESIGN §2.3), with counts.
void convert_features(const NdArray& a, const Where& w, const std::string& key, int64_t n,
                      ModalityData& out) {
  if (a.shape.size() != 3)
    throw DataError(
        str(w.prefix(key), "expected 3 dimensions (N, T, D), found ", shape_str(a.shape)));
  if (a.shape[0] != n)
    throw DataError(str(w.prefix(key), "expected N = ", n, " rows like the labels, found ",
                        shape_str(a.shape)));
  out.n = a.shape[0];
  out.t = a.shape[1];
  out.d = a.shape[2];
  const int64_t total = a.numel();
  out.x.resize(static_cast<std::size_t>(total));
  constexpr double kMax = std::numeric_limits<float>::max();
  auto sanitize = [&](double v) -> float {
    if (std::isnan(v)) {
      ++out.nan_count;
      return 0.0f;
    }
    if (std::isinf(v)) {
      ++(v > 0 ? out.posinf_count : out.neginf_count);
      return 0.0f;
    }
    if (v > kMax || v < -kMax) {
      ++out.clamped_count;
      return static_cast<float>(v > 0 ? kMax : -kMax);
    }
    return static_cast<float>(v);
  };
  // NdArray::data may sit at any byte offset of the file mapping: copy with memcpy, then check.
  if (a.dtype == pickle::DType::kFloat32) {
    std::memcpy(out.x.data(), a.data, static_cast<std::size_t>(total) * sizeof(float));
    for (int64_t i = 0; i < total; ++i)
      if (!std::isfinite(out.x[i])) out.x[i] = sanitize(out.x[i]);
  } else if (a.dtype == pickle::DType::kFloat64) {
    for (int64_t i = 0; i < total; ++i) {
      double v;
      std::memcpy(&v, a.data + i * sizeof(double), sizeof v);
      out.x[i] = sanitize(v);
    }
  } else if (a.dtype == pickle::DType::kBool) {
    throw DataError(str(w.prefix(key), "expected a floating-point or integer array, found dtype ",
                        pickle::dtype_name(a.dtype)));
  } else {
    for (int64_t i = 0; i < total; ++i) out.x[i] = sanitize(a.get<double>(i));
  }
  a.release_source();
}

// True when the file marks audio or vision as absent: None, or an empty array with N rows
// ((N, 0, D) or (N, T, 0)). A missing key stays an error (numeric_array says so): a truncated
// file must not pass for a text-only one. Other shapes are checked by convert_features.
bool modality_absent(const Value& split, const std::string& key, int64_t n, const Where& w) {
  const Value* v = split.find(key);
  if (v == nullptr) return false;
  if (v->kind == Value::Kind::kNone) return true;
  if (v->kind != Value::Kind::kArray) return false;
  const NdArray& a = *v->ndarray;
  if (a.shape.size() != 3 || a.numel() != 0) return false;
  if (a.shape[0] != n)
    throw DataError(str(w.prefix(key), "an empty array (absent modality) must have N = ", n,
                        " rows like the labels, found ", shape_str(a.shape)));
  return true;
}

// Validity of frames from non-zero features (MulT layout has no lengths): a frame is padding
// when all its features are zero. For aligned files the union over modalities is used, since
// word alignment gives every modality the same frames.
std::vector<uint8_t> nonzero_frames(const ModalityData& m) {
  std::vector<uint8_t> valid(static_cast<std::size_t>(m.n * m.t), 0);
  for (int64_t i = 0; i < m.n * m.t; ++i) {
    const float* row = m.x.data() + i * m.d;
    for (int64_t k = 0; k < m.d; ++k)
      if (row[k] != 0.0f) {
        valid[i] = 1;
        break;
      }
  }
  return valid;
}

std::vector<uint8_t> frames_from_lengths(const NdArray& lengths, const Where& w,
                                         const std::string& key, const ModalityData& m) {
  if (lengths.shape.size() != 1 || lengths.shape[0] != m.n)
    throw DataError(
        str(w.prefix(key), "expected shape (", m.n, ",), found ", shape_str(lengths.shape)));
  std::vector<uint8_t> valid(static_cast<std::size_t>(m.n * m.t), 0);
  for (int64_t i = 0; i < m.n; ++i) {
    double len = lengths.get<double>(i);
    if (!(len >= 0 && len <= static_cast<double>(m.t)) || len != std::floor(len))
      throw DataError(str(w.prefix(key), "row ", i, ": length ", len, " is not an integer in [0, ",
                          m.t, "] (the padded sequence length)"));
    std::fill_n(valid.begin() + i * m.t, static_cast<int64_t>(len), 1);
  }
  return valid;
}

void check_label_range(const std::vector<float>& labels, double bound, const Where& w,
                       const std::string& key) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!std::isfinite(labels[i]) || std::fabs(labels[i]) > bound + 1e-6)
      throw DataError(str(w.prefix(key), "row ", i, ": label ", labels[i], " is outside [", -bound,
                          ", ", bound, "]"));
  }
}

std::string id_string(const NdArray& ids, int64_t row, int64_t width) {
  std::string out;
  for (int64_t k = 0; k < width; ++k) {
    const std::string& part = ids.objects[static_cast<std::size_t>(row * width + k)];
    if (part.empty()) continue;
    if (!out.empty()) out += "_";
    out += part;
  }
  return out;
}

void read_ids(const Value& split, const Where& w, Split& out) {
  out.ids.assign(static_cast<std::size_t>(out.n), "");
  const Value* v = split.find("id");
  if (!v || v->kind != Value::Kind::kArray) return;  // ids are optional
  const NdArray& ids = *v->ndarray;
  if (ids.shape.empty() || ids.shape[0] != out.n)
    throw DataError(str(w.prefix("id"), "expected ", out.n, " rows, found ", shape_str(ids.shape)));
  int64_t width = ids.numel() / std::max<int64_t>(1, out.n);
  for (int64_t i = 0; i < out.n; ++i) {
    if (ids.dtype == pickle::DType::kObject) {
      out.ids[i] = id_string(ids, i, width);
    } else {
      out.ids[i] = std::to_string(ids.get<int64_t>(i * width));
    }
  }
}

// Keeps MMSA's text_bert rows (token ids, mask, segments) for a text encoder.
void read_text_bert(const Value& split, const Where& w, Split& out) {
  const Value* v = split.find("text_bert");
  if (!v || v->kind != Value::Kind::kArray) return;
  const NdArray& tb = v->array();
  if (tb.shape.size() != 3 || tb.shape[0] != out.n || tb.shape[1] != 3)
    throw DataError(
        str(w.prefix("text_bert"), "expected (", out.n, ", 3, L), found ", shape_str(tb.shape)));
  out.text_bert_len = tb.shape[2];
  out.text_bert.resize(static_cast<std::size_t>(tb.numel()));
  for (int64_t i = 0; i < tb.numel(); ++i) {
    const double x = tb.get<double>(i);
    if (!(x >= 0 && x < 2147483648.0) || x != std::floor(x))
      throw DataError(str(w.prefix("text_bert"), "row ", i / (3 * tb.shape[2]), ": value ", x,
                          " is not a token id, mask or segment (an integer >= 0)"));
    out.text_bert[static_cast<std::size_t>(i)] = static_cast<int32_t>(x);
  }
}

Split read_split(const Value& root, const std::string& path, const std::string& name, Layout layout,
                 Task& task) {
  const Value* sv = root.find(name);
  if (!sv)
    throw DataError(str("file '", path, "': missing split \"", name,
                        "\"; expected a dict with keys train, valid, test"));
  if (!sv->is_dict())
    throw DataError(
        str("file '", path, "': split \"", name, "\": expected a dict, found ", sv->kind_name()));
  const Value& split = *sv;
  Where w{path, name};
  Split out;
  out.name = name;

  // Labels first: they fix N.
  if (layout == Layout::kMulT) {
    const NdArray& lab = numeric_array(split, "labels", w);
    if (lab.shape.empty())
      throw DataError(str(w.prefix("labels"), "expected (N, 1, 1) or (N, 4, 2), found a scalar"));
    out.n = lab.shape[0];
    int64_t per_row = out.n ? lab.numel() / out.n : 0;
    if (lab.shape.size() == 3 && lab.shape[1] == 4 && lab.shape[2] == 2) {
      task = Task::kIemocap;
      out.labels.resize(static_cast<std::size_t>(out.n * 4));
      for (int64_t i = 0; i < out.n * 4; ++i) {
        double neg = lab.get<double>(2 * i), pos = lab.get<double>(2 * i + 1);
        if (!((neg == 0 || neg == 1) && (pos == 0 || pos == 1) && neg + pos == 1))
          throw DataError(str(w.prefix("labels"), "row ", i / 4, " emotion ", i % 4,
                              ": expected a one-hot pair, found [", neg, ", ", pos, "]"));
        out.labels[i] = static_cast<float>(pos);
      }
    } else if (per_row == 1) {
      task = Task::kRegression;
      out.labels.resize(static_cast<std::size_t>(out.n));
      for (int64_t i = 0; i < out.n; ++i) out.labels[i] = static_cast<float>(lab.get<double>(i));
      check_label_range(out.labels, 3.0, w, "labels");
    } else {
      throw DataError(str(w.prefix("labels"),
                          "expected (N, 1, 1) regression or (N, 4, 2) IEMOCAP labels, found ",
                          shape_str(lab.shape)));
    }
  } else {
    const NdArray& lab = numeric_array(split, "regression_labels", w);
    if (lab.shape.size() != 1)
      throw DataError(
          str(w.prefix("regression_labels"), "expected shape (N,), found ", shape_str(lab.shape)));
    out.n = lab.shape[0];
    task = split.find("regression_labels_T") ? Task::kSims : Task::kRegression;
    out.labels.resize(static_cast<std::size_t>(out.n));
    for (int64_t i = 0; i < out.n; ++i) out.labels[i] = static_cast<float>(lab.get<double>(i));
    check_label_range(out.labels, task == Task::kSims ? 1.0 : 3.0, w, "regression_labels");
  }

  for (int m = 0; m < kNumModalities; ++m) {
    if (m != kText && modality_absent(split, kModalityNames[m], out.n, w)) {
      ModalityData& md = out.modality[m];
      md.absent = true;
      md.n = out.n;
      md.t = 1;
      md.d = 1;
      md.x.assign(static_cast<std::size_t>(out.n), 0.0f);
      md.valid.assign(static_cast<std::size_t>(out.n), 0);
      continue;
    }
    convert_features(numeric_array(split, kModalityNames[m], w), w, kModalityNames[m], out.n,
                     out.modality[m]);
  }

  // Frame validity.
  const auto& mods = out.modality;
  bool aligned = mods[0].t == mods[1].t && mods[1].t == mods[2].t;
  if (layout == Layout::kMulT && aligned && !mods[kAudio].absent && !mods[kVision].absent) {
    std::vector<uint8_t> any(static_cast<std::size_t>(out.n * mods[0].t), 0);
    for (int m = 0; m < kNumModalities; ++m) {
      auto v = nonzero_frames(mods[m]);
      for (std::size_t i = 0; i < any.size(); ++i) any[i] |= v[i];
    }
    for (int m = 0; m < kNumModalities; ++m) out.modality[m].valid = any;
  } else {
    for (int m = 0; m < kNumModalities; ++m) {
      if (mods[m].absent) continue;  // its validity is already all zero
      const std::string len_key = std::string(kModalityNames[m]) + "_lengths";
      const Value* lv = split.find(len_key);
      if (m == kText && layout == Layout::kMMSA && split.find("text_bert") &&
          split.at("text_bert").kind == Value::Kind::kArray) {
        // MMSA text: the attention mask row of text_bert (N, 3, L) marks real tokens.
        const NdArray& tb = split.at("text_bert").array();
        if (tb.shape.size() != 3 || tb.shape[0] != out.n || tb.shape[1] != 3 ||
            tb.shape[2] != mods[m].t)
          throw DataError(str(w.prefix("text_bert"), "expected (", out.n, ", 3, ", mods[m].t,
                              "), found ", shape_str(tb.shape)));
        auto& valid = out.modality[m].valid;
        valid.resize(static_cast<std::size_t>(out.n * mods[m].t));
        for (int64_t i = 0; i < out.n; ++i)
          for (int64_t f = 0; f < mods[m].t; ++f)
            valid[i * mods[m].t + f] = tb.get<double>((i * 3 + 1) * mods[m].t + f) != 0;
      } else if (lv && lv->kind == Value::Kind::kArray) {
        out.modality[m].valid = frames_from_lengths(lv->array(), w, len_key, mods[m]);
      } else {
        out.modality[m].valid = nonzero_frames(mods[m]);
      }
    }
  }
  read_ids(split, w, out);
  read_text_bert(split, w, out);
  return out;
}

// z-scores audio and vision with train-split statistics over valid frames.
void zscore(Dataset& ds) {
  for (int m : {kAudio, kVision}) {
    const ModalityData& tr = ds.split(SplitId::kTrain).modality[m];
    std::vector<double> sum(tr.d, 0.0), sq(tr.d, 0.0);
    int64_t count = 0;
    for (int64_t i = 0; i < tr.n * tr.t; ++i) {
      if (!tr.valid[i]) continue;
      ++count;
      for (int64_t k = 0; k < tr.d; ++k) {
        double v = tr.x[i * tr.d + k];
        sum[k] += v;
        sq[k] += v * v;
      }
    }
    if (count == 0) continue;
    std::vector<float> mean(tr.d), inv(tr.d);
    for (int64_t k = 0; k < tr.d; ++k) {
      double mu = sum[k] / count, var = std::max(0.0, sq[k] / count - mu * mu);
      mean[k] = static_cast<float>(mu);
      inv[k] = static_cast<float>(var > 1e-12 ? 1.0 / std::sqrt(var) : 1.0);
    }
    for (Split& s : ds.splits) {
      ModalityData& md = s.modality[m];
      for (int64_t i = 0; i < md.n * md.t; ++i) {
        if (!md.valid[i]) continue;  // padding stays zero
        for (int64_t k = 0; k < md.d; ++k)
          md.x[i * md.d + k] = (md.x[i * md.d + k] - mean[k]) * inv[k];
      }
    }
  }
}

}  // namespace

std::string sanitize_summary(const Dataset& ds) {
  int64_t total = 0;
  std::string parts;
  for (const Split& s : ds.splits) {
    for (int m = 0; m < kNumModalities; ++m) {
      const ModalityData& md = s.modality[m];
      const std::pair<const char*, int64_t> counts[] = {{"NaN", md.nan_count},
                                                        {"+inf", md.posinf_count},
                                                        {"-inf", md.neginf_count},
                                                        {"clamped", md.clamped_count}};
      std::string here;
      for (const auto& [name, count] : counts) {
        if (count == 0) continue;
        here += str(" ", name, " ", count);
        total += count;
      }
      if (!here.empty())
        parts += str(parts.empty() ? "" : ";", " ", s.name, " ", kModalityNames[m], here);
    }
  }
  if (total == 0) return "";
  return str("file '", ds.path, "': sanitised ", total,
             " feature values (NaN/+inf/-inf -> 0, beyond float32 -> clamped):", parts);
}

Dataset load_dataset(const std::string& path, const DataOptions& options) {
  // Utterance-level sets (data/utterance.h): a bc-LSTM CSV directory or file, the HFFN pickle.
  if (is_bclstm_source(path)) {
    Dataset ds = dataset_from_utterances(read_bclstm(path), options);
    if (options.zscore) zscore(ds);
    return ds;
  }
  if (is_hdf5_file(path))
    throw DataError(str("file '", path,
                        "': an HDF5 file (a CMU SDK computational sequence, .csd) holds labels "
                        "or features of one modality, not a dataset; name the feature files "
                        "with --data and a label sequence with data.labels (docs/real-mosi.md)"));
  pickle::ValuePtr root = pickle::load_file(path);
  const std::string sha = sha256_file(path);
  if (is_hffn_pickle(*root)) {
    UtteranceSet set = hffn_from_pickle(*root, path, sha);
    root.reset();
    Dataset ds = dataset_from_utterances(std::move(set), options);
    if (options.zscore) zscore(ds);
    return ds;
  }
  if (!options.labels.empty() || options.split != "file" || options.context != 0)
    throw ConfigError(
        str("data.labels, data.split and data.context apply to utterance-level sets (bc-LSTM "
            "CSVs, the HFFN pickle); '",
            path, "' carries its own labels and splits"));
  Dataset ds = dataset_from_pickle(*root, path, options);
  ds.sha256 = sha;
  return ds;
}

Dataset dataset_from_pickle(const pickle::Value& root_value, const std::string& path,
                            const DataOptions& options) {
  Dataset ds;
  ds.path = path;
  const Value* root = &root_value;
  if (!root->is_dict())
    throw DataError(str("file '", path, "': expected a dict with keys train, valid, test, found ",
                        root->kind_name()));
  const Value* train = root->find("train");
  if (!train)
    throw DataError(
        str("file '", path,
            "': missing split \"train\"; expected a dict with keys train, valid, test"));
  if (!train->is_dict())
    throw DataError(
        str("file '", path, "': split \"train\": expected a dict, found ", train->kind_name()));
  if (train->find("labels")) {
    ds.layout = Layout::kMulT;
  } else if (train->find("regression_labels")) {
    ds.layout = Layout::kMMSA;
  } else {
    std::string keys;
    for (const auto& k : train->keys()) keys += (keys.empty() ? "" : ", ") + k;
    throw DataError(str("file '", path, "': split \"train\": cannot tell the layout from keys [",
                        keys, "]; expected \"labels\" (MulT/CMU) or \"regression_labels\" (MMSA)"));
  }
  for (int s = 0; s < 3; ++s) {
    Task task = Task::kRegression;
    ds.splits[s] = read_split(*root, path, kSplitNames[s], ds.layout, task);
    if (s == 0) {
      ds.task = task;
    } else if (task != ds.task) {
      throw DataError(str("file '", path, "': split \"", kSplitNames[s], "\" has ", task_name(task),
                          " labels; expected ", task_name(ds.task), " like the train split"));
    }
    for (int m = 0; m < kNumModalities; ++m) {
      const auto& a = ds.splits[0].modality[m];
      const auto& b = ds.splits[s].modality[m];
      if (a.d != b.d)
        throw DataError(str("file '", path, "': split \"", kSplitNames[s], "\" key \"",
                            kModalityNames[m], "\": feature dimension ", b.d,
                            " differs from the train split's ", a.d));
    }
  }
  const auto& tr = ds.split(SplitId::kTrain).modality;
  ds.aligned = tr[0].t == tr[1].t && tr[1].t == tr[2].t;
  if (options.zscore) zscore(ds);
  return ds;
}

}  // namespace robustmsa

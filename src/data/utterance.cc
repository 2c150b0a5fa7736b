// Utterance-level CMU-MOSI sets (data/utterance.h; docs/real-mosi.md).
#include "data/utterance.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "data/inspect.h"
#include "data/protocol.h"
#include "io/csd.h"
#include "io/csv.h"
#include "io/pickle.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace robustmsa {

namespace fs = std::filesystem;

const char* utterance_format_name(UtteranceFormat f) {
  return f == UtteranceFormat::kBcLstmCsv ? "bclstm_csv" : "hffn_pickle";
}

namespace {

// The modality names of the bc-LSTM files ("video" is robustmsa's vision).
constexpr std::array<const char*, 3> kBcLstmModality = {"text", "audio", "video"};
constexpr std::array<SplitId, 2> kReleased = {SplitId::kTrain, SplitId::kTest};
const char* kTranscripts = "transcripts.csv";

std::string bclstm_name(int m, SplitId s) {
  return str(kBcLstmModality[m], "_", s == SplitId::kTrain ? "train" : "test", "0.csv");
}

// Replaces NaN/±inf by 0 and clamps beyond float32 (DESIGN §2.3), counting into `counts`
// (NaN, +inf, -inf, clamped).
float sanitize(double v, std::array<int32_t, 4>& counts) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (std::isnan(v)) return ++counts[0], 0.0f;
  if (std::isinf(v)) return ++counts[v > 0 ? 1 : 2], 0.0f;
  if (v > kMax || v < -kMax) return ++counts[3], static_cast<float>(v > 0 ? kMax : -kMax);
  return static_cast<float>(v);
}

// "<video>_<k>" -> video, k (k >= 1). False when the id has no "_<integer>" suffix.
bool split_id(const std::string& id, std::string& video, int64_t& k) {
  const auto cut = id.rfind('_');
  if (cut == std::string::npos || cut == 0 || cut + 1 >= id.size()) return false;
  const std::string digits = id.substr(cut + 1);
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  video = id.substr(0, cut);
  k = std::stoll(digits);
  return k >= 1;
}

// FNV-1a of a string, as one word for hash_words.
uint64_t string_word(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}
constexpr uint64_t kTagValidVideo = 0x56414c4944ULL;  // "VALID": the validation-video draw

std::string manifest_sha256(const std::vector<std::string>& files,
                            const std::vector<std::string>& hashes) {
  std::string manifest;
  for (std::size_t i = 0; i < files.size(); ++i)
    manifest += hashes[i] + "  " + fs::path(files[i]).filename().string() + "\n";
  return sha256_hex(reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size());
}

// ---- bc-LSTM CSV set ---------------------------------------------------------------------------

struct FeatureFile {
  std::string path;
  std::vector<std::vector<double>> rows;  // features, label dropped
  std::vector<int> labels;
  std::vector<int64_t> lines;
  int64_t columns = 0;
};

// A feature CSV: every row the same number of columns (>= 2), every value a number, the last a
// binary label 0 or 1.
FeatureFile read_feature_csv(const std::string& path) {
  FeatureFile f;
  f.path = path;
  const std::vector<CsvRecord> records = parse_csv(read_file(path), path);
  if (records.empty())
    throw DataError(str("file '", path, "': empty; expected one row per utterance"));
  f.columns = static_cast<int64_t>(records[0].fields.size());
  if (f.columns < 2)
    throw DataError(str("file '", path, "' row 1 (line ", records[0].line, "): ", f.columns,
                        " column; expected the features and a label last"));
  f.rows.reserve(records.size());
  for (std::size_t r = 0; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    if (static_cast<int64_t>(rec.fields.size()) != f.columns)
      throw DataError(str("file '", path, "' row ", r + 1, " (line ", rec.line, "): ",
                          rec.fields.size(), " columns; expected ", f.columns, " like row 1"));
    std::vector<double> row(static_cast<std::size_t>(f.columns - 1));
    for (std::size_t c = 0; c + 1 < rec.fields.size(); ++c)
      row[c] = csv_number(rec, c, static_cast<int64_t>(r), path);
    const double label = csv_number(rec, rec.fields.size() - 1, static_cast<int64_t>(r), path);
    if (label != 0.0 && label != 1.0)
      throw DataError(str("file '", path, "' row ", r + 1, " (line ", rec.line, ") column ",
                          f.columns, " (label): ", rec.fields.back(),
                          "; expected the binary label 0 or 1"));
    f.rows.push_back(std::move(row));
    f.labels.push_back(static_cast<int>(label));
    f.lines.push_back(rec.line);
  }
  return f;
}

struct TranscriptRow {
  std::string id, video;
  int64_t k = 0, video_number = 0;
  int label = 0;
  int64_t line = 0;
};

std::vector<TranscriptRow> read_transcripts(const std::string& path) {
  const std::vector<CsvRecord> records = parse_csv(read_file(path), path);
  if (records.empty())
    throw DataError(str("file '", path, "': empty; expected one row per utterance"));
  std::vector<TranscriptRow> out;
  std::map<std::string, int64_t> number_of_video;
  std::set<std::string> ids;
  for (std::size_t r = 0; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    const auto at = [&](int column) {
      return str("file '", path, "' row ", r + 1, " (line ", rec.line, ") column ", column);
    };
    if (rec.fields.size() != 4)
      throw DataError(str("file '", path, "' row ", r + 1, " (line ", rec.line,
                          "): ", rec.fields.size(),
                          " columns; expected 4 (utterance id, transcript, video number, label)"));
    TranscriptRow t;
    t.id = rec.fields[0];
    t.line = rec.line;
    if (!split_id(t.id, t.video, t.k))
      throw DataError(str(at(1), ": '", t.id, "' is not an utterance id <video>_<k> (k >= 1)"));
    if (!ids.insert(t.id).second) throw DataError(str(at(1), ": utterance '", t.id, "' repeats"));
    const double number = csv_number(rec, 2, static_cast<int64_t>(r), path);
    if (!(number >= 1 && number < 1e9) || number != std::floor(number))
      throw DataError(str(at(3), ": ", rec.fields[2], "; expected a video number (integer >= 1)"));
    t.video_number = static_cast<int64_t>(number);
    const double label = csv_number(rec, 3, static_cast<int64_t>(r), path);
    if (label != 0.0 && label != 1.0)
      throw DataError(str(at(4), ": ", rec.fields[3], "; expected the binary label 0 or 1"));
    t.label = static_cast<int>(label);
    auto [it, fresh] = number_of_video.emplace(t.video, t.video_number);
    if (!fresh && it->second != t.video_number)
      throw DataError(str(at(3), ": video '", t.video, "' has number ", t.video_number,
                          " here and ", it->second, " in an earlier row; expected one number"));
    out.push_back(std::move(t));
  }
  std::map<int64_t, std::string> video_of_number;
  for (const auto& [video, number] : number_of_video) {
    auto [it, fresh] = video_of_number.emplace(number, video);
    if (!fresh)
      throw DataError(str("file '", path, "': videos '", it->second, "' and '", video,
                          "' share the number ", number, "; expected one number per video"));
  }
  return out;
}

fs::path bclstm_directory(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::path(path);
  return fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
}

bool is_bclstm_file_name(const std::string& name) {
  if (name == kTranscripts) return true;
  for (int m = 0; m < kNumModalities; ++m)
    for (SplitId s : kReleased)
      if (name == bclstm_name(m, s)) return true;
  return false;
}

}  // namespace

bool is_bclstm_source(const std::string& path) {
  std::error_code ec;
  const bool dir = fs::is_directory(path, ec);
  if (!dir &&
      !(fs::is_regular_file(path, ec) && is_bclstm_file_name(fs::path(path).filename().string())))
    return false;
  const fs::path d = bclstm_directory(path);
  for (int m = 0; m < kNumModalities; ++m)
    for (SplitId s : kReleased)
      if (!fs::is_regular_file(d / bclstm_name(m, s), ec)) return false;
  if (!fs::is_regular_file(d / kTranscripts, ec)) return false;
  // Content: the first record of text_train0.csv is all numbers with a 0/1 label last.
  std::string head;
  try {
    head = read_file((d / bclstm_name(kText, SplitId::kTrain)).string());
  } catch (const DataError&) {
    return false;
  }
  head = head.substr(0, head.find('\n'));
  std::vector<CsvRecord> rec;
  try {
    rec = parse_csv(head, "");
    if (rec.size() != 1 || rec[0].fields.size() < 2) return false;
    for (std::size_t c = 0; c < rec[0].fields.size(); ++c) csv_number(rec[0], c, 0, "");
  } catch (const DataError&) {
    return false;
  }
  return rec[0].fields.back() == "0" || rec[0].fields.back() == "1";
}

bool is_hffn_pickle(const pickle::Value& root) {
  return root.is_dict() && root.find("text_train") != nullptr && root.find("train_mask") != nullptr;
}

UtteranceSet read_bclstm(const std::string& path) {
  const fs::path dir = bclstm_directory(path);
  UtteranceSet set;
  set.format = UtteranceFormat::kBcLstmCsv;
  set.path = path;
  set.ids_known = true;
  const std::string tpath = (dir / kTranscripts).string();
  const std::vector<TranscriptRow> transcripts = read_transcripts(tpath);

  // The CSV rows of a split, per modality; the three files of a split describe the same
  // utterances row by row, so their row counts and labels must agree.
  std::array<std::array<FeatureFile, 3>, 2> files;
  for (int s = 0; s < 2; ++s) {
    for (int m = 0; m < kNumModalities; ++m) {
      files[s][m] = read_feature_csv((dir / bclstm_name(m, kReleased[s])).string());
      const FeatureFile& f = files[s][m];
      const FeatureFile& first = files[s][0];
      if (s == 1 && f.columns != files[0][m].columns)
        throw DataError(str("file '", f.path, "': ", f.columns, " columns; expected ",
                            files[0][m].columns, " like '", files[0][m].path, "'"));
      if (m == 0) continue;
      if (f.rows.size() != first.rows.size())
        throw DataError(str("file '", f.path, "': ", f.rows.size(), " rows; expected ",
                            first.rows.size(), " like '", first.path,
                            "' (row r is the same utterance in every modality)"));
      for (std::size_t r = 0; r < f.rows.size(); ++r)
        if (f.labels[r] != first.labels[r])
          throw DataError(str("file '", f.path, "' row ", r + 1, " (line ", f.lines[r], "): label ",
                              f.labels[r], "; expected ", first.labels[r], " like row ", r + 1,
                              " of '", first.path,
                              "' (row r is the same utterance in every modality)"));
    }
  }
  for (int m = 0; m < kNumModalities; ++m) set.dim[m] = files[0][m].columns - 1;

  // The join (docs/real-mosi.md): the training file holds the utterances of the lowest-numbered
  // videos, the test file the others; within a split, label 1 before label 0, each in
  // transcripts.csv order — the order of the authors' own index files (text_train.csv).
  std::map<int64_t, int64_t> per_number;  // video number -> utterances
  for (const TranscriptRow& t : transcripts) ++per_number[t.video_number];
  const int64_t n_train = static_cast<int64_t>(files[0][0].rows.size());
  const int64_t n_test = static_cast<int64_t>(files[1][0].rows.size());
  if (static_cast<int64_t>(transcripts.size()) != n_train + n_test)
    throw DataError(str("file '", tpath, "': ", transcripts.size(), " utterances; expected ",
                        n_train + n_test, ", the rows of '", files[0][0].path, "' (", n_train,
                        ") and '", files[1][0].path, "' (", n_test, ")"));
  int64_t last_train_number = -1, sum = 0;
  for (const auto& [number, count] : per_number) {
    if (sum == n_train) break;
    sum += count;
    last_train_number = number;
  }
  if (sum != n_train)
    throw DataError(str("file '", tpath, "': no set of lowest-numbered videos has exactly ",
                        n_train, " utterances (the rows of '", files[0][0].path,
                        "'); cannot tell which utterance each CSV row is"));
  for (int s = 0; s < 2; ++s) {
    std::vector<const TranscriptRow*> order;
    for (int label : {1, 0})
      for (const TranscriptRow& t : transcripts)
        if ((t.video_number <= last_train_number) == (s == 0) && t.label == label)
          order.push_back(&t);
    const FeatureFile& f = files[s][0];
    for (std::size_t r = 0; r < order.size(); ++r)
      if (order[r]->label != f.labels[r])
        throw DataError(str("file '", f.path, "' row ", r + 1, " (line ", f.lines[r], "): label ",
                            f.labels[r], "; expected ", order[r]->label, ", the label of '",
                            order[r]->id, "' in '", tpath, "' line ", order[r]->line,
                            ", which this row is by the release's order (label 1 first, then 0, "
                            "each in transcripts order)"));
    for (std::size_t r = 0; r < order.size(); ++r) {
      Utterance u;
      u.id = order[r]->id;
      u.video = order[r]->video;
      u.k = order[r]->k;
      u.released = kReleased[s];
      u.row = static_cast<int64_t>(r);
      u.label = order[r]->label;
      for (int m = 0; m < kNumModalities; ++m)
        for (double v : files[s][m].rows[r]) set.features[m].push_back(sanitize(v, u.sanitized[m]));
      set.utterances.push_back(std::move(u));
    }
  }
  set.files.push_back(tpath);
  for (int s = 0; s < 2; ++s)
    for (int m = 0; m < kNumModalities; ++m) set.files.push_back(files[s][m].path);
  for (const std::string& f : set.files) set.file_sha256.push_back(sha256_file(f));
  return set;
}

// ---- HFFN padded pickle -------------------------------------------------------------------------

namespace {

const pickle::NdArray& hffn_array(const pickle::Value& root, const std::string& key,
                                  const std::string& path) {
  const pickle::Value* v = root.find(key);
  if (v == nullptr)
    throw DataError(str("file '", path, "': key \"", key,
                        "\" missing; expected the HFFN layout {text,audio,video}_{train,test}, "
                        "{train,test}_mask, {train,test}_label"));
  if (v->kind != pickle::Value::Kind::kArray)
    throw DataError(str("file '", path, "': key \"", key, "\": expected a NumPy array, found ",
                        v->kind_name()));
  const pickle::NdArray& a = v->array();
  if (a.dtype == pickle::DType::kObject || a.dtype == pickle::DType::kBool)
    throw DataError(str("file '", path, "': key \"", key, "\": expected a numeric array, found ",
                        pickle::dtype_name(a.dtype)));
  return a;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

UtteranceSet hffn_from_pickle(const pickle::Value& root, const std::string& path,
                              const std::string& sha256) {
  UtteranceSet set;
  set.format = UtteranceFormat::kHffnPickle;
  set.path = path;
  set.files = {path};
  set.file_sha256 = {sha256};
  for (SplitId s : kReleased) {
    const std::string sn = s == SplitId::kTrain ? "train" : "test";
    const pickle::NdArray& mask = hffn_array(root, sn + "_mask", path);
    const pickle::NdArray& label = hffn_array(root, sn + "_label", path);
    if (mask.shape.size() != 2)
      throw DataError(str("file '", path, "': key \"", sn, "_mask\": expected (videos, T), found ",
                          shape_text(mask.shape)));
    const int64_t videos = mask.shape[0], t = mask.shape[1];
    if (label.shape != std::vector<int64_t>{videos, t, 2})
      throw DataError(str("file '", path, "': key \"", sn, "_label\": expected (", videos, ", ", t,
                          ", 2) one-hot labels like the mask, found ", shape_text(label.shape)));
    std::array<const pickle::NdArray*, 3> x{};
    for (int m = 0; m < kNumModalities; ++m) {
      const std::string key = str(kBcLstmModality[m], "_", sn);
      x[m] = &hffn_array(root, key, path);
      const auto& sh = x[m]->shape;
      if (sh.size() != 3 || sh[0] != videos || sh[1] != t)
        throw DataError(str("file '", path, "': key \"", key, "\": expected (", videos, ", ", t,
                            ", D) like the mask, found ", shape_text(sh)));
      if (s == SplitId::kTrain) {
        set.dim[m] = sh[2];
      } else if (sh[2] != set.dim[m]) {
        throw DataError(str("file '", path, "': key \"", key, "\": ", sh[2], " features; expected ",
                            set.dim[m], " like the train split"));
      }
    }
    for (int64_t v = 0; v < videos; ++v) {
      int64_t k = 0;
      for (int64_t j = 0; j < t; ++j) {
        const double on = mask.get<double>(v * t + j);
        if (on != 0.0 && on != 1.0)
          throw DataError(str("file '", path, "': key \"", sn, "_mask\" video ", v, " slot ", j,
                              ": ", on, "; expected 0 (padding) or 1 (an utterance)"));
        if (on == 0.0) continue;
        const double neg = label.get<double>((v * t + j) * 2),
                     pos = label.get<double>((v * t + j) * 2 + 1);
        if (!((neg == 0 && pos == 1) || (neg == 1 && pos == 0)))
          throw DataError(str("file '", path, "': key \"", sn, "_label\" video ", v, " slot ", j,
                              ": [", neg, ", ", pos,
                              "]; expected a one-hot pair [negative, positive]"));
        Utterance u;
        u.video = str(sn, "#", v);
        u.k = ++k;
        u.released = s;
        u.row = v * t + j;
        u.label = pos == 1 ? 1 : 0;
        for (int m = 0; m < kNumModalities; ++m)
          for (int64_t d = 0; d < set.dim[m]; ++d)
            set.features[m].push_back(
                sanitize(x[m]->get<double>((v * t + j) * set.dim[m] + d), u.sanitized[m]));
        set.utterances.push_back(std::move(u));
      }
    }
  }
  return set;
}

UtteranceSet read_utterance_source(const std::string& path) {
  if (is_bclstm_source(path)) return read_bclstm(path);
  pickle::ValuePtr root = pickle::load_file(path);
  if (!is_hffn_pickle(*root))
    throw DataError(str("file '", path,
                        "': neither a bc-LSTM CSV set nor the HFFN utterance pickle (keys "
                        "text_train, train_mask, ...)"));
  return hffn_from_pickle(*root, path, sha256_file(path));
}

// ---- labels ------------------------------------------------------------------------------------

void join_labels(UtteranceSet& set, const ComputationalSequence& cs) {
  const std::string where = str("labels file '", cs.path, "'");
  if (cs.strings || cs.dim != 1)
    throw DataError(str(where, ": ", cs.dim, cs.strings ? " string" : " numeric",
                        " features per segment; expected one number (the sentiment score)"));
  std::map<std::string, std::vector<char>> used;  // entry -> segment used
  for (const CsdEntry& e : cs.entries) used[e.id].assign(static_cast<std::size_t>(e.n), 0);
  const auto score_of = [&](const CsdEntry& e, int64_t seg) {
    const double y = e.features[static_cast<std::size_t>(seg)];
    if (!std::isfinite(y) || std::fabs(y) > 3.0 + 1e-6)
      throw DataError(str(where, ": entry '", e.id, "' segment ", seg, ": score ", y,
                          "; expected a finite sentiment score in [-3, 3]"));
    return y;
  };
  if (set.format == UtteranceFormat::kHffnPickle) {
    // The pickle has no ids: a padded video is the entry whose segment signs equal its labels.
    std::map<std::string, std::vector<const CsdEntry*>> by_signs;
    for (const CsdEntry& e : cs.entries) {
      std::string signs;
      for (int64_t s = 0; s < e.n; ++s) signs += score_of(e, s) >= 0 ? '1' : '0';
      by_signs[signs].push_back(&e);
    }
    std::map<std::string, std::pair<std::size_t, std::size_t>> videos;  // video -> [first, end)
    for (std::size_t i = 0; i < set.utterances.size(); ++i) {
      auto [it, fresh] = videos.emplace(set.utterances[i].video, std::make_pair(i, i + 1));
      if (!fresh) it->second.second = i + 1;
    }
    for (const auto& [video, range] : videos) {
      std::string signs;
      for (std::size_t i = range.first; i < range.second; ++i)
        signs += set.utterances[i].label ? '1' : '0';
      const auto found = by_signs.find(signs);
      const std::size_t n = found == by_signs.end() ? 0 : found->second.size();
      if (n != 1)
        throw DataError(str("file '", set.path, "': padded video ", video, " (", signs.size(),
                            " utterances, labels ", signs, ") matches ", n,
                            " entries of labels file '", cs.path,
                            "' by their scores' signs; expected exactly one (the pickle has no "
                            "utterance ids, so this is the only way to join it)"));
      const CsdEntry& e = *found->second[0];
      for (std::size_t i = range.first; i < range.second; ++i) {
        Utterance& u = set.utterances[i];
        u.video = e.id;
        u.id = str(e.id, "_", u.k);
      }
    }
    set.ids_known = true;
  }
  std::set<std::string> seen;
  for (Utterance& u : set.utterances) {
    if (!seen.insert(u.id).second)
      throw DataError(str("file '", set.path, "': utterance '", u.id,
                          "' occurs twice; expected one row per utterance"));
    const CsdEntry* e = cs.find(u.video);
    if (e == nullptr)
      throw DataError(str(where, ": no entry '", u.video, "' for utterance '", u.id,
                          "'; expected one entry per video"));
    if (u.k > e->n)
      throw DataError(str(where, ": entry '", u.video, "' has ", e->n, " segments; utterance '",
                          u.id, "' needs segment ", u.k - 1,
                          " (utterance <video>_<k> is segment k - 1)"));
    u.score = score_of(*e, u.k - 1);
    u.has_score = true;
    used[u.video][static_cast<std::size_t>(u.k - 1)] = 1;
    if ((u.score >= 0) != (u.label == 1))
      throw DataError(str("file '", set.path, "': utterance '", u.id, "' has binary label ",
                          u.label, " but score ", u.score, " in '", cs.path,
                          "'; expected label 1 exactly when score >= 0 (the join is wrong, or "
                          "the files are not the same release)"));
  }
  set.labels_path = cs.path;
  set.labels_sha256 = sha256_file(cs.path);
  set.label_segments = cs.rows();
  set.label_segments_unused = 0;
  for (const auto& [id, flags] : used)
    set.label_segments_unused += std::count(flags.begin(), flags.end(), 0);
}

// ---- splits ------------------------------------------------------------------------------------

int cmu_mosi_std_fold(const std::string& video) {
  // CMU Multimodal SDK, mmsdk/mmdatasdk/dataset/standard_datasets/CMU_MOSI/cmu_mosi_std_folds.py
  // (A2Zadeh/CMU-MultimodalSDK @ fd18d71): standard_train_fold, standard_valid_fold,
  // standard_test_fold.
  static const std::map<std::string, int> kFold = [] {
    static const char* kTrain[] = {
        "2iD-tVS8NPw", "8d-gEyoeBzc", "Qr1Ca94K55A", "Ci-AH39fi3Y", "8qrpnFRGt2A", "Bfr499ggo-0",
        "QN9ZIUWUXsY", "9T9Hf74oK10", "7JsX8y1ysxY", "1iG0909rllw", "Oz06ZWiO20M", "BioHAh1qJAQ",
        "9c67fiY0wGQ", "Iu2PFX3z_1s", "Nzq88NnDkEk", "Clx4VXItLTE", "9J25DZhivz8", "Af8D0E4ZXaw",
        "TvyZBvOMOTc", "W8NXH0Djyww", "8OtFthrtaJM", "0h-zjBukYpk", "Vj1wYRQjB-o", "GWuJjcEuzt8",
        "BI97DNYfe5I", "PZ-lDQFboO8", "1DmNV9C1hbY", "OQvJTdtJ2H4", "I5y0__X72p0", "9qR7uwkblbs",
        "G6GlGvlkxAQ", "6_0THN4chvY", "Njd1F0vZSm4", "BvYR0L6f2Ig", "03bSnISJMiM", "Dg_0XKD0Mf4",
        "5W7Z1C_fDaE", "VbQk4H8hgr0", "G-xst2euQUc", "MLal-t_vJPM", "BXuRRbG0Ugk", "LSi-o-IrDMs",
        "Jkswaaud0hk", "2WGyTLYerpo", "6Egk_28TtTM", "Sqr0AcuoNnk", "POKffnXeBds", "73jzhE8R1TQ",
        "OtBXNcAL_lE", "HEsqda8_d0Q", "VCslbP0mgZI", "IumbAb8q2dM"};
    static const char* kValid[] = {"WKA5OygbEKI", "c5xsKMxpXnc", "atnd_PF-Lbs", "bvLlb-M3UXU",
                                   "bOL9jKpeJRs", "_dI--eQ6qVU", "ZAIRrfG22O0", "X3j2zQgwYgE",
                                   "aiEXnCPZubE", "ZUXBRvtny7o"};
    static const char* kTest[] = {
        "tmZoasNr4rU", "zhpQhgha_KU", "lXPQBPVc5Cw", "iiK8YX8oH1E", "tStelxIAHjw", "nzpVDcQ0ywM",
        "etzxEpPuc6I", "cW1FSBF59ik", "d6hH302o4v8", "k5Y_838nuGo", "pLTX3ipuDJI", "jUzDDGyPkXU",
        "f_pcplsH_V0", "yvsjCA6Y5Fc", "nbWiPyCm4g0", "rnaNMUZpvvg", "wMbj6ajWbic", "cM3Yna7AavY",
        "yDtzw_Y-7RU", "vyB00TXsimI", "dq3Nf_lMPnE", "phBUpBr1hSo", "d3_k5Xpfmik", "v0zCBqDeKcE",
        "tIrG4oNLFzE", "fvVhgmXxadc", "ob23OKe5a9Q", "cXypl4FnoZo", "vvZ4IcEtiZc", "f9O3YtZ2VfI",
        "c7UH_rxdZv4"};
    std::map<std::string, int> m;
    for (const char* v : kTrain) m[v] = 0;
    for (const char* v : kValid) m[v] = 1;
    for (const char* v : kTest) m[v] = 2;
    return m;
  }();
  const auto it = kFold.find(video);
  return it == kFold.end() ? -1 : it->second;
}

SplitPlan plan_splits(const UtteranceSet& set, const DataOptions& o) {
  SplitPlan plan;
  plan.split.resize(set.utterances.size());
  if (o.split == "cmu_std") {
    if (!set.ids_known)
      throw ConfigError(str("data.split = cmu_std: '", set.path,
                            "' has no utterance ids until its labels are joined; set data.labels "
                            "to the CMU-MOSI label file (CMU_MOSI_Opinion_Labels.csd)"));
    for (std::size_t i = 0; i < set.utterances.size(); ++i) {
      const int fold = cmu_mosi_std_fold(set.utterances[i].video);
      if (fold < 0)
        throw DataError(str("file '", set.path, "': video '", set.utterances[i].video,
                            "' is in none of the CMU-MOSI standard folds; data.split = cmu_std "
                            "needs CMU-MOSI"));
      plan.split[i] = static_cast<SplitId>(fold);
    }
  } else if (o.split == "file") {
    std::set<std::string> train_videos;
    for (const Utterance& u : set.utterances)
      if (u.released == SplitId::kTrain) train_videos.insert(u.video);
    if (o.valid_videos < 1 || o.valid_videos >= static_cast<int64_t>(train_videos.size()))
      throw ConfigError(str("data.valid_videos = ", o.valid_videos, ": expected 1 ... ",
                            static_cast<int64_t>(train_videos.size()) - 1, " ('", set.path,
                            "' has ", train_videos.size(), " training videos)"));
    std::vector<std::pair<uint64_t, std::string>> draw;
    for (const std::string& v : train_videos)
      draw.emplace_back(
          hash_words({kTagValidVideo, static_cast<uint64_t>(o.split_seed), string_word(v)}), v);
    std::sort(draw.begin(), draw.end());
    std::set<std::string> valid;
    for (int64_t i = 0; i < o.valid_videos; ++i) valid.insert(draw[i].second);
    for (std::size_t i = 0; i < set.utterances.size(); ++i) {
      const Utterance& u = set.utterances[i];
      plan.split[i] = u.released == SplitId::kTest ? SplitId::kTest
                      : valid.count(u.video)       ? SplitId::kValid
                                                   : SplitId::kTrain;
    }
    plan.valid_videos.assign(valid.begin(), valid.end());
  } else {
    throw ConfigError(str("data.split = '", o.split, "': expected file or cmu_std"));
  }
  std::array<std::set<std::string>, 3> videos;
  std::map<std::string, int64_t> per_video;
  int64_t longest = 0;
  for (std::size_t i = 0; i < set.utterances.size(); ++i) {
    const int s = static_cast<int>(plan.split[i]);
    videos[s].insert(set.utterances[i].video);
    ++plan.utterances[s];
    longest = std::max(longest, ++per_video[set.utterances[i].video]);
  }
  for (int s = 0; s < 3; ++s) plan.videos[s] = static_cast<int64_t>(videos[s].size());
  plan.frames = o.context == 0 ? 1 : o.context > 0 ? 2 * o.context + 1 : longest;
  if (o.split == "cmu_std") plan.valid_videos.assign(videos[1].begin(), videos[1].end());
  return plan;
}

// ---- the Dataset: per-utterance and context forms ------------------------------------------

namespace {

struct ContextWindow {
  int64_t start = 0, len = 1, target = 0;  // positions in the split's sorted rows; target frame
};

// rows: one split's utterances sorted by (video, k). Each sample's window holds the utterances of
// its own video from `context` before to `context` after it (all of them for -1), clipped at the
// video's ends and packed from frame 0 (padding at the end); per utterance it is the sample alone.
std::vector<ContextWindow> context_windows(const UtteranceSet& set,
                                           const std::vector<std::size_t>& rows, int64_t context) {
  std::vector<ContextWindow> out(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) out[r].start = static_cast<int64_t>(r);
  if (context == 0) return out;
  std::size_t begin = 0;
  while (begin < rows.size()) {
    std::size_t end = begin;
    while (end < rows.size() &&
           set.utterances[rows[end]].video == set.utterances[rows[begin]].video)
      ++end;
    for (std::size_t r = begin; r < end; ++r) {
      const int64_t p = static_cast<int64_t>(r - begin), n = static_cast<int64_t>(end - begin);
      const int64_t lo = context < 0 ? 0 : std::max<int64_t>(0, p - context);
      const int64_t hi = context < 0 ? n - 1 : std::min<int64_t>(n - 1, p + context);
      out[r] = {static_cast<int64_t>(begin) + lo, hi - lo + 1, p - lo};
    }
    begin = end;
  }
  return out;
}

}  // namespace

nlohmann::json SplitPlan::to_json(const UtteranceSet& set, const DataOptions& o) const {
  nlohmann::json j = {
      {"format", utterance_format_name(set.format)},
      {"form", o.context == 0 ? "utterance" : "context"},
      {"split", o.split},
      {"videos", {{"train", videos[0]}, {"valid", videos[1]}, {"test", videos[2]}}},
      {"utterances", {{"train", utterances[0]}, {"valid", utterances[1]}, {"test", utterances[2]}}},
      {"valid_videos", valid_videos}};
  if (o.context != 0) {
    j["context"] = o.context;
    j["frames"] = frames;
  }
  if (o.split == "file") {
    j["valid_video_count"] = o.valid_videos;
    j["split_seed"] = o.split_seed;
  }
  nlohmann::json files = nlohmann::json::array();
  for (std::size_t i = 0; i < set.files.size(); ++i)
    files.push_back({{"path", set.files[i]}, {"sha256", set.file_sha256[i]}});
  j["files"] = files;
  if (set.joined()) j["labels"] = {{"path", set.labels_path}, {"sha256", set.labels_sha256}};
  return j;
}

Dataset utterance_dataset(const UtteranceSet& set, const DataOptions& o) {
  if (!set.joined())
    throw ConfigError(str("'", set.path,
                          "' has binary labels only; training and evaluation use the continuous "
                          "scores (regression metrics, Has0/Non0 accuracy): set data.labels to "
                          "the CMU-MOSI label file (CMU_MOSI_Opinion_Labels.csd), e.g. --set "
                          "data.labels=PATH"));
  const SplitPlan plan = plan_splits(set, o);
  Dataset ds;
  ds.path = set.path;
  ds.layout = set.format == UtteranceFormat::kBcLstmCsv ? Layout::kBcLstm : Layout::kHffn;
  ds.task = Task::kRegression;
  ds.aligned = true;
  std::vector<std::string> files = set.files;
  std::vector<std::string> hashes = set.file_sha256;
  files.push_back(set.labels_path);
  hashes.push_back(set.labels_sha256);
  ds.sha256 = manifest_sha256(files, hashes);
  ds.split_info = plan.to_json(set, o);
  for (int s = 0; s < 3; ++s) {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < set.utterances.size(); ++i)
      if (static_cast<int>(plan.split[i]) == s) rows.push_back(i);
    // Samples in (video, k) order, whatever order the file used.
    std::sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
      const Utterance &x = set.utterances[a], &y = set.utterances[b];
      return x.video != y.video ? x.video < y.video : x.k < y.k;
    });
    Split& sp = ds.splits[s];
    sp.name = kSplitNames[s];
    sp.n = static_cast<int64_t>(rows.size());
    const std::vector<ContextWindow> windows = context_windows(set, rows, o.context);
    for (int m = 0; m < kNumModalities; ++m) {
      ModalityData& md = sp.modality[m];
      md.n = sp.n;
      md.t = plan.frames;                            // the same for every split
      md.d = set.dim[m] + (o.context != 0 ? 1 : 0);  // the context form's target marker
      md.x.assign(static_cast<std::size_t>(sp.n * md.t * md.d), 0.0f);
      md.valid.assign(static_cast<std::size_t>(sp.n * md.t), 0);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const ContextWindow& w = windows[r];
        for (int64_t f = 0; f < w.len; ++f) {
          const std::size_t i = rows[static_cast<std::size_t>(w.start + f)];
          const float* src = set.features[m].data() + i * static_cast<std::size_t>(set.dim[m]);
          float* dst = md.x.data() + (static_cast<int64_t>(r) * md.t + f) * md.d;
          std::copy(src, src + set.dim[m], dst);
          if (o.context != 0) dst[set.dim[m]] = f == w.target ? 1.0f : 0.0f;
          md.valid[static_cast<std::size_t>(static_cast<int64_t>(r) * md.t + f)] = 1;
        }
        // Sanitising counts once per utterance, not once per window it appears in.
        const auto& c = set.utterances[rows[r]].sanitized[m];
        md.nan_count += c[0];
        md.posinf_count += c[1];
        md.neginf_count += c[2];
        md.clamped_count += c[3];
      }
    }
    for (std::size_t i : rows) {
      sp.labels.push_back(static_cast<float>(set.utterances[i].score));
      sp.ids.push_back(set.utterances[i].id);
    }
  }
  return ds;
}

Dataset dataset_from_utterances(UtteranceSet set, const DataOptions& o) {
  if (!o.labels.empty()) join_labels(set, read_csd(o.labels));
  return utterance_dataset(set, o);
}

// ---- inspect -----------------------------------------------------------------------------------

nlohmann::json inspect_utterances(UtteranceSet set, const DataOptions& o) {
  nlohmann::json info;
  info["kind"] = "utterance";
  info["file"] = set.path;
  info["layout"] = set.format == UtteranceFormat::kBcLstmCsv ? "bclstm" : "hffn";
  info["format"] = utterance_format_name(set.format);
  nlohmann::json files = nlohmann::json::array();
  for (std::size_t i = 0; i < set.files.size(); ++i)
    files.push_back({{"path", set.files[i]}, {"sha256", set.file_sha256[i]}});
  info["files"] = files;
  info["sha256"] = manifest_sha256(set.files, set.file_sha256);
  for (int m = 0; m < kNumModalities; ++m) info["dims"][kModalityNames[m]] = set.dim[m];
  if (!o.labels.empty()) {
    join_labels(set, read_csd(o.labels));
    info["join"] = {{"labels", set.labels_path},
                    {"labels_sha256", set.labels_sha256},
                    {"segments", set.label_segments},
                    {"segments_unused", set.label_segments_unused},
                    {"utterances", set.utterances.size()},
                    {"check", str("binary label == (score >= 0) for all ", set.utterances.size(),
                                  " utterances")}};
  }
  info["ids"] = set.ids_known ? (set.format == UtteranceFormat::kBcLstmCsv
                                     ? "from transcripts.csv"
                                     : "from the labels file (by the signs of the scores)")
                              : "unknown (the pickle has none; pass --labels to join them)";
  // The released split, with NaN/inf counts and labels.
  nlohmann::json released;
  for (SplitId s : kReleased) {
    std::set<std::string> videos;
    int64_t n = 0, pos = 0;
    std::vector<double> scores;
    std::array<std::array<int64_t, 4>, 3> bad{};
    int64_t max_per_video = 0;
    std::map<std::string, int64_t> per_video;
    for (const Utterance& u : set.utterances) {
      if (u.released != s) continue;
      ++n;
      pos += u.label;
      videos.insert(u.video);
      max_per_video = std::max(max_per_video, ++per_video[u.video]);
      if (u.has_score) scores.push_back(u.score);
      for (int m = 0; m < kNumModalities; ++m)
        for (int c = 0; c < 4; ++c) bad[m][c] += u.sanitized[m][c];
    }
    nlohmann::json js = {{"utterances", n},
                         {"videos", videos.size()},
                         {"max_utterances_per_video", max_per_video},
                         {"binary", {{"positive", pos}, {"negative", n - pos}}}};
    if (!scores.empty()) js["scores"] = score_summary(scores);
    for (int m = 0; m < kNumModalities; ++m)
      js["modalities"][kModalityNames[m]] = {{"shape", {n, set.dim[m]}},
                                             {"nan", bad[m][0]},
                                             {"posinf", bad[m][1]},
                                             {"neginf", bad[m][2]},
                                             {"clamped", bad[m][3]}};
    released[s == SplitId::kTrain ? "train" : "test"] = js;
  }
  info["released"] = released;
  // One line for stderr when values were replaced (inspect prints it, as for the pickles).
  std::string note;
  int64_t total = 0;
  for (auto s = released.begin(); s != released.end(); ++s)
    for (auto m = s.value()["modalities"].begin(); m != s.value()["modalities"].end(); ++m)
      for (const char* c : {"nan", "posinf", "neginf", "clamped"})
        if (const int64_t k = m.value()[c].get<int64_t>(); k > 0) {
          note += str(" ", s.key(), " ", m.key(), " ", c, " ", k, ";");
          total += k;
        }
  info["sanitized"] = total == 0 ? std::string()
                                 : str("file '", set.path, "': sanitised ", total,
                                       " feature values (NaN/+inf/-inf -> 0, beyond float32 -> "
                                       "clamped):",
                                       note);
  const SplitPlan plan = plan_splits(set, o);
  info["plan"] = plan.to_json(set, o);
  const bool all_in_folds =
      set.ids_known &&
      std::all_of(set.utterances.begin(), set.utterances.end(),
                  [](const Utterance& u) { return cmu_mosi_std_fold(u.video) >= 0; });
  if (all_in_folds && o.split != "cmu_std") {
    DataOptions cmu = o;
    cmu.split = "cmu_std";
    const SplitPlan folds = plan_splits(set, cmu);
    info["cmu_std"] = {
        {"utterances",
         {{"train", folds.utterances[0]},
          {"valid", folds.utterances[1]},
          {"test", folds.utterances[2]}}},
        {"videos",
         {{"train", folds.videos[0]}, {"valid", folds.videos[1]}, {"test", folds.videos[2]}}}};
  }
  return info;
}

std::string format_utterance_inspection(const nlohmann::json& info) {
  std::ostringstream out;
  out << "file     " << info["file"].get<std::string>() << "\n"
      << "sha256   " << info["sha256"].get<std::string>() << " (of the files' SHA-256 list)\n"
      << "layout   " << info["layout"].get<std::string>() << " (utterance-level CMU-MOSI, "
      << info["format"].get<std::string>() << "), dims text " << info["dims"]["text"] << ", audio "
      << info["dims"]["audio"] << ", vision " << info["dims"]["vision"] << "\n"
      << "ids      " << info["ids"].get<std::string>() << "\n\nfiles:\n";
  for (const auto& f : info["files"])
    out << "  " << f["path"].get<std::string>() << "  " << f["sha256"].get<std::string>() << "\n";
  out << "\nreleased split (NaN / +inf / -inf replaced by 0, values beyond float32 clamped):\n";
  for (auto s = info["released"].begin(); s != info["released"].end(); ++s) {
    const auto& js = s.value();
    out << "  " << s.key() << ": " << js["utterances"] << " utterances in " << js["videos"]
        << " videos (at most " << js["max_utterances_per_video"] << " per video); binary "
        << js["binary"].dump() << "\n";
    if (js.contains("scores")) out << "    scores " << js["scores"].dump() << "\n";
    for (auto m = js["modalities"].begin(); m != js["modalities"].end(); ++m)
      out << "    " << m.key() << " " << m.value()["shape"].dump() << "  nan " << m.value()["nan"]
          << "  +inf " << m.value()["posinf"] << "  -inf " << m.value()["neginf"] << "  clamped "
          << m.value()["clamped"] << "\n";
  }
  if (info.contains("join")) {
    const auto& j = info["join"];
    out << "\nlabels   " << j["labels"].get<std::string>() << ": " << j["utterances"]
        << " utterances joined to " << j["segments"] << " segments (" << j["segments_unused"]
        << " unused); " << j["check"].get<std::string>() << "\n";
  } else {
    out << "\nlabels   binary only (pass --labels FILE.csd for the continuous scores and the "
           "join check)\n";
  }
  const auto& p = info["plan"];
  out << "\nsplits robustmsa makes (data.split = " << p["split"].get<std::string>();
  if (p.contains("split_seed"))
    out << ", data.valid_videos = " << p["valid_video_count"]
        << ", data.split_seed = " << p["split_seed"];
  out << "): train/valid/test " << p["utterances"]["train"] << "/" << p["utterances"]["valid"]
      << "/" << p["utterances"]["test"] << " utterances, " << p["videos"]["train"] << "/"
      << p["videos"]["valid"] << "/" << p["videos"]["test"] << " videos\n  validation videos:";
  for (const auto& v : p["valid_videos"]) out << " " << v.get<std::string>();
  out << "\n";
  if (p.contains("context"))
    out << "form     context (data.context = " << p["context"] << "): " << p["frames"]
        << " frames per utterance, its video's neighbours, a target marker as the last feature\n";
  if (info.contains("cmu_std"))
    out << "CMU standard folds (data.split = cmu_std): " << info["cmu_std"]["utterances"]["train"]
        << "/" << info["cmu_std"]["utterances"]["valid"] << "/"
        << info["cmu_std"]["utterances"]["test"] << " utterances, "
        << info["cmu_std"]["videos"]["train"] << "/" << info["cmu_std"]["videos"]["valid"] << "/"
        << info["cmu_std"]["videos"]["test"] << " videos\n";
  return out.str();
}

}  // namespace robustmsa

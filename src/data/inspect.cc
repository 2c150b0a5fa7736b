#include "data/inspect.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "data/dataset.h"
#include "data/utterance.h"
#include "io/csd.h"
#include "io/pickle.h"
#include "util/error.h"
#include "util/sha256.h"

namespace robustmsa {

namespace {

nlohmann::json describe(const pickle::Value& v) {
  using K = pickle::Value::Kind;
  if (v.kind == K::kArray) {
    const auto& a = *v.ndarray;
    nlohmann::json j = {
        {"type", "ndarray"}, {"shape", a.shape}, {"dtype", pickle::dtype_name(a.dtype)}};
    if (a.source_big_endian) j["byte_order"] = "big-endian";
    if (a.source_fortran) j["order"] = "fortran";
    return j;
  }
  if (v.kind == K::kList || v.kind == K::kTuple)
    return {{"type", v.kind_name()}, {"length", v.items.size()}};
  if (v.kind == K::kDict) return {{"type", "dict"}, {"keys", v.keys()}};
  return {{"type", v.kind_name()}};
}

}  // namespace

nlohmann::json score_summary(const std::vector<double>& y) {
  if (y.empty()) return nullptr;
  double sum = 0, sq = 0, lo = y[0], hi = y[0];
  int64_t zero = 0, pos = 0;
  for (double v : y) {
    sum += v;
    sq += v * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    zero += v == 0;
    pos += v > 0;
  }
  const double n = static_cast<double>(y.size()), mean = sum / n;
  return {{"mean", mean},
          {"std", std::sqrt(std::max(0.0, sq / n - mean * mean))},
          {"min", lo},
          {"max", hi},
          {"zero", zero},
          {"positive", pos},
          {"negative", static_cast<int64_t>(n) - zero - pos}};
}

namespace {

nlohmann::json label_stats(const Split& s, Task task) {
  nlohmann::json j;
  if (s.labels.empty()) return j;
  if (task == Task::kIemocap) {
    static const char* kEmotions[] = {"neutral", "happy", "sad", "angry"};
    for (int e = 0; e < 4; ++e) {
      int64_t pos = 0;
      for (int64_t i = 0; i < s.n; ++i) pos += s.labels[i * 4 + e] > 0.5f;
      j[kEmotions[e]] = {{"positive", pos}, {"negative", s.n - pos}};
    }
    return j;
  }
  return score_summary(std::vector<double>(s.labels.begin(), s.labels.end()));
}

// A computational sequence on its own: root, metadata, entries, rows, dims and value ranges.
nlohmann::json inspect_csd(const std::string& path) {
  const ComputationalSequence cs = read_csd(path);
  nlohmann::json info = {{"kind", "csd"},
                         {"file", path},
                         {"sha256", sha256_file(path)},
                         {"root", cs.root},
                         {"metadata", cs.metadata},
                         {"entries", cs.entries.size()},
                         {"rows", cs.rows()},
                         {"dim", cs.dim},
                         {"features", cs.strings ? "strings" : "numbers"},
                         {"nan", cs.nan_count},
                         {"posinf", cs.posinf_count},
                         {"neginf", cs.neginf_count},
                         {"clamped", cs.clamped_count}};
  int64_t lo_rows = -1, hi_rows = 0;
  double lo = 0, hi = 0, sum = 0, t_end = 0;
  int64_t values = 0;
  for (const CsdEntry& e : cs.entries) {
    lo_rows = lo_rows < 0 ? e.n : std::min(lo_rows, e.n);
    hi_rows = std::max(hi_rows, e.n);
    for (float v : e.features) {
      lo = values ? std::min<double>(lo, v) : v;
      hi = values ? std::max<double>(hi, v) : v;
      sum += v;
      ++values;
    }
    for (int64_t r = 0; r < e.n; ++r) t_end = std::max(t_end, e.intervals[2 * r + 1]);
  }
  info["rows_per_entry"] = {{"min", std::max<int64_t>(lo_rows, 0)}, {"max", hi_rows}};
  info["latest_interval_end"] = t_end;
  if (values) info["values"] = {{"min", lo}, {"max", hi}, {"mean", sum / values}};
  const int64_t bad = cs.nan_count + cs.posinf_count + cs.neginf_count + cs.clamped_count;
  info["sanitized"] = bad == 0 ? std::string()
                               : str("file '", path, "': sanitised ", bad,
                                     " feature values (NaN/+inf/-inf -> 0, beyond float32 -> "
                                     "clamped)");
  return info;
}

std::string format_csd(const nlohmann::json& info) {
  std::ostringstream out;
  out << "file     " << info["file"].get<std::string>() << "\n"
      << "sha256   " << info["sha256"].get<std::string>() << "\n"
      << "layout   CMU Multimodal SDK computational sequence (HDF5), root '"
      << info["root"].get<std::string>() << "'\n"
      << "entries  " << info["entries"] << " (rows per entry " << info["rows_per_entry"]["min"]
      << " ... " << info["rows_per_entry"]["max"] << "), " << info["rows"] << " rows of "
      << info["dim"] << " " << info["features"].get<std::string>() << "\n";
  if (info.contains("values")) out << "values   " << info["values"].dump() << "\n";
  out << "intervals end by " << info["latest_interval_end"] << " s\n"
      << "NaN " << info["nan"] << "  +inf " << info["posinf"] << "  -inf " << info["neginf"]
      << "  clamped " << info["clamped"] << " (replaced by 0 / clamped)\n\nmetadata:\n";
  for (auto it = info["metadata"].begin(); it != info["metadata"].end(); ++it) {
    std::string v = it.value().get<std::string>();
    if (v.size() > 160) v = v.substr(0, 157) + "...";
    out << "  " << it.key() << ": " << v << "\n";
  }
  return out.str();
}

}  // namespace

nlohmann::json inspect_file(const std::string& path) { return inspect_file(path, DataOptions{}); }

nlohmann::json inspect_file(const std::string& path, const DataOptions& options) {
  if (is_bclstm_source(path)) return inspect_utterances(read_bclstm(path), options);
  if (is_hdf5_file(path)) return inspect_csd(path);
  nlohmann::json info;
  pickle::ValuePtr root = pickle::load_file(path);
  if (is_hffn_pickle(*root)) {
    UtteranceSet set = hffn_from_pickle(*root, path, sha256_file(path));
    root.reset();
    return inspect_utterances(std::move(set), options);
  }
  if (!options.labels.empty() || options.split != "file")
    throw ConfigError(
        str("--labels and data.split apply to utterance-level sets (bc-LSTM CSVs, "
            "the HFFN pickle); '",
            path, "' carries its own labels and splits"));
  {
    nlohmann::json keys = nlohmann::json::object();
    if (root->is_dict()) {
      for (const auto& split : root->keys()) {
        const pickle::Value& sv = root->at(split);
        if (!sv.is_dict()) {
          keys[split] = describe(sv);
          continue;
        }
        nlohmann::json entries = nlohmann::json::object();
        for (const auto& k : sv.keys()) entries[k] = describe(sv.at(k));
        keys[split] = entries;
      }
    }
    info["keys"] = keys;
  }
  Dataset ds = dataset_from_pickle(*root, path, DataOptions{});
  root.reset();
  ds.sha256 = sha256_file(path);
  info["file"] = path;
  info["sha256"] = ds.sha256;
  info["layout"] = layout_name(ds.layout);
  info["task"] = task_name(ds.task);
  info["aligned"] = ds.aligned;
  nlohmann::json splits = nlohmann::json::object();
  for (const Split& s : ds.splits) {
    nlohmann::json js = {{"n", s.n}, {"labels", label_stats(s, ds.task)}};
    for (int m = 0; m < kNumModalities; ++m) {
      const ModalityData& md = s.modality[m];
      int64_t valid = std::count(md.valid.begin(), md.valid.end(), 1);
      js["modalities"][kModalityNames[m]] = {
          {"shape", {md.n, md.t, md.d}},
          {"valid_frames", valid},
          {"mean_valid_frames", md.n ? static_cast<double>(valid) / md.n : 0.0},
          {"nan", md.nan_count},
          {"posinf", md.posinf_count},
          {"neginf", md.neginf_count},
          {"clamped", md.clamped_count}};
    }
    splits[s.name] = js;
  }
  info["splits"] = splits;
  info["sanitized"] = sanitize_summary(ds);  // "" when nothing was replaced or clamped
  return info;
}

std::string format_inspection(const nlohmann::json& info) {
  if (info.value("kind", "") == "utterance") return format_utterance_inspection(info);
  if (info.value("kind", "") == "csd") return format_csd(info);
  std::ostringstream out;
  out << "file     " << info["file"].get<std::string>() << "\n"
      << "sha256   " << info["sha256"].get<std::string>() << "\n"
      << "layout   " << info["layout"].get<std::string>() << " ("
      << (info["aligned"].get<bool>() ? "aligned" : "unaligned") << "), task "
      << info["task"].get<std::string>() << "\n\nkeys:\n";
  for (auto s = info["keys"].begin(); s != info["keys"].end(); ++s) {
    out << "  " << s.key() << "\n";
    if (!s.value().is_object() || s.value().contains("type")) continue;
    for (auto k = s.value().begin(); k != s.value().end(); ++k) {
      const auto& d = k.value();
      out << "    " << k.key() << ": " << d["type"].get<std::string>();
      if (d.contains("shape"))
        out << " " << d["shape"].dump() << " " << d["dtype"].get<std::string>();
      if (d.contains("byte_order")) out << " " << d["byte_order"].get<std::string>();
      if (d.contains("order")) out << " " << d["order"].get<std::string>() << "-order";
      if (d.contains("length")) out << " of " << d["length"].dump();
      out << "\n";
    }
  }
  out << "\nsplits (NaN / +inf / -inf replaced by 0, values beyond float32 clamped):\n";
  for (auto s = info["splits"].begin(); s != info["splits"].end(); ++s) {
    const auto& js = s.value();
    out << "  " << s.key() << ": " << js["n"].get<int64_t>() << " samples; labels "
        << js["labels"].dump() << "\n";
    for (auto m = js["modalities"].begin(); m != js["modalities"].end(); ++m) {
      const auto& jm = m.value();
      char line[256];
      std::snprintf(
          line, sizeof line,
          "    %-6s %-16s valid frames/sample %6.1f  nan %ld  +inf %ld  -inf %ld  clamped %ld\n",
          m.key().c_str(), jm["shape"].dump().c_str(), jm["mean_valid_frames"].get<double>(),
          static_cast<long>(jm["nan"].get<int64_t>()),
          static_cast<long>(jm["posinf"].get<int64_t>()),
          static_cast<long>(jm["neginf"].get<int64_t>()),
          static_cast<long>(jm["clamped"].get<int64_t>()));
      out << line;
    }
  }
  return out.str();
}

}  // namespace robustmsa

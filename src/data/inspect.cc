#include "data/inspect.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "data/dataset.h"
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
  double sum = 0, sq = 0, lo = s.labels[0], hi = s.labels[0];
  int64_t zero = 0, pos = 0;
  for (float y : s.labels) {
    sum += y;
    sq += static_cast<double>(y) * y;
    lo = std::min<double>(lo, y);
    hi = std::max<double>(hi, y);
    zero += y == 0.0f;
    pos += y > 0.0f;
  }
  double n = static_cast<double>(s.labels.size());
  double mean = sum / n;
  return {{"mean", mean},
          {"std", std::sqrt(std::max(0.0, sq / n - mean * mean))},
          {"min", lo},
          {"max", hi},
          {"zero", zero},
          {"positive", pos},
          {"negative", static_cast<int64_t>(n) - zero - pos}};
}

}  // namespace

nlohmann::json inspect_file(const std::string& path) {
  nlohmann::json info;
  pickle::ValuePtr root = pickle::load_file(path);
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

#include "train/predict_input.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "data/data_options.h"
#include "run/run_dir.h"
#include "train/evaluate.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace {

Task task_from_name(const std::string& name, const std::string& where) {
  if (name == "regression") return Task::kRegression;
  if (name == "sims") return Task::kSims;
  if (name == "iemocap") return Task::kIemocap;
  throw DataError(str(where, ": task '", name, "'; expected regression, sims or iemocap"));
}

PredictInput from_json(const std::string& path, const InputSpec& spec) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(str("file '", path, "': byte offset ", e.byte, ": invalid JSON"));
  } catch (const nlohmann::json::exception& e) {
    // e.g. a number beyond double range (out_of_range.406): not JSON any reader can hold.
    throw DataError(
        str("file '", path, "': ", e.what(), "; expected JSON numbers within double range"));
  }
  if (!j.is_object() || !j.contains("samples") || !j["samples"].is_array() || j["samples"].empty())
    throw DataError(
        str("file '", path, "': expected {\"samples\": [ ... ]} with at least one sample"));
  const auto& samples = j["samples"];
  const int64_t n = static_cast<int64_t>(samples.size());
  PredictInput in;
  in.tensors.n = n;
  std::vector<uint8_t> present(static_cast<std::size_t>(n * 3), 0);
  int64_t replaced = 0, clamped = 0;
  for (int m = 0; m < kNumModalities; ++m) {
    const int64_t t = spec.len[m], d = spec.dim[m];
    auto x = torch::zeros({n, t, d});
    auto valid = torch::zeros({n, t}, torch::kBool);
    auto xa = x.accessor<float, 3>();  // element writes without a tensor op per value
    auto va = valid.accessor<bool, 2>();
    for (int64_t i = 0; i < n; ++i) {
      const auto& s = samples[i];
      std::string where = str("file '", path, "': samples[", i, "].", kModalityNames[m]);
      if (!s.is_object())
        throw DataError(str("file '", path, "': samples[", i, "]: expected an object"));
      if (!s.contains(kModalityNames[m]) || s[kModalityNames[m]].is_null() ||
          s[kModalityNames[m]].empty())
        continue;
      const auto& frames = s[kModalityNames[m]];
      if (!frames.is_array() || static_cast<int64_t>(frames.size()) > t)
        throw DataError(str(
            where, ": expected a list of at most ", t, " frames (the model's length), found ",
            frames.is_array() ? std::to_string(frames.size()) + " frames" : frames.type_name()));
      for (std::size_t f = 0; f < frames.size(); ++f) {
        const auto& row = frames[f];
        if (!row.is_array() || static_cast<int64_t>(row.size()) != d)
          throw DataError(
              str(where, "[", f, "]: expected ", d, " numbers, found ",
                  row.is_array() ? std::to_string(row.size()) + " values" : row.type_name()));
        for (int64_t k = 0; k < d; ++k) {
          if (!row[k].is_number())
            throw DataError(
                str(where, "[", f, "][", k, "]: expected a number, found ", row[k].dump()));
          // As the pickle loader does (DESIGN §2.3): a non-finite value becomes 0, a value beyond
          // float32 range is clamped; both are counted and reported below. (A JSON number beyond
          // double range is a parse error above.)
          double v = row[k].get<double>();
          constexpr double kMax = std::numeric_limits<float>::max();
          if (!std::isfinite(v)) {
            ++replaced;
            v = 0;
          } else if (std::fabs(v) > kMax) {
            ++clamped;
            v = v > 0 ? kMax : -kMax;
          }
          xa[i][static_cast<int64_t>(f)][k] = static_cast<float>(v);
        }
        va[i][static_cast<int64_t>(f)] = true;
      }
      present[i * 3 + m] = 1;
    }
    in.tensors.x[m] = x;
    in.tensors.valid[m] = valid;
    in.masks.keep[m] = torch::ones({n, t}, torch::kBool);
  }
  in.masks.present = torch::from_blob(present.data(), {n, 3}, torch::kUInt8).to(torch::kBool);
  if (replaced + clamped > 0)
    std::fprintf(stderr,
                 "file '%s': sanitised %ld feature values (%ld non-finite -> 0, %ld beyond "
                 "float32 -> clamped)\n",
                 path.c_str(), static_cast<long>(replaced + clamped), static_cast<long>(replaced),
                 static_cast<long>(clamped));
  in.tensors.label = torch::zeros({n});
  for (int64_t i = 0; i < n; ++i)
    in.ids.push_back(samples[i].contains("id") ? samples[i]["id"].dump() : std::to_string(i));
  return in;
}

PredictInput from_pickle(const std::string& path, const std::string& split_name,
                         const InputSpec& spec, const DataOptions& options) {
  // The run's own reader options: a run trained on z-scored features, or on an utterance-level
  // set's split and context form, sees its input prepared the same way.
  Dataset ds = load_dataset(path, options);
  if (const std::string note = sanitize_summary(ds); !note.empty())
    std::fprintf(stderr, "%s\n", note.c_str());
  int s = -1;
  for (int i = 0; i < 3; ++i)
    if (split_name == kSplitNames[i]) s = i;
  if (s < 0) throw UsageError(str("--split '", split_name, "': expected train, valid or test"));
  Split& split = ds.splits[s];
  for (int m = 0; m < kNumModalities; ++m)
    if (split.modality[m].d != spec.dim[m] || split.modality[m].t != spec.len[m])
      throw DataError(str("file '", path, "': split \"", split_name, "\" key \"", kModalityNames[m],
                          "\": frames x dims (", split.modality[m].t, ", ", split.modality[m].d,
                          ") differ from the model's (", spec.len[m], ", ", spec.dim[m], ")"));
  PredictInput in;
  in.ids = split.ids;
  in.tensors = to_tensors(split, ds.task);
  for (int m = 0; m < kNumModalities; ++m) in.masks.keep[m] = torch::ones_like(in.tensors.valid[m]);
  in.masks.present = torch::ones({in.tensors.n, 3}, torch::kBool);
  return in;
}

}  // namespace

InputSpec run_input_spec(const std::string& run_dir) {
  const std::string path = RunPaths(run_dir).config;
  InputSpec spec;
  try {
    nlohmann::json j = nlohmann::json::parse(read_file(path));
    const auto& in = j.at("input");
    for (int m = 0; m < 3; ++m) {
      spec.dim[m] = in.at("dim").at(m).get<int64_t>();
      spec.len[m] = in.at("len").at(m).get<int64_t>();
    }
    spec.task = task_from_name(in.at("task").get<std::string>(), path);
    spec.train_size = in.value("train_size", int64_t{0});  // absent in runs made before Self-MM
  } catch (const nlohmann::json::exception& e) {
    throw DataError(
        str("run config '", path, "': expected \"input\": {dim, len, task} (", e.what(), ")"));
  }
  return spec;
}

PredictInput read_predict_input(const std::string& path, const std::string& split,
                                const InputSpec& spec, const DataSection& data) {
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext != ".json") return from_pickle(path, split, spec, data_options(data));
  if (data.zscore)
    throw UsageError(str("input '", path,
                         "': the run was trained with data.zscore = true (audio and vision "
                         "z-scored with its data file's train-split statistics), which JSON "
                         "samples cannot reproduce; pass a pickle with a train split"));
  return from_json(path, spec);
}

nlohmann::json predict_json(Model& model, const PredictInput& in, const InputSpec& spec) {
  torch::Tensor pred = predict(model, in.tensors, &in.masks, 256);
  auto present = in.masks.present.to(torch::kLong);
  nlohmann::json out = nlohmann::json::array();
  static const char* kEmotions[] = {"neutral", "happy", "sad", "angry"};
  for (int64_t i = 0; i < in.tensors.n; ++i) {
    nlohmann::json row = {
        {"id", i < static_cast<int64_t>(in.ids.size()) ? in.ids[i] : std::to_string(i)}};
    nlohmann::json mods = nlohmann::json::array();
    for (int m = 0; m < 3; ++m) {
      bool any = present[i][m].item<int64_t>() && in.tensors.valid[m][i].any().item<bool>();
      if (any) mods.push_back(kModalityNames[m]);
    }
    row["present"] = mods;
    if (spec.task == Task::kIemocap) {
      auto prob = torch::softmax(pred[i], -1);  // (4, 2)
      for (int e = 0; e < 4; ++e) row[kEmotions[e]] = prob[e][1].item<double>();
    } else {
      row["prediction"] = pred[i].item<double>();
    }
    out.push_back(row);
  }
  return {{"task", task_name(spec.task)}, {"predictions", out}};
}

}  // namespace robustmsa

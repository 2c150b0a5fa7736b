// Inputs of `robustmsa predict`: features of one or many samples with any subset of modalities,
// from a JSON file or from a split of a pickle, checked against the run's input spec.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "nn/model.h"
#include "train/tensors.h"

namespace robustmsa {

struct PredictInput {
  SplitTensors tensors;  // labels are zero (unused)
  MaskTensors masks;     // present = modalities given
  std::vector<std::string> ids;
};

// The input spec a run was trained with (its config.json "input").
InputSpec run_input_spec(const std::string& run_dir);

// JSON: {"samples": [{"id": "...", "text": [[D_l floats] x T], "audio": null, "vision": [...]}]};
// a modality that is absent, null or an empty list is missing. Pickle: rows of `split`, read
// with the reader options of the run's data section `data` (z-scoring with the file's
// train-split statistics, an utterance-level set's labels, split and context form), as training
// read them. JSON input to a run trained with data.zscore is a UsageError (there are no
// train-split statistics to apply).
PredictInput read_predict_input(const std::string& path, const std::string& split,
                                const InputSpec& spec, const DataSection& data);

// {"predictions": [{"id", "present": [...], "prediction": x} or per-emotion probabilities]}.
nlohmann::json predict_json(Model& model, const PredictInput& input, const InputSpec& spec);

}  // namespace robustmsa

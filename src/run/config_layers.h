// Configuration precedence for train, compare and sweep (torch-free): the defaults of
// config/experiment.h, then every --config file in order, then the flags that name one key
// (--data, --text-encoder, --finetune-text), then every --set in order, then --seeds and
// --threads. "Later overrides earlier"; a --model on the command line that differs from the
// files' model.name resets the model options the files set for the other model.
//
// Usage:
//   robustmsa::ConfigLayers layers;
//   layers.configs = {"configs/mosi.json"};
//   layers.sets = {"train.lr=1e-3"};
//   layers.seeds = "3";                                   // 1111, 1112, 1113
//   robustmsa::ExperimentConfig cfg = robustmsa::resolve_config(layers, "umdf");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/experiment.h"

namespace robustmsa {

struct ConfigLayers {
  std::vector<std::string> configs;  // JSON files, applied in order
  std::string data;                  // data.path ("" = keep)
  std::string text_encoder;          // data.text_encoder ("" = keep)
  bool finetune_text = false;        // data.text_finetune = true when set
  std::vector<std::string> sets;     // "section.key=value", applied in order
  std::string seeds;                 // parse_seeds text ("" = keep train.seeds)
  int64_t threads = -1;              // train.threads (< 0 = keep)
};

// The resolved configuration for `model` ("" = the files' or the default model). ConfigError /
// UsageError naming the file, key or flag for anything wrong; validate_config at the end.
ExperimentConfig resolve_config(const ConfigLayers& layers, const std::string& model = "");

// Checks what no single section can check alone: train's options together and eval.suite against
// the suites of data/protocol.h (ConfigError "config key 'eval.suite': expected paper, mmsa or
// gcnet, found x", after "config '<source>': " when a source file is named).
void validate_config(const ExperimentConfig& config, const std::string& source = "");

// --seeds: a count N < 1000 (the seeds 1111 ... 1110+N), one seed (>= 1000), or a
// comma-separated list ("5," is the one-seed list {5}). UsageError otherwise.
std::vector<int64_t> parse_seeds(const std::string& text);

}  // namespace robustmsa

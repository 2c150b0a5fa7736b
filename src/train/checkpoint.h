// One checkpoint file per run (DESIGN §6): model, optimiser, the selected (best-on-validation)
// weights, epoch, selection state and the resolved config, written atomically (temporary file,
// fsync, rename) behind a header with the payload's length and SHA-256, so a truncated or
// corrupt file is detected with a clear error instead of being loaded.
#pragma once

#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace torch::optim {
class Optimizer;
}

namespace robustmsa {

class Model;

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// A detached deep copy of a module's parameters and buffers.
NamedTensors copy_state(const Model& model);
// Copies `state` into the model; DataError naming the first missing or mis-shaped tensor.
void load_state(Model& model, const NamedTensors& state, const std::string& where);

struct Checkpoint {
  nlohmann::json meta;  // epoch, best_epoch, best_score, bad_epochs, config, model, input spec
  NamedTensors model;   // weights after `epoch`
  NamedTensors best;    // weights of the selected epoch
  std::string optimizer_bytes;  // the optimiser's serialized state (empty when not saved)
};

// Serialises an optimiser's state to bytes and back.
std::string save_optimizer(torch::optim::Optimizer& optimizer);
void load_optimizer(torch::optim::Optimizer& optimizer, const std::string& bytes,
                    const std::string& where);

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// DataError for a missing, truncated or corrupt file, naming the path and what was expected.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace robustmsa

// The model interface and the one registry table (DESIGN §5). A model sees a Batch and its own
// options, nothing else. A method differs from another by its objective function.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "nn/batch.h"

namespace robustmsa {

class BertEncoderImpl;

class Model : public torch::nn::Module {
 public:
  virtual ModelOutput forward(const Batch& batch) = 0;

  // data.text_finetune: the BERT-family encoder trained with the model, registered as its
  // submodule "text_encoder" (train/text_encoder.h). The trainer, not forward, runs it: forward
  // always sees text features in batch.x[kText]. Null otherwise.
  std::shared_ptr<BertEncoderImpl> text_encoder;

  // Training in phases, e.g. a teacher on complete data, then a student against the frozen
  // teacher. Returns the phase (0, 1, ...) of a 0-based epoch of a run of `epochs` epochs;
  // single-phase models keep 0. When
  // the phase changes, the trainer restores the weights it selected in the previous phase and
  // restarts model selection and early stopping; it calls begin_phase before every epoch (also
  // after a resume) and passes the phase to the objective in ObjectiveContext::phase.
  virtual int64_t phase_of_epoch(int64_t /*epoch*/, int64_t /*epochs*/) const { return 0; }
  // Puts the model into `phase` (what forward computes, which parameters train). Idempotent; a
  // model that needs it keeps its phase in a buffer, so saved and selected weights carry it.
  virtual void begin_phase(int64_t /*phase*/) {}
};

// What an objective returns: the scalar to minimise and named parts for logging.
struct Losses {
  torch::Tensor total;
  std::vector<std::pair<std::string, torch::Tensor>> parts;  // e.g. {"task", ...}, {"pred", ...}
};

// What the trainer lends an objective for one step.
struct ObjectiveContext {
  // Returns a copy of `complete` with a fresh uncertain-missing pattern (DESIGN §3, training-time
  // sampler): per sample a random non-empty set of kept modalities and a random frame-drop ratio.
  // Drawn from the run seed, the epoch and the step, so a resumed run sees the same holes.
  std::function<Batch(const Batch&)> missing_view;
  Task task = Task::kRegression;
  int64_t epoch = 0;  // 0-based training epoch
  int64_t phase = 0;  // Model::phase_of_epoch(epoch, train.epochs)
};

using Objective = std::function<Losses(Model&, const Batch&, ObjectiveContext&)>;

// Task loss used by every objective: L1 for regression (as MMSA), cross-entropy per emotion for
// IEMOCAP (prediction (B, 4, 2), label (B, 4)).
torch::Tensor task_loss(const torch::Tensor& prediction, const torch::Tensor& label, Task task);

// Plain supervised objective: task loss on the batch as given.
Losses supervised_objective(Model& model, const Batch& batch, ObjectiveContext& ctx);

// One row of the registry table (nn/registry.cc), made by make_entry<Options, Impl>: the model's
// options struct and module, and its objective typed on the module.
struct ModelEntry {
  std::string name;   // registry key used on the command line: "umdf", "mult", "lf_dnn", ...
  std::string paper;  // "Li et al., AAAI 2024" — shown by `robustmsa models`
  // Default options of this model as JSON (from its options struct).
  std::function<nlohmann::json()> default_options;
  // Every option with its type, default and help text, as the options struct's visit() states
  // them ("  model.width (an integer, default 40)\n      hidden width d ...\n").
  std::function<std::string()> help;
  // Options (a subset of the keys) that make the model tiny: a few hundred parameters, so the
  // registry tests run every model in milliseconds.
  nlohmann::json test_options;
  // Builds the model; `options` holds any subset of its keys (ConfigError on unknown keys).
  std::function<std::shared_ptr<Model>(const nlohmann::json& options, const InputSpec& spec)> make;
  // The model's objective. RunError naming both when `model` is not this entry's model (the one
  // cast from Model to the entry's module type is done here, not in the objectives).
  Objective objective;
};

// The one registry table, in the order reports list models.
const std::vector<ModelEntry>& model_registry();
// Throws UsageError("unknown model 'x'; expected one of: ...").
const ModelEntry& find_model(const std::string& name);

}  // namespace robustmsa

// The resolved configuration of one experiment: data, model (name + that model's options),
// training, the training-time missing sampler and evaluation. Layered: defaults, then a
// --config JSON file, then --set section.key=value overrides ("later overrides earlier"). The
// resolved JSON is saved in every run directory and inside every checkpoint.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/options.h"

namespace robustmsa {

struct DataSection {
  std::string path;
  bool zscore = false;
  std::string text_encoder;
  bool text_finetune = false;
  // Utterance-level sets (bc-LSTM CSVs, the HFFN pickle; docs/real-mosi.md).
  std::string labels;
  std::string split = "file";
  int64_t valid_videos = 10;
  int64_t split_seed = 0;
  int64_t context = 0;
  template <class V>
  void visit(V& v) {
    v("path", path,
      "feature file: MulT/CMU or MMSA pickle, a bc-LSTM CSV directory (or one of its files), or "
      "the HFFN utterance pickle");
    v("zscore", zscore, "z-score audio and vision with train-split statistics over valid frames");
    v("text_encoder", text_encoder,
      "Hugging Face BERT-family model folder: its frozen token features of the file's text_bert "
      "rows replace the text features (docs/text.md); empty = the file's text features");
    v("text_finetune", text_finetune,
      "train data.text_encoder with the model (its weights go into the checkpoint, learning rate "
      "train.text_lr) instead of encoding the text once with frozen weights");
    // Utterance-level sets only (docs/real-mosi.md).
    v("labels", labels,
      "utterance-level sets: CMU SDK label sequence (.csd) whose continuous scores are joined to "
      "the utterances by id (CMU_MOSI_Opinion_Labels.csd)");
    v("split", split,
      "utterance-level sets: file (the released train/test; validation videos carved from "
      "train) or cmu_std (the CMU SDK's standard folds)");
    v("valid_videos", valid_videos,
      "utterance-level sets, split file: training videos moved to the validation split");
    v("split_seed", split_seed,
      "utterance-level sets, split file: seed of the choice of the validation videos (the same "
      "for every model and run seed)");
    v("context", context,
      "utterance-level sets: 0 = per-utterance form (each utterance alone, one frame); N >= 1 = "
      "context form, each utterance's sequence is its video's utterances from N before to N "
      "after it, a target-marker feature last; -1 = the whole video (docs/real-mosi.md)");
  }
  // data.text_finetune without data.text_encoder is refused by prepare_data (keys may be set in
  // any order).
  void validate() const {
    require(split == "file" || split == "cmu_std", "data.split", split, "file or cmu_std");
    require(valid_videos >= 1, "data.valid_videos", valid_videos, "an integer >= 1");
    require(split_seed >= 0, "data.split_seed", split_seed, "an integer >= 0");
    require(context >= -1, "data.context", context,
            "0 (per utterance), N >= 1 (N utterances each side) or -1 (the whole video)");
  }
};

struct TrainSection {
  std::string optimizer = "adam";
  double lr = 1e-3;
  double text_lr = 5e-5;
  double weight_decay = 0.0;
  int64_t batch_size = 128;
  int64_t epochs = 50;
  double grad_clip = 0.8;
  int64_t patience = 10;
  std::vector<int64_t> seeds = {1111, 1112, 1113, 1114, 1115};
  std::string select_on = "paper";
  int64_t threads = 0;
  int64_t shards = 1;
  template <class V>
  void visit(V& v) {
    v("optimizer", optimizer, "adam or adamw");
    v("lr", lr, "learning rate");
    v("text_lr", text_lr,
      "learning rate of a fine-tuned text encoder (data.text_finetune; MMSA's BERT rate 5e-5)");
    v("weight_decay", weight_decay, "weight decay (L2 for adam, decoupled for adamw)");
    v("batch_size", batch_size, "training batch size");
    v("epochs", epochs, "maximum number of epochs");
    v("grad_clip", grad_clip, "clip the global gradient norm to this value (0 = off)");
    v("patience", patience,
      "stop when the validation score has not improved for this many epochs (0 = never)");
    v("seeds", seeds, "run seeds; each seed is its own run directory (MMSA's 1111..1115)");
    v("select_on", select_on,
      "validation conditions for model selection: complete (complete data only) or paper "
      "(mean over complete and the six modality conditions)");
    v("threads", threads, "intra-op threads (0 = number of cores)");
    v("shards", shards,
      "cut every batch into this many shards, each with its own dropout seed, processed by "
      "ranks round-robin: the result depends on shards, not on the number of processes (>= the "
      "number of processes; see docs/scaling.md)");
  }
  void validate() const {
    require(optimizer == "adam" || optimizer == "adamw", "train.optimizer", optimizer,
            "adam or adamw");
    require(lr > 0 && lr < 10, "train.lr", lr, "a number in (0, 10)");
    require(text_lr > 0 && text_lr < 10, "train.text_lr", text_lr, "a number in (0, 10)");
    require(weight_decay >= 0, "train.weight_decay", weight_decay, "a number >= 0");
    require(batch_size >= 1, "train.batch_size", batch_size, "an integer >= 1");
    require(epochs >= 1, "train.epochs", epochs, "an integer >= 1");
    require(grad_clip >= 0, "train.grad_clip", grad_clip, "a number >= 0");
    require(patience >= 0, "train.patience", patience, "an integer >= 0");
    require(!seeds.empty(), "train.seeds", "[]", "at least one seed");
    require(select_on == "complete" || select_on == "paper", "train.select_on", select_on,
            "complete or paper");
    require(threads >= 0, "train.threads", threads, "an integer >= 0");
    require(shards >= 1 && shards <= batch_size, "train.shards", shards,
            "an integer in [1, train.batch_size]");
  }
};

struct EvalSection {
  std::string suite = "paper";
  int64_t mask_seed = 0;
  int64_t batch_size = 256;
  template <class V>
  void visit(V& v) {
    v("suite", suite, "evaluation suite run on the test split after training: paper, mmsa, gcnet");
    v("mask_seed", mask_seed,
      "seed of the evaluation masks (the same for every model and run, so inputs are identical)");
    v("batch_size", batch_size, "evaluation batch size");
  }
  // eval.suite is checked against data/protocol.h's suites by validate_config
  // (run/config_layers.h), which every run path calls.
  void validate() const {
    require(mask_seed >= 0, "eval.mask_seed", mask_seed, "an integer >= 0");
    require(batch_size >= 1, "eval.batch_size", batch_size, "an integer >= 1");
  }
};

// The training-time uncertain-missing sampler's options live in data/protocol.h
// (UncertainOptions); they are held here as JSON and validated by the trainer.
struct ExperimentConfig {
  DataSection data;
  std::string model = "umdf";
  nlohmann::json model_options = nlohmann::json::object();  // only keys the user set
  TrainSection train;
  nlohmann::json missing = nlohmann::json::object();  // UncertainOptions keys the user set
  EvalSection eval;

  // Applies one JSON document (a --config file) on top of the current values.
  void apply_json(const nlohmann::json& j, const std::string& source);
  // Applies "section.key=value" (the --set flag).
  void apply_set(const std::string& assignment);
  // Resolved JSON (model options merged with the model's defaults by the caller when known).
  nlohmann::json to_json() const;
};

// Reads a JSON config file; ConfigError naming the file for syntax errors. Keys starting with
// "//" or "_comment" are comments and ignored (JSON has no comments).
nlohmann::json read_config_file(const std::string& path);

}  // namespace robustmsa

// The public API (include/robustmsa): the usage example of robustmsa.h, run at a tiny size; the
// training loop's observer events against what the run directory records; describe_error's one
// line for a LibTorch error.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "robustmsa/robustmsa.h"

namespace robustmsa {
namespace {

class Recorder : public FitObserver {
 public:
  std::vector<std::string> events;
  std::vector<EpochEnd> epochs;
  std::vector<StepProgress> steps;
  std::vector<RunResult> tests;
  void on_run_start(const RunStart& r) override {
    events.push_back("start " + std::to_string(r.seed));
    EXPECT_EQ(r.start_epoch, 0);
    EXPECT_EQ(r.epochs, 3);
  }
  void on_finished_run(const FinishedRun& r) override {
    events.push_back("finished " + std::to_string(r.seed));
  }
  void on_epoch_start(const EpochStart& e) override {
    events.push_back("epoch " + std::to_string(e.epoch));
  }
  void on_step(const StepProgress& s) override { steps.push_back(s); }
  void on_epoch_end(const EpochEnd& e) override {
    events.push_back("end " + std::to_string(e.epoch));
    epochs.push_back(e);
  }
  void on_early_stop(const EarlyStop&) override { events.push_back("early stop"); }
  void on_test(const RunResult& r) override {
    events.push_back("test " + std::to_string(r.seed));
    tests.push_back(r);
  }
};

ConfigLayers tiny_layers(const std::string& data) {
  ConfigLayers layers;
  layers.data = data;
  layers.threads = 1;
  layers.seeds = "1";
  layers.sets = {"model.width=8",  "model.heads=2",    "model.mcim_blocks=1", "train.batch_size=32",
                 "train.epochs=3", "train.patience=0", "eval.batch_size=64"};
  return layers;
}

std::string write_tiny_data(const test_util::TempDir& dir) {
  SynthOptions so;
  set_option(so, "like", "mosi", "synth");
  set_option(so, "seq_len", "[10,10,10]", "synth");
  scale_synth_splits(so, 64);
  const std::string path = dir.file("mosi_like.pkl");
  write_synthetic(so, path);
  return path;
}

// robustmsa.h's usage example, step by step, at a tiny size.
TEST(PublicApi, TheUsageExampleRuns) {
  test_util::TempDir dir;
  const std::string data_path = write_tiny_data(dir);
  EXPECT_NE(format_inspection(inspect_file(data_path)).find("mult"), std::string::npos);

  Dataset ds = load_dataset(data_path, DataOptions{});
  for (const Condition& c : suite_named("paper").conditions) {
    Masks m = make_masks(c, ds.split(SplitId::kTest), /*mask_seed=*/0);
    EXPECT_EQ(m.n, ds.split(SplitId::kTest).n);
  }

  set_threads(1);
  ConfigLayers layers = tiny_layers(data_path);
  layers.seeds = "2";
  layers.sets.push_back("train.epochs=1");
  const std::string out = dir.file("cmp");
  ComparePlan plan = plan_compare("umdf,umdf:distill=false", layers, "paper", out);
  ASSERT_EQ(plan.configs.size(), 2u);
  std::shared_ptr<PreparedData> data = load_data(plan.configs.front().data);
  std::vector<RunResult> results = run_compare(plan, *data, RunOptions{});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(std::filesystem::exists(out + "/umdf_distill-false/seed_1112/results.json"));
  EvalRequest ev;
  ev.run = out + "/umdf";
  ev.suite = "mmsa";
  EvalOutcome other = evaluate_runs(ev, RunOptions{});
  ASSERT_EQ(other.results.size(), 2u);
  EXPECT_EQ(other.results[0].conditions.size(), 10u);

  ReportRequest req;
  req.out_dir = out + "/report";
  req.data_path = data_path;
  Report report = report_results(results, req);
  EXPECT_TRUE(report.has_oracle);
  EXPECT_NE(format_terminal_table(report).find("umdf:distill=false"), std::string::npos);

  nlohmann::json frame = std::vector<double>(300, 0.1);
  nlohmann::json input = {{"samples", {{{"id", "a"}, {"text", {frame}}}}}};
  std::ofstream(dir.file("features.json")) << input.dump();
  PredictRequest p;
  p.run = out + "/umdf/seed_1111";
  p.input = dir.file("features.json");
  nlohmann::json predictions = predict_run(p, RunOptions{});
  ASSERT_EQ(predictions["predictions"].size(), 1u);
  EXPECT_EQ(predictions["predictions"][0]["present"], nlohmann::json({"text"}));
}

TEST(PublicApi, ObserverSeesEveryEpochAsTheRunDirectoryRecordsIt) {
  test_util::TempDir dir;
  const std::string data_path = write_tiny_data(dir);
  set_threads(1);
  ExperimentConfig cfg = resolve_config(tiny_layers(data_path), "umdf");
  std::shared_ptr<PreparedData> data = load_data(cfg.data);
  Recorder rec;
  RunOptions options;
  options.observer = &rec;
  std::vector<RunResult> results = train_seeds(cfg, *data, dir.file("run"), options);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(rec.events, (std::vector<std::string>{"start 1111", "epoch 1", "end 1", "epoch 2",
                                                  "end 2", "epoch 3", "end 3", "test 1111"}));
  // Two steps per epoch (64 samples, batch 32), counted within the epoch.
  ASSERT_EQ(rec.steps.size(), 6u);
  EXPECT_EQ(rec.steps[1].step, 2);
  EXPECT_EQ(rec.steps[1].samples, 64);
  // Each epoch's event carries what metrics.jsonl holds for it.
  std::ifstream metrics(dir.file("run") + "/seed_1111/metrics.jsonl");
  std::string line;
  for (const EpochEnd& e : rec.epochs) {
    ASSERT_TRUE(std::getline(metrics, line));
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["epoch"], e.epoch);
    EXPECT_DOUBLE_EQ(j["train_loss"].get<double>(), e.train_loss.at("loss"));
    EXPECT_DOUBLE_EQ(j["train_task"].get<double>(), e.train_loss.at("task"));
    EXPECT_DOUBLE_EQ(j["val_score"].get<double>(), e.val_score);
    EXPECT_DOUBLE_EQ(j["val_complete"]["MAE"].get<double>(), e.validation.at("MAE"));
    EXPECT_EQ(j["best_epoch"], e.best_epoch);
    EXPECT_DOUBLE_EQ(e.lr, 1e-3);  // train.lr's default
  }
  ASSERT_EQ(rec.tests.size(), 1u);
  EXPECT_EQ(results_to_json(rec.tests[0]), results_to_json(results[0]));

  // Again over the same directory with resume: the finished run is read.
  Recorder again;
  options.observer = &again;
  options.resume = true;
  train_seeds(cfg, *data, dir.file("run"), options);
  EXPECT_EQ(again.events, (std::vector<std::string>{"finished 1111"}));
}

TEST(PublicApi, OnlyTheCpuDeviceIsImplemented) {
  RunOptions options;
  options.device = "cuda";
  try {
    EvalRequest ev;
    ev.run = "/nonexistent";
    evaluate_runs(ev, options);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("device 'cuda'"), std::string::npos) << e.what();
  }
}

TEST(PublicApi, ALibTorchErrorIsOneLineUnlessABacktraceIsAsked) {
  auto fail = [] {
    try {
      torch::zeros({2, 3}).matmul(torch::zeros({4, 5}));
    } catch (const c10::Error& e) {
      return describe_error(e);
    }
    return ErrorReport{0, "no error"};
  };
  ::unsetenv("ROBUSTMSA_BACKTRACE");
  const ErrorReport plain = fail();
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ(plain.message.rfind("robustmsa: error: ", 0), 0u) << plain.message;
  EXPECT_EQ(plain.message.find('\n'), std::string::npos) << plain.message;
  EXPECT_NE(plain.message.find("cannot be multiplied"), std::string::npos) << plain.message;
  ::setenv("ROBUSTMSA_BACKTRACE", "1", 1);
  const ErrorReport full = fail();
  ::unsetenv("ROBUSTMSA_BACKTRACE");
  EXPECT_GT(full.message.size(), plain.message.size());
  EXPECT_NE(full.message.find('\n'), std::string::npos) << "the backtrace has several lines";

  EXPECT_EQ(describe_error(UsageError("x")).exit_code, 2);
  EXPECT_EQ(describe_error(ConfigError("x")).message, "robustmsa: configuration error: x");
  EXPECT_EQ(describe_error(DataError("x")).message, "robustmsa: data error: x");
  EXPECT_EQ(describe_error(RunError("x")).exit_code, 1);
}

}  // namespace
}  // namespace robustmsa

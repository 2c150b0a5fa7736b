// Fine-tuning the text encoder with the model (data.text_finetune, docs/text.md), end to end
// through the CLI on a few transcripts: `features`, then `train --text-encoder DIR
// --finetune-text`, `eval`, `predict --text` and `--resume`. Needs the test model
// (scripts/fetch_test_model.sh); skips without it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../common/cli_run.h"
#include "../common/temp_dir.h"
#include "../common/text_model.h"
#include "nn/bert.h"
#include "train/checkpoint.h"

namespace robustmsa {
namespace {

namespace fs = std::filesystem;
using test_util::CliResult;
using test_util::run_cli;

class TextFinetune : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test_util::test_model_dir();
    if (model_.empty())
      GTEST_SKIP() << "no test model (run scripts/fetch_test_model.sh or set ROBUSTMSA_TEST_MODEL)";
    if (test_util::cli_binary().empty()) GTEST_SKIP() << "ROBUSTMSA_BIN is not set";
    // 12 train, 6 valid, 6 test transcripts (MMSA-FET's id,text,label,mode layout).
    const char* words[] = {"great", "awful", "fine", "boring", "lovely", "terrible"};
    const double labels[] = {2.4, -2.2, 0.6, -1.4, 2.0, -2.8};
    std::ofstream csv(dir_ / "label.csv");
    csv << "id,text,label,mode\n";
    for (int i = 0; i < 24; ++i) {
      const char* mode = i < 12 ? "train" : i < 18 ? "valid" : "test";
      csv << "s" << i << ",\"the movie was " << words[i % 6] << (i % 4 == 0 ? " and long" : "")
          << "\"," << labels[i % 6] << "," << mode << "\n";
    }
    csv.close();
    data_ = dir_ / "text.pkl";
    CliResult r = run_cli("features --csv " + (dir_ / "label.csv") + " --text-encoder " + model_ +
                          " --out " + data_ + " --max-length 12 --threads 1");
    ASSERT_EQ(r.code, 0) << r.err;
  }

  // A two-epoch lf_dnn run with the encoder fine-tuned at a rate that visibly moves it.
  std::string train(const std::string& out, const std::string& extra = "") const {
    return "train --data " + data_ + " --model lf_dnn --text-encoder " + model_ +
           " --finetune-text --seeds 1111 --threads 1 --set train.epochs=2 --set train.patience=0"
           " --set train.batch_size=4 --set train.text_lr=1e-3 --out " +
           out + extra;
  }

  static nlohmann::json conditions(const std::string& run) {
    auto j = nlohmann::json::parse(test_util::slurp(run + "/seed_1111/results.json"));
    return j.at("conditions");
  }

  test_util::TempDir dir_;
  std::string model_, data_;
};

TEST_F(TextFinetune, TrainsTheEncoderAndEveryCommandUsesTheTunedWeights) {
  const std::string run = dir_ / "run";
  CliResult r = run_cli(train(run));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("fine-tuned with the model"), std::string::npos) << r.err;

  // The checkpoint holds the encoder, and its selected weights moved away from the folder's.
  Checkpoint ckpt = read_checkpoint(run + "/seed_1111/checkpoint.pt");
  BertEncoder original = load_bert(model_);
  int64_t encoder_tensors = 0;
  double moved = 0;
  for (const auto& [name, t] : ckpt.best) {
    if (name.rfind("text_encoder.", 0) != 0) continue;
    ++encoder_tensors;
    for (const auto& p : original->named_parameters())
      if ("text_encoder." + p.key() == name) moved += (t - p.value()).abs().max().item<double>();
  }
  EXPECT_EQ(encoder_tensors, static_cast<int64_t>(original->named_parameters().size()));
  EXPECT_GT(moved, 0.0);
  EXPECT_EQ(ckpt.meta["run"]["config"]["data"]["text_finetune"], true);

  // `eval` reproduces the run's test results exactly, so it used the tuned weights (the folder's
  // weights give other predictions, and eval would then keep the old file and write .new).
  r = run_cli("eval --run " + run + "/seed_1111 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(run + "/seed_1111/results.json.new")) << r.err;

  // The same command again gives the same results (CPU determinism with the encoder training).
  const std::string again = dir_ / "again";
  r = run_cli(train(again));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(conditions(again), conditions(run));

  // predict --text scores with the tuned encoder; features from elsewhere are refused.
  r = run_cli("predict --run " + run + "/seed_1111 --text \"the movie was great\" --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = nlohmann::json::parse(r.out);
  ASSERT_EQ(out.at("predictions").size(), 1u) << r.out;
  r = run_cli("predict --run " + run + "/seed_1111 --input " + data_);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("fine-tuned its text encoder"), std::string::npos) << r.err;
}

TEST_F(TextFinetune, ResumedRunEndsAsTheUninterruptedOne) {
  const std::string ref = dir_ / "ref";
  CliResult r = run_cli(train(ref));
  ASSERT_EQ(r.code, 0) << r.err;
  // Stopped at epoch 2 step 1 (a NaN gradient before the step), resumed from epoch 1's
  // checkpoint: both optimiser groups (train.lr and train.text_lr) come back with their state.
  const std::string run = dir_ / "run";
  r = run_cli(train(run), "ROBUSTMSA_FAULT_NAN_GRAD=2:1 ");
  ASSERT_EQ(r.code, 1) << r.err;
  r = run_cli(train(run, " --resume"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(conditions(run), conditions(ref));
}

TEST_F(TextFinetune, FrozenEncoderStaysOutOfTheCheckpointAndFinetuneNeedsAnEncoder) {
  const std::string run = dir_ / "frozen";
  CliResult r = run_cli("train --data " + data_ + " --model lf_dnn --text-encoder " + model_ +
                        " --seeds 1111 --threads 1 --set train.epochs=1 --out " + run);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("(frozen)"), std::string::npos) << r.err;
  Checkpoint ckpt = read_checkpoint(run + "/seed_1111/checkpoint.pt");
  for (const auto& [name, t] : ckpt.best) EXPECT_NE(name.rfind("text_encoder.", 0), 0u) << name;

  r = run_cli("train --data " + data_ + " --model lf_dnn --finetune-text --seeds 1111 --out " +
              (dir_ / "none"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("data.text_finetune = true needs data.text_encoder"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace robustmsa

// The experiment configuration (src/config/experiment.h): sections, model options, resets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/experiment.h"
#include "util/error.h"

namespace robustmsa {
namespace {

// JSON objects iterate in key order, so "heads" and "levels" come before "name": they must
// survive the switch to the named model (a saved run of `mult:levels=2` must reload with 2 levels).
TEST(ExperimentConfig, ModelOptionsBesideANewNameAreKept) {
  ExperimentConfig c;
  ASSERT_EQ(c.model, "umdf");
  c.apply_json(
      nlohmann::json::parse(R"({"model": {"heads": 5, "levels": 2, "name": "mult", "width": 50}})"),
      "test.json");
  EXPECT_EQ(c.model, "mult");
  EXPECT_EQ(c.model_options.value("heads", 0), 5);
  EXPECT_EQ(c.model_options.value("levels", 0), 2);
  EXPECT_EQ(c.model_options.value("width", 0), 50);
}

TEST(ExperimentConfig, ANewModelNameDropsTheOptionsOfThePreviousModel) {
  ExperimentConfig c;
  c.apply_json(nlohmann::json::parse(R"({"model": {"alpha": 0.5}})"), "a.json");
  EXPECT_TRUE(c.model_options.contains("alpha"));
  c.apply_json(nlohmann::json::parse(R"({"model": {"name": "mult", "heads": 5}})"), "b.json");
  EXPECT_FALSE(c.model_options.contains("alpha"));
  EXPECT_EQ(c.model_options.value("heads", 0), 5);
  // The same name again keeps what was set.
  c.apply_json(nlohmann::json::parse(R"({"model": {"name": "mult", "levels": 3}})"), "c.json");
  EXPECT_EQ(c.model_options.value("heads", 0), 5);
  EXPECT_EQ(c.model_options.value("levels", 0), 3);
}

TEST(ExperimentConfig, ModelNameMustBeAString) {
  ExperimentConfig c;
  try {
    c.apply_json(nlohmann::json::parse(R"({"model": {"name": 3}})"), "bad.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.name"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace robustmsa

#include "run/config_layers.h"

#include <sstream>

#include "data/protocol.h"
#include "util/error.h"

namespace robustmsa {

ExperimentConfig resolve_config(const ConfigLayers& layers, const std::string& model) {
  ExperimentConfig cfg;
  if (!model.empty()) cfg.model = model;
  for (const auto& c : layers.configs) {
    cfg.apply_json(read_config_file(c), c);
    validate_config(cfg, c);  // a bad eval.suite names the file that set it
  }
  if (!model.empty() && cfg.model != model) {
    cfg.model = model;
    cfg.model_options = nlohmann::json::object();
  }
  if (!layers.data.empty()) cfg.data.path = layers.data;
  if (!layers.text_encoder.empty()) cfg.data.text_encoder = layers.text_encoder;
  if (layers.finetune_text) cfg.data.text_finetune = true;
  for (const auto& s : layers.sets) cfg.apply_set(s);
  if (!layers.seeds.empty()) cfg.train.seeds = parse_seeds(layers.seeds);
  if (layers.threads >= 0) cfg.train.threads = layers.threads;
  validate_config(cfg);
  return cfg;
}

void validate_config(const ExperimentConfig& config, const std::string& source) {
  config.train.validate();
  if (find_suite(config.eval.suite) != nullptr) return;
  const std::vector<std::string>& names = suite_names();
  std::string known;  // "paper, mmsa or gcnet"
  for (std::size_t i = 0; i < names.size(); ++i)
    known += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  throw ConfigError(str(source.empty() ? std::string() : str("config '", source, "': "),
                        "config key 'eval.suite': expected ", known, ", found ",
                        config.eval.suite));
}

std::vector<int64_t> parse_seeds(const std::string& text) {
  std::vector<int64_t> out;
  try {
    if (text.find(',') == std::string::npos) {
      int64_t n = std::stoll(text);
      if (n < 1) throw std::invalid_argument("count");
      if (n >= 1000) return {n};  // one seed (seeds are 1111-style numbers)
      for (int64_t i = 0; i < n; ++i) out.push_back(1111 + i);
      return out;
    }
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ',')) out.push_back(std::stoll(part));
  } catch (const std::exception&) {
    throw UsageError(
        str("--seeds '", text,
            "': expected a count below 1000, one seed (>= 1000) or a comma-separated list"));
  }
  return out;
}

}  // namespace robustmsa

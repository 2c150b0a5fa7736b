#include "config/experiment.h"

#include "util/error.h"
#include "util/fs.h"

namespace robustmsa {

namespace {

bool is_comment(const std::string& key) {
  return key.rfind("//", 0) == 0 || key.rfind("_comment", 0) == 0;
}

nlohmann::json strip_comments(const nlohmann::json& j) {
  if (!j.is_object()) return j;
  nlohmann::json out = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!is_comment(it.key())) out[it.key()] = it.value();
  return out;
}

}  // namespace

nlohmann::json read_config_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const DataError& e) {
    throw ConfigError(str("config file: ", e.what()));
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(str("config file '", path, "': byte offset ", e.byte,
                          ": invalid JSON; expected a JSON object (", e.what(), ")"));
  }
}

void ExperimentConfig::apply_json(const nlohmann::json& raw, const std::string& source) {
  if (!raw.is_object())
    throw ConfigError(str("config '", source, "': expected a JSON object at the top level"));
  nlohmann::json j = strip_comments(raw);
  // Section errors name the key; the prefix adds the file they came from.
  const auto in_source = [&](auto& options, const nlohmann::json& section, const char* name) {
    try {
      options_from_json(options, section, name);
    } catch (const ConfigError& e) {
      throw ConfigError(str("config '", source, "': ", e.what()));
    }
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json section = strip_comments(it.value());
    if (key == "data") {
      in_source(data, section, "data");
    } else if (key == "train") {
      in_source(train, section, "train");
    } else if (key == "eval") {
      in_source(eval, section, "eval");
    } else if (key == "missing") {
      if (!section.is_object())
        throw ConfigError(str("config '", source, "': section 'missing': expected an object"));
      for (auto m = section.begin(); m != section.end(); ++m) missing[m.key()] = m.value();
    } else if (key == "model") {
      if (!section.is_object())
        throw ConfigError(str("config '", source, "': section 'model': expected an object"));
      // "name" first: JSON objects iterate in key order, and a new model name resets the options
      // of the previous model — it must not drop the options listed beside it.
      if (section.contains("name")) {
        const nlohmann::json& name = section.at("name");
        if (!name.is_string())
          throw ConfigError(str("config '", source, "': key 'model.name': expected a string"));
        if (name.get<std::string>() != model) model_options = nlohmann::json::object();
        model = name.get<std::string>();
      }
      for (auto m = section.begin(); m != section.end(); ++m)
        if (m.key() != "name") model_options[m.key()] = m.value();
    } else {
      throw ConfigError(str("config '", source, "': unknown section '", key,
                            "'; expected one of: data, model, train, missing, eval"));
    }
  }
}

void ExperimentConfig::apply_set(const std::string& assignment) {
  auto eq = assignment.find('=');
  auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq)
    throw UsageError(
        str("--set '", assignment, "': expected section.key=value, e.g. train.lr=1e-3"));
  std::string section = assignment.substr(0, dot);
  std::string key = assignment.substr(dot + 1, eq - dot - 1);
  std::string value = assignment.substr(eq + 1);
  if (section == "data") {
    set_option(data, key, value, "data");
  } else if (section == "train") {
    set_option(train, key, value, "train");
  } else if (section == "eval") {
    set_option(eval, key, value, "eval");
  } else if (section == "model" || section == "missing") {
    nlohmann::json parsed;
    try {
      parsed = nlohmann::json::parse(value);
    } catch (const nlohmann::json::exception&) {
      parsed = value;  // a bare word is a string
    }
    if (section == "missing") {
      missing[key] = parsed;
    } else if (key == "name") {
      if (value != model) model_options = nlohmann::json::object();
      model = value;
    } else {
      model_options[key] = parsed;
    }
  } else {
    throw UsageError(str("--set '", assignment, "': unknown section '", section,
                         "'; expected one of: data, model, train, missing, eval"));
  }
}

nlohmann::json ExperimentConfig::to_json() const {
  nlohmann::json model_json = model_options;
  model_json["name"] = model;
  return {{"data", options_to_json(data)},
          {"model", model_json},
          {"train", options_to_json(train)},
          {"missing", missing},
          {"eval", options_to_json(eval)}};
}

}  // namespace robustmsa

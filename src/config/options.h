// Options declared once. Every options struct lists each field exactly once in a visit() method
// with its name and help text; the default is the member initialiser. The visitors below give
// JSON loading (unknown keys and wrong types are errors), `--set key=value` overrides, the
// resolved JSON (--dump-config, run directories, checkpoints) and help text.
//
//   struct FooOptions {
//     int64_t width = 40;  // default lives here, once
//     bool dfim = true;
//     template <class V> void visit(V& v) {
//       v("width", width, "hidden width d of every encoder");
//       v("dfim", dfim, "dynamic feature integration module on/off");
//     }
//     void validate() const { require(width > 0, "width", width, "a positive integer"); }
//   };
//   FooOptions o;
//   options_from_json(o, j, "model");            // ConfigError on unknown key / wrong type
//   set_option(o, "width", "64", "model");       // from --set model.width=64
//   nlohmann::json resolved = options_to_json(o);
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "util/error.h"

namespace robustmsa {

namespace options_detail {

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "a boolean";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "an integer";
  else if constexpr (std::is_same_v<T, double>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return "a list of integers";
  else if constexpr (std::is_same_v<T, std::vector<double>>)
    return "a list of numbers";
  else
    return "a list of strings";
}

inline std::string json_kind(const nlohmann::json& j) {
  if (j.is_boolean()) return "boolean " + j.dump();
  if (j.is_number_integer() || j.is_number_unsigned()) return "integer " + j.dump();
  if (j.is_number_float()) return "number " + j.dump();
  if (j.is_string()) return "string " + j.dump();
  if (j.is_array()) return "list " + j.dump();
  if (j.is_object()) return "object";
  return "null";
}

// Converts one JSON value to T exactly (no silent narrowing: 1.5 is not an integer, "1" is not a
// number). Throws ConfigError naming `where`.
template <class T>
T convert(const nlohmann::json& j, const std::string& where) {
  auto fail = [&]() -> T {
    throw ConfigError(
        str("config key '", where, "': expected ", type_name<T>(), ", found ", json_kind(j)));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return fail();
    return j.get<bool>();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (j.is_number_integer() || j.is_number_unsigned()) return j.get<int64_t>();
    return fail();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!j.is_number()) return fail();
    return j.get<double>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return fail();
    return j.get<std::string>();
  } else {
    if (!j.is_array()) return fail();
    T out;
    for (std::size_t i = 0; i < j.size(); ++i)
      out.push_back(convert<typename T::value_type>(j[i], str(where, "[", i, "]")));
    return out;
  }
}

// Parses the text of a --set value as JSON when it is valid JSON, else as a bare string, and
// converts it to T. "true", "3", "1e-3", "[1,2]" and "umdf" all work.
template <class T>
T parse_text(const std::string& text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    j = text;
  }
  if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) j = text;  // --set name=123 is the string "123"
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!j.is_array()) {  // comma-separated list
      std::vector<std::string> parts;
      std::stringstream ss(text);
      std::string part;
      while (std::getline(ss, part, ',')) parts.push_back(part);
      return parts;
    }
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                       std::is_same_v<T, std::vector<double>>) {
    if (!j.is_array()) {
      nlohmann::json arr = nlohmann::json::array();
      std::stringstream ss(text);
      std::string part;
      while (std::getline(ss, part, ',')) {
        try {
          arr.push_back(nlohmann::json::parse(part));
        } catch (const nlohmann::json::exception&) {
          arr.push_back(part);
        }
      }
      j = arr;
    }
  }
  return convert<T>(j, where);
}

struct ToJson {
  nlohmann::json* out;
  template <class T>
  void operator()(const char* name, T& value, const char*) {
    (*out)[name] = value;
  }
};

struct FromJson {
  const nlohmann::json* in;
  std::string prefix;
  std::set<std::string> seen;
  template <class T>
  void operator()(const char* name, T& value, const char*) {
    auto it = in->find(name);
    if (it == in->end()) return;
    seen.insert(name);
    value = convert<T>(*it, prefix + name);
  }
};

struct Setter {
  std::string key, text, prefix;
  bool found = false;
  template <class T>
  void operator()(const char* name, T& value, const char*) {
    if (key != name) return;
    found = true;
    value = parse_text<T>(text, prefix + name);
  }
};

struct Names {
  std::vector<std::string> names;
  template <class T>
  void operator()(const char* name, T&, const char*) {
    names.push_back(name);
  }
};

struct Help {
  std::ostringstream* out;
  std::string prefix;
  template <class T>
  void operator()(const char* name, T& value, const char* help) {
    *out << "  " << prefix << name << " (" << type_name<T>() << ", default "
         << nlohmann::json(value).dump() << ")\n      " << help << "\n";
  }
};

}  // namespace options_detail

template <class Options>
nlohmann::json options_to_json(const Options& options) {
  nlohmann::json out = nlohmann::json::object();
  options_detail::ToJson v{&out};
  const_cast<Options&>(options).visit(v);  // visit() only reads through ToJson
  return out;
}

inline std::string join_prefix(const std::string& section) {
  return section.empty() ? std::string() : section + ".";
}

// Reads the keys present in `j` into `options` (absent keys keep their current value), then
// validates. Unknown keys and wrong types throw ConfigError naming "<section>.<key>".
template <class Options>
void options_from_json(Options& options, const nlohmann::json& j, const std::string& section) {
  if (!j.is_object())
    throw ConfigError(str("config section '", section, "': expected an object, found ",
                          options_detail::json_kind(j)));
  options_detail::FromJson v{&j, join_prefix(section), {}};
  options.visit(v);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!v.seen.count(it.key())) {
      options_detail::Names names;
      options.visit(names);
      std::string known;
      for (const auto& n : names.names) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError(str("config: unknown key '", join_prefix(section), it.key(),
                            "'; expected one of: ", known));
    }
  }
  options.validate();
}

// Sets one option from text (the value part of --set section.key=value), then validates.
template <class Options>
void set_option(Options& options, const std::string& key, const std::string& text,
                const std::string& section) {
  options_detail::Setter v{key, text, join_prefix(section)};
  options.visit(v);
  if (!v.found) {
    options_detail::Names names;
    options.visit(names);
    std::string known;
    for (const auto& n : names.names) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError(
        str("--set: unknown key '", join_prefix(section), key, "'; expected one of: ", known));
  }
  options.validate();
}

template <class Options>
std::string options_help(const std::string& section) {
  Options defaults;
  std::ostringstream out;
  options_detail::Help v{&out, join_prefix(section)};
  defaults.visit(v);
  return out.str();
}

// Throws ConfigError "config key '<key>': expected <expected>, found <value>" unless ok.
template <class T>
void require(bool ok, const std::string& key, const T& found, const std::string& expected) {
  if (!ok) throw ConfigError(str("config key '", key, "': expected ", expected, ", found ", found));
}

}  // namespace robustmsa

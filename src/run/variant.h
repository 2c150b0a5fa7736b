// Model variants as compare, sweep and the reports name them (torch-free): "umdf" or
// "umdf:distill=false,coarse=false" — a registered model and model options set on top of the
// configuration. A variant's label names its rows in the reports; slug(label) is its directory.
//
// Usage:
//   std::vector<robustmsa::Variant> v =
//       robustmsa::parse_variants("umdf,umdf:distill=false,mult", robustmsa::model_names());
//   std::string dir = robustmsa::seed_dir(out + "/" + robustmsa::slug(v[1].label), 1111);
#pragma once

#include <string>
#include <vector>

namespace robustmsa {

struct Variant {
  std::string label;              // "umdf:distill=false,fine=false"
  std::string model;              // "umdf"
  std::vector<std::string> sets;  // "model.distill=false", "model.fine=false"
};

// Parses a comma-separated list of variants. "all" stands for every name of `models` (the
// registry's, in its order); "k=v" after a variant continues that variant's option list. UsageError
// for a name not in `models`, an option before any model, or an empty list.
std::vector<Variant> parse_variants(const std::string& text,
                                    const std::vector<std::string>& models);

// UsageError("unknown model 'x'; expected one of: a, b, ...") — the message of every lookup of a
// model name the user typed (nn/model.h find_model, parse_variants).
[[noreturn]] void throw_unknown_model(const std::string& name,
                                      const std::vector<std::string>& models);

// A label as a directory name: letters, digits, '-' and '_' kept, '=' -> '-', anything else '_'.
std::string slug(const std::string& label);

}  // namespace robustmsa

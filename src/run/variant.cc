#include "run/variant.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "util/error.h"

namespace robustmsa {

std::vector<Variant> parse_variants(const std::string& text,
                                    const std::vector<std::string>& models) {
  std::vector<Variant> out;
  std::stringstream ss(text);
  std::string token;
  while (std::getline(ss, token, ',')) {
    if (token.empty()) continue;
    if (token == "all") {
      for (const auto& name : models) out.push_back({name, name, {}});
      continue;
    }
    auto colon = token.find(':');
    if (colon == std::string::npos && token.find('=') != std::string::npos) {
      // "coarse=false" continues the previous variant's option list.
      if (out.empty())
        throw UsageError(str("--models '", text, "': option '", token, "' before any model name"));
      out.back().label += "," + token;
      out.back().sets.push_back("model." + token);
      continue;
    }
    Variant v;
    v.label = token;
    v.model = token.substr(0, colon);
    if (std::find(models.begin(), models.end(), v.model) == models.end())
      throw_unknown_model(v.model, models);
    if (colon != std::string::npos) v.sets.push_back("model." + token.substr(colon + 1));
    out.push_back(v);
  }
  if (out.empty()) throw UsageError("--models: expected at least one model name (or 'all')");
  return out;
}

void throw_unknown_model(const std::string& name, const std::vector<std::string>& models) {
  std::string known;
  for (const auto& m : models) known += (known.empty() ? "" : ", ") + m;
  throw UsageError(str("unknown model '", name, "'; expected one of: ", known));
}

std::string slug(const std::string& label) {
  std::string s;
  for (char c : label)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
             ? c
             : (c == '=' ? '-' : '_');
  return s;
}

}  // namespace robustmsa

#include "data/protocol.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/error.h"

namespace robustmsa {

namespace {

constexpr uint64_t kHashInit = 0x6A09E667F3BCC909ULL;

// The largest missing rate modality_drop can realise: two of three modalities per sample.
constexpr double kMaxRealisedMissingRate = 2.0 / 3.0;
// DESIGN §3: MR in [0, 0.7] (the GCNet grid).
constexpr double kMaxModalityDrop = 0.7;

const char* kAcceptedForms =
    "expected one of: complete; condition:l,a (a non-empty subset of l,a,v; report name "
    "\"{l,a}\"); frame:P (0 <= P <= 1; \"frame=P\"); frame_rate:R or frame_rate:R_l,R_a,R_v (each "
    "in [0, 1]; \"rate=R\"); modality_drop:MR (0 <= MR <= 0.7; \"MR=MR\")";

inline uint64_t fold(uint64_t h, uint64_t w) { return hash_mix(h + kGoldenGamma + w); }

[[noreturn]] void bad_spec(const std::string& spec, const std::string& problem) {
  throw UsageError(str("condition '", spec, "': ", problem, "; ", kAcceptedForms));
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = s.find(',', start);
    out.push_back(
        trim(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Strict number: the whole text must be a finite decimal number.
double parse_number(const std::string& spec, const std::string& text, const char* what) {
  if (text.empty()) bad_spec(spec, str(what, " is missing"));
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v))
    bad_spec(spec, str(what, " '", text, "' is not a finite number"));
  return v;
}

void check_rate(double x, const char* what, double hi, const std::string& spec) {
  if (!(x >= 0.0 && x <= hi))
    bad_spec(spec, str(what, " ", format_rate(x), " is outside [0, ", format_rate(hi), "]"));
}

std::string letters_of(const std::array<bool, 3>& present) {
  std::string out;
  for (int m = 0; m < 3; ++m) {
    if (!present[m]) continue;
    if (!out.empty()) out += ",";
    out += kModalityLetters[m];
  }
  return out;
}

std::string rates_text(const std::array<double, 3>& r) {
  if (r[0] == r[1] && r[1] == r[2]) return format_rate(r[0]);
  return format_rate(r[0]) + "," + format_rate(r[1]) + "," + format_rate(r[2]);
}

Condition parse_subset(const std::string& spec, const std::string& list) {
  std::array<bool, 3> present{false, false, false};
  for (const std::string& tok : split_commas(list)) {
    int m = -1;
    for (int k = 0; k < 3; ++k)
      if (tok == kModalityLetters[k] || tok == kModalityNames[k]) m = k;
    if (m < 0) bad_spec(spec, str("unknown modality '", tok, "' (use l, a, v)"));
    if (present[m]) bad_spec(spec, str("modality '", tok, "' is listed twice"));
    present[m] = true;
  }
  return subset_condition(present);
}

Condition parse_rates(const std::string& spec, const std::string& list) {
  std::vector<std::string> parts = split_commas(list);
  if (parts.size() != 1 && parts.size() != 3)
    bad_spec(spec, str("frame_rate takes 1 or 3 rates, found ", parts.size()));
  std::array<double, 3> r{};
  for (int m = 0; m < 3; ++m) {
    const std::string& text = parts.size() == 1 ? parts[0] : parts[m];
    r[m] = parse_number(spec, text, "rate");
    check_rate(r[m], "rate", 1.0, spec);
  }
  return frame_rate_condition(r);
}

// The modalities modality_drop gives for sample `index` (docs/protocols.md): k = number dropped,
// E[k] = 3 * min(MR, 2/3); the dropped ones are the first k of a uniformly drawn order.
std::array<bool, 3> modality_drop_pattern(double missing_rate, uint64_t seed, int64_t index) {
  static const int kOrders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                    {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  const uint64_t i = static_cast<uint64_t>(index);
  double u_k = hash_uniform(hash_words({kTagModalityDrop, seed, i, 0}));
  double u_order = hash_uniform(hash_words({kTagModalityDrop, seed, i, 1}));
  int k = missing_rate >= kMaxRealisedMissingRate
              ? 2
              : std::min(2, static_cast<int>(std::floor(3.0 * missing_rate + u_k)));
  int order = std::min(5, static_cast<int>(std::floor(6.0 * u_order)));
  std::array<bool, 3> given{true, true, true};
  for (int j = 0; j < k; ++j) given[kOrders[order][j]] = false;
  return given;
}

void check_valid_sizes(const Split& split) {
  for (int m = 0; m < 3; ++m) {
    const ModalityData& md = split.modality[m];
    if (md.t < 0 || static_cast<int64_t>(md.valid.size()) != split.n * md.t)
      throw RunError(str("masks for split '", split.name, "': modality ", kModalityNames[m],
                         " has ", md.valid.size(), " validity entries, expected n * t = ", split.n,
                         " * ", md.t));
  }
}

void check_index(int64_t i, int64_t n, const char* where) {
  if (i < 0 || i >= n) throw RunError(str(where, ": sample index ", i, " is outside [0, ", n, ")"));
}

// Frame validity lookup: from a split, or "every frame is valid".
struct Validity {
  const Split* split = nullptr;
  bool operator()(int m, int64_t i, int64_t f) const {
    if (!split) return true;
    const ModalityData& md = split->modality[m];
    return md.valid[i * md.t + f] != 0;
  }
};

Masks uncertain_impl(const UncertainOptions& o, uint64_t seed, int64_t epoch, int64_t step,
                     const std::vector<int64_t>& indices, const std::array<int64_t, 3>& t,
                     const Validity& valid) {
  o.validate();
  // Subsets as bit sets (l = 1, a = 2, v = 4): singles, pairs, then the complete set.
  static const int kSubsets[7] = {1, 2, 4, 3, 5, 6, 7};
  const int n_subsets = o.drop_modalities ? (o.allow_complete ? 7 : 6) : 1;
  const uint64_t e = static_cast<uint64_t>(epoch), s = static_cast<uint64_t>(step);
  Masks out;
  out.n = static_cast<int64_t>(indices.size());
  out.t = t;
  for (int m = 0; m < 3; ++m) out.keep[m].assign(static_cast<std::size_t>(out.n * t[m]), 1);
  out.present.assign(static_cast<std::size_t>(out.n * 3), 0);
  for (int64_t r = 0; r < out.n; ++r) {
    const uint64_t i = static_cast<uint64_t>(indices[r]);
    int subset = 7;
    if (o.drop_modalities) {
      double u = hash_uniform(hash_words({kTagUncertain, seed, e, s, i, 0}));
      subset = kSubsets[std::min(n_subsets - 1, static_cast<int>(std::floor(u * n_subsets)))];
    }
    // A drawn subset whose modalities have no valid frame at all (e.g. {v} for a sample without
    // vision) would leave nothing: the first modality, in l, a, v order, that has frames replaces
    // it.
    auto has_frames = [&](int m) {
      for (int64_t f = 0; f < t[m]; ++f)
        if (valid(m, indices[r], f)) return true;
      return false;
    };
    bool subset_has_frames = false;
    for (int m = 0; m < 3; ++m)
      subset_has_frames = subset_has_frames || ((subset >> m & 1) && has_frames(m));
    if (!subset_has_frames) {
      for (int m = 0; m < 3; ++m)
        if (has_frames(m)) {
          subset = 1 << m;
          break;
        }
    }
    double u_rate = hash_uniform(hash_words({kTagUncertain, seed, e, s, i, 1}));
    double rate = o.min_frame_rate + u_rate * (o.max_frame_rate - o.min_frame_rate);
    // Restore candidate: first given modality with a valid frame, its valid frame of largest u.
    int restore_m = -1;
    int64_t restore_f = -1;
    double restore_u = -1.0;
    bool any_left = false;
    for (int m = 0; m < 3; ++m) {
      uint8_t* keep = out.keep[m].data() + r * t[m];
      if (!(subset & (1 << m))) {
        std::fill(keep, keep + t[m], uint8_t{0});
        continue;
      }
      const uint64_t prefix = hash_words({kTagUncertainFrame, seed, e, s, i, uint64_t(m)});
      bool any = false;
      bool candidate = restore_m < 0;
      for (int64_t f = 0; f < t[m]; ++f) {
        if (!valid(m, indices[r], f)) continue;
        double u = hash_uniform(fold(prefix, static_cast<uint64_t>(f)));
        if (candidate && u > restore_u) {
          restore_m = m;
          restore_f = f;
          restore_u = u;
        }
        if (u < rate) {
          keep[f] = 0;
        } else {
          any = true;
        }
      }
      out.present[r * 3 + m] = any ? 1 : 0;
      any_left = any_left || any;
    }
    if (!any_left && restore_m >= 0) {
      out.keep[restore_m][r * t[restore_m] + restore_f] = 1;
      out.present[r * 3 + restore_m] = 1;
    }
  }
  return out;
}

}  // namespace

uint64_t hash_words(std::initializer_list<uint64_t> words) {
  uint64_t h = kHashInit;
  for (uint64_t w : words) h = fold(h, w);
  return h;
}

std::string format_rate(double x) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s = buf;
  if (std::isfinite(x) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// ---- Condition ---------------------------------------------------------------------------------

std::string Condition::protocol() const {
  switch (kind) {
    case Kind::kComplete:
      return "complete";
    case Kind::kCondition:
      return "condition";
    case Kind::kFrame:
      return "frame";
    case Kind::kFrameRate:
      return "frame_rate";
    case Kind::kModalityDrop:
      return "modality_drop";
  }
  return "complete";
}

std::string Condition::parameter() const {
  switch (kind) {
    case Kind::kComplete:
      return "";
    case Kind::kCondition:
      return letters_of(present);
    case Kind::kFrame:
      return format_rate(rate[0]);
    case Kind::kFrameRate:
      return rates_text(rate);
    case Kind::kModalityDrop:
      return format_rate(missing_rate);
  }
  return "";
}

double Condition::realised_missing_rate() const {
  switch (kind) {
    case Kind::kCondition:
      return (3.0 - present[0] - present[1] - present[2]) / 3.0;
    case Kind::kModalityDrop:
      return std::min(missing_rate, kMaxRealisedMissingRate);
    default:
      return 0.0;
  }
}

bool operator==(const Condition& a, const Condition& b) {
  return a.name == b.name && a.kind == b.kind && a.present == b.present && a.rate == b.rate &&
         a.missing_rate == b.missing_rate;
}

Condition complete_condition() { return Condition{}; }

Condition subset_condition(const std::array<bool, 3>& present) {
  if (!present[0] && !present[1] && !present[2])
    bad_spec("condition:", "the subset of modalities is empty");
  Condition c;
  c.kind = Condition::Kind::kCondition;
  c.present = present;
  c.name = "{" + letters_of(present) + "}";
  return c;
}

Condition frame_condition(double p) {
  check_rate(p, "frame ratio", 1.0, "frame:" + format_rate(p));
  Condition c;
  c.kind = Condition::Kind::kFrame;
  c.rate = {p, p, p};
  c.name = "frame=" + format_rate(p);
  return c;
}

Condition frame_rate_condition(const std::array<double, 3>& r) {
  for (double x : r) check_rate(x, "rate", 1.0, "frame_rate:" + rates_text(r));
  Condition c;
  c.kind = Condition::Kind::kFrameRate;
  c.rate = r;
  c.name = "rate=" + rates_text(r);
  return c;
}

Condition modality_drop_condition(double mr) {
  check_rate(mr, "missing rate MR", kMaxModalityDrop, "modality_drop:" + format_rate(mr));
  Condition c;
  c.kind = Condition::Kind::kModalityDrop;
  c.missing_rate = mr;
  c.name = "MR=" + format_rate(mr);
  return c;
}

Condition parse_condition(const std::string& raw) {
  const std::string spec = trim(raw);
  auto after = [&](const std::string& prefix) -> const char* {
    return spec.compare(0, prefix.size(), prefix) == 0 ? spec.c_str() + prefix.size() : nullptr;
  };
  if (spec == "complete") return complete_condition();
  if (const char* rest = after("condition:")) return parse_subset(raw, rest);
  if (spec.size() >= 2 && spec.front() == '{' && spec.back() == '}')
    return parse_subset(raw, spec.substr(1, spec.size() - 2));
  const char* rest = nullptr;
  if ((rest = after("frame_rate:")) || (rest = after("rate="))) return parse_rates(raw, rest);
  if ((rest = after("frame:")) || (rest = after("frame="))) {
    double p = parse_number(raw, rest, "frame ratio");
    check_rate(p, "frame ratio", 1.0, raw);
    return frame_condition(p);
  }
  if ((rest = after("modality_drop:")) || (rest = after("MR="))) {
    double mr = parse_number(raw, rest, "missing rate MR");
    check_rate(mr, "missing rate MR", kMaxModalityDrop, raw);
    return modality_drop_condition(mr);
  }
  bad_spec(raw, "unknown protocol");
}

namespace {

// A suite's grid table and its curve.
void set_grid(Suite& s, const char* prefix, const char* table, const char* title,
              const char* header, const char* curve_id, const char* x_label) {
  s.grid_prefix = prefix;
  s.grid_table = table;
  s.grid_title = title;
  s.grid_header = header;
  s.curve_id = curve_id;
  s.curve_x_label = x_label;
}

std::vector<Suite> make_suites() {
  Suite paper;
  paper.name = "paper";
  paper.protocol_description =
      "complete; `condition` {l}, {a}, {v}, {l,a}, {l,v}, {a,v} (only the listed modalities "
      "present for every sample) and their Avg; `frame` p (every valid frame of every "
      "modality dropped independently with probability p)";
  paper.conditions.push_back(complete_condition());
  // The six incomplete conditions in the UMDF/CorrKD table order.
  const std::array<std::array<bool, 3>, 6> subsets = {{{true, false, false},
                                                       {false, true, false},
                                                       {false, false, true},
                                                       {true, true, false},
                                                       {true, false, true},
                                                       {false, true, true}}};
  for (const auto& s : subsets) {
    paper.conditions.push_back(subset_condition(s));
    paper.averaged.push_back(paper.conditions.back().name);
  }
  paper.selection = paper.conditions;  // complete and the six conditions
  for (int k = 1; k <= 10; ++k) paper.conditions.push_back(frame_condition(k / 10.0));
  paper.fixed_title = "Missing modalities (only the listed modalities present)";
  paper.fixed_keys = paper.averaged;
  paper.fixed_keys.push_back("Avg");
  paper.fixed_keys.push_back("complete");
  paper.fixed_columns = paper.averaged;
  paper.fixed_columns.push_back("Avg");
  paper.fixed_columns.push_back("{l,a,v}");
  set_grid(paper, "frame=", "frame",
           "Frame-level missing (each valid frame dropped with probability p)", "p=", "frame_curve",
           "frame drop ratio p");
  paper.reported_tables = true;

  Suite mmsa;
  mmsa.name = "mmsa";
  mmsa.protocol_description =
      "`frame_rate` with equal rates r for text, audio and vision (MMSA's rule: text "
      "tokens replaced, [CLS] and the last token kept), AUILC over the rates";
  for (int k = 0; k <= 9; ++k) {
    double r = k / 10.0;
    mmsa.conditions.push_back(frame_rate_condition({r, r, r}));
  }
  set_grid(mmsa, "rate=", "rate", "Random missing rate r (frame_rate, equal rates), with AUILC",
           "r=", "rate_curve", "missing rate r");
  mmsa.auilc = true;
  mmsa.selection = {complete_condition()};

  Suite gcnet;
  gcnet.name = "gcnet";
  gcnet.protocol_description =
      "`modality_drop` MR: whole modalities dropped per sample so that a fraction MR of the "
      "(sample, modality) slots is missing, never all three";
  for (int k = 0; k <= 7; ++k) gcnet.conditions.push_back(modality_drop_condition(k / 10.0));
  set_grid(gcnet, "MR=", "mr", "Modality drop (MR = fraction of missing sample-modality slots)",
           "MR=", "mr_curve", "missing rate MR");
  gcnet.selection = {complete_condition()};
  return {paper, mmsa, gcnet};
}

}  // namespace

const std::vector<Suite>& suites() {
  static const std::vector<Suite> all = make_suites();
  return all;
}

const Suite* find_suite(const std::string& name) {
  for (const Suite& s : suites())
    if (s.name == name) return &s;
  return nullptr;
}

const Suite& suite_named(const std::string& name) {
  if (const Suite* s = find_suite(name)) return *s;
  std::string known;
  for (const auto& s : suite_names()) known += (known.empty() ? "" : ", ") + s;
  throw UsageError(str("unknown suite '", name, "'; expected one of: ", known));
}

const std::vector<std::string>& suite_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Suite& s : suites()) out.push_back(s.name);
    return out;
  }();
  return names;
}

std::vector<Condition> suite_conditions(const std::string& suite) {
  return suite_named(suite).conditions;
}

std::vector<Condition> selection_conditions(const std::string& select_on) {
  if (select_on == "complete") return {complete_condition()};
  return suite_named(select_on).selection;
}

// ---- masks -------------------------------------------------------------------------------------

Masks make_masks(const Condition& c, const Split& split, uint64_t mask_seed) {
  std::vector<int64_t> all(static_cast<std::size_t>(split.n));
  for (int64_t i = 0; i < split.n; ++i) all[i] = i;
  return make_masks(c, split, mask_seed, all);
}

Masks make_masks(const Condition& c, const Split& split, uint64_t mask_seed,
                 const std::vector<int64_t>& indices) {
  check_valid_sizes(split);
  const bool frames = c.kind == Condition::Kind::kFrame || c.kind == Condition::Kind::kFrameRate;
  Masks out;
  out.n = static_cast<int64_t>(indices.size());
  for (int m = 0; m < 3; ++m) {
    out.t[m] = split.modality[m].t;
    out.keep[m].assign(static_cast<std::size_t>(out.n * out.t[m]), 1);
  }
  out.present.assign(static_cast<std::size_t>(out.n * 3), 0);
  for (int64_t r = 0; r < out.n; ++r) {
    const int64_t i = indices[r];
    check_index(i, split.n, "make_masks");
    std::array<bool, 3> given{true, true, true};
    if (c.kind == Condition::Kind::kCondition) given = c.present;
    if (c.kind == Condition::Kind::kModalityDrop)
      given = modality_drop_pattern(c.missing_rate, mask_seed, i);
    for (int m = 0; m < 3; ++m) {
      const int64_t t = out.t[m];
      uint8_t* keep = out.keep[m].data() + r * t;
      const uint8_t* valid = split.modality[m].valid.data() + i * t;
      if (!given[m]) {
        std::fill(keep, keep + t, uint8_t{0});
        continue;
      }
      const double rate = frames ? c.rate[m] : 0.0;
      bool any = false;
      if (rate > 0.0) {
        const uint64_t prefix =
            hash_words({kTagFrame, mask_seed, static_cast<uint64_t>(i), uint64_t(m)});
        for (int64_t f = 0; f < t; ++f) {
          if (!valid[f]) continue;
          if (hash_uniform(fold(prefix, static_cast<uint64_t>(f))) < rate) {
            keep[f] = 0;
          } else {
            any = true;
          }
        }
      } else {
        any = std::any_of(valid, valid + t, [](uint8_t v) { return v != 0; });
      }
      out.present[r * 3 + m] = any ? 1 : 0;
    }
  }
  return out;
}

// ---- uncertain missing (training) --------------------------------------------------------------

void UncertainOptions::validate() const {
  require(min_frame_rate >= 0.0 && min_frame_rate <= 1.0, "missing.min_frame_rate", min_frame_rate,
          "a number in [0, 1]");
  require(max_frame_rate >= min_frame_rate && max_frame_rate <= 1.0, "missing.max_frame_rate",
          max_frame_rate, str("a number in [min_frame_rate = ", min_frame_rate, ", 1]"));
}

Masks uncertain_masks(const UncertainOptions& options, uint64_t run_seed, int64_t epoch,
                      int64_t step, const std::vector<int64_t>& indices,
                      const std::array<int64_t, 3>& t) {
  for (int m = 0; m < 3; ++m)
    if (t[m] < 0)
      throw RunError(
          str("uncertain_masks: modality ", kModalityNames[m], " has ", t[m], " frames"));
  return uncertain_impl(options, run_seed, epoch, step, indices, t, Validity{});
}

Masks uncertain_masks(const UncertainOptions& options, uint64_t run_seed, int64_t epoch,
                      int64_t step, const std::vector<int64_t>& indices, const Split& split) {
  check_valid_sizes(split);
  for (int64_t i : indices) check_index(i, split.n, "uncertain_masks");
  std::array<int64_t, 3> t{split.modality[0].t, split.modality[1].t, split.modality[2].t};
  return uncertain_impl(options, run_seed, epoch, step, indices, t, Validity{&split});
}

}  // namespace robustmsa

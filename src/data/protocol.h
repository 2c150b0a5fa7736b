// Missing-modality protocols (DESIGN §3; docs/protocols.md): a condition such as "{l,a}",
// "frame=0.3", "rate=0.2" or "MR=0.5" turns a split into keep/present masks. Every mask bit is a
// pure function of (protocol, seed, sample index, modality, frame) computed with a counter-based
// hash, so masks never depend on batch size, batch order, thread count or machine: two models are
// always compared on identical inputs. The hash is specified in docs/protocols.md so that other
// programs (tests/python/check_synth.py) can reproduce every mask bit.
//
// Usage:
//   robustmsa::Condition c = robustmsa::parse_condition("frame:0.3");       // or "frame=0.3"
//   robustmsa::Masks m = robustmsa::make_masks(c, ds.split(SplitId::kTest), /*mask_seed=*/0);
//   bool use = m.kept(kAudio, row, frame) && split.modality[kAudio].valid[row * t + frame];
//   for (const auto& c : robustmsa::suite_conditions("paper")) { ... }        // 17 conditions
//
//   // Training-time uncertain missing (UMDF): fresh holes at every step, resume-safe.
//   robustmsa::Masks u = robustmsa::uncertain_masks(opts, run_seed, epoch, step, batch_rows,
//   split);
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "config/options.h"
#include "data/dataset.h"
#include "util/hash.h"

namespace robustmsa {

// One evaluation condition of a protocol (DESIGN §3).
struct Condition {
  // Report name: "complete", "{l}", "{l,a}", "frame=0.3", "rate=0.2" (or "rate=0.1,0.2,0.3"
  // when the three rates differ), "MR=0.5".
  std::string name = "complete";
  enum class Kind {
    kComplete,
    kCondition,
    kFrame,
    kFrameRate,
    kModalityDrop
  } kind = Kind::kComplete;
  std::array<bool, 3> present{true, true, true};  // kCondition: which modalities are given
  std::array<double, 3> rate{0, 0, 0};            // kFrame (all equal) / kFrameRate: drop rates
  double missing_rate = 0;                        // kModalityDrop: MR as requested

  // "complete", "condition", "frame", "frame_rate", "modality_drop".
  std::string protocol() const;
  // "" (complete), "l,a" (condition), "0.3" (frame), "0.2" or "0.1,0.2,0.3" (frame_rate),
  // "0.5" (modality_drop). parse_condition(protocol() + ":" + parameter()) gives back *this.
  std::string parameter() const;
  // The fraction of (sample, modality) slots modality_drop actually removes in expectation:
  // min(MR, 2/3), because at least one modality is always kept (docs/protocols.md).
  double realised_missing_rate() const;
};
bool operator==(const Condition& a, const Condition& b);
inline bool operator!=(const Condition& a, const Condition& b) { return !(a == b); }

// Builders; each validates its parameter and throws UsageError like parse_condition.
Condition complete_condition();
Condition subset_condition(const std::array<bool, 3>& present);  // non-empty: "{l,a}"
Condition frame_condition(double p);                             // p in [0, 1]: "frame=0.3"
Condition frame_rate_condition(const std::array<double, 3>& r);  // each in [0, 1]: "rate=0.2"
Condition modality_drop_condition(double mr);                    // MR in [0, 0.7]: "MR=0.5"

// Parses "complete", "condition:l,a", "frame:0.3", "frame_rate:0.2", "frame_rate:0.1,0.2,0.3",
// "modality_drop:0.3", and the report names ("{l,a}", "frame=0.3", "rate=0.2", "MR=0.3").
// Throws UsageError naming the spec and listing the accepted forms.
Condition parse_condition(const std::string& spec);

// An evaluation suite (DESIGN §3): the one description of what it evaluates, how the reports lay
// it out, what the trainer selects on and whether the papers' reported tables follow it. Used by
// the protocols, the trainer, the reports and the reported numbers alike.
//   "paper": complete, {l}, {a}, {v}, {l,a}, {l,v}, {a,v}, frame=0.1 ... 1.0  (17 conditions)
//   "mmsa":  rate=0.0 ... 0.9 (frame_rate with equal rates)                    (10 conditions)
//   "gcnet": MR=0.0 ... 0.7 (modality_drop)                                     (8 conditions)
struct Suite {
  std::string name;
  std::string protocol_description;   // one sentence for report.md
  std::vector<Condition> conditions;  // evaluated on the test split, in this order
  // The fixed table (paper): keys are condition names and the derived "Avg" (per seed, the mean of
  // `averaged`), shown under `fixed_columns`; empty for suites without one.
  std::string fixed_title;
  std::vector<std::string> fixed_keys;     // {l} ... {a,v}, Avg, complete
  std::vector<std::string> fixed_columns;  // {l} ... {a,v}, Avg, {l,a,v}
  std::vector<std::string> averaged;       // the six incomplete conditions
  // The grid table and its curve: conditions named <grid_prefix><value>, sorted by value.
  std::string grid_prefix;  // "frame=", "rate=", "MR="
  std::string grid_table;   // table id: "frame", "rate", "mr"
  std::string grid_title;
  std::string grid_header;  // column header prefix: "p=", "r=", "MR="
  bool auilc = false;       // an AUILC column (area under metric vs rate / rate span)
  std::string curve_id;     // "frame_curve", "rate_curve", "mr_curve"
  std::string curve_x_label;
  // Validation conditions for model selection when train.select_on names this suite.
  std::vector<Condition> selection;
  // The papers' reported tables (data/reported) follow this suite's fixed table.
  bool reported_tables = false;
};

// The suites in order (paper, mmsa, gcnet); nullptr / UsageError naming the known ones for an
// unknown name.
const std::vector<Suite>& suites();
const Suite* find_suite(const std::string& name);
const Suite& suite_named(const std::string& name);
const std::vector<std::string>& suite_names();  // {"paper", "mmsa", "gcnet"}
// suite_named(suite).conditions.
std::vector<Condition> suite_conditions(const std::string& suite);
// The validation conditions of train.select_on: "complete" -> {complete}; a suite name -> that
// suite's selection set ("paper": complete and the six conditions).
std::vector<Condition> selection_conditions(const std::string& select_on);

// Masks for a set of rows of one split. Row r describes sample `index[r]` of the split.
struct Masks {
  int64_t n = 0;                             // rows
  std::array<int64_t, 3> t{0, 0, 0};         // frames per modality
  std::array<std::vector<uint8_t>, 3> keep;  // (n, t_m): 0 = frame removed by the protocol
  std::vector<uint8_t> present;              // (n, 3): 0 = modality unavailable for this row
  bool kept(int m, int64_t row, int64_t frame) const { return keep[m][row * t[m] + frame] != 0; }
  bool is_present(int64_t row, int m) const { return present[row * 3 + m] != 0; }
};

// keep = 0 for valid frames the protocol drops and for every frame (padding included) of a modality
// the protocol removes as a whole; padding frames of a modality that is given keep 1 (validity is
// separate: a model uses valid & keep). present[m] = 1 iff the modality is given and at least one
// of its valid frames survives — for every protocol, so a sample whose modality has no valid frame
// at all has present = 0 even under "complete". Reads only split.n, modality[m].t and
// modality[m].valid (not the features). Throws RunError when valid has the wrong size.
Masks make_masks(const Condition& c, const Split& split, uint64_t mask_seed);
// The same for the rows `indices` (each in [0, split.n)), in that order. Row r of the result equals
// row indices[r] of make_masks(c, split, mask_seed): masks do not depend on how rows are batched.
Masks make_masks(const Condition& c, const Split& split, uint64_t mask_seed,
                 const std::vector<int64_t>& indices);

// Training-time "uncertain" missing modalities (UMDF, DESIGN §3). Per sample and step: a random
// non-empty subset of modalities is kept (uniform over the allowed subsets) and every valid frame
// of a kept modality is dropped with one random ratio r ~ U[min_frame_rate, max_frame_rate].
struct UncertainOptions {
  bool drop_modalities = true;  // draw a random subset; false: all three are always given
  bool allow_complete = true;   // the subset {l,a,v} is among the draws (7 subsets, else 6)
  double min_frame_rate = 0.0;  // per-sample frame-drop ratio r ~ U[min, max]
  double max_frame_rate = 0.7;
  template <class V>
  void visit(V& v) {
    v("drop_modalities", drop_modalities,
      "drop whole modalities: keep a random non-empty subset per sample and step");
    v("allow_complete", allow_complete,
      "the full set {l,a,v} is one of the subsets drawn (otherwise only the 6 incomplete ones)");
    v("min_frame_rate", min_frame_rate, "lower end of the per-sample frame-drop ratio");
    v("max_frame_rate", max_frame_rate, "upper end of the per-sample frame-drop ratio");
  }
  void validate() const;
};

// Rows follow `indices` (sample indices in the split; they only seed the hash). A pure function of
// its arguments, so a resumed run draws the same holes. Never empty (docs/protocols.md): a drawn
// subset whose modalities have no valid frame at all is replaced by the first modality (l, a, v
// order) that has one; if the frame drop then removed every valid frame of every kept modality,
// the valid frame with the largest hash draw of the first kept modality is restored. Only a sample
// without any valid frame in any modality stays empty. This overload treats every frame as valid.
Masks uncertain_masks(const UncertainOptions& options, uint64_t run_seed, int64_t epoch,
                      int64_t step, const std::vector<int64_t>& indices,
                      const std::array<int64_t, 3>& t);
// The same with frame validity taken from the split (indices must be in [0, split.n)).
Masks uncertain_masks(const UncertainOptions& options, uint64_t run_seed, int64_t epoch,
                      int64_t step, const std::vector<int64_t>& indices, const Split& split);

// The counter-based hash behind every mask (and the synthetic generator's random streams).
// hash_mix is the splitmix64 finaliser; hash_words folds words left to right:
//   h = 0x6A09E667F3BCC909;  for w in words: h = hash_mix(h + 0x9E3779B97F4A7C15 + w)  (mod 2^64)
// hash_uniform(h) = (h >> 11) * 2^-53, in [0, 1).
inline uint64_t hash_mix(uint64_t x) { return splitmix64_mix(x); }  // util/hash.h
uint64_t hash_words(std::initializer_list<uint64_t> words);
inline double hash_uniform(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// Stream tags: the first word of every hashed tuple (docs/protocols.md).
constexpr uint64_t kTagFrame = 1;           // (tag, seed, index, modality, frame)
constexpr uint64_t kTagModalityDrop = 2;    // (tag, seed, index, slot) slot 0: k, slot 1: order
constexpr uint64_t kTagUncertain = 3;       // (tag, seed, epoch, step, index, slot)
constexpr uint64_t kTagUncertainFrame = 4;  // (tag, seed, epoch, step, index, modality, frame)

// Shortest decimal that reads back as x, with at least one digit after the point ("0.3", "1.0").
std::string format_rate(double x);

}  // namespace robustmsa

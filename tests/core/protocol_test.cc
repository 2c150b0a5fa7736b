// Missing-modality protocols (src/data/protocol.h, docs/protocols.md).
#include "data/protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "util/error.h"

namespace robustmsa {
namespace {

// A split with per-sample valid lengths, front padding for text and end padding for audio and
// vision, and a few samples whose vision has no valid frame at all.
Split make_split(int64_t n, std::array<int64_t, 3> t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Split s;
  s.name = "test";
  s.n = n;
  for (int m = 0; m < 3; ++m) {
    ModalityData& md = s.modality[m];
    md.n = n;
    md.t = t[m];
    md.d = 1;
    md.valid.assign(static_cast<std::size_t>(n * t[m]), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t len = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(t[m]));
      if (m == kVision && i % 17 == 5) len = 0;
      int64_t off = m == kText ? t[m] - len : 0;
      std::fill_n(md.valid.begin() + i * t[m] + off, len, uint8_t{1});
    }
  }
  return s;
}

int64_t count_valid(const Split& s, int m) {
  return std::count(s.modality[m].valid.begin(), s.modality[m].valid.end(), uint8_t{1});
}

// Number of valid frames whose keep bit is 0.
int64_t dropped_valid(const Split& s, const Masks& k, int m) {
  int64_t d = 0;
  for (std::size_t q = 0; q < k.keep[m].size(); ++q) d += s.modality[m].valid[q] && !k.keep[m][q];
  return d;
}

bool same(const Masks& a, const Masks& b) {
  return a.n == b.n && a.t == b.t && a.keep == b.keep && a.present == b.present;
}

// Row r of `sub` equals row idx[r] of `full`.
void expect_rows_match(const Masks& full, const Masks& sub, const std::vector<int64_t>& idx) {
  ASSERT_EQ(sub.n, static_cast<int64_t>(idx.size()));
  for (std::size_t r = 0; r < idx.size(); ++r) {
    for (int m = 0; m < 3; ++m) {
      for (int64_t f = 0; f < full.t[m]; ++f)
        ASSERT_EQ(sub.kept(m, static_cast<int64_t>(r), f), full.kept(m, idx[r], f))
            << "row " << r << " sample " << idx[r] << " modality " << m << " frame " << f;
      ASSERT_EQ(sub.is_present(static_cast<int64_t>(r), m), full.is_present(idx[r], m));
    }
  }
}

TEST(ProtocolHash, SplitMix64KnownAnswer) {
  // splitmix64 seeded with 0 yields 0xE220A8397B1DCDAF first: hash_mix is its finaliser.
  EXPECT_EQ(hash_mix(0x9E3779B97F4A7C15ULL), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(hash_words({}), 0x6A09E667F3BCC909ULL);
  EXPECT_EQ(hash_words({5}), hash_mix(0x6A09E667F3BCC909ULL + 0x9E3779B97F4A7C15ULL + 5));
  EXPECT_NE(hash_words({1, 2}), hash_words({2, 1}));
  EXPECT_GE(hash_uniform(~0ULL), 0.0);
  EXPECT_LT(hash_uniform(~0ULL), 1.0);
  EXPECT_EQ(hash_uniform(0), 0.0);
}

TEST(ProtocolParse, AcceptedFormsAndRoundTrip) {
  Condition c = parse_condition("complete");
  EXPECT_EQ(c.kind, Condition::Kind::kComplete);
  EXPECT_EQ(c.name, "complete");

  c = parse_condition("condition:a,l");
  EXPECT_EQ(c.kind, Condition::Kind::kCondition);
  EXPECT_EQ(c.name, "{l,a}");
  EXPECT_EQ(c.parameter(), "l,a");
  EXPECT_EQ(c.present, (std::array<bool, 3>{true, true, false}));
  EXPECT_EQ(parse_condition("{l,a}"), c);
  EXPECT_EQ(parse_condition("condition:text,audio"), c);

  c = parse_condition("frame:0.3");
  EXPECT_EQ(c.kind, Condition::Kind::kFrame);
  EXPECT_EQ(c.name, "frame=0.3");
  EXPECT_EQ(c.rate, (std::array<double, 3>{0.3, 0.3, 0.3}));
  EXPECT_EQ(parse_condition("frame=0.3"), c);
  EXPECT_EQ(parse_condition("frame:1").name, "frame=1.0");

  c = parse_condition("frame_rate:0.2");
  EXPECT_EQ(c.kind, Condition::Kind::kFrameRate);
  EXPECT_EQ(c.name, "rate=0.2");
  c = parse_condition("frame_rate:0.1,0.2,0.3");
  EXPECT_EQ(c.name, "rate=0.1,0.2,0.3");
  EXPECT_EQ(c.rate, (std::array<double, 3>{0.1, 0.2, 0.3}));
  EXPECT_EQ(parse_condition("rate=0.1,0.2,0.3"), c);

  c = parse_condition("modality_drop:0.5");
  EXPECT_EQ(c.kind, Condition::Kind::kModalityDrop);
  EXPECT_EQ(c.name, "MR=0.5");
  EXPECT_DOUBLE_EQ(c.realised_missing_rate(), 0.5);
  EXPECT_DOUBLE_EQ(parse_condition("MR=0.7").realised_missing_rate(), 2.0 / 3.0);

  for (const std::string& suite : suite_names()) {
    for (const Condition& s : suite_conditions(suite)) {
      EXPECT_EQ(parse_condition(s.name), s) << s.name;
      const std::string spec = s.protocol() + (s.parameter().empty() ? "" : ":" + s.parameter());
      EXPECT_EQ(parse_condition(spec), s) << spec;
    }
  }
}

TEST(ProtocolParse, ErrorsNameTheSpecAndTheForms) {
  for (const char* bad : {"", "frame", "frame:", "frame:abc", "frame:1.5", "frame:-0.1",
                          "frame:0.3x", "condition:", "condition:l,l", "condition:x", "{}",
                          "frame_rate:0.1,0.2", "frame_rate:0.1,2,0.3", "modality_drop:0.8",
                          "modality_drop:nan", "MR=-1", "drop:0.3", "frame:inf"}) {
    try {
      parse_condition(bad);
      ADD_FAILURE() << "no error for '" << bad << "'";
    } catch (const UsageError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("expected one of"), std::string::npos) << msg;
    }
  }
}

TEST(ProtocolSuites, Layouts) {
  std::vector<Condition> paper = suite_conditions("paper");
  ASSERT_EQ(paper.size(), 17u);
  std::vector<std::string> names;
  for (const auto& c : paper) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"complete", "{l}", "{a}", "{v}", "{l,a}", "{l,v}",
                                             "{a,v}", "frame=0.1", "frame=0.2", "frame=0.3",
                                             "frame=0.4", "frame=0.5", "frame=0.6", "frame=0.7",
                                             "frame=0.8", "frame=0.9", "frame=1.0"}));
  std::vector<Condition> mmsa = suite_conditions("mmsa");
  ASSERT_EQ(mmsa.size(), 10u);
  EXPECT_EQ(mmsa.front().name, "rate=0.0");
  EXPECT_EQ(mmsa.back().name, "rate=0.9");
  std::vector<Condition> gcnet = suite_conditions("gcnet");
  ASSERT_EQ(gcnet.size(), 8u);
  EXPECT_EQ(gcnet.front().name, "MR=0.0");
  EXPECT_EQ(gcnet.back().name, "MR=0.7");
  try {
    suite_conditions("nope");
    ADD_FAILURE() << "unknown suite accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("paper, mmsa, gcnet"), std::string::npos) << e.what();
  }
}

TEST(ProtocolMasks, CompleteAndZeroRatesAreTheIdentity) {
  Split s = make_split(300, {50, 60, 70}, 1);
  Masks complete = make_masks(parse_condition("complete"), s, 0);
  for (int m = 0; m < 3; ++m) {
    EXPECT_TRUE(std::all_of(complete.keep[m].begin(), complete.keep[m].end(),
                            [](uint8_t k) { return k == 1; }));
  }
  for (int64_t i = 0; i < s.n; ++i)
    for (int m = 0; m < 3; ++m) {
      bool any = false;
      for (int64_t f = 0; f < s.modality[m].t; ++f)
        any = any || s.modality[m].valid[i * s.modality[m].t + f];
      EXPECT_EQ(complete.is_present(i, m), any);  // no valid frame -> not present
    }
  for (const char* spec : {"frame:0", "frame_rate:0", "modality_drop:0", "condition:l,a,v"})
    EXPECT_TRUE(same(make_masks(parse_condition(spec), s, 7), complete)) << spec;
}

TEST(ProtocolMasks, FrameOneDropsEveryValidFrameAndKeepsPadding) {
  Split s = make_split(200, {50, 60, 70}, 2);
  Masks k = make_masks(parse_condition("frame:1.0"), s, 3);
  for (int m = 0; m < 3; ++m) {
    EXPECT_EQ(dropped_valid(s, k, m), count_valid(s, m));
    for (std::size_t q = 0; q < k.keep[m].size(); ++q)
      if (!s.modality[m].valid[q]) {  // padding is not "dropped"
        EXPECT_EQ(k.keep[m][q], 1);
      }
  }
  EXPECT_TRUE(std::all_of(k.present.begin(), k.present.end(), [](uint8_t p) { return p == 0; }));
}

TEST(ProtocolMasks, FrameRatesHitTheirFractionAndAreNested) {
  Split s = make_split(2000, {50, 60, 70}, 3);
  Masks k = make_masks(parse_condition("frame_rate:0.1,0.5,0.9"), s, 11);
  const double rates[3] = {0.1, 0.5, 0.9};
  for (int m = 0; m < 3; ++m) {
    double n = static_cast<double>(count_valid(s, m));
    double frac = dropped_valid(s, k, m) / n;
    EXPECT_NEAR(frac, rates[m], 4 * std::sqrt(rates[m] * (1 - rates[m]) / n)) << m;
  }
  // frame=p and rate=p,p,p are the same masks; a larger p drops a superset of frames.
  EXPECT_TRUE(same(make_masks(parse_condition("frame:0.3"), s, 11),
                   make_masks(parse_condition("frame_rate:0.3"), s, 11)));
  Masks lo = make_masks(parse_condition("frame:0.3"), s, 11);
  Masks hi = make_masks(parse_condition("frame:0.6"), s, 11);
  for (int m = 0; m < 3; ++m)
    for (std::size_t q = 0; q < lo.keep[m].size(); ++q)
      if (!lo.keep[m][q]) {
        EXPECT_EQ(hi.keep[m][q], 0);
      }
  // Another seed gives other masks.
  EXPECT_FALSE(same(lo, make_masks(parse_condition("frame:0.3"), s, 12)));
}

TEST(ProtocolMasks, ConditionRemovesWholeModalities) {
  Split s = make_split(100, {50, 60, 70}, 4);
  Masks k = make_masks(parse_condition("{l,v}"), s, 0);
  EXPECT_TRUE(std::all_of(k.keep[kAudio].begin(), k.keep[kAudio].end(),
                          [](uint8_t x) { return x == 0; }));  // padding too
  EXPECT_TRUE(
      std::all_of(k.keep[kText].begin(), k.keep[kText].end(), [](uint8_t x) { return x == 1; }));
  for (int64_t i = 0; i < s.n; ++i) {
    EXPECT_FALSE(k.is_present(i, kAudio));
    EXPECT_TRUE(k.is_present(i, kText));
  }
}

TEST(ProtocolMasks, ModalityDropHitsTheRequestedRateAndNeverDropsAll) {
  Split s = make_split(20000, {4, 4, 4}, 5);
  for (int v = 0; v < 3; ++v)  // every sample has frames, so present == given
    for (int64_t i = 0; i < s.n; ++i) s.modality[v].valid[i * 4] = 1;
  for (double mr : {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}) {
    Condition c = modality_drop_condition(mr);
    Masks k = make_masks(c, s, 9);
    int64_t missing = 0;
    std::array<int64_t, 3> per{0, 0, 0};
    for (int64_t i = 0; i < s.n; ++i) {
      int absent = 0;
      for (int m = 0; m < 3; ++m) {
        bool gone = !k.is_present(i, m);
        // A dropped modality loses every frame; a given one loses none.
        for (int64_t f = 0; f < 4; ++f) ASSERT_EQ(k.kept(m, i, f), !gone);
        absent += gone;
        per[m] += gone;
      }
      ASSERT_LT(absent, 3) << "all three dropped at MR=" << mr << " sample " << i;
      if (mr >= 2.0 / 3.0) {
        ASSERT_EQ(absent, 2);
      }
      missing += absent;
    }
    double target = std::min(mr, 2.0 / 3.0);
    double frac = missing / (3.0 * s.n);
    // k per sample is floor(3 MR + U): two adjacent values, so sd(frac) <= 0.5 / (3 sqrt(n)).
    EXPECT_NEAR(frac, target, 4 * 0.5 / (3 * std::sqrt(double(s.n))) + 1e-12) << mr;
    for (int m = 0; m < 3; ++m)  // and uniformly over which modality
      EXPECT_NEAR(per[m] / double(s.n), target, 4 * std::sqrt(0.25 / s.n) + 1e-12) << mr << m;
  }
}

TEST(ProtocolMasks, DoNotDependOnBatchingOrderOrThreads) {
  Split s = make_split(500, {50, 60, 70}, 6);
  for (const char* spec : {"frame:0.4", "frame_rate:0.1,0.5,0.8", "MR=0.5", "{a,v}"}) {
    Condition c = parse_condition(spec);
    Masks full = make_masks(c, s, 21);
    // Batches of several sizes, in a shuffled order.
    std::vector<int64_t> order(static_cast<std::size_t>(s.n));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
    for (std::size_t bs : {1u, 7u, 64u, 500u}) {
      for (std::size_t b = 0; b < order.size(); b += bs) {
        std::vector<int64_t> idx(order.begin() + b, order.begin() + std::min(order.size(), b + bs));
        expect_rows_match(full, make_masks(c, s, 21, idx), idx);
      }
    }
    // From several threads at once.
    std::vector<Masks> results(4);
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th)
      threads.emplace_back([&, th] { results[th] = make_masks(c, s, 21); });
    for (auto& t : threads) t.join();
    for (const Masks& r : results) EXPECT_TRUE(same(r, full)) << spec;
  }
}

TEST(ProtocolMasks, RejectsBadIndicesAndSizes) {
  Split s = make_split(10, {5, 5, 5}, 7);
  EXPECT_THROW(make_masks(complete_condition(), s, 0, {10}), RunError);
  EXPECT_THROW(make_masks(complete_condition(), s, 0, {-1}), RunError);
  s.modality[kAudio].valid.pop_back();
  EXPECT_THROW(make_masks(complete_condition(), s, 0), RunError);
}

// ---- uncertain (training-time) sampler ---------------------------------------------------------

// Which modalities the sampler chose for a row: with end padding, a chosen modality keeps its
// padding frames (keep 1), an unchosen one has keep 0 everywhere.
std::array<bool, 3> chosen(const Masks& k, int64_t row) {
  std::array<bool, 3> c{};
  for (int m = 0; m < 3; ++m) c[m] = k.kept(m, row, k.t[m] - 1);
  return c;
}

TEST(UncertainMasks, NeverEmptyEvenAtRateOne) {
  Split s = make_split(300, {6, 6, 6}, 8);
  UncertainOptions o;
  o.min_frame_rate = 0.9;
  o.max_frame_rate = 1.0;
  std::vector<int64_t> rows(static_cast<std::size_t>(s.n));
  std::iota(rows.begin(), rows.end(), 0);
  for (int64_t step = 0; step < 30; ++step) {
    Masks k = uncertain_masks(o, 5, 0, step, rows, s);
    for (int64_t r = 0; r < k.n; ++r) {
      bool usable = false;
      for (int m = 0; m < 3; ++m) {
        bool any = false;
        for (int64_t f = 0; f < k.t[m]; ++f)
          any = any || (k.kept(m, r, f) && s.modality[m].valid[rows[r] * 6 + f]);
        EXPECT_EQ(any, k.is_present(r, m));
        usable = usable || any;
      }
      ASSERT_TRUE(usable) << "step " << step << " row " << r;
    }
  }
  // The frame-count-only overload too (every frame valid).
  Masks k = uncertain_masks(o, 5, 0, 0, rows, std::array<int64_t, 3>{6, 6, 6});
  for (int64_t r = 0; r < k.n; ++r)
    EXPECT_TRUE(k.is_present(r, 0) || k.is_present(r, 1) || k.is_present(r, 2));
}

TEST(UncertainMasks, ReproducibleAndVaryingAcrossSteps) {
  Split s = make_split(64, {50, 60, 70}, 9);
  UncertainOptions o;
  std::vector<int64_t> rows = {5, 3, 60, 1, 0, 22, 9, 41};
  Masks a = uncertain_masks(o, 1, 2, 3, rows, s);
  EXPECT_TRUE(same(a, uncertain_masks(o, 1, 2, 3, rows, s)));
  EXPECT_FALSE(same(a, uncertain_masks(o, 1, 2, 4, rows, s)));
  EXPECT_FALSE(same(a, uncertain_masks(o, 1, 3, 3, rows, s)));
  EXPECT_FALSE(same(a, uncertain_masks(o, 2, 2, 3, rows, s)));
  // A row depends on its sample index, not on its position in the batch.
  std::vector<int64_t> rev(rows.rbegin(), rows.rend());
  Masks b = uncertain_masks(o, 1, 2, 3, rev, s);
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (int m = 0; m < 3; ++m)
      for (int64_t f = 0; f < a.t[m]; ++f)
        ASSERT_EQ(a.kept(m, r, f), b.kept(m, rows.size() - 1 - r, f));
}

TEST(UncertainMasks, SubsetsAreUniformAndRespectAllowComplete) {
  Split s = make_split(4000, {8, 8, 8}, 10);
  for (int m = 0; m < 3; ++m)  // end padding everywhere, and frame 7 always padding
    for (int64_t i = 0; i < s.n; ++i) {
      std::fill_n(s.modality[m].valid.begin() + i * 8, 8, uint8_t{0});
      std::fill_n(s.modality[m].valid.begin() + i * 8, 7, uint8_t{1});
    }
  std::vector<int64_t> rows(static_cast<std::size_t>(s.n));
  std::iota(rows.begin(), rows.end(), 0);
  for (bool allow : {true, false}) {
    UncertainOptions o;
    o.allow_complete = allow;
    o.max_frame_rate = 0.0;
    Masks k = uncertain_masks(o, 3, 0, 0, rows, s);
    std::array<int64_t, 8> counts{};
    for (int64_t r = 0; r < k.n; ++r) {
      auto c = chosen(k, r);
      counts[c[0] + 2 * c[1] + 4 * c[2]]++;
    }
    EXPECT_EQ(counts[0], 0);
    const int n_subsets = allow ? 7 : 6;
    if (!allow) {
      EXPECT_EQ(counts[7], 0);
    }
    double p = 1.0 / n_subsets;
    for (int b = 1; b < 8; ++b) {
      if (!allow && b == 7) continue;
      EXPECT_NEAR(counts[b] / double(s.n), p, 4 * std::sqrt(p * (1 - p) / s.n)) << b;
    }
  }
  UncertainOptions all;
  all.drop_modalities = false;
  all.max_frame_rate = 0.0;
  Masks k = uncertain_masks(all, 3, 0, 0, rows, s);
  EXPECT_TRUE(same(k, make_masks(complete_condition(), s, 0)));
}

TEST(UncertainMasks, FrameRatioIsDrawnFromTheRange) {
  Split s = make_split(3000, {40, 40, 40}, 11);
  for (int m = 0; m < 3; ++m) std::fill(s.modality[m].valid.begin(), s.modality[m].valid.end(), 1);
  std::vector<int64_t> rows(static_cast<std::size_t>(s.n));
  std::iota(rows.begin(), rows.end(), 0);
  UncertainOptions o;
  o.drop_modalities = false;
  o.min_frame_rate = 0.2;
  o.max_frame_rate = 0.6;
  Masks k = uncertain_masks(o, 4, 1, 1, rows, s);
  double dropped = 0, total = 0;
  for (int m = 0; m < 3; ++m) {
    dropped += dropped_valid(s, k, m);
    total += count_valid(s, m);
  }
  EXPECT_NEAR(dropped / total, 0.4, 0.02);  // E[r] = 0.4
  // Per-sample ratios vary: some rows lose far more than others.
  std::vector<double> per_row;
  for (int64_t r = 0; r < k.n; ++r) {
    int d = 0;
    for (int64_t f = 0; f < 40; ++f) d += !k.kept(kText, r, f);
    per_row.push_back(d / 40.0);
  }
  auto [lo, hi] = std::minmax_element(per_row.begin(), per_row.end());
  EXPECT_LT(*lo, 0.2);
  EXPECT_GT(*hi, 0.6);
}

TEST(UncertainMasks, OptionsValidateAndRoundTrip) {
  UncertainOptions o;
  nlohmann::json j = {{"max_frame_rate", 0.5}, {"allow_complete", false}};
  options_from_json(o, j, "missing");
  EXPECT_EQ(o.max_frame_rate, 0.5);
  EXPECT_FALSE(o.allow_complete);
  EXPECT_THROW(options_from_json(o, {{"min_frame_rate", 0.8}}, "missing"), ConfigError);
  UncertainOptions fresh;
  EXPECT_THROW(options_from_json(fresh, {{"max_frame_rate", 1.5}}, "missing"), ConfigError);
  EXPECT_THROW(options_from_json(fresh, {{"frame_rate", 0.5}}, "missing"), ConfigError);
  EXPECT_EQ(options_to_json(UncertainOptions{})["max_frame_rate"], 0.7);
}

}  // namespace
}  // namespace robustmsa

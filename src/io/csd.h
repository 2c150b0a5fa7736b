// Reader of CMU Multimodal SDK computational sequences (`.csd` files: HDF5), the form in which
// the SDK distributes CMU-MOSI, CMU-MOSEI and POM features and labels. Torch-free; needs
// Debian's libhdf5-dev at build time (without it, csd_available() is false and read_csd throws).
//
// Layout (the SDK's mmdatasdk/computational_sequence):
//   /<root name>/data/<entry id>/features    (n, d) numeric, or (n, 1) strings (e.g. words)
//   /<root name>/data/<entry id>/intervals   (n, 2) numeric: start and end in seconds
//   /<root name>/metadata/<key>              a string (dataset of one string, or an attribute)
// An entry is usually a video; its rows are segments (labels) or frames/words (features).
//
// Usage:
//   robustmsa::ComputationalSequence cs = robustmsa::read_csd("CMU_MOSI_Opinion_Labels.csd");
//   const robustmsa::CsdEntry* e = cs.find("03bSnISJMiM");
//   float score = e->features[0 * cs.dim + 0];    // segment 0, feature 0
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace robustmsa {

struct CsdEntry {
  std::string id;
  int64_t n = 0;                  // rows
  std::vector<float> features;    // (n, dim) row-major: numeric sequences
  std::vector<std::string> text;  // (n, dim): string sequences (empty for numeric ones)
  std::vector<double> intervals;  // (n, 2): start, end
};

struct ComputationalSequence {
  std::string path;
  std::string root;                             // the root group's name
  std::map<std::string, std::string> metadata;  // key -> value as stored (often JSON text)
  int64_t dim = 0;                              // features per row, the same for every entry
  bool strings = false;                         // features are strings (text), not numbers
  std::vector<CsdEntry> entries;                // sorted by id
  // Sanitising counts (DESIGN §2.3): numeric features read as NaN / +inf / -inf were replaced by
  // 0, finite values beyond float32 range clamped.
  int64_t nan_count = 0, posinf_count = 0, neginf_count = 0, clamped_count = 0;
  const CsdEntry* find(const std::string& id) const;  // nullptr when absent
  int64_t rows() const;                               // sum of n over entries
};

// True when robustmsa was built with HDF5.
bool csd_available();
// True when `path` is a regular file that starts with the HDF5 signature (\x89HDF\r\n\x1a\n at
// offset 0; HDF5 also allows a user block before it at 512, 1024, ... bytes, which is checked too).
// Reads at most a few bytes per candidate offset; false for a file that cannot be read.
bool is_hdf5_file(const std::string& path);

// Reads every entry. DataError naming the file and the object path ("file 'x.csd': object
// '/Opinion Segment Labels/data/abc/intervals': expected 2 columns (start, end), found 3") for:
// a file that is not HDF5, not exactly one root group, no `data` group, an entry without
// `features` or `intervals`, features that are not 2-D or neither numeric nor strings, intervals
// not (n, 2) numeric, row counts that differ between the two, an interval that is not finite or
// ends before it starts, feature dims that differ between entries, a dataset larger than the
// file could hold, and any HDF5 read failure (with the library's own message).
ComputationalSequence read_csd(const std::string& path);

}  // namespace robustmsa

// Writing small HDF5 files with the HDF5 C API for the tests: well-formed computational
// sequences (.csd, as the CMU Multimodal SDK writes them) and malformed ones. Only compiled with
// HDF5 (ROBUSTMSA_HAVE_HDF5).
//
// Usage:
//   robustmsa::test_util::H5Builder h("x.csd");
//   h.group("/seq/data/vid");
//   h.numbers("/seq/data/vid/features", {3, 1}, {0.5, -1, 2});
//   h.numbers("/seq/data/vid/intervals", {3, 2}, {0, 1, 1, 2, 2, 3});
//   h.string("/seq/metadata/root name", "seq");
#pragma once

#ifdef ROBUSTMSA_HAVE_HDF5

#include <hdf5.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace robustmsa::test_util {

class H5Builder {
 public:
  explicit H5Builder(const std::string& path)
      : file_(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) {
    if (file_ < 0) throw std::runtime_error("H5Fcreate failed: " + path);
  }
  ~H5Builder() { close(); }
  H5Builder(const H5Builder&) = delete;
  H5Builder& operator=(const H5Builder&) = delete;
  void close() {
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
  }

  // Creates the group and its missing parents.
  void group(const std::string& path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file_, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) throw std::runtime_error("H5Gcreate2 failed: " + path);
    H5Gclose(g);
  }

  // A float32 dataset (gzip-compressed and chunked when `gzip`), parents created.
  void numbers(const std::string& path, const std::vector<hsize_t>& dims,
               const std::vector<double>& values, bool gzip = true) {
    std::vector<float> f(values.begin(), values.end());
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    bool empty = false;
    for (hsize_t d : dims) empty = empty || d == 0;
    if (gzip && !empty) {
      H5Pset_chunk(dcpl, static_cast<int>(dims.size()), dims.data());
      H5Pset_deflate(dcpl, 4);
    }
    hid_t d = create(path, H5T_IEEE_F32LE, space, dcpl);
    if (!f.empty()) H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f.data());
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
  }

  // A dataset that declares `dims` but whose storage is never written (fill values only).
  void unwritten(const std::string& path, const std::vector<hsize_t>& dims) {
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t d = create(path, H5T_IEEE_F64LE, space, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(space);
  }

  // A (n,) dataset of variable-length UTF-8 strings, as h5py writes object arrays of str.
  void strings(const std::string& path, const std::vector<std::string>& values) {
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    hsize_t n = values.size();
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t d = create(path, type, space, H5P_DEFAULT);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    H5Dclose(d);
    H5Tclose(type);
    H5Sclose(space);
  }
  void string(const std::string& path, const std::string& value) { strings(path, {value}); }

  void soft_link(const std::string& path, const std::string& target) {
    if (H5Lcreate_soft(target.c_str(), file_, path.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
      throw std::runtime_error("H5Lcreate_soft failed: " + path);
  }

 private:
  hid_t create(const std::string& path, hid_t type, hid_t space, hid_t dcpl) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(file_, path.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (d < 0) throw std::runtime_error("H5Dcreate2 failed: " + path);
    return d;
  }
  hid_t file_ = -1;
};

// One entry of a well-formed label sequence: per segment a score and an interval.
struct CsdSegment {
  double score, start, end;
};

// A label sequence as the SDK writes CMU_MOSI_Opinion_Labels.csd: root `root`, one entry per
// video with (n, 1) features and (n, 2) intervals, and string metadata.
inline void write_label_csd(const std::string& path,
                            const std::map<std::string, std::vector<CsdSegment>>& videos,
                            const std::string& root = "Opinion Segment Labels") {
  H5Builder h(path);
  for (const auto& [video, segs] : videos) {
    std::vector<double> f, iv;
    for (const CsdSegment& s : segs) {
      f.push_back(s.score);
      iv.push_back(s.start);
      iv.push_back(s.end);
    }
    const std::string base = "/" + root + "/data/" + video;
    h.numbers(base + "/features", {segs.size(), 1}, f);
    h.numbers(base + "/intervals", {segs.size(), 2}, iv);
  }
  h.string("/" + root + "/metadata/root name", "\"" + root + "\"");
  h.string("/" + root + "/metadata/dimension names", "[\"sentiment score\"]");
}

}  // namespace robustmsa::test_util

#endif  // ROBUSTMSA_HAVE_HDF5

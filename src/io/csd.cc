// CMU Multimodal SDK computational sequences (io/csd.h) through the HDF5 C library. Every HDF5
// call is checked; the library's own error printing is switched off while a file is read and
// its message is put into the DataError instead.
#include "io/csd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "util/error.h"

#ifdef ROBUSTMSA_HAVE_HDF5
#include <hdf5.h>
#endif

namespace robustmsa {

const CsdEntry* ComputationalSequence::find(const std::string& id) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), id,
                             [](const CsdEntry& e, const std::string& key) { return e.id < key; });
  return it != entries.end() && it->id == id ? &*it : nullptr;
}

int64_t ComputationalSequence::rows() const {
  int64_t n = 0;
  for (const CsdEntry& e : entries) n += e.n;
  return n;
}

bool is_hdf5_file(const std::string& path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  // Only a regular file: opening a FIFO or a device here would block or read without end (the
  // reader that runs next reports what the path is).
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  // The superblock is at 0 or after a user block of 512, 1024, 2048, ... bytes.
  for (uint64_t offset = 0; offset + 8 <= size; offset = offset == 0 ? 512 : offset * 2) {
    char buf[8];
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(buf, 8)) return false;
    if (std::memcmp(buf, kSignature, 8) == 0) return true;
  }
  return false;
}

#ifndef ROBUSTMSA_HAVE_HDF5

bool csd_available() { return false; }

ComputationalSequence read_csd(const std::string& path) {
  throw DataError(str("file '", path,
                      "': reading .csd (HDF5) files needs robustmsa built with HDF5 (Debian: "
                      "apt-get install libhdf5-dev, then configure again)"));
}

#else

bool csd_available() { return true; }

namespace {

// One HDF5 identifier, closed with the function that fits its kind.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  void reset() {
    if (id_ < 0) return;
    switch (H5Iget_type(id_)) {
      case H5I_FILE:
        H5Fclose(id_);
        break;
      case H5I_GROUP:
        H5Gclose(id_);
        break;
      case H5I_DATASET:
        H5Dclose(id_);
        break;
      case H5I_DATASPACE:
        H5Sclose(id_);
        break;
      case H5I_DATATYPE:
        H5Tclose(id_);
        break;
      case H5I_ATTR:
        H5Aclose(id_);
        break;
      case H5I_GENPROP_LST:
        H5Pclose(id_);
        break;
      default:
        break;
    }
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
};

// Switches HDF5's automatic error printing off for the lifetime of the object.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

herr_t collect_message(unsigned n, const H5E_error2_t* err, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (n == 0 && err->desc != nullptr) *text = err->desc;
  return 0;
}

// The innermost message of HDF5's current error stack ("" when empty), then clears it.
std::string hdf5_message() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_message, &text);
  H5Eclear2(H5E_DEFAULT);
  return text;
}

struct Reader {
  std::string path;
  uint64_t file_size = 0;

  std::string where(const std::string& object) const {
    return str("file '", path, "': object '", object, "': ");
  }
  [[noreturn]] void fail(const std::string& object, const std::string& what) const {
    const std::string lib = hdf5_message();
    throw DataError(where(object) + what + (lib.empty() ? "" : " (HDF5: " + lib + ")"));
  }

  // Names of the links of a group, in name order. Only hard links: a soft or external link
  // (which may point into another file) is refused.
  std::vector<std::string> links(hid_t group, const std::string& object) const {
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) fail(object, "cannot list the group");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      ssize_t len =
          H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len < 0) fail(object, str("cannot read the name of link ", i));
      std::string name(static_cast<std::size_t>(len), '\0');
      H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                         static_cast<std::size_t>(len) + 1, H5P_DEFAULT);
      H5L_info_t linfo;
      if (H5Lget_info(group, name.c_str(), &linfo, H5P_DEFAULT) < 0)
        fail(object + "/" + name, "cannot read the link");
      if (linfo.type != H5L_TYPE_HARD)
        fail(object + "/" + name,
             "is a soft or external link; expected a group or dataset stored in this file");
      names.push_back(std::move(name));
    }
    return names;
  }

  // Opens a child and returns it with its kind (H5I_GROUP, H5I_DATASET, ...).
  Handle open(hid_t parent, const std::string& name, const std::string& object) const {
    Handle h(H5Oopen(parent, name.c_str(), H5P_DEFAULT));
    if (!h.valid()) fail(object, "cannot be opened");
    return h;
  }
  Handle open_group(hid_t parent, const std::string& name, const std::string& object) const {
    Handle h = open(parent, name, object);
    if (H5Iget_type(h.get()) != H5I_GROUP) fail(object, "expected a group, found a dataset");
    return h;
  }
  bool has_link(hid_t group, const std::string& name) const {
    const htri_t e = H5Lexists(group, name.c_str(), H5P_DEFAULT);
    if (e < 0) hdf5_message();  // an invalid name: treated as absent
    return e > 0;
  }

  struct Shape {
    std::vector<hsize_t> dims;
    H5T_class_t cls = H5T_NO_CLASS;
    std::size_t type_size = 0;
    bool variable_string = false;
    uint64_t elements() const {
      uint64_t n = 1;
      for (hsize_t d : dims) n *= d;
      return n;
    }
  };

  // The dataset's shape and element class, checked against what the file could hold: an
  // unfiltered dataset cannot hold more bytes than the file, a compressed one no more than
  // deflate's ratio (about 1032:1) allows, so memory stays bounded by the file size.
  Shape shape_of(hid_t ds, const std::string& object) const {
    if (H5Iget_type(ds) != H5I_DATASET) fail(object, "expected a dataset, found a group");
    Shape s;
    Handle space(H5Dget_space(ds));
    if (!space.valid()) fail(object, "cannot read the dataspace");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) fail(object, "cannot read the rank");
    s.dims.resize(static_cast<std::size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), s.dims.data(), nullptr);
    Handle type(H5Dget_type(ds));
    if (!type.valid()) fail(object, "cannot read the datatype");
    s.cls = H5Tget_class(type.get());
    s.type_size = H5Tget_size(type.get());
    if (s.cls == H5T_STRING) s.variable_string = H5Tis_variable_str(type.get()) > 0;
    Handle plist(H5Dget_create_plist(ds));
    const int filters = plist.valid() ? H5Pget_nfilters(plist.get()) : 0;
    const long double bytes = static_cast<long double>(s.elements()) *
                              static_cast<long double>(std::max<std::size_t>(s.type_size, 1));
    const long double limit =
        static_cast<long double>(file_size) * (filters > 0 ? 1100.0L : 1.0L) + 4096.0L;
    if (bytes > limit)
      fail(object,
           str("declares ", static_cast<double>(bytes), " bytes of data, more than a ", file_size,
               "-byte file can hold", filters > 0 ? " even compressed" : " uncompressed",
               "; expected a dataset stored in the file"));
    return s;
  }

  static std::string dims_str(const std::vector<hsize_t>& dims) {
    std::string s = "(";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + (dims.size() == 1 ? ",)" : ")");
  }

  std::vector<double> read_numbers(hid_t ds, const Shape& s, const std::string& object) const {
    std::vector<double> out(static_cast<std::size_t>(s.elements()));
    if (!out.empty() &&
        H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      fail(object, "cannot read the values as numbers");
    return out;
  }

  std::vector<std::string> read_strings(hid_t ds, const Shape& s, const std::string& object) const {
    const std::size_t n = static_cast<std::size_t>(s.elements());
    std::vector<std::string> out;
    out.reserve(n);
    Handle mem(H5Tcopy(H5T_C_S1));
    {  // HDF5 converts between strings of one character set only (h5py writes UTF-8).
      Handle file_type(H5Dget_type(ds));
      H5Tset_cset(mem.get(), H5Tget_cset(file_type.get()));
    }
    if (s.variable_string) {
      H5Tset_size(mem.get(), H5T_VARIABLE);
      std::vector<char*> ptrs(n, nullptr);
      if (n > 0 && H5Dread(ds, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
        fail(object, "cannot read the strings");
      for (char* p : ptrs) out.emplace_back(p != nullptr ? p : "");
      Handle space(H5Dget_space(ds));
      if (n > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    } else {
      const std::size_t width = std::max<std::size_t>(s.type_size, 1);
      H5Tset_size(mem.get(), width);
      std::vector<char> buf(n * width, '\0');
      if (n > 0 && H5Dread(ds, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
        fail(object, "cannot read the strings");
      for (std::size_t i = 0; i < n; ++i) {
        const char* p = buf.data() + i * width;
        out.emplace_back(p, strnlen(p, width));
      }
    }
    return out;
  }

  // A metadata value: a string dataset's elements joined by newlines, a number as text.
  std::string metadata_value(hid_t ds, const std::string& object) const {
    Shape s = shape_of(ds, object);
    std::vector<std::string> parts;
    if (s.cls == H5T_STRING) {
      parts = read_strings(ds, s, object);
    } else if (s.cls == H5T_INTEGER || s.cls == H5T_FLOAT) {
      for (double v : read_numbers(ds, s, object)) parts.push_back(str(v));
    } else {
      return "(not a string or number)";
    }
    std::string text;
    for (std::size_t i = 0; i < parts.size(); ++i) text += (i ? "\n" : "") + parts[i];
    return text;
  }

  void read_metadata(hid_t root, const std::string& root_path, ComputationalSequence& cs) const {
    if (!has_link(root, "metadata")) return;
    const std::string object = root_path + "/metadata";
    Handle md = open(root, "metadata", object);
    if (H5Iget_type(md.get()) != H5I_GROUP) return;  // tolerated: some writers store other things
    for (const std::string& key : links(md.get(), object)) {
      Handle ds = open(md.get(), key, object + "/" + key);
      if (H5Iget_type(ds.get()) == H5I_DATASET)
        cs.metadata[key] = metadata_value(ds.get(), object + "/" + key);
    }
  }

  float sanitize(double v, ComputationalSequence& cs) const {
    constexpr double kMax = std::numeric_limits<float>::max();
    if (std::isnan(v)) {
      ++cs.nan_count;
      return 0.0f;
    }
    if (std::isinf(v)) {
      ++(v > 0 ? cs.posinf_count : cs.neginf_count);
      return 0.0f;
    }
    if (v > kMax || v < -kMax) {
      ++cs.clamped_count;
      return static_cast<float>(v > 0 ? kMax : -kMax);
    }
    return static_cast<float>(v);
  }

  CsdEntry read_entry(hid_t data, const std::string& id, const std::string& data_path,
                      ComputationalSequence& cs, bool first) const {
    const std::string object = data_path + "/" + id;
    Handle g = open_group(data, id, object);
    for (const char* need : {"features", "intervals"})
      if (!has_link(g.get(), need))
        fail(object,
             str("has no dataset '", need, "'; expected 'features' (n, d) and 'intervals' (n, 2)"));
    CsdEntry e;
    e.id = id;
    const std::string fpath = object + "/features", ipath = object + "/intervals";
    Handle f = open(g.get(), "features", fpath);
    Shape fs = shape_of(f.get(), fpath);
    if (fs.dims.size() != 2)
      fail(fpath, str("expected 2 dimensions (n, d), found ", dims_str(fs.dims)));
    const bool strings = fs.cls == H5T_STRING;
    if (!strings && fs.cls != H5T_INTEGER && fs.cls != H5T_FLOAT)
      fail(fpath, "expected numbers or strings, found another HDF5 type class");
    const int64_t dim = static_cast<int64_t>(fs.dims[1]);
    if (first) {
      cs.dim = dim;
      cs.strings = strings;
    } else if (dim != cs.dim || strings != cs.strings) {
      fail(fpath, str("has ", dim, strings ? " string" : " numeric", " features per row; ",
                      "expected ", cs.dim, cs.strings ? " string" : " numeric", " like entry '",
                      cs.entries.front().id, "'"));
    }
    e.n = static_cast<int64_t>(fs.dims[0]);
    Handle iv = open(g.get(), "intervals", ipath);
    Shape is = shape_of(iv.get(), ipath);
    if (is.dims.size() != 2 || is.dims[1] != 2)
      fail(ipath, str("expected (n, 2) start and end times, found ", dims_str(is.dims)));
    if (is.cls != H5T_INTEGER && is.cls != H5T_FLOAT)
      fail(ipath, "expected numbers (seconds), found another HDF5 type class");
    if (static_cast<int64_t>(is.dims[0]) != e.n)
      fail(ipath, str("has ", is.dims[0], " rows; expected ", e.n, " like 'features'"));
    e.intervals = read_numbers(iv.get(), is, ipath);
    for (int64_t r = 0; r < e.n; ++r) {
      const double a = e.intervals[2 * r], b = e.intervals[2 * r + 1];
      if (!std::isfinite(a) || !std::isfinite(b) || b < a)
        fail(ipath, str("row ", r, ": interval [", a, ", ", b,
                        "]; expected finite start <= end (seconds)"));
    }
    if (strings) {
      e.text = read_strings(f.get(), fs, fpath);
    } else {
      std::vector<double> v = read_numbers(f.get(), fs, fpath);
      e.features.resize(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) e.features[i] = sanitize(v[i], cs);
    }
    return e;
  }
};

}  // namespace

ComputationalSequence read_csd(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError(str("file '", path, "': does not exist or is not a regular file"));
  if (!is_hdf5_file(path))
    throw DataError(str("file '", path,
                        "': not an HDF5 file (no HDF5 signature); expected a CMU Multimodal SDK "
                        "computational sequence (.csd)"));
  QuietErrors quiet;
  Reader rd;
  rd.path = path;
  rd.file_size = std::filesystem::file_size(path, ec);
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) {
    const std::string lib = hdf5_message();
    throw DataError(str("file '", path, "': HDF5 cannot open it",
                        lib.empty() ? "" : " (HDF5: " + lib + ")",
                        "; expected a CMU Multimodal SDK computational sequence (.csd)"));
  }
  Handle top = rd.open(file.get(), "/", "/");
  std::vector<std::string> groups;
  for (const std::string& name : rd.links(top.get(), "/")) {
    Handle h = rd.open(top.get(), name, "/" + name);
    if (H5Iget_type(h.get()) == H5I_GROUP) groups.push_back(name);
  }
  if (groups.size() != 1) {
    std::string found;
    for (const auto& g : groups) found += (found.empty() ? "'" : ", '") + g + "'";
    throw DataError(str("file '", path,
                        "': expected exactly one root group (the sequence's root "
                        "name) at '/', found ",
                        groups.size(), groups.empty() ? "" : ": " + found));
  }
  ComputationalSequence cs;
  cs.path = path;
  cs.root = groups[0];
  const std::string root_path = "/" + cs.root;
  Handle root = rd.open_group(top.get(), cs.root, root_path);
  if (!rd.has_link(root.get(), "data"))
    throw DataError(str(rd.where(root_path), "has no group 'data'; expected ", root_path,
                        "/data/<entry id>/{features, intervals}"));
  const std::string data_path = root_path + "/data";
  Handle data = rd.open_group(root.get(), "data", data_path);
  for (const std::string& id : rd.links(data.get(), data_path))
    cs.entries.push_back(rd.read_entry(data.get(), id, data_path, cs, cs.entries.empty()));
  std::sort(cs.entries.begin(), cs.entries.end(),
            [](const CsdEntry& a, const CsdEntry& b) { return a.id < b.id; });
  rd.read_metadata(root.get(), root_path, cs);
  return cs;
}

#endif  // ROBUSTMSA_HAVE_HDF5

}  // namespace robustmsa

#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::safetensors {

namespace {

struct DTypeInfo {
  const char* name;
  DType dtype;
  std::size_t size;
};

constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {"BOOL", DType::kBool, 1},
    {"U8", DType::kU8, 1},
    {"I8", DType::kI8, 1},
    {"F8_E5M2", DType::kF8E5M2, 1},
    {"F8_E4M3", DType::kF8E4M3, 1},
    {"I16", DType::kI16, 2},
    {"U16", DType::kU16, 2},
    {"F16", DType::kF16, 2},
    {"BF16", DType::kBF16, 2},
    {"I32", DType::kI32, 4},
    {"U32", DType::kU32, 4},
    {"F32", DType::kF32, 4},
    {"I64", DType::kI64, 8},
    {"U64", DType::kU64, 8},
    {"F64", DType::kF64, 8},
}};

// The reference implementation refuses headers above 100 MB; a real header is a few kB per
// hundred tensors.
constexpr uint64_t kMaxHeader = 100'000'000;

std::string known_dtypes() {
  std::string out;
  for (const auto& d : kDTypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

// Multiplies without overflow; false when the product exceeds `limit`.
bool checked_mul(uint64_t a, uint64_t b, uint64_t limit, uint64_t& out) {
  if (a != 0 && b > limit / a) return false;
  out = a * b;
  return out <= limit;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

const char* dtype_name(DType d) {
  for (const auto& info : kDTypes)
    if (info.dtype == d) return info.name;
  return "?";
}

std::size_t dtype_size(DType d) {
  for (const auto& info : kDTypes)
    if (info.dtype == d) return info.size;
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

File File::open(const std::string& path) {
  auto mapping = std::make_shared<MappedFile>(map_file(path, "a safetensors file"));
  File f;
  f.path_ = path;
  const uint8_t* bytes = mapping->data();
  const std::size_t size = mapping->size();
  f.owner_ = mapping;
  f.parse(bytes, size);
  return f;
}

File File::from_bytes(std::string bytes, const std::string& path) {
  auto owned = std::make_shared<std::string>(std::move(bytes));
  File f;
  f.path_ = path;
  f.owner_ = owned;
  f.parse(reinterpret_cast<const uint8_t*>(owned->data()), owned->size());
  return f;
}

const TensorView* File::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void File::parse(const uint8_t* bytes, std::size_t size) {
  const std::string where = str("safetensors file '", path_, "'");
  if (size < 8)
    throw DataError(str(where, ": ", size,
                        " bytes; expected at least 8 (the little-endian header length)"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len < 2 || header_len > size - 8 || header_len > kMaxHeader)
    throw DataError(str(where, ": byte offset 0: header length ", header_len,
                        " is impossible; expected 2 .. ", std::min<uint64_t>(size - 8, kMaxHeader),
                        " (the file has ", size, " bytes)"));
  data_start_ = 8 + header_len;
  const uint64_t data_size = size - data_start_;
  const char* header = reinterpret_cast<const char*>(bytes + 8);

  // Parse with a callback that records duplicate top-level names (nlohmann keeps the last one).
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && duplicate.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second) duplicate = k;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header, header + header_len, callback);
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(str(where, ": byte offset ", 8 + e.byte - 1, ": the header is not valid JSON (",
                        e.what(), ")"));
  }
  if (!j.is_object())
    throw DataError(str(where, ": byte offset 8: the header is a JSON ", j.type_name(),
                        "; expected an object of tensor name -> {dtype, shape, data_offsets}"));
  if (!duplicate.empty())
    throw DataError(str(where, ": the header names tensor '", duplicate, "' twice"));

  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        throw DataError(str(where, ": \"__metadata__\" is a JSON ", v.type_name(),
                            "; expected an object of strings"));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw DataError(str(where, ": \"__metadata__\" key '", m.key(), "' is a JSON ",
                              m.value().type_name(), "; expected a string"));
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string tw = str(where, ": tensor '", name, "'");
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      throw DataError(str(tw, ": expected an object with dtype, shape and data_offsets, found ",
                          v.dump().substr(0, 120)));
    TensorView t;
    t.name = name;
    const nlohmann::json& dt = v["dtype"];
    bool found = false;
    if (dt.is_string()) {
      for (const auto& info : kDTypes)
        if (dt.get<std::string>() == info.name) {
          t.dtype = info.dtype;
          found = true;
        }
    }
    if (!found)
      throw DataError(str(tw, ": dtype ", dt.dump(), " is not one of ", known_dtypes()));
    const nlohmann::json& shape = v["shape"];
    if (!shape.is_array())
      throw DataError(str(tw, ": shape ", shape.dump(), " is not an array of integers"));
    uint64_t numel = 1;
    for (const auto& s : shape) {
      if (!s.is_number_unsigned() && !(s.is_number_integer() && s.get<int64_t>() >= 0))
        throw DataError(str(tw, ": shape ", shape.dump(), " holds ", s.dump(),
                            "; expected non-negative integers"));
      const uint64_t dim = s.get<uint64_t>();
      if (!checked_mul(numel, dim, data_size, numel) && dim != 0)
        throw DataError(str(tw, ": shape ", shape.dump(), " has more elements than the ",
                            data_size, "-byte data section can hold"));
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    for (int64_t s : t.shape)
      if (s == 0) numel = 0;
    const nlohmann::json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      throw DataError(
          str(tw, ": data_offsets ", off.dump(), " is not [begin, end] with integers >= 0"));
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      throw DataError(str(tw, ": data_offsets [", begin, ", ", end,
                          "] (file bytes ", data_start_ + begin, " .. ", data_start_ + end,
                          ") are not a range inside the data section of ", data_size,
                          " bytes (file bytes ", data_start_, " .. ", size, ")"));
    uint64_t expected = 0;
    if (!checked_mul(numel, dtype_size(t.dtype), data_size, expected) ||
        end - begin != expected)
      throw DataError(str(tw, " at byte offset ", data_start_ + begin, ": holds ", end - begin,
                          " bytes; expected ", dtype_name(t.dtype), " x ", shape_str(t.shape),
                          " = ", numel, " x ", dtype_size(t.dtype), " bytes"));
    t.file_offset = data_start_ + begin;
    t.data = bytes + data_start_ + begin;
    t.nbytes = static_cast<std::size_t>(end - begin);
    tensors_.push_back(std::move(t));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const TensorView& a, const TensorView& b) {
    return a.file_offset != b.file_offset ? a.file_offset < b.file_offset : a.nbytes < b.nbytes;
  });
  for (std::size_t i = 1; i < tensors_.size(); ++i) {
    const TensorView& a = tensors_[i - 1];
    const TensorView& b = tensors_[i];
    if (b.file_offset < a.file_offset + a.nbytes)
      throw DataError(str(where, ": tensor '", b.name, "' (file bytes ", b.file_offset, " .. ",
                          b.file_offset + b.nbytes, ") overlaps tensor '", a.name,
                          "' (file bytes ", a.file_offset, " .. ", a.file_offset + a.nbytes,
                          "); expected disjoint ranges"));
  }
  for (std::size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

}  // namespace robustmsa::safetensors

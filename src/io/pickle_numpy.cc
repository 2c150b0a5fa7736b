#include "io/pickle_numpy.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "io/pickle_codec.h"
#include "util/error.h"

namespace robustmsa::pickle::detail {
namespace {

constexpr bool kHostLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

uint16_t bswap(uint16_t v) { return __builtin_bswap16(v); }
uint32_t bswap(uint32_t v) { return __builtin_bswap32(v); }
uint64_t bswap(uint64_t v) { return __builtin_bswap64(v); }

template <class U>
U load_maybe_swapped(const uint8_t* p, bool swap) {
  const U v = load<U>(p);
  return swap ? bswap(v) : v;
}

void swap_in_place(uint8_t* p, std::size_t count, std::size_t itemsize) {
  switch (itemsize) {
    case 2:
      for (std::size_t i = 0; i < count; ++i, p += 2) {
        const uint16_t v = bswap(load<uint16_t>(p));
        std::memcpy(p, &v, 2);
      }
      break;
    case 4:
      for (std::size_t i = 0; i < count; ++i, p += 4) {
        const uint32_t v = bswap(load<uint32_t>(p));
        std::memcpy(p, &v, 4);
      }
      break;
    case 8:
      for (std::size_t i = 0; i < count; ++i, p += 8) {
        const uint64_t v = bswap(load<uint64_t>(p));
        std::memcpy(p, &v, 8);
      }
      break;
    default:
      break;  // one-byte types have no byte order
  }
}

// Walks the elements in C order and reports, for each, its index in a Fortran-order payload.
template <class Fn>
void for_each_fortran_index(const std::vector<int64_t>& shape, Fn&& fn) {
  const std::size_t nd = shape.size();
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  if (numel == 0) return;
  std::vector<int64_t> fstride(nd), idx(nd, 0);
  fstride[0] = 1;
  for (std::size_t k = 1; k < nd; ++k) fstride[k] = fstride[k - 1] * shape[k - 1];
  const int64_t inner = shape[nd - 1], inner_stride = fstride[nd - 1];
  int64_t base = 0;  // Fortran index of the current row's first element
  for (int64_t row = 0, rows = numel / inner; row < rows; ++row) {
    for (int64_t j = 0; j < inner; ++j) fn(base + j * inner_stride);
    for (std::size_t k = nd - 1; k-- > 0;) {
      base += fstride[k];
      if (++idx[k] < shape[k]) break;
      base -= fstride[k] * shape[k];
      idx[k] = 0;
    }
  }
}

template <std::size_t K>
void fortran_to_c(const uint8_t* src, uint8_t* dst, const std::vector<int64_t>& shape) {
  for_each_fortran_index(shape, [&](int64_t f) {
    std::memcpy(dst, src + static_cast<std::size_t>(f) * K, K);
    dst += K;
  });
}

// Copies a payload's bytes to dst, with pread() when the payload says it can.
void copy_payload(const Payload& p, uint8_t* dst) {
  std::size_t done = 0;
  if (p.fd >= 0) {
    while (done < p.size) {
      const ssize_t got =
          ::pread(p.fd, dst + done, p.size - done, static_cast<off_t>(p.file_offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;  // the mapped bytes below are the same; use them
      done += static_cast<std::size_t>(got);
    }
  }
  if (done < p.size) std::memcpy(dst + done, p.ptr + done, p.size - done);
}

}  // namespace

std::shared_ptr<uint8_t> allocate_buffer(std::size_t n) {
  // new[] of uint8_t leaves the bytes uninitialised: no zero-fill pass before the copy. (Asking
  // for transparent huge pages here was measured: a fresh process got 2.5x faster or 4x slower
  // depending on whether the kernel had to compact memory first, so it is not done.)
  return std::shared_ptr<uint8_t>(new uint8_t[std::max<std::size_t>(n, 1)],
                                  std::default_delete<uint8_t[]>());
}

bool parse_dtype_spec(std::string_view spec, DtypeInfo& out, std::string& error) {
  out = DtypeInfo{};
  std::string_view s = spec;
  char order = 0;
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
    order = s[0];
    s.remove_prefix(1);
  }
  auto unsupported = [&] {
    error = str("dtype '", spec,
                "' is not supported; expected bool (b1), int8-64 (i1..i8), uint8-64 (u1..u8), "
                "float16/32/64 (f2, f4, f8), object (O), fixed-width bytes (S<n>) or str (U<n>)");
    return false;
  };
  if (s.empty()) return unsupported();
  const char kind = s[0];
  std::string_view digits = s.substr(1);
  uint64_t size = 0;
  for (char c : digits) {
    if (c < '0' || c > '9' || size > (uint64_t{1} << 40)) return unsupported();
    size = size * 10 + static_cast<uint64_t>(c - '0');
  }
  const bool has_size = !digits.empty();
  out.kind = kind;
  switch (kind) {
    case 'b':
      if (size != 1) return unsupported();
      out.dtype = DType::kBool;
      break;
    case 'i':
    case 'u': {
      const bool u = kind == 'u';
      if (size == 1) {
        out.dtype = u ? DType::kUInt8 : DType::kInt8;
      } else if (size == 2) {
        out.dtype = u ? DType::kUInt16 : DType::kInt16;
      } else if (size == 4) {
        out.dtype = u ? DType::kUInt32 : DType::kInt32;
      } else if (size == 8) {
        out.dtype = u ? DType::kUInt64 : DType::kInt64;
      } else {
        return unsupported();
      }
      break;
    }
    case 'f':
      if (size == 2) {
        out.dtype = DType::kFloat16;
      } else if (size == 4) {
        out.dtype = DType::kFloat32;
      } else if (size == 8) {
        out.dtype = DType::kFloat64;
      } else {
        return unsupported();
      }
      break;
    case 'O':
      if (has_size && size != 4 && size != 8) return unsupported();
      out.dtype = DType::kObject;
      size = 8;
      break;
    case 'a':  // NumPy's old alias of 'S'
    case 'S':
      out.kind = 'S';
      out.dtype = DType::kObject;
      break;
    case 'U':
      out.dtype = DType::kObject;
      size *= 4;
      break;
    default:
      return unsupported();
  }
  out.itemsize = static_cast<std::size_t>(size);
  const bool single_byte = out.kind == 'S' || out.kind == 'O' || out.itemsize == 1;
  out.byteorder = order != 0 ? order : (single_byte ? '|' : '=');
  return true;
}

bool needs_byte_swap(const DtypeInfo& d) {
  if (d.byteorder == '<') return !kHostLittleEndian;
  if (d.byteorder == '>') return kHostLittleEndian;
  return false;
}

int64_t checked_numel(const std::vector<int64_t>& shape, std::size_t itemsize, std::string& error) {
  int64_t numel = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] < 0) {
      error = str("dimension ", k, " is negative (", shape[k], ")");
      return -1;
    }
    if (__builtin_mul_overflow(numel, shape[k], &numel)) {
      error = "the product of the dimensions overflows 64 bits";
      return -1;
    }
  }
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(numel), itemsize, &bytes) ||
      bytes > static_cast<std::size_t>(std::numeric_limits<int64_t>::max())) {
    error = "the array size in bytes overflows 64 bits";
    return -1;
  }
  return numel;
}

bool decode_fixed_string(const DtypeInfo& d, const uint8_t* p, std::string& out,
                         std::string& error) {
  out.clear();
  if (d.kind == 'S') {
    std::size_t len = d.itemsize;
    while (len > 0 && p[len - 1] == 0) --len;
    out.assign(reinterpret_cast<const char*>(p), len);
    return true;
  }
  const bool swap = needs_byte_swap(d);
  std::size_t units = d.itemsize / 4;
  while (units > 0 && load_maybe_swapped<uint32_t>(p + 4 * (units - 1), swap) == 0) --units;
  for (std::size_t k = 0; k < units; ++k) {
    const uint32_t cp = load_maybe_swapped<uint32_t>(p + 4 * k, swap);
    if (cp > 0x10FFFF) {
      error = str("str element holds code point ", cp, ", above U+10FFFF");
      return false;
    }
    append_utf8(out, cp);
  }
  return true;
}

bool build_numeric_array(const DtypeInfo& d, const std::vector<int64_t>& shape, bool fortran,
                         const Payload& payload, NdArray& out, std::string& error) {
  if (d.kind == 'O') {
    error = "object arrays carry a list, not a byte payload";
    return false;
  }
  if ((d.kind == 'S' || d.kind == 'U') && d.itemsize == 0) {
    error = "fixed-width string dtype of size 0";
    return false;
  }
  const int64_t numel = checked_numel(shape, d.itemsize, error);
  if (numel < 0) return false;
  const std::size_t expected = static_cast<std::size_t>(numel) * d.itemsize;
  if (payload.size != expected) {
    std::string dims;
    for (std::size_t k = 0; k < shape.size(); ++k) dims += str(k ? ", " : "", shape[k]);
    error = str("payload has ", payload.size, " bytes; shape (", dims, ") with ", d.itemsize,
                "-byte elements needs ", expected);
    return false;
  }
  const bool swap = needs_byte_swap(d);
  int non_trivial_dims = 0;
  for (int64_t s : shape) non_trivial_dims += s > 1;
  // With at most one dimension longer than 1, Fortran and C order are the same layout.
  const bool transpose = fortran && non_trivial_dims > 1;

  out.shape = shape;
  out.source_big_endian = d.byteorder == '>' || (d.byteorder == '=' && !kHostLittleEndian);
  out.source_fortran = fortran;
  out.data = nullptr;
  out.nbytes = 0;
  out.owned.clear();
  out.keep_alive.reset();
  out.objects.clear();
  out.object_is_bytes.clear();

  if (d.kind == 'S' || d.kind == 'U') {
    out.dtype = DType::kObject;
    out.objects.resize(static_cast<std::size_t>(numel));
    out.object_is_bytes.assign(static_cast<std::size_t>(numel), d.kind == 'S');
    std::size_t i = 0;
    bool ok = true;
    auto decode = [&](int64_t src) {
      if (!ok) return;
      ok = decode_fixed_string(d, payload.ptr + static_cast<std::size_t>(src) * d.itemsize,
                               out.objects[i++], error);
    };
    if (transpose) {
      for_each_fortran_index(shape, decode);
    } else {
      for (int64_t k = 0; k < numel; ++k) decode(k);
    }
    return ok;
  }

  out.dtype = d.dtype;
  out.nbytes = expected;
  if (expected == 0) return true;
  // Payloads inside the file mapping are used in place even at unaligned offsets: every reader
  // of NdArray::data goes through memcpy (get<T>, the dataset loader), so no copy is needed and
  // peak memory while loading stays near one copy of the data.
  if (!swap && !transpose && payload.owner) {
    out.data = payload.ptr;
    out.keep_alive = payload.owner;
    return true;
  }
  uint8_t* dst;
  if (expected >= kLargeCopy) {
    std::shared_ptr<uint8_t> buffer = allocate_buffer(expected);
    dst = buffer.get();
    out.keep_alive = std::move(buffer);
  } else {
    out.owned.resize(expected);
    dst = out.owned.data();
  }
  if (transpose) {
    switch (d.itemsize) {
      case 1:
        fortran_to_c<1>(payload.ptr, dst, shape);
        break;
      case 2:
        fortran_to_c<2>(payload.ptr, dst, shape);
        break;
      case 4:
        fortran_to_c<4>(payload.ptr, dst, shape);
        break;
      default:
        fortran_to_c<8>(payload.ptr, dst, shape);
        break;
    }
  } else {
    copy_payload(payload, dst);
  }
  if (swap) swap_in_place(dst, static_cast<std::size_t>(numel), d.itemsize);
  out.data = dst;
  return true;
}

bool decode_scalar(const DtypeInfo& d, const uint8_t* p, ScalarValue& out, std::string& error) {
  const bool swap = needs_byte_swap(d);
  out = ScalarValue{};
  switch (d.dtype) {
    case DType::kBool:
      out.kind = ScalarKind::kBool;
      out.boolean = p[0] != 0;
      return true;
    case DType::kInt8:
      out.kind = ScalarKind::kInt;
      out.integer = static_cast<int8_t>(p[0]);
      return true;
    case DType::kUInt8:
      out.kind = ScalarKind::kInt;
      out.integer = p[0];
      return true;
    case DType::kInt16:
      out.kind = ScalarKind::kInt;
      out.integer = static_cast<int16_t>(load_maybe_swapped<uint16_t>(p, swap));
      return true;
    case DType::kUInt16:
      out.kind = ScalarKind::kInt;
      out.integer = load_maybe_swapped<uint16_t>(p, swap);
      return true;
    case DType::kInt32:
      out.kind = ScalarKind::kInt;
      out.integer = static_cast<int32_t>(load_maybe_swapped<uint32_t>(p, swap));
      return true;
    case DType::kUInt32:
      out.kind = ScalarKind::kInt;
      out.integer = load_maybe_swapped<uint32_t>(p, swap);
      return true;
    case DType::kInt64:
      out.kind = ScalarKind::kInt;
      out.integer = static_cast<int64_t>(load_maybe_swapped<uint64_t>(p, swap));
      return true;
    case DType::kUInt64: {
      const uint64_t v = load_maybe_swapped<uint64_t>(p, swap);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        error = str("uint64 scalar ", v, " does not fit a signed 64-bit integer");
        return false;
      }
      out.kind = ScalarKind::kInt;
      out.integer = static_cast<int64_t>(v);
      return true;
    }
    case DType::kFloat16:
      out.kind = ScalarKind::kFloat;
      out.floating = half_to_float(load_maybe_swapped<uint16_t>(p, swap));
      return true;
    case DType::kFloat32: {
      const uint32_t bits = load_maybe_swapped<uint32_t>(p, swap);
      float f;
      std::memcpy(&f, &bits, 4);
      out.kind = ScalarKind::kFloat;
      out.floating = f;
      return true;
    }
    case DType::kFloat64: {
      const uint64_t bits = load_maybe_swapped<uint64_t>(p, swap);
      std::memcpy(&out.floating, &bits, 8);
      out.kind = ScalarKind::kFloat;
      return true;
    }
    case DType::kObject:
      break;
  }
  error = "not a numeric dtype";
  return false;
}

}  // namespace robustmsa::pickle::detail

// A torch-free reader for the safetensors format that Hugging Face checkpoints use
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section that follows the header), an optional "__metadata__" object of
// strings, then the raw little-endian data. Nothing is executed and nothing is copied: the file is
// memory-mapped and each tensor is a view into it. Everything is validated before use, like the
// pickle reader: the header length against the file size (and a 100 MB cap, as the reference
// implementation), the JSON, every dtype and shape, offsets inside the data section, byte counts
// equal to dtype size x number of elements (with overflow checks), no two tensors overlapping, no
// duplicate names. Errors are DataErrors naming the file, the tensor and the byte offset.
//
// Usage:
//   auto st = robustmsa::safetensors::File::open("model/model.safetensors");
//   const robustmsa::safetensors::TensorView* w = st.find("embeddings.word_embeddings.weight");
//   // w->dtype == DType::kF32, w->shape == {30522, 384}, w->data points into the mapping
//   // (any alignment: read with memcpy). The view lives as long as `st` or a copy of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace robustmsa::safetensors {

enum class DType : uint8_t {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kI64,
  kU64,
  kF64,
};

const char* dtype_name(DType d);  // the format's spelling: "F32", "BF16", "I64", "BOOL", ...
std::size_t dtype_size(DType d);  // bytes per element

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t file_offset = 0;  // absolute byte offset of the first element in the file
  const uint8_t* data = nullptr;  // little-endian elements, C order, any alignment
  std::size_t nbytes = 0;
  int64_t numel() const;
};

class File {
 public:
  // Maps and validates `path`. DataError naming the file (and tensor, byte offset) otherwise.
  static File open(const std::string& path);
  // The same over bytes already in memory (`path` is only used in messages); the bytes are copied.
  static File from_bytes(std::string bytes, const std::string& path);

  const std::string& path() const { return path_; }
  // Tensors in order of their data offsets.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorView* find(std::string_view name) const;
  // The "__metadata__" strings (empty when the header has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Bytes before the data section (8 + header length).
  uint64_t data_start() const { return data_start_; }

 private:
  void parse(const uint8_t* bytes, std::size_t size);

  std::string path_;
  std::shared_ptr<const void> owner_;  // keeps the mapping or the copied bytes alive
  std::vector<TensorView> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_start_ = 0;
};

}  // namespace robustmsa::safetensors

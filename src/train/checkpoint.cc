#include "train/checkpoint.h"

#include <torch/torch.h>

#include <cstring>
#include <sstream>

#include "nn/model.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace robustmsa {

namespace {

constexpr char kMagic[] = "RMSACKPT1\n";  // 10 bytes
constexpr std::size_t kMagicSize = sizeof(kMagic) - 1;
constexpr std::size_t kHashSize = 64;  // hex SHA-256
constexpr std::size_t kHeaderSize = kMagicSize + 8 + kHashSize;

void write_named(torch::serialize::OutputArchive& archive, const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) archive.write(name, t);
}

NamedTensors read_named(torch::serialize::InputArchive& archive) {
  NamedTensors out;
  for (const auto& key : archive.keys()) {
    torch::Tensor t;
    archive.read(key, t);
    out.emplace_back(key, t);
  }
  return out;
}

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

}  // namespace

NamedTensors copy_state(const Model& model) {
  NamedTensors out;
  for (const auto& p : model.named_parameters(true))
    out.emplace_back(p.key(), p.value().detach().clone());
  for (const auto& b : model.named_buffers(true))
    out.emplace_back(b.key(), b.value().detach().clone());
  return out;
}

void load_state(Model& model, const NamedTensors& state, const std::string& where) {
  torch::NoGradGuard no_grad;
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, t] : state) by_name[name] = &t;
  auto assign = [&](const std::string& name, torch::Tensor& dst) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw DataError(str(where, ": tensor '", name, "' is missing; expected it for this model"));
    const torch::Tensor& src = *it->second;
    if (src.sizes() != dst.sizes())
      throw DataError(str(where, ": tensor '", name, "' has shape ", src.sizes(), ", expected ",
                          dst.sizes(), " (a checkpoint of another model or other input dims?)"));
    dst.copy_(src);
  };
  for (auto& p : model.named_parameters(true)) assign(p.key(), p.value());
  for (auto& b : model.named_buffers(true)) assign(b.key(), b.value());
}

std::string save_optimizer(torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  return archive_bytes(archive);
}

void load_optimizer(torch::optim::Optimizer& optimizer, const std::string& bytes,
                    const std::string& where) {
  if (bytes.empty()) return;
  try {
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);
    archive.load_from(in);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw DataError(
        str(where, ": optimiser state does not fit this model (", e.what_without_backtrace(), ")"));
  }
}

void write_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  torch::serialize::OutputArchive archive, model, best;
  write_named(model, ckpt.model);
  write_named(best, ckpt.best);
  archive.write("model", model);
  archive.write("best", best);
  archive.write("meta", c10::IValue(ckpt.meta.dump()));
  auto opt = torch::from_blob(const_cast<char*>(ckpt.optimizer_bytes.data()),
                              {static_cast<int64_t>(ckpt.optimizer_bytes.size())}, torch::kUInt8)
                 .clone();
  archive.write("optimizer", opt);
  std::string payload = archive_bytes(archive);

  std::string file(kMagic, kMagicSize);
  uint64_t size = payload.size();
  char size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<char>((size >> (8 * i)) & 0xff);
  file.append(size_bytes, 8);
  file += sha256_hex(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  file += payload;
  write_file_atomic(path, file);
}

Checkpoint read_checkpoint(const std::string& path) {
  std::string file = read_file(path);
  if (file.size() < kHeaderSize || std::memcmp(file.data(), kMagic, kMagicSize) != 0)
    throw DataError(str(
        "checkpoint '", path, "': byte offset 0: expected the header \"RMSACKPT1\" (", kHeaderSize,
        " bytes), found ", file.size() < kHeaderSize ? "a shorter file" : "other bytes",
        "; not a robustmsa checkpoint"));
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i)
    size |= static_cast<uint64_t>(static_cast<uint8_t>(file[kMagicSize + i])) << (8 * i);
  if (size != file.size() - kHeaderSize)
    throw DataError(str("checkpoint '", path, "': truncated or padded: header says ", size,
                        " payload bytes, found ", file.size() - kHeaderSize));
  std::string want = file.substr(kMagicSize + 8, kHashSize);
  std::string got = sha256_hex(reinterpret_cast<const uint8_t*>(file.data()) + kHeaderSize, size);
  if (want != got)
    throw DataError(str("checkpoint '", path, "': payload SHA-256 ", got,
                        " does not match the header's ", want, "; the file is corrupt"));
  Checkpoint ckpt;
  try {
    torch::serialize::InputArchive archive, model, best;
    std::istringstream in(file.substr(kHeaderSize));
    archive.load_from(in);
    archive.read("model", model);
    archive.read("best", best);
    ckpt.model = read_named(model);
    ckpt.best = read_named(best);
    c10::IValue meta;
    archive.read("meta", meta);
    ckpt.meta = nlohmann::json::parse(meta.toStringRef());
    torch::Tensor opt;
    archive.read("optimizer", opt);
    opt = opt.contiguous();
    ckpt.optimizer_bytes.assign(reinterpret_cast<const char*>(opt.data_ptr<uint8_t>()),
                                opt.numel());
  } catch (const c10::Error& e) {
    throw DataError(str("checkpoint '", path, "': cannot decode the archive (",
                        e.what_without_backtrace(), ")"));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(str("checkpoint '", path, "': metadata is not valid JSON (", e.what(), ")"));
  }
  // What resume reads from the metadata: checked here so that a crafted checkpoint fails with
  // this message rather than a JSON exception later.
  struct Field {
    const char* key;
    bool (nlohmann::json::*is_kind)() const noexcept;
    const char* expected;
  };
  const Field fields[] = {{"run", &nlohmann::json::is_object, "an object"},
                          {"epoch", &nlohmann::json::is_number_integer, "an integer"},
                          {"best_epoch", &nlohmann::json::is_number_integer, "an integer"},
                          {"bad_epochs", &nlohmann::json::is_number_integer, "an integer"},
                          {"best_score", &nlohmann::json::is_number, "a number"},
                          {"history", &nlohmann::json::is_array, "an array"}};
  if (!ckpt.meta.is_object())
    throw DataError(str("checkpoint '", path, "': metadata is ", ckpt.meta.type_name(),
                        "; expected an object"));
  for (const Field& f : fields)
    if (!ckpt.meta.contains(f.key) || !(ckpt.meta[f.key].*f.is_kind)())
      throw DataError(str("checkpoint '", path, "': metadata key '", f.key, "' is ",
                          ckpt.meta.contains(f.key) ? ckpt.meta[f.key].type_name() : "missing",
                          "; expected ", f.expected));
  return ckpt;
}

}  // namespace robustmsa

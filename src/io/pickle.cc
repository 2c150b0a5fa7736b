// The restricted pickle virtual machine (DESIGN §2.2). It interprets the opcodes of pickle
// protocols 0-5 that plain data needs, emulates the few NumPy/codecs callables on an allow-list,
// and rejects everything else with a DataError naming the file, byte offset and opcode. Nothing is
// ever executed: there is no interpreter, only a stack of Values.
//
// Invariants that keep hostile input harmless:
//  * every length is checked against the bytes that remain before anything is allocated;
//  * the machine is iterative; nesting of containers is capped (kMaxDepth), so neither building
//    nor destroying a value tree recurses deeper than that;
//  * a container can only be modified (APPEND, SETITEM) while it is not yet inside another one,
//    and never given itself, so a value tree never has cycles (shared_ptr cycles would leak and
//    make every consumer loop forever);
//  * the number of Values created is capped (kMaxObjects), in addition to the file-size bound.
#include "io/pickle.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "io/pickle_codec.h"
#include "io/pickle_numpy.h"
#include "util/error.h"
#include "util/fs.h"

namespace robustmsa::pickle {
namespace {

using detail::CodecStatus;
using detail::DtypeInfo;
using detail::Payload;

// Containers nested deeper than this are rejected. The real files nest 3-4 levels; 256 keeps the
// recursive destruction of shared_ptr trees far from any thread's stack limit.
constexpr uint32_t kMaxDepth = 256;
// Values created by one parse. Real files hold a few hundred thousand at most (object arrays of
// ids); this bounds what a pickle of millions of tiny objects can cost.
constexpr std::size_t kMaxObjects = std::size_t{1} << 25;
// str/bytes at least this long are not copied when read: they stay views into the input until
// something needs their text (array payloads never do).
constexpr std::size_t kLazyThreshold = 1024;

enum class Callable {
  kReconstruct,   // numpy.core.multiarray._reconstruct(ndarray, shape, typecode)
  kNdarray,       // numpy.ndarray: only as _reconstruct's first argument
  kDtype,         // numpy.dtype(spec, align, copy)
  kScalar,        // numpy.core.multiarray.scalar(dtype, bytes)
  kCodecsEncode,  // _codecs.encode(str, 'latin1')
  kFromBuffer,    // numpy.core.numeric._frombuffer(buffer, dtype, shape, order)
  kBytes,         // builtins.bytes() with no argument: b'' in protocol 0-2
};

struct AllowedGlobal {
  const char* module;
  const char* name;
  Callable callable;
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"numpy.core.multiarray", "_reconstruct", Callable::kReconstruct},
    {"numpy._core.multiarray", "_reconstruct", Callable::kReconstruct},
    {"numpy", "ndarray", Callable::kNdarray},
    {"numpy", "dtype", Callable::kDtype},
    {"numpy.core.multiarray", "scalar", Callable::kScalar},
    {"numpy._core.multiarray", "scalar", Callable::kScalar},
    {"_codecs", "encode", Callable::kCodecsEncode},
    {"numpy.core.numeric", "_frombuffer", Callable::kFromBuffer},
    {"numpy._core.numeric", "_frombuffer", Callable::kFromBuffer},
    {"builtins", "bytes", Callable::kBytes},
    {"__builtin__", "bytes", Callable::kBytes},
};

std::string allowed_globals_list() {
  std::string out;
  for (const auto& g : kAllowedGlobals) {
    if (!out.empty()) out += ", ";
    out += str(g.module, ".", g.name);
  }
  return out;
}

struct OpcodeName {
  uint8_t code;
  const char* name;
};

// pickletools' names for every opcode of protocols 0-5 (used in messages only).
constexpr OpcodeName kOpcodeNames[] = {
    {'(', "MARK"},
    {'.', "STOP"},
    {'0', "POP"},
    {'1', "POP_MARK"},
    {'2', "DUP"},
    {'F', "FLOAT"},
    {'I', "INT"},
    {'J', "BININT"},
    {'K', "BININT1"},
    {'L', "LONG"},
    {'M', "BININT2"},
    {'N', "NONE"},
    {'P', "PERSID"},
    {'Q', "BINPERSID"},
    {'R', "REDUCE"},
    {'S', "STRING"},
    {'T', "BINSTRING"},
    {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"},
    {'X', "BINUNICODE"},
    {'a', "APPEND"},
    {'b', "BUILD"},
    {'c', "GLOBAL"},
    {'d', "DICT"},
    {'}', "EMPTY_DICT"},
    {'e', "APPENDS"},
    {'g', "GET"},
    {'h', "BINGET"},
    {'i', "INST"},
    {'j', "LONG_BINGET"},
    {'l', "LIST"},
    {']', "EMPTY_LIST"},
    {'o', "OBJ"},
    {'p', "PUT"},
    {'q', "BINPUT"},
    {'r', "LONG_BINPUT"},
    {'s', "SETITEM"},
    {'t', "TUPLE"},
    {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"},
    {'G', "BINFLOAT"},
    {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"},
    {0x80, "PROTO"},
    {0x81, "NEWOBJ"},
    {0x82, "EXT1"},
    {0x83, "EXT2"},
    {0x84, "EXT4"},
    {0x85, "TUPLE1"},
    {0x86, "TUPLE2"},
    {0x87, "TUPLE3"},
    {0x88, "NEWTRUE"},
    {0x89, "NEWFALSE"},
    {0x8a, "LONG1"},
    {0x8b, "LONG4"},
    {0x8c, "SHORT_BINUNICODE"},
    {0x8d, "BINUNICODE8"},
    {0x8e, "BINBYTES8"},
    {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"},
    {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"},
    {0x94, "MEMOIZE"},
    {0x95, "FRAME"},
    {0x96, "BYTEARRAY8"},
    {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
};

const char* opcode_name(uint8_t op) {
  for (const auto& o : kOpcodeNames) {
    if (o.code == op) return o.name;
  }
  return "unknown";
}

// Text from the file shown in messages: printable ASCII as is, everything else escaped, long
// strings shortened.
std::string printable(std::string_view s, std::size_t max = 80) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (s.size() > max) out += str("... (", s.size(), " bytes)");
  return out;
}

// Owner of a read-only file mapping (util/fs.h map_file), unmapped when the last value pointing
// into it goes. Used as the shared_ptr deleter so that release_source() can recognise
// (std::get_deleter) that an array points into a mapping.
struct MappingDeleter {
  std::size_t length = 0;
  std::shared_ptr<MappedFile> file;
  void operator()(const void*) const {}  // the mapping goes with `file`
};

// Per-Value facts the machine needs beyond the public Value fields. Entries hold their Value, so
// an address in the table always belongs to the same live object.
struct Special {
  enum class Type { kGlobal, kBlob, kDtype, kPendingArray };
  Type type = Type::kBlob;
  ValuePtr hold;
  std::size_t offset = 0;  // byte offset of the opcode that created the value
  // kGlobal
  Callable callable = Callable::kBytes;
  std::string global_name;
  // kBlob: a str (UTF-8, validated lazily) or bytes whose contents are not copied into `text`.
  Payload blob;
  bool utf8_checked = false;
  // kDtype
  DtypeInfo dtype;
};

class Machine {
 public:
  // `mapping` (with `fd`, the open file) is given by load_file(); parse() passes null and -1.
  Machine(const uint8_t* data, std::size_t size, std::string name,
          std::shared_ptr<const void> mapping, int fd)
      : data_(data), size_(size), name_(std::move(name)), mapping_(std::move(mapping)), fd_(fd) {}

  ValuePtr run();

 private:
  // ---- errors ----------------------------------------------------------------------------
  [[noreturn]] void fail(const std::string& what) const {
    static const char kHex[] = "0123456789abcdef";
    throw DataError(str("file '", name_, "': byte offset ", op_offset_, ": opcode ",
                        opcode_name(op_), " (0x", kHex[op_ >> 4], kHex[op_ & 15], "): ", what));
  }

  // ---- reading the stream -----------------------------------------------------------------
  std::size_t remaining() const { return size_ - pos_; }
  const uint8_t* take(std::size_t n) {
    if (n > remaining()) {
      fail(str("truncated: the argument needs ", n, " bytes but only ", remaining(),
               " remain in the file"));
    }
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint8_t u8() { return *take(1); }
  uint64_t uint_le(std::size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }
  // A length field: must fit into the bytes that remain (checked before any allocation).
  std::size_t length(std::size_t width) {
    const uint64_t n = uint_le(width);
    if (n > remaining()) {
      fail(str("length ", n, " exceeds the ", remaining(), " bytes that remain in the file"));
    }
    return static_cast<std::size_t>(n);
  }
  std::string_view line() {
    const void* nl = std::memchr(data_ + pos_, '\n', remaining());
    if (nl == nullptr) fail("truncated: the argument line has no terminating newline");
    const std::size_t len = static_cast<const uint8_t*>(nl) - (data_ + pos_);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len + 1;
    return s;
  }

  // ---- values ----------------------------------------------------------------------------
  ValuePtr make(Value::Kind kind) {
    if (++objects_ > kMaxObjects) {
      fail(str("more than ", kMaxObjects, " objects; refusing to build a larger value tree"));
    }
    auto v = std::make_shared<Value>();
    v->kind = kind;
    return v;
  }
  ValuePtr make_container(Value::Kind kind) {
    ValuePtr v = make(kind);
    container_state_[v.get()] = 1u << 1;  // depth 1 (an empty container), open
    dict_index_.erase(v.get());
    return v;
  }
  ValuePtr make_int(int64_t x) {
    ValuePtr v = make(Value::Kind::kInt);
    v->integer = x;
    return v;
  }
  ValuePtr make_bool(bool b) {
    ValuePtr v = make(Value::Kind::kBool);
    v->boolean = b;
    return v;
  }
  ValuePtr make_float(double d) {
    ValuePtr v = make(Value::Kind::kFloat);
    v->floating = d;
    return v;
  }
  ValuePtr make_text(Value::Kind kind, std::string text) {
    ValuePtr v = make(kind);
    v->text = std::move(text);
    return v;
  }
  // str or bytes straight from the file: long ones stay views until their text is needed.
  ValuePtr make_from_file(Value::Kind kind, const uint8_t* p, std::size_t n) {
    if (n < kLazyThreshold) {
      if (kind == Value::Kind::kStr) check_utf8(p, n, op_offset_);
      return make_text(kind, std::string(reinterpret_cast<const char*>(p), n));
    }
    ValuePtr v = make(kind);
    Special& s = add_special(v, Special::Type::kBlob);
    s.blob.ptr = p;
    s.blob.size = n;
    s.blob.owner = mapping_;
    if (fd_ >= 0) {
      s.blob.fd = fd_;
      s.blob.file_offset = static_cast<std::size_t>(p - data_);
    }
    return v;
  }
  Special& add_special(const ValuePtr& v, Special::Type type) {
    Special& s = specials_[v.get()];
    s.type = type;
    s.hold = v;
    s.offset = op_offset_;
    return s;
  }
  Special* special(const Value* v) {
    if (specials_.empty()) return nullptr;
    auto it = specials_.find(v);
    return it == specials_.end() ? nullptr : &it->second;
  }
  void check_utf8(const uint8_t* p, std::size_t n, std::size_t where) {
    const CodecStatus st = detail::validate_utf8(p, n);
    if (!st.ok) {
      throw DataError(str("file '", name_, "': byte offset ", where, ": str at byte ", st.position,
                          " of its text: ", st.message));
    }
  }
  // The bytes of a str or bytes value (validating lazily held UTF-8 on first use).
  std::string_view text_of(const Value& v) {
    if (Special* s = special(&v); s != nullptr && s->type == Special::Type::kBlob) {
      if (v.kind == Value::Kind::kStr && !s->utf8_checked) {
        check_utf8(s->blob.ptr, s->blob.size, s->offset);
        s->utf8_checked = true;
      }
      return {reinterpret_cast<const char*>(s->blob.ptr), s->blob.size};
    }
    return v.text;
  }
  // Payload of a bytes value used as array data.
  Payload payload_of(const Value& v) {
    if (Special* s = special(&v); s != nullptr && s->type == Special::Type::kBlob) return s->blob;
    Payload p;
    p.ptr = reinterpret_cast<const uint8_t*>(v.text.data());
    p.size = v.text.size();
    return p;  // no owner: copied by the array builder
  }
  std::string describe(const Value& v) {
    if (Special* s = special(&v)) {
      if (s->type == Special::Type::kGlobal) return str("global ", s->global_name);
      if (s->type == Special::Type::kPendingArray) return "ndarray (state not yet set)";
    }
    return v.kind_name();
  }

  // ---- containment (depth and the no-cycle rule) ------------------------------------------
  static bool is_container(const Value& v) {
    return v.kind == Value::Kind::kList || v.kind == Value::Kind::kTuple ||
           v.kind == Value::Kind::kDict;
  }
  // Levels of containers in v: 0 for a leaf, 1 for a container of leaves (or an empty one).
  uint32_t depth_of(const Value& v) const {
    if (!is_container(v)) return 0;
    auto it = container_state_.find(&v);
    return it == container_state_.end() ? 1 : (it->second >> 1);
  }
  // Records that `item` now lives inside `parent`.
  void adopt(Value& parent, const ValuePtr& item) {
    if (item.get() == &parent) fail(str("a ", parent.kind_name(), " cannot contain itself"));
    if (Special* s = special(item.get()); s != nullptr && s->type == Special::Type::kPendingArray) {
      fail(
          str("ndarray created at byte offset ", s->offset, " is used before BUILD set its state"));
    }
    const uint32_t item_depth = depth_of(*item);
    if (is_container(*item)) container_state_[item.get()] |= 1;  // sealed
    uint32_t& state = container_state_[&parent];
    const uint32_t depth = std::max(state >> 1, item_depth + 1);
    if (depth > kMaxDepth) {
      fail(str("containers nested more than ", kMaxDepth, " levels deep"));
    }
    state = (depth << 1) | (state & 1);
  }
  void require_open(const Value& c, const char* what) {
    auto it = container_state_.find(&c);
    if (it != container_state_.end() && (it->second & 1)) {
      fail(str("cannot ", what, " a ", c.kind_name(),
               " that is already inside another container (cyclic or reordered pickles are not "
               "supported)"));
    }
  }
  void append_to_list(Value& list, ValuePtr item) {
    adopt(list, item);
    list.items.push_back(std::move(item));
  }
  ValuePtr make_tuple(std::vector<ValuePtr> items) {
    ValuePtr t = make_container(Value::Kind::kTuple);
    for (const auto& it : items) adopt(*t, it);
    t->items = std::move(items);
    return t;
  }
  // Python semantics: a key that is already present keeps its position and gets the new value.
  // Keys of kinds that cannot be compared here (tuples, arrays...) are always appended.
  std::optional<std::string> key_identity(const Value& k) {
    switch (k.kind) {
      case Value::Kind::kNone:
        return std::string("n");
      case Value::Kind::kBool:
        return str("i", k.boolean ? 1 : 0);
      case Value::Kind::kInt:
        return str("i", k.integer);
      case Value::Kind::kFloat:
        if (std::isnan(k.floating)) return std::nullopt;
        if (k.floating == std::trunc(k.floating) && std::fabs(k.floating) < 9.2e18) {
          return str("i", static_cast<int64_t>(k.floating));
        }
        return str("f", k.floating);
      case Value::Kind::kStr:
      case Value::Kind::kBytes: {
        // A memoised key can be reused by every SETITEM at 3 bytes each, and each use hashes
        // and compares its whole text: without a budget a file of a few MB could make us hash
        // terabytes (found by fuzzing). Legitimate pickles reuse short keys; the budget is far
        // above what they need and keeps the work linear in the file size.
        const std::string_view text = text_of(k);
        key_bytes_ += text.size();
        const uint64_t budget = 64 * static_cast<uint64_t>(size_) + (uint64_t{64} << 20);
        if (key_bytes_ > budget) {
          fail(str("dict keys add up to more than ", budget,
                   " bytes (64 times the file size + 64 MiB); expected short keys, not a long "
                   "key reused through the memo"));
        }
        return std::string(k.kind == Value::Kind::kStr ? "s" : "b").append(text);
      }
      default:
        return std::nullopt;
    }
  }
  void set_item(Value& dict, ValuePtr key, ValuePtr value) {
    adopt(dict, key);
    adopt(dict, value);
    const std::optional<std::string> id = key_identity(*key);
    if (id) {
      auto& index = dict_index_[&dict];
      auto [it, inserted] = index.emplace(*id, dict.dict.size());
      if (!inserted) {
        dict.dict[it->second].second = std::move(value);
        return;
      }
    }
    dict.dict.emplace_back(std::move(key), std::move(value));
  }

  // ---- the stack ---------------------------------------------------------------------------
  std::size_t mark_base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr pop() {
    if (stack_.size() <= mark_base()) {
      fail(marks_.empty() ? "stack underflow: no value on the stack"
                          : "stack underflow: no value above the last MARK");
    }
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= mark_base()) {
      fail(marks_.empty() ? "stack underflow: no value on the stack"
                          : "stack underflow: no value above the last MARK");
    }
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const std::size_t base = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + base),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(base);
    return items;
  }

  // ---- memo --------------------------------------------------------------------------------
  std::size_t memo_count() const { return memo_.size() + sparse_memo_.size(); }
  void memo_put(uint64_t index) {
    const ValuePtr& v = top();
    if (index < memo_.size()) {
      memo_[index] = v;
    } else if (index == memo_.size() && sparse_memo_.empty()) {
      memo_.push_back(v);
    } else {
      // Indices are sequential in every pickle Python writes; a far-away index must not make us
      // allocate a huge vector, so it goes to a map.
      sparse_memo_[index] = v;
    }
  }
  const ValuePtr& memo_get(uint64_t index) {
    if (index < memo_.size() && memo_[index]) return memo_[index];
    auto it = sparse_memo_.find(index);
    if (it == sparse_memo_.end()) {
      fail(
          str("memo index ", index, " was never stored (the memo has ", memo_count(), " entries)"));
    }
    return it->second;
  }

  // ---- integers and floats from text --------------------------------------------------------
  int64_t parse_decimal(std::string_view s, const char* what) {
    std::string_view digits = s;
    if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range) {
      fail(str(what, " '", printable(s), "' does not fit a signed 64-bit integer"));
    }
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
      fail(str(what, " '", printable(s), "' is not a decimal integer"));
    }
    return v;
  }
  int64_t little_endian_signed(const uint8_t* p, std::size_t n) {
    if (n == 0) return 0;
    const bool negative = (p[n - 1] & 0x80) != 0;
    // Bytes beyond the eighth must only repeat the sign.
    for (std::size_t i = 8; i < n; ++i) {
      if (p[i] != (negative ? 0xFF : 0x00)) {
        fail(str("integer of ", n, " bytes does not fit a signed 64-bit integer"));
      }
    }
    uint64_t v = negative ? ~uint64_t{0} : 0;
    for (std::size_t i = std::min<std::size_t>(n, 8); i-- > 0;) v = (v << 8) | p[i];
    if (n > 8 && ((v >> 63) != 0) != negative) {
      fail(str("integer of ", n, " bytes does not fit a signed 64-bit integer"));
    }
    return static_cast<int64_t>(v);
  }
  double parse_float_text(std::string_view s) {
    std::string_view t = s;
    if (!t.empty() && t[0] == '+') t.remove_prefix(1);
    double d = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec == std::errc::result_out_of_range) {
      // Python's float() gives +-inf or +-0.0 where from_chars reports "out of range": decide
      // which from the exponent's sign (or, without exponent, whether the integer part is 0).
      const bool negative = !t.empty() && t[0] == '-';
      const std::size_t e = t.find_first_of("eE");
      bool tiny;
      if (e != std::string_view::npos) {
        tiny = e + 1 < t.size() && t[e + 1] == '-';
      } else {
        const std::string_view integer = t.substr(negative ? 1 : 0, t.find('.'));
        tiny = integer.find_first_not_of('0') == std::string_view::npos;
      }
      const double magnitude = tiny ? 0.0 : HUGE_VAL;
      return negative ? -magnitude : magnitude;
    }
    if (ec != std::errc() || end != t.data() + t.size() || t.empty()) {
      fail(str("float literal '", printable(s), "' is not a number"));
    }
    return d;
  }

  // ---- opcodes with more logic -------------------------------------------------------------
  void op_global(std::string_view module, std::string_view name);
  void op_reduce();
  void op_build();
  ValuePtr call(Callable c, const Value& args);
  ValuePtr call_reconstruct(const Value& args);
  ValuePtr call_dtype(const Value& args);
  ValuePtr call_scalar(const Value& args);
  ValuePtr call_codecs_encode(const Value& args);
  ValuePtr call_frombuffer(const Value& args);
  void build_dtype(Value& target, Special& s, const Value& state);
  void build_array(Value& target, const Value& state);
  std::vector<int64_t> shape_from(const Value& v, const char* what);
  const DtypeInfo& dtype_from(const Value& v, const char* what);
  Payload latin1_payload(const Value& str_value, const char* what);
  ValuePtr finish(ValuePtr root);

  const uint8_t* data_;
  std::size_t size_;
  std::string name_;
  std::shared_ptr<const void> mapping_;  // null for parse(): payloads must be copied
  int fd_;                               // the mapped file, open while parsing; -1 for parse()
  std::size_t pos_ = 0;
  std::size_t op_offset_ = 0;
  uint8_t op_ = 0;
  int protocol_ = 0;
  std::size_t objects_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::vector<ValuePtr> memo_;
  std::unordered_map<uint64_t, ValuePtr> sparse_memo_;
  std::unordered_map<const Value*, Special> specials_;
  // Containers: (depth << 1) | sealed. Written when a container is created, so a reused address
  // never inherits an old state.
  std::unordered_map<const Value*, uint32_t> container_state_;
  std::unordered_map<const Value*, std::unordered_map<std::string, std::size_t>> dict_index_;
  uint64_t key_bytes_ = 0;  // text of str/bytes dict keys looked up so far (see key_identity)
};

// ---------------------------------------------------------------------------------------------

ValuePtr Machine::run() {
  for (;;) {
    op_offset_ = pos_;
    if (pos_ >= size_) {
      op_ = 0;
      throw DataError(str("file '", name_, "': byte offset ", pos_,
                          ": truncated: the pickle ends without a STOP opcode"));
    }
    op_ = data_[pos_++];
    switch (op_) {
      // ---- framing and protocol
      case 0x80: {  // PROTO
        const int p = u8();
        if (p > 5) fail(str("pickle protocol ", p, " is not supported; expected 0 to 5"));
        protocol_ = p;
        break;
      }
      case 0x95:  // FRAME: only a read-ahead hint; its length must fit in the file
        length(8);
        break;
      case '.': {  // STOP
        ValuePtr root = pop();
        if (!stack_.empty() || !marks_.empty()) {
          fail(str("STOP leaves ", stack_.size(), " value(s) and ", marks_.size(),
                   " MARK(s) on the stack; expected exactly one value"));
        }
        if (pos_ != size_) {
          fail(str(size_ - pos_, " bytes follow STOP; expected the end of the file"));
        }
        return finish(std::move(root));
      }

      // ---- stack manipulation
      case '(':
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP: like Python, an empty segment above a MARK pops the MARK
        if (stack_.size() > mark_base()) {
          stack_.pop_back();
        } else if (!marks_.empty()) {
          marks_.pop_back();
        } else {
          pop();
        }
        break;
      case '1':  // POP_MARK
        pop_to_mark();
        break;
      case '2': {  // DUP
        ValuePtr v = top();
        push(std::move(v));
        break;
      }

      // ---- memo
      case 'p': {
        const int64_t i = parse_decimal(line(), "PUT index");
        if (i < 0) fail(str("memo index ", i, " is negative"));
        memo_put(static_cast<uint64_t>(i));
        break;
      }
      case 'q':
        memo_put(u8());
        break;
      case 'r':
        memo_put(uint_le(4));
        break;
      case 0x94:  // MEMOIZE: the next index is the number of entries, as in Python
        memo_put(memo_count());
        break;
      case 'g': {
        const int64_t i = parse_decimal(line(), "GET index");
        if (i < 0) fail(str("memo index ", i, " is negative"));
        push(memo_get(static_cast<uint64_t>(i)));
        break;
      }
      case 'h':
        push(memo_get(u8()));
        break;
      case 'j':
        push(memo_get(uint_le(4)));
        break;

      // ---- constants and numbers
      case 'N':
        push(make(Value::Kind::kNone));
        break;
      case 0x88:
        push(make_bool(true));
        break;
      case 0x89:
        push(make_bool(false));
        break;
      case 'I': {  // INT: decimal text; "00" and "01" are protocol 0's False and True
        const std::string_view s = line();
        if (s == "00" || s == "01") {
          push(make_bool(s == "01"));
        } else {
          push(make_int(parse_decimal(s, "INT literal")));
        }
        break;
      }
      case 'L': {  // LONG: decimal text, with Python 2's trailing 'L'
        std::string_view s = line();
        if (!s.empty() && s.back() == 'L') s.remove_suffix(1);
        push(make_int(parse_decimal(s, "LONG literal")));
        break;
      }
      case 'J':
        push(make_int(static_cast<int32_t>(static_cast<uint32_t>(uint_le(4)))));
        break;
      case 'K':
        push(make_int(u8()));
        break;
      case 'M':
        push(make_int(static_cast<int64_t>(uint_le(2))));
        break;
      case 0x8a: {  // LONG1
        const std::size_t n = u8();
        push(make_int(little_endian_signed(take(n), n)));
        break;
      }
      case 0x8b: {  // LONG4
        const uint64_t n = uint_le(4);
        if (n > 0x7fffffff) fail(str("LONG4 length ", n, " is negative"));
        if (n > remaining()) {
          fail(str("length ", n, " exceeds the ", remaining(), " bytes that remain in the file"));
        }
        push(make_int(little_endian_signed(take(n), n)));
        break;
      }
      case 'F':
        push(make_float(parse_float_text(line())));
        break;
      case 'G': {  // BINFLOAT: big-endian IEEE 754 double
        const uint64_t bits = __builtin_bswap64(uint_le(8));
        double d;
        std::memcpy(&d, &bits, 8);
        push(make_float(d));
        break;
      }

      // ---- strings and bytes
      case 'S': {  // STRING: a quoted Python 2 str literal; bytes (Python 2 str has no encoding)
        const std::string_view s = line();
        std::string out;
        const CodecStatus st = detail::python_string_literal(
            reinterpret_cast<const uint8_t*>(s.data()), s.size(), out);
        if (!st.ok) fail(str("STRING literal at its byte ", st.position, ": ", st.message));
        push(make_text(Value::Kind::kBytes, std::move(out)));
        break;
      }
      case 'T': {  // BINSTRING: 4-byte signed length
        const uint64_t n = uint_le(4);
        if (n > 0x7fffffff) fail(str("BINSTRING length ", static_cast<int32_t>(n), " is negative"));
        if (n > remaining()) {
          fail(str("length ", n, " exceeds the ", remaining(), " bytes that remain in the file"));
        }
        push(make_from_file(Value::Kind::kBytes, take(n), n));
        break;
      }
      case 'U': {
        const std::size_t n = length(1);
        push(make_from_file(Value::Kind::kBytes, take(n), n));
        break;
      }
      case 'V': {  // UNICODE: raw-unicode-escape text line
        const std::string_view s = line();
        std::string out;
        const CodecStatus st = detail::raw_unicode_escape_to_utf8(
            reinterpret_cast<const uint8_t*>(s.data()), s.size(), out);
        if (!st.ok) fail(str("UNICODE text at its byte ", st.position, ": ", st.message));
        push(make_text(Value::Kind::kStr, std::move(out)));
        break;
      }
      case 'X': {
        const std::size_t n = length(4);
        push(make_from_file(Value::Kind::kStr, take(n), n));
        break;
      }
      case 0x8c: {
        const std::size_t n = length(1);
        push(make_from_file(Value::Kind::kStr, take(n), n));
        break;
      }
      case 0x8d: {
        const std::size_t n = length(8);
        push(make_from_file(Value::Kind::kStr, take(n), n));
        break;
      }
      case 'B': {
        const std::size_t n = length(4);
        push(make_from_file(Value::Kind::kBytes, take(n), n));
        break;
      }
      case 'C': {
        const std::size_t n = length(1);
        push(make_from_file(Value::Kind::kBytes, take(n), n));
        break;
      }
      case 0x8e:    // BINBYTES8
      case 0x96: {  // BYTEARRAY8: a mutable copy in Python; the same bytes here
        const std::size_t n = length(8);
        push(make_from_file(Value::Kind::kBytes, take(n), n));
        break;
      }

      // ---- containers
      case ')':
        push(make_tuple({}));
        break;
      case 't':
        push(make_tuple(pop_to_mark()));
        break;
      case 0x85: {
        ValuePtr a = pop();
        push(make_tuple({std::move(a)}));
        break;
      }
      case 0x86: {
        ValuePtr b = pop();
        ValuePtr a = pop();
        push(make_tuple({std::move(a), std::move(b)}));
        break;
      }
      case 0x87: {
        ValuePtr c = pop();
        ValuePtr b = pop();
        ValuePtr a = pop();
        push(make_tuple({std::move(a), std::move(b), std::move(c)}));
        break;
      }
      case ']':
        push(make_container(Value::Kind::kList));
        break;
      case 'l': {
        std::vector<ValuePtr> items = pop_to_mark();
        ValuePtr list = make_container(Value::Kind::kList);
        for (auto& it : items) append_to_list(*list, std::move(it));
        push(std::move(list));
        break;
      }
      case '}':
        push(make_container(Value::Kind::kDict));
        break;
      case 'd': {
        std::vector<ValuePtr> items = pop_to_mark();
        if (items.size() % 2 != 0) {
          fail(str("DICT needs key/value pairs; found ", items.size(), " values after the MARK"));
        }
        ValuePtr dict = make_container(Value::Kind::kDict);
        for (std::size_t i = 0; i < items.size(); i += 2) {
          set_item(*dict, std::move(items[i]), std::move(items[i + 1]));
        }
        push(std::move(dict));
        break;
      }
      case 'a': {
        ValuePtr item = pop();
        Value& list = *top();
        if (list.kind != Value::Kind::kList) {
          fail(str("APPEND target is ", describe(list), "; expected a list"));
        }
        require_open(list, "append to");
        append_to_list(list, std::move(item));
        break;
      }
      case 'e': {
        std::vector<ValuePtr> items = pop_to_mark();
        Value& list = *top();
        if (list.kind != Value::Kind::kList) {
          fail(str("APPENDS target is ", describe(list), "; expected a list"));
        }
        require_open(list, "append to");
        list.items.reserve(list.items.size() + items.size());
        for (auto& it : items) append_to_list(list, std::move(it));
        break;
      }
      case 's': {
        ValuePtr value = pop();
        ValuePtr key = pop();
        Value& dict = *top();
        if (dict.kind != Value::Kind::kDict) {
          fail(str("SETITEM target is ", describe(dict), "; expected a dict"));
        }
        require_open(dict, "set an item of");
        set_item(dict, std::move(key), std::move(value));
        break;
      }
      case 'u': {
        std::vector<ValuePtr> items = pop_to_mark();
        Value& dict = *top();
        if (dict.kind != Value::Kind::kDict) {
          fail(str("SETITEMS target is ", describe(dict), "; expected a dict"));
        }
        if (items.size() % 2 != 0) {
          fail(str("SETITEMS needs key/value pairs; found ", items.size(),
                   " values after the MARK"));
        }
        require_open(dict, "set an item of");
        for (std::size_t i = 0; i < items.size(); i += 2) {
          set_item(dict, std::move(items[i]), std::move(items[i + 1]));
        }
        break;
      }
      case 0x8f:
      case 0x90:
      case 0x91:
        fail("sets are not supported (the MulT/MMSA data formats never contain them)");

      // ---- globals and calls
      case 'c': {
        const std::string_view module = line();
        const std::string_view name = line();
        op_global(module, name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        ValuePtr name = pop();
        ValuePtr module = pop();
        if (module->kind != Value::Kind::kStr || name->kind != Value::Kind::kStr) {
          fail(str("STACK_GLOBAL needs two str values (module, name); found ", describe(*module),
                   " and ", describe(*name)));
        }
        op_global(text_of(*module), text_of(*name));
        break;
      }
      case 'R':
        op_reduce();
        break;
      case 'b':
        op_build();
        break;

      // ---- everything that would create or look up arbitrary objects
      case 'i':
      case 'o':
        fail(
            "creating class instances is not allowed (INST/OBJ); only NumPy arrays and plain "
            "data are accepted");
      case 0x81:
      case 0x92: {
        std::string target = "an unknown object";
        const std::size_t need = op_ == 0x81 ? 2 : 3;
        if (stack_.size() >= mark_base() + need) {
          target = describe(*stack_[stack_.size() - need]);
        }
        fail(str("calling a class's __new__ is not allowed (target: ", target,
                 "); only NumPy arrays and plain data are accepted"));
      }
      case 'P':
      case 'Q':
        fail("persistent ids are not allowed (they need the unpickler's persistent_load)");
      case 0x82:
      case 0x83:
      case 0x84:
        fail("extension-registry codes (EXT1/EXT2/EXT4) are not allowed");
      case 0x97:
      case 0x98:
        fail(
            "out-of-band buffers are not supported; pickle the data in-band (without "
            "buffer_callback)");
      default:
        fail("unknown opcode; expected a pickle of protocol 0 to 5");
    }
  }
}

void Machine::op_global(std::string_view module, std::string_view name) {
  for (const auto& g : kAllowedGlobals) {
    if (module == g.module && name == g.name) {
      ValuePtr v = make(Value::Kind::kNone);
      Special& s = add_special(v, Special::Type::kGlobal);
      s.callable = g.callable;
      s.global_name = str(g.module, ".", g.name);
      push(std::move(v));
      return;
    }
  }
  fail(str("global '", printable(module), " ", printable(name),
           "' is not allowed; expected one of ", allowed_globals_list()));
}

void Machine::op_reduce() {
  ValuePtr args = pop();
  ValuePtr callable = pop();
  Special* s = special(callable.get());
  if (s == nullptr || s->type != Special::Type::kGlobal) {
    fail(str("REDUCE on ", describe(*callable), "; only the allowed globals can be called (",
             allowed_globals_list(), ")"));
  }
  if (args->kind != Value::Kind::kTuple) {
    fail(str("REDUCE arguments are ", describe(*args), "; expected a tuple"));
  }
  push(call(s->callable, *args));
}

ValuePtr Machine::call(Callable c, const Value& args) {
  switch (c) {
    case Callable::kReconstruct:
      return call_reconstruct(args);
    case Callable::kDtype:
      return call_dtype(args);
    case Callable::kScalar:
      return call_scalar(args);
    case Callable::kCodecsEncode:
      return call_codecs_encode(args);
    case Callable::kFromBuffer:
      return call_frombuffer(args);
    case Callable::kBytes:
      if (!args.items.empty()) {
        fail(str("builtins.bytes is only accepted without arguments (b''); got ", args.items.size(),
                 " argument(s)"));
      }
      return make_text(Value::Kind::kBytes, std::string());
    case Callable::kNdarray:
      break;
  }
  fail("numpy.ndarray cannot be called; it may only be the first argument of _reconstruct");
}

std::vector<int64_t> Machine::shape_from(const Value& v, const char* what) {
  if (v.kind == Value::Kind::kInt) return {v.integer};  // NumPy accepts a bare int as a 1-d shape
  if (v.kind != Value::Kind::kTuple && v.kind != Value::Kind::kList) {
    fail(str(what, " is ", describe(v), "; expected a tuple of ints"));
  }
  if (v.items.size() > 64) {
    fail(str(what, " has ", v.items.size(), " dimensions; NumPy allows at most 64"));
  }
  std::vector<int64_t> shape;
  for (const auto& d : v.items) {
    if (d->kind != Value::Kind::kInt) {
      fail(str(what, " contains ", describe(*d), "; expected a tuple of ints"));
    }
    if (d->integer < 0) fail(str(what, " has a negative dimension (", d->integer, ")"));
    shape.push_back(d->integer);
  }
  return shape;
}

const DtypeInfo& Machine::dtype_from(const Value& v, const char* what) {
  Special* s = special(&v);
  if (v.kind != Value::Kind::kDType || s == nullptr || s->type != Special::Type::kDtype) {
    fail(str(what, " is ", describe(v), "; expected a numpy.dtype"));
  }
  return s->dtype;
}

ValuePtr Machine::call_reconstruct(const Value& args) {
  // _reconstruct(numpy.ndarray, (0,), b'b'): an empty array that BUILD then fills in.
  if (args.items.size() != 3) {
    fail(str("_reconstruct expects 3 arguments (numpy.ndarray, shape, typecode); got ",
             args.items.size()));
  }
  Special* cls = special(args.items[0].get());
  if (cls == nullptr || cls->type != Special::Type::kGlobal ||
      cls->callable != Callable::kNdarray) {
    fail(str("_reconstruct's first argument is ", describe(*args.items[0]),
             "; expected numpy.ndarray (subclasses are not supported)"));
  }
  shape_from(*args.items[1], "_reconstruct's shape");
  const Value& code = *args.items[2];
  if (code.kind != Value::Kind::kBytes && code.kind != Value::Kind::kStr) {
    fail(str("_reconstruct's typecode is ", describe(code), "; expected bytes"));
  }
  ValuePtr v = make(Value::Kind::kArray);
  v->ndarray = std::make_shared<NdArray>();
  add_special(v, Special::Type::kPendingArray);
  return v;
}

ValuePtr Machine::call_dtype(const Value& args) {
  if (args.items.empty() || args.items.size() > 3) {
    fail(str("numpy.dtype expects 1 to 3 arguments (spec, align, copy); got ", args.items.size()));
  }
  const Value& spec = *args.items[0];
  if (spec.kind != Value::Kind::kStr && spec.kind != Value::Kind::kBytes) {
    fail(str("numpy.dtype's spec is ", describe(spec), "; expected a str such as 'f4'"));
  }
  for (std::size_t i = 1; i < args.items.size(); ++i) {
    const auto k = args.items[i]->kind;
    if (k != Value::Kind::kBool && k != Value::Kind::kInt) {
      fail(
          str("numpy.dtype's argument ", i, " is ", describe(*args.items[i]), "; expected a bool"));
    }
  }
  DtypeInfo info;
  std::string error;
  if (!detail::parse_dtype_spec(text_of(spec), info, error)) fail(error);
  ValuePtr v = make(Value::Kind::kDType);
  v->dtype = info.dtype;
  v->text = std::string(1, info.byteorder);
  add_special(v, Special::Type::kDtype).dtype = info;
  return v;
}

Payload Machine::latin1_payload(const Value& s, const char* what) {
  // The latin-1 decoder accepts only ASCII and C2/C3 sequences, so it validates by itself: the
  // lazily held text is used without the general UTF-8 check.
  std::string_view text = s.text;
  if (Special* sp = special(&s); sp != nullptr && sp->type == Special::Type::kBlob) {
    text = {reinterpret_cast<const char*>(sp->blob.ptr), sp->blob.size};
  }
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  // Sized by the input (an upper bound, about 1.5x the output for array data): the pages past
  // the output are never touched, so they cost address space but (with Linux's lazy allocation)
  // no memory.
  std::shared_ptr<uint8_t> buffer = detail::allocate_buffer(text.size() + detail::kLatin1Slack);
  std::size_t n = 0;
  const CodecStatus st = detail::utf8_to_latin1(p, text.size(), buffer.get(), n);
  if (!st.ok) fail(str(what, ": at byte ", st.position, " of the text: ", st.message));
  Payload out;
  out.ptr = buffer.get();
  out.size = n;
  out.owner = std::move(buffer);
  return out;
}

ValuePtr Machine::call_codecs_encode(const Value& args) {
  // Python 3 writes bytes in protocols 0-2 as _codecs.encode(bytes.decode('latin-1'), 'latin1').
  if (args.items.empty() || args.items.size() > 3) {
    fail(str("_codecs.encode expects 1 to 3 arguments (str, encoding, errors); got ",
             args.items.size()));
  }
  const Value& text = *args.items[0];
  if (text.kind != Value::Kind::kStr) {
    fail(str("_codecs.encode's first argument is ", describe(text), "; expected a str"));
  }
  std::string encoding = "utf-8";
  if (args.items.size() >= 2) {
    const Value& e = *args.items[1];
    if (e.kind != Value::Kind::kStr) {
      fail(str("_codecs.encode's encoding is ", describe(e), "; expected a str"));
    }
    encoding = std::string(text_of(e));
    std::transform(encoding.begin(), encoding.end(), encoding.begin(),
                   [](unsigned char c) { return c == '_' ? '-' : std::tolower(c); });
  }
  if (args.items.size() == 3) {
    const Value& e = *args.items[2];
    if (e.kind != Value::Kind::kStr || text_of(e) != "strict") {
      fail("_codecs.encode's errors argument must be 'strict'");
    }
  }
  const bool latin1 = encoding == "latin1" || encoding == "latin-1" || encoding == "iso-8859-1" ||
                      encoding == "iso8859-1" || encoding == "l1";
  const bool utf8 = encoding == "utf-8" || encoding == "utf8";
  if (!latin1 && !utf8) {
    fail(str("_codecs.encode with encoding '", printable(encoding),
             "' is not supported; expected 'latin1' (or 'utf-8')"));
  }
  if (utf8) {
    return make_text(Value::Kind::kBytes, std::string(text_of(text)));
  }
  Payload p = latin1_payload(text, "_codecs.encode(..., 'latin1')");
  if (p.size < kLazyThreshold) {
    return make_text(Value::Kind::kBytes,
                     std::string(reinterpret_cast<const char*>(p.ptr), p.size));
  }
  ValuePtr v = make(Value::Kind::kBytes);
  add_special(v, Special::Type::kBlob).blob = std::move(p);
  return v;
}

ValuePtr Machine::call_scalar(const Value& args) {
  if (args.items.size() != 2) {
    fail(str("numpy scalar expects 2 arguments (dtype, bytes); got ", args.items.size()));
  }
  const DtypeInfo& d = dtype_from(*args.items[0], "scalar's dtype");
  const Value& raw = *args.items[1];
  if (d.kind == 'O') fail("object scalars are not supported");
  Payload p;
  if (raw.kind == Value::Kind::kBytes) {
    p = payload_of(raw);
  } else if (raw.kind == Value::Kind::kStr) {
    p = latin1_payload(raw, "scalar data");
  } else {
    fail(str("scalar's data is ", describe(raw), "; expected bytes"));
  }
  if (p.size != d.itemsize) {
    fail(str("scalar data has ", p.size, " bytes; its dtype needs ", d.itemsize));
  }
  std::string error;
  if (d.kind == 'S' || d.kind == 'U') {
    std::string out;
    if (!detail::decode_fixed_string(d, p.ptr, out, error)) fail(error);
    return make_text(d.kind == 'S' ? Value::Kind::kBytes : Value::Kind::kStr, std::move(out));
  }
  detail::ScalarValue sv;
  if (!detail::decode_scalar(d, p.ptr, sv, error)) fail(error);
  switch (sv.kind) {
    case detail::ScalarKind::kBool:
      return make_bool(sv.boolean);
    case detail::ScalarKind::kInt:
      return make_int(sv.integer);
    case detail::ScalarKind::kFloat:
      break;
  }
  return make_float(sv.floating);
}

ValuePtr Machine::call_frombuffer(const Value& args) {
  // NumPy >= 1.16 with protocol 5 writes C- or Fortran-contiguous arrays as
  // _frombuffer(buffer, dtype, shape, order): the buffer is the raw memory in that order.
  if (args.items.size() != 4) {
    fail(str("_frombuffer expects 4 arguments (buffer, dtype, shape, order); got ",
             args.items.size()));
  }
  const Value& buffer = *args.items[0];
  if (buffer.kind != Value::Kind::kBytes) {
    fail(str("_frombuffer's buffer is ", describe(buffer), "; expected bytes or bytearray"));
  }
  const DtypeInfo& d = dtype_from(*args.items[1], "_frombuffer's dtype");
  if (d.kind == 'O') fail("_frombuffer cannot hold an object dtype");
  const std::vector<int64_t> shape = shape_from(*args.items[2], "_frombuffer's shape");
  const Value& order = *args.items[3];
  const std::string_view o =
      (order.kind == Value::Kind::kStr || order.kind == Value::Kind::kBytes) ? text_of(order) : "?";
  if (o != "C" && o != "F") {
    fail(str("_frombuffer's order is '", printable(o), "'; expected 'C' or 'F'"));
  }
  ValuePtr v = make(Value::Kind::kArray);
  v->ndarray = std::make_shared<NdArray>();
  std::string error;
  if (!detail::build_numeric_array(d, shape, o == "F", payload_of(buffer), *v->ndarray, error)) {
    fail(str("_frombuffer: ", error));
  }
  return v;
}

void Machine::op_build() {
  ValuePtr state = pop();
  Value& target = *top();
  Special* s = special(&target);
  if (target.kind == Value::Kind::kArray && s != nullptr &&
      s->type == Special::Type::kPendingArray) {
    build_array(target, *state);
    specials_.erase(&target);  // the array is complete; the stack still holds it
    return;
  }
  if (target.kind == Value::Kind::kDType && s != nullptr && s->type == Special::Type::kDtype) {
    build_dtype(target, *s, *state);
    return;
  }
  fail(str("BUILD on ", describe(target),
           "; only a new numpy.ndarray or numpy.dtype can receive a state"));
}

void Machine::build_dtype(Value& target, Special& s, const Value& state) {
  if (s.dtype.built) fail("BUILD applied twice to the same numpy.dtype");
  if (state.kind != Value::Kind::kTuple) {
    fail(str("numpy.dtype state is ", describe(state), "; expected a tuple"));
  }
  // NumPy's layouts: (version, endian, subarray, names, fields, elsize, alignment, flags
  // [, metadata]) for versions 3/4; shorter ones from old NumPy versions.
  const auto& it = state.items;
  std::size_t endian_at, subarray_at, fields_at, elsize_at, names_at = 0;
  switch (it.size()) {
    case 5:
      endian_at = 0, subarray_at = 1, fields_at = 2, elsize_at = 3;
      break;
    case 6:
      endian_at = 1, subarray_at = 2, fields_at = 3, elsize_at = 4;
      break;
    case 7:
    case 8:
    case 9:
      endian_at = 1, subarray_at = 2, names_at = 3, fields_at = 4, elsize_at = 5;
      break;
    default:
      fail(str("numpy.dtype state has ", it.size(), " elements; expected 5 to 9"));
  }
  if (it.size() >= 6 && it[0]->kind != Value::Kind::kInt) {
    fail(str("numpy.dtype state version is ", describe(*it[0]), "; expected an int"));
  }
  const Value& endian = *it[endian_at];
  const std::string_view e =
      (endian.kind == Value::Kind::kStr || endian.kind == Value::Kind::kBytes) ? text_of(endian)
                                                                               : std::string_view();
  if (e.size() != 1 || std::string_view("<>|=").find(e[0]) == std::string_view::npos) {
    fail(str("numpy.dtype byte order is ", describe(endian), " '", printable(e),
             "'; expected '<', '>', '|' or '='"));
  }
  auto is_none = [&](std::size_t i) { return it[i]->kind == Value::Kind::kNone; };
  if (!is_none(subarray_at) || !is_none(fields_at) || (names_at != 0 && !is_none(names_at))) {
    fail("structured and sub-array dtypes are not supported; expected a plain dtype");
  }
  const Value& elsize = *it[elsize_at];
  if (elsize.kind != Value::Kind::kInt) {
    fail(str("numpy.dtype element size is ", describe(elsize), "; expected an int"));
  }
  DtypeInfo& d = s.dtype;
  if (d.kind == 'S' || d.kind == 'U') {
    if (elsize.integer >= 0) {
      if (d.kind == 'U' && elsize.integer % 4 != 0) {
        fail(str("str dtype element size ", elsize.integer, " is not a multiple of 4"));
      }
      d.itemsize = static_cast<std::size_t>(elsize.integer);
    }
  } else if (d.kind != 'O' && elsize.integer >= 0 &&
             static_cast<std::size_t>(elsize.integer) != d.itemsize) {
    fail(str("numpy.dtype element size ", elsize.integer, " does not match its type (", d.itemsize,
             " bytes)"));
  }
  if (d.itemsize > 1 && d.kind != 'S' && d.kind != 'O') d.byteorder = e[0];
  d.built = true;
  target.text = std::string(1, d.byteorder);
}

void Machine::build_array(Value& target, const Value& state) {
  // ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)); version is optional.
  if (state.kind != Value::Kind::kTuple || (state.items.size() != 4 && state.items.size() != 5)) {
    fail(str("ndarray state is ", describe(state), " of ", state.items.size(),
             " elements; expected a tuple (version, shape, dtype, is_fortran, data)"));
  }
  const std::size_t base = state.items.size() == 5 ? 1 : 0;
  if (base == 1 && state.items[0]->kind != Value::Kind::kInt) {
    fail(str("ndarray state version is ", describe(*state.items[0]), "; expected an int"));
  }
  const std::vector<int64_t> shape = shape_from(*state.items[base], "ndarray state's shape");
  const DtypeInfo& d = dtype_from(*state.items[base + 1], "ndarray state's dtype");
  const Value& fortran = *state.items[base + 2];
  if (fortran.kind != Value::Kind::kBool && fortran.kind != Value::Kind::kInt) {
    fail(str("ndarray state's is_fortran is ", describe(fortran), "; expected a bool"));
  }
  const bool is_fortran =
      fortran.kind == Value::Kind::kBool ? fortran.boolean : fortran.integer != 0;
  const Value& raw = *state.items[base + 3];
  NdArray& out = *target.ndarray;
  std::string error;

  if (d.kind == 'O') {
    // Object arrays carry a list of their elements in C order (NumPy iterates in C order
    // whatever the memory layout).
    if (raw.kind != Value::Kind::kList) {
      fail(str("object array data is ", describe(raw), "; expected a list"));
    }
    const int64_t numel = detail::checked_numel(shape, 1, error);
    if (numel < 0) fail(str("ndarray state's shape: ", error));
    if (static_cast<uint64_t>(numel) != raw.items.size()) {
      fail(str("object array data has ", raw.items.size(), " elements; its shape needs ", numel));
    }
    out.dtype = DType::kObject;
    out.shape = shape;
    out.source_big_endian = false;
    out.source_fortran = is_fortran;
    out.objects.reserve(raw.items.size());
    out.object_is_bytes.reserve(raw.items.size());
    for (std::size_t i = 0; i < raw.items.size(); ++i) {
      const Value& e = *raw.items[i];
      if (e.kind != Value::Kind::kStr && e.kind != Value::Kind::kBytes) {
        fail(str("object array element ", i, " is ", describe(e), "; expected str or bytes"));
      }
      out.objects.emplace_back(text_of(e));
      out.object_is_bytes.push_back(e.kind == Value::Kind::kBytes);
    }
    return;
  }
  Payload payload;
  if (raw.kind == Value::Kind::kBytes) {
    payload = payload_of(raw);
  } else if (raw.kind == Value::Kind::kStr) {
    payload = latin1_payload(raw, "ndarray data given as str");  // NumPy 1.x accepts latin-1 str
  } else {
    fail(str("ndarray data is ", describe(raw), "; expected bytes"));
  }
  if (!detail::build_numeric_array(d, shape, is_fortran, payload, out, error)) {
    fail(str("ndarray state: ", error));
  }
}

// After STOP: copies the text of lazily held str/bytes that ended up in the result, and rejects
// values that cannot be data (a global by itself, an array that never got its state).
ValuePtr Machine::finish(ValuePtr root) {
  stack_.clear();
  memo_.clear();
  sparse_memo_.clear();
  std::vector<Value*> todo{root.get()};
  std::unordered_set<const Value*> seen;
  while (!todo.empty()) {
    Value* v = todo.back();
    todo.pop_back();
    switch (v->kind) {
      case Value::Kind::kList:
      case Value::Kind::kTuple:
      case Value::Kind::kDict:
        if (!seen.insert(v).second) break;
        for (const auto& i : v->items) todo.push_back(i.get());
        for (const auto& [k, x] : v->dict) {
          todo.push_back(k.get());
          todo.push_back(x.get());
        }
        break;
      default:
        if (Special* s = special(v)) {
          switch (s->type) {
            case Special::Type::kBlob:
              v->text.assign(text_of(*v));
              specials_.erase(v);  // materialised: a second visit must not copy again
              break;
            case Special::Type::kGlobal:
              fail(str("the result contains the global ", s->global_name, " (from byte offset ",
                       s->offset, ") as a value; expected plain data and arrays"));
            case Special::Type::kPendingArray:
              fail(str("the ndarray created at byte offset ", s->offset,
                       " never received its state (BUILD)"));
            case Special::Type::kDtype:
              break;
          }
        }
    }
  }
  return root;
}

}  // namespace

// ---- public API ------------------------------------------------------------------------------

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kBool:
      return "bool";
    case DType::kInt8:
      return "int8";
    case DType::kInt16:
      return "int16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kUInt8:
      return "uint8";
    case DType::kUInt16:
      return "uint16";
    case DType::kUInt32:
      return "uint32";
    case DType::kUInt64:
      return "uint64";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kObject:
      return "object";
  }
  return "unknown";
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::kBool:
    case DType::kInt8:
    case DType::kUInt8:
      return 1;
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kFloat16:
      return 2;
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
    case DType::kUInt64:
    case DType::kFloat64:
      return 8;
    case DType::kObject:
      return 0;
  }
  return 0;
}

int64_t NdArray::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

namespace {

// Whether integer v is representable as T, without comparisons that are always true (which
// -Wextra reports) or signed/unsigned mix-ups.
template <class T, class S>
bool integer_fits(S v) {
  if constexpr (std::is_signed_v<S> == std::is_signed_v<T>) {
    if constexpr (sizeof(S) <= sizeof(T)) {
      return true;
    } else {
      return v >= static_cast<S>(std::numeric_limits<T>::min()) &&
             v <= static_cast<S>(std::numeric_limits<T>::max());
    }
  } else if constexpr (std::is_signed_v<S>) {  // signed source, unsigned target
    if (v < 0) return false;
    if constexpr (sizeof(S) <= sizeof(T)) {
      return true;
    } else {
      return static_cast<std::make_unsigned_t<S>>(v) <= std::numeric_limits<T>::max();
    }
  } else {  // unsigned source, signed target
    if constexpr (sizeof(S) < sizeof(T)) {
      return true;
    } else {
      return v <= static_cast<std::make_unsigned_t<T>>(std::numeric_limits<T>::max());
    }
  }
}

template <class T, class S>
T convert_element(S v, int64_t index) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != S{0};
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<S>) {
    // Truncation toward zero, as NumPy's astype; NaN, inf and out-of-range values have no
    // defined result in C++ (or a meaningless one in NumPy), so they are refused.
    const double d = static_cast<double>(v);
    const double limit = std::ldexp(1.0, std::numeric_limits<T>::digits);
    const bool fits = std::is_signed_v<T> ? (d >= -limit && d < limit) : (d > -1.0 && d < limit);
    if (!fits) {
      throw DataError(
          str("ndarray element ", index, " (", d, ") does not fit the requested integer type"));
    }
    return static_cast<T>(v);
  } else {
    if (!integer_fits<T>(v)) {
      throw DataError(
          str("ndarray element ", index, " (", +v, ") does not fit the requested integer type"));
    }
    return static_cast<T>(v);
  }
}

template <class S>
S load_raw(const uint8_t* p) {
  S v;
  std::memcpy(&v, p, sizeof(S));
  return v;
}

}  // namespace

template <class T>
T NdArray::get(int64_t i) const {
  if (dtype == DType::kObject) {
    throw DataError(str("ndarray of dtype object has no numeric element ", i));
  }
  const std::size_t k = dtype_size(dtype);
  if (i < 0 || static_cast<std::size_t>(i) >= nbytes / k) {
    throw DataError(str("ndarray index ", i, " is out of range (", nbytes / k, " elements)"));
  }
  const uint8_t* p = data + static_cast<std::size_t>(i) * k;
  switch (dtype) {
    case DType::kBool:
      return convert_element<T>(static_cast<uint8_t>(p[0] != 0), i);
    case DType::kInt8:
      return convert_element<T>(load_raw<int8_t>(p), i);
    case DType::kInt16:
      return convert_element<T>(load_raw<int16_t>(p), i);
    case DType::kInt32:
      return convert_element<T>(load_raw<int32_t>(p), i);
    case DType::kInt64:
      return convert_element<T>(load_raw<int64_t>(p), i);
    case DType::kUInt8:
      return convert_element<T>(load_raw<uint8_t>(p), i);
    case DType::kUInt16:
      return convert_element<T>(load_raw<uint16_t>(p), i);
    case DType::kUInt32:
      return convert_element<T>(load_raw<uint32_t>(p), i);
    case DType::kUInt64:
      return convert_element<T>(load_raw<uint64_t>(p), i);
    case DType::kFloat16:
      return convert_element<T>(detail::half_to_float(load_raw<uint16_t>(p)), i);
    case DType::kFloat32:
      return convert_element<T>(load_raw<float>(p), i);
    case DType::kFloat64:
      return convert_element<T>(load_raw<double>(p), i);
    case DType::kObject:
      break;
  }
  throw DataError("ndarray has an unknown dtype");
}

template bool NdArray::get<bool>(int64_t) const;
template int8_t NdArray::get<int8_t>(int64_t) const;
template int16_t NdArray::get<int16_t>(int64_t) const;
template int32_t NdArray::get<int32_t>(int64_t) const;
template int64_t NdArray::get<int64_t>(int64_t) const;
template uint8_t NdArray::get<uint8_t>(int64_t) const;
template uint16_t NdArray::get<uint16_t>(int64_t) const;
template uint32_t NdArray::get<uint32_t>(int64_t) const;
template uint64_t NdArray::get<uint64_t>(int64_t) const;
template float NdArray::get<float>(int64_t) const;
template double NdArray::get<double>(int64_t) const;

std::vector<double> NdArray::to_double() const {
  if (dtype == DType::kObject) throw DataError("ndarray of dtype object cannot convert to double");
  const std::size_t k = dtype_size(dtype);
  const std::size_t n = nbytes / k;
  std::vector<double> out(n);
  auto fill = [&](auto tag) {
    using S = decltype(tag);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(load_raw<S>(data + i * k));
  };
  switch (dtype) {
    case DType::kBool:
      for (std::size_t i = 0; i < n; ++i) out[i] = data[i] != 0 ? 1.0 : 0.0;
      break;
    case DType::kInt8:
      fill(int8_t{});
      break;
    case DType::kInt16:
      fill(int16_t{});
      break;
    case DType::kInt32:
      fill(int32_t{});
      break;
    case DType::kInt64:
      fill(int64_t{});
      break;
    case DType::kUInt8:
      fill(uint8_t{});
      break;
    case DType::kUInt16:
      fill(uint16_t{});
      break;
    case DType::kUInt32:
      fill(uint32_t{});
      break;
    case DType::kUInt64:
      fill(uint64_t{});
      break;
    case DType::kFloat16:
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = detail::half_to_float(load_raw<uint16_t>(data + 2 * i));
      }
      break;
    case DType::kFloat32:
      fill(float{});
      break;
    case DType::kFloat64:
      fill(double{});
      break;
    case DType::kObject:
      break;
  }
  return out;
}

void NdArray::release_source() const {
  const auto* mapping = std::get_deleter<MappingDeleter>(keep_alive);
  if (mapping == nullptr || data == nullptr || nbytes == 0) return;
  const auto base = reinterpret_cast<uintptr_t>(keep_alive.get());
  const auto begin = reinterpret_cast<uintptr_t>(data);
  if (begin < base || begin + nbytes > base + mapping->length) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the payload: neighbouring arrays may share the boundary pages.
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + nbytes) / page * page;
  if (last > first) {
    // The mapping is private and read-only: dropped pages are read again from the file if they
    // are ever touched, so this cannot lose data.
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }
}

const char* Value::kind_name() const {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kStr:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kList:
      return "list";
    case Kind::kTuple:
      return "tuple";
    case Kind::kDict:
      return "dict";
    case Kind::kArray:
      return "ndarray";
    case Kind::kDType:
      return "dtype";
  }
  return "unknown";
}

const Value* Value::find(std::string_view key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : dict) {
    if ((k->kind == Kind::kStr || k->kind == Kind::kBytes) && k->text == key) return v.get();
  }
  return nullptr;
}

const Value& Value::at(std::string_view key) const {
  if (kind != Kind::kDict) {
    throw DataError(str("expected a dict with key \"", key, "\", found ", kind_name()));
  }
  if (const Value* v = find(key)) return *v;
  std::string keys_found;
  for (const auto& k : keys()) keys_found += str(keys_found.empty() ? "" : ", ", "\"", k, "\"");
  throw DataError(str("key \"", key, "\" not found; the dict has keys ",
                      keys_found.empty() ? "(none)" : keys_found));
}

const NdArray& Value::array() const {
  if (kind != Kind::kArray || !ndarray) {
    throw DataError(str("expected a numpy.ndarray, found ", kind_name()));
  }
  return *ndarray;
}

std::vector<std::string> Value::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : dict) {
    if (k->kind == Kind::kStr || k->kind == Kind::kBytes) out.push_back(k->text);
  }
  return out;
}

ValuePtr parse(const uint8_t* data, std::size_t size, const std::string& name) {
  if (size == 0) throw DataError(str("file '", name, "': is empty; expected a pickle"));
  Machine m(data, size, name, nullptr, -1);
  return m.run();
}

ValuePtr load_file(const std::string& path) {
  auto file = std::make_shared<MappedFile>(map_file(path, "a pickle file", /*keep_open=*/true));
  const std::shared_ptr<const void> mapping(file->data(), MappingDeleter{file->size(), file});
  // The descriptor stays open while parsing: payloads that must be copied are read with pread().
  struct CloseOnExit {
    MappedFile& file;
    ~CloseOnExit() { file.close_fd(); }
  } closer{*file};
  Machine m(file->data(), file->size(), path, mapping, file->fd());
  return m.run();
}

}  // namespace robustmsa::pickle

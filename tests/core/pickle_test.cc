// Tests of the restricted pickle reader (src/io/pickle.h, DESIGN §2.2): hostile pickles are
// rejected with messages that name the offset and opcode, every truncation and random mutation of
// valid pickles fails cleanly, hand-built pickles of every opcode family load exactly, and pickles
// written by Python + NumPy (1.x and 2.x, protocols 0-5) load to the values NumPy holds.
#include "io/pickle.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../common/hex.h"
#include "../common/pickle_bytes.h"
#include "io/pickle_codec.h"
#include "util/error.h"

namespace robustmsa::pickle {
namespace {

// ---- building pickles by hand ----------------------------------------------------------------

using test_util::Bytes;
using test_util::hex;
using test_util::numpy_array;

template <class T>
std::string as_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

ValuePtr parse_string(const std::string& s, const std::string& name = "test.pkl") {
  return parse(reinterpret_cast<const uint8_t*>(s.data()), s.size(), name);
}

// The DataError message of parsing `s`, or "" (with a test failure) when it does not fail.
std::string error_of(const std::string& s) {
  try {
    parse_string(s);
  } catch (const DataError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected DataError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected DataError, the pickle was accepted";
  return "";
}

// Parsing fails with a message naming the file, the byte offset and opcode, and `detail`.
void expect_rejected(const Bytes& b, std::size_t offset, const std::string& opcode,
                     const std::string& detail) {
  const std::string msg = error_of(b.str());
  EXPECT_NE(msg.find("file 'test.pkl'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(str("byte offset ", offset, ": opcode ", opcode, " (0x")), std::string::npos)
      << "expected offset " << offset << " and opcode " << opcode << " in: " << msg;
  EXPECT_NE(msg.find(detail), std::string::npos) << "expected '" << detail << "' in: " << msg;
}

std::string temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string t = str(base != nullptr && *base != '\0' ? base : "/tmp", "/robustmsa_pickle_XXXXXX");
  if (mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return t;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// ---- hostile input -----------------------------------------------------------------------------

TEST(PickleHostile, GlobalOsSystemViaReduce) {
  Bytes b;
  b.global("os", "system").op('(').raw("S'touch /tmp/x'\n").op('t').op('R').op('.');
  expect_rejected(b, 0, "GLOBAL", "global 'os system' is not allowed; expected one of");
  expect_rejected(b, 0, "GLOBAL", "numpy.core.multiarray._reconstruct");
}

TEST(PickleHostile, StackGlobalOsSystem) {
  Bytes body;
  body.short_unicode("os").short_unicode("system");
  const std::size_t at = 11 + body.size();  // after PROTO (2) and FRAME (9)
  body.op(0x93).short_unicode("ls").op(0x85).op('R').op('.');
  Bytes b;
  b.proto(4).op(0x95).uint_le(body.size(), 8).raw(body.str());
  expect_rejected(b, at, "STACK_GLOBAL", "global 'os system' is not allowed");
}

TEST(PickleHostile, OtherDangerousGlobals) {
  const std::pair<const char*, const char*> globals[] = {
      {"builtins", "eval"},
      {"__builtin__", "eval"},
      {"builtins", "exec"},
      {"subprocess", "Popen"},
      {"posix", "system"},
      {"nt", "system"},
      {"builtins", "getattr"},
      {"copyreg", "_reconstructor"},
      {"numpy", "load"},
      {"numpy.core.multiarray", "frombuffer"},
      {"numpy.testing._private.utils", "runstring"},
      {"builtins", "bytearray"},
      {"numpy.core.multiarray", "_reconstruct.__globals__"},
  };
  for (const auto& [module, name] : globals) {
    SCOPED_TRACE(str(module, ".", name));
    Bytes b;
    b.proto(2).binint1(1).op('0').global(module, name).op(')').op('R').op('.');
    expect_rejected(b, 5, "GLOBAL", "is not allowed");
    Bytes s;
    s.proto(4).stack_global(module, name).op(')').op('R').op('.');
    expect_rejected(s, 2 + 2 + std::strlen(module) + 2 + std::strlen(name), "STACK_GLOBAL",
                    "is not allowed");
  }
}

TEST(PickleHostile, InstObjNewobjPersidExt) {
  Bytes inst;
  inst.op('(').raw("S'ls'\n");
  const std::size_t inst_at = inst.size();
  inst.op('i').line("os").line("system").op('.');
  expect_rejected(inst, inst_at, "INST", "not allowed");

  Bytes obj_foreign;  // the class is refused where it is named
  obj_foreign.op('(').global("os", "system").raw("S'ls'\n").op('o').op('.');
  expect_rejected(obj_foreign, 1, "GLOBAL", "global 'os system' is not allowed");
  Bytes obj;  // and OBJ is refused even on an allowed class
  obj.op('(').global("numpy", "ndarray").op('o').op('.');
  expect_rejected(obj, obj.size() - 2, "OBJ", "not allowed");

  Bytes newobj_foreign;
  newobj_foreign.proto(2).global("collections", "OrderedDict").op(')').op(0x81).op('.');
  expect_rejected(newobj_foreign, 2, "GLOBAL", "global 'collections OrderedDict' is not allowed");
  Bytes newobj;
  newobj.proto(2).global("numpy", "ndarray").op(')').op(0x81).op('.');
  expect_rejected(newobj, newobj.size() - 2, "NEWOBJ", "target: global numpy.ndarray");
  Bytes newobj_ex;
  newobj_ex.proto(4).global("numpy", "dtype").op(')').op('}').op(0x92).op('.');
  expect_rejected(newobj_ex, newobj_ex.size() - 2, "NEWOBJ_EX", "not allowed");

  Bytes persid;
  persid.op('P').line("0").op('.');
  expect_rejected(persid, 0, "PERSID", "persistent ids are not allowed");
  Bytes binpersid;
  binpersid.proto(2).binint1(1).op('Q').op('.');
  expect_rejected(binpersid, 4, "BINPERSID", "persistent ids are not allowed");
  Bytes ext1;
  ext1.proto(2).op(0x82).uint_le(1, 1).op('.');
  expect_rejected(ext1, 2, "EXT1", "extension-registry");
  Bytes ext4;
  ext4.proto(2).op(0x84).uint_le(7, 4).op('.');
  expect_rejected(ext4, 2, "EXT4", "extension-registry");
}

TEST(PickleHostile, ReduceAndBuildOnWrongObjects) {
  Bytes reduce_none;
  reduce_none.proto(2).op('N').op(')').op('R').op('.');
  expect_rejected(reduce_none, 4, "REDUCE", "REDUCE on None; only the allowed globals");
  Bytes reduce_str;
  reduce_str.proto(2).short_unicode("os.system").op(')').op('R').op('.');
  expect_rejected(reduce_str, reduce_str.size() - 2, "REDUCE", "REDUCE on str");
  Bytes call_ndarray;
  call_ndarray.proto(2).global("numpy", "ndarray").op(')').op('R').op('.');
  expect_rejected(call_ndarray, call_ndarray.size() - 2, "REDUCE",
                  "numpy.ndarray cannot be called");
  Bytes bad_args;
  bad_args.proto(2).global("numpy", "dtype").op(']').op('R').op('.');
  expect_rejected(bad_args, bad_args.size() - 2, "REDUCE",
                  "REDUCE arguments are list; expected a tuple");
  Bytes build_dict;
  build_dict.proto(2).op('}').op('}').op('b').op('.');
  expect_rejected(build_dict, 4, "BUILD", "BUILD on dict");
  Bytes build_global;
  build_global.proto(2).global("numpy", "ndarray").op('}').op('b').op('.');
  expect_rejected(build_global, build_global.size() - 2, "BUILD", "BUILD on global numpy.ndarray");
  Bytes bytes_with_args;
  bytes_with_args.proto(2).global("builtins", "bytes").short_unicode("x").op(0x85).op('R');
  bytes_with_args.op('.');
  expect_rejected(bytes_with_args, bytes_with_args.size() - 2, "REDUCE",
                  "only accepted without arguments");
  Bytes encode_rot13;
  encode_rot13.proto(2).global("_codecs", "encode").short_unicode("x").short_unicode("rot13");
  encode_rot13.op(0x86).op('R').op('.');
  expect_rejected(encode_rot13, encode_rot13.size() - 2, "REDUCE",
                  "encoding 'rot13' is not supported");
  Bytes encode_wide;  // U+2603 is not latin-1
  encode_wide.proto(2)
      .global("_codecs", "encode")
      .short_unicode("\xe2\x98\x83")
      .short_unicode("latin1")
      .op(0x86)
      .op('R')
      .op('.');
  expect_rejected(encode_wide, encode_wide.size() - 2, "REDUCE", "above U+00FF");
  Bytes global_as_value;
  global_as_value.proto(2).global("numpy", "ndarray").op('.');
  expect_rejected(global_as_value, global_as_value.size() - 1, "STOP",
                  "contains the global numpy.ndarray");
}

TEST(PickleHostile, ArraysThatDoNotAddUp) {
  {
    Bytes b;  // 3 floats declared, 2 given
    numpy_array(b.proto(3), "f4", '<', {3}, false, std::string(8, '\0'));
    b.op('.');
    const std::size_t build_at = b.size() - 2;
    expect_rejected(b, build_at, "BUILD",
                    "payload has 8 bytes; shape (3) with 4-byte elements "
                    "needs 12");
  }
  {
    Bytes b;  // negative dimension
    numpy_array(b.proto(3), "f4", '<', {-1}, false, "");
    b.op('.');
    expect_rejected(b, b.size() - 2, "BUILD", "negative dimension");
  }
  {
    Bytes b;  // the product of the dimensions overflows
    numpy_array(b.proto(3), "f8", '<', {1 << 30, 1 << 30, 1 << 30}, false, "");
    b.op('.');
    expect_rejected(b, b.size() - 2, "BUILD", "overflows");
  }
  {
    Bytes b;  // dtype kinds we refuse
    numpy_array(b.proto(3), "c16", '<', {1}, false, std::string(16, '\0'));
    b.op('.');
    // The dtype's REDUCE: 2 (PROTO) + 59 (_reconstruct call) + 10 (state MARK, version, shape) +
    // 13 (GLOBAL numpy dtype) + 5 ("c16") + 3 (NEWFALSE, NEWTRUE, TUPLE3).
    expect_rejected(b, 2 + 59 + 10 + 13 + 5 + 3, "REDUCE", "dtype 'c16' is not supported");
  }
  {
    Bytes b;  // an array used before its state is set
    b.proto(3).op(']').global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
    b.binint1(0).op(0x85).short_bytes("b").op(0x87).op('R').op('a').op('.');
    expect_rejected(b, b.size() - 2, "APPEND", "is used before BUILD set its state");
  }
  {
    Bytes b;  // an array that never gets its state
    b.proto(3).global("numpy._core.multiarray", "_reconstruct").global("numpy", "ndarray");
    b.binint1(0).op(0x85).short_bytes("b").op(0x87).op('R').op('.');
    expect_rejected(b, b.size() - 1, "STOP", "never received its state");
  }
  {
    Bytes b;  // object array whose list is shorter than its shape
    b.proto(3).global("numpy.core.multiarray", "_reconstruct").global("numpy", "ndarray");
    b.binint1(0).op(0x85).short_bytes("b").op(0x87).op('R');
    b.op('(').binint1(1).binint1(3).op(0x85);
    b.global("numpy", "dtype").short_unicode("O8").op(0x89).op(0x88).op(0x87).op('R');
    b.op(0x89).op(']').short_unicode("a").op('a').op('t').op('b').op('.');
    expect_rejected(b, b.size() - 2, "BUILD",
                    "object array data has 1 elements; its shape needs 3");
  }
  {
    Bytes b;  // structured dtype state
    b.proto(3).global("numpy", "dtype").short_unicode("V8").op(0x89).op(0x88).op(0x87).op('R');
    b.op('.');
    expect_rejected(b, b.size() - 2, "REDUCE", "dtype 'V8' is not supported");
    Bytes s;
    s.proto(3).global("numpy", "dtype").short_unicode("f8").op(0x89).op(0x88).op(0x87).op('R');
    s.op('(').binint1(3).short_unicode("<").op('N').op('(').short_unicode("a").op('t').op('}');
    s.binint(8).binint(1).binint1(16).op('t').op('b').op('.');
    expect_rejected(s, s.size() - 2, "BUILD", "structured and sub-array dtypes are not supported");
  }
}

TEST(PickleHostile, MemoStackAndLengths) {
  Bytes get;
  get.proto(2).op('N').op('q').uint_le(0, 1).op('h').uint_le(5, 1).op('.');
  expect_rejected(get, 5, "BINGET", "memo index 5 was never stored");
  Bytes long_get;
  long_get.proto(2).op('j').uint_le(0xFFFFFFFF, 4).op('.');
  expect_rejected(long_get, 2, "LONG_BINGET", "memo index 4294967295");
  Bytes text_get;
  text_get.op('g').line("-1").op('.');
  expect_rejected(text_get, 0, "GET", "negative");

  Bytes underflow;
  underflow.proto(2).op('a').op('.');
  expect_rejected(underflow, 2, "APPEND", "stack underflow");
  Bytes underflow_mark;  // values below a MARK are out of reach
  underflow_mark.proto(2).op(']').op('(').op('N').op('0').op('a').op('.');
  expect_rejected(underflow_mark, 6, "APPEND", "no value above the last MARK");
  Bytes dup_mark;  // DUP cannot reach below a MARK either
  dup_mark.proto(2).op('N').op('(').op('2').op('.');
  expect_rejected(dup_mark, 4, "DUP", "no value above the last MARK");
  Bytes no_mark;
  no_mark.proto(2).op('t').op('.');
  expect_rejected(no_mark, 2, "TUPLE", "no MARK on the stack");
  Bytes leftover;
  leftover.proto(2).op('N').op('N').op('.');
  expect_rejected(leftover, 4, "STOP", "expected exactly one value");
  Bytes trailing;
  trailing.proto(2).op('N').op('.').op('N');
  expect_rejected(trailing, 3, "STOP", "1 bytes follow STOP");

  Bytes huge8;  // a length far beyond the file must not be allocated
  huge8.proto(4).op(0x8e).uint_le(uint64_t{1} << 62, 8).raw("abc").op('.');
  expect_rejected(huge8, 2, "BINBYTES8", "length 4611686018427387904 exceeds the 4 bytes");
  Bytes huge_unicode;
  huge_unicode.proto(3).op('X').uint_le(0xFFFFFFFF, 4).raw("abc").op('.');
  expect_rejected(huge_unicode, 2, "BINUNICODE", "exceeds");
  Bytes huge_frame;
  huge_frame.proto(4).op(0x95).uint_le(uint64_t{1} << 40, 8).op('N').op('.');
  expect_rejected(huge_frame, 2, "FRAME", "exceeds");
  Bytes short_claim;
  short_claim.proto(3).op('C').uint_le(200, 1).raw("abc");
  expect_rejected(short_claim, 2, "SHORT_BINBYTES", "exceeds the 3 bytes");
  Bytes negative_binstring;
  negative_binstring.proto(2).op('T').uint_le(0xFFFFFFFE, 4).op('.');
  expect_rejected(negative_binstring, 2, "BINSTRING", "is negative");
  Bytes long4;
  long4.proto(2).op(0x8b).uint_le(0x7FFFFFF0, 4).op('.');
  expect_rejected(long4, 2, "LONG4", "exceeds");
  Bytes long1_big;  // 2**64 does not fit
  long1_big.proto(2).op(0x8a).uint_le(9, 1).raw(std::string(8, '\0')).raw("\x01").op('.');
  expect_rejected(long1_big, 2, "LONG1", "does not fit a signed 64-bit integer");
  Bytes int_big;
  int_big.op('I').line("99999999999999999999").op('.');
  expect_rejected(int_big, 0, "INT", "does not fit");

  Bytes unknown;
  unknown.proto(2).op(0xFF).op('.');
  expect_rejected(unknown, 2, "unknown", "unknown opcode");
  Bytes proto6;
  proto6.proto(6).op('N').op('.');
  expect_rejected(proto6, 0, "PROTO", "protocol 6 is not supported");
  Bytes oob;
  oob.proto(5).op(0x97).op('.');
  expect_rejected(oob, 2, "NEXT_BUFFER", "out-of-band buffers are not supported");
  Bytes set;
  set.proto(4).op(0x8f).op('.');
  expect_rejected(set, 2, "EMPTY_SET", "sets are not supported");
  Bytes no_stop;
  no_stop.proto(2).op('N');
  EXPECT_NE(
      error_of(no_stop.str()).find("byte offset 3: truncated: the pickle ends without a STOP"),
      std::string::npos);
  EXPECT_NE(error_of("").find("is empty"), std::string::npos);
}

TEST(PickleHostile, CyclesAndDeepNesting) {
  Bytes self;  // a list appended to itself
  self.proto(2).op(']').op('q').uint_le(0, 1).op('h').uint_le(0, 1).op('a').op('.');
  expect_rejected(self, 7, "APPEND", "a list cannot contain itself");

  Bytes sealed;  // A goes into B, then A is modified: the only way to build a cycle
  sealed.proto(2).op(']').op('q').uint_le(0, 1).op(']').op('h').uint_le(0, 1).op('a');
  sealed.op('h').uint_le(0, 1).op('N').op('a').op('0').op('.');
  expect_rejected(sealed, 12, "APPEND", "already inside another container");

  Bytes dict_sealed;
  dict_sealed.proto(2).op('}').op('q').uint_le(0, 1).op(']').op('h').uint_le(0, 1).op('a');
  dict_sealed.op('h').uint_le(0, 1).op('N').op('N').op('s').op('0').op('.');
  expect_rejected(dict_sealed, 13, "SETITEM", "already inside another container");

  Bytes lists;  // 100000 nested lists
  lists.proto(2);
  for (int i = 0; i < 100000; ++i) lists.op(']');
  for (int i = 0; i < 99999; ++i) lists.op('a');
  lists.op('.');
  expect_rejected(lists, 2 + 100000 + 255, "APPEND", "nested more than 256 levels deep");

  Bytes tuples;  // 1000000 nested 1-tuples
  tuples.proto(2).op('N');
  for (int i = 0; i < 1000000; ++i) tuples.op(0x85);
  tuples.op('.');
  expect_rejected(tuples, 3 + 256, "TUPLE1", "nested more than 256 levels deep");

  Bytes marks;  // many MARKs are fine memory-wise but must still end cleanly
  marks.proto(2).op('N');
  for (int i = 0; i < 100000; ++i) marks.op('(').op('N');
  marks.op('.');
  expect_rejected(marks, marks.size() - 1, "STOP", "expected exactly one value");

  // 256 levels are accepted.
  Bytes ok;
  ok.proto(2);
  for (int i = 0; i < 256; ++i) ok.op(']');
  for (int i = 0; i < 255; ++i) ok.op('a');
  ok.op('.');
  ValuePtr v = parse_string(ok.str());
  int depth = 0;
  for (const Value* p = v.get(); p != nullptr; p = p->items.empty() ? nullptr : p->items[0].get()) {
    ++depth;
  }
  EXPECT_EQ(depth, 256);
}

// The payloads would run a shell command if Python unpickled them. The reader has no way to
// execute anything; this checks the file they would create never appears.
TEST(PickleHostile, PayloadHasNoSideEffect) {
  const std::string marker = str(temp_dir(), "/pwned");
  Bytes b;
  b.op('(').raw("S'train'\n").global("os", "system").op('(');
  b.raw("S'touch ").raw(marker).raw("'\n").op('t').op('R').op('d').op('.');
  const std::string dir = marker.substr(0, marker.rfind('/'));
  const std::string path = dir + "/evil.pkl";
  write_file(path, b.str());
  EXPECT_THROW(load_file(path), DataError);
  EXPECT_THROW(parse_string(b.str()), DataError);
  EXPECT_FALSE(file_exists(marker));
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

// ---- valid hand-built pickles -------------------------------------------------------------------

// Valid pickles used by the truncation and mutation tests.
std::vector<std::string> valid_samples() {
  std::vector<std::string> out;
  {  // protocol 0, as Python 2 writes it: STRING keys, INT bools, LONG, FLOAT, dict/list via MARK
    Bytes b;
    b.op('(').op('d').op('p').line("0").raw("S'labels'\n").op('p').line("1");
    b.op('(').op('l').op('p').line("2").op('I').line("01").op('a').op('L').line("12345678901L");
    b.op('a').op('F').line("-1.5e-3").op('a').raw("V\\u00e9t\\u00e9\n").op('a');
    b.raw("S'a\\'b\\x00\\n'\n").op('a').op('g').line("1").op('a').op('s').op('.');
    out.push_back(b.str());
  }
  {  // protocol 2 as Python 2 + NumPy write it: SHORT_BINSTRING, BINSTRING payload, int flags
    Bytes b;
    b.proto(2).op('}').op('q').uint_le(0, 1).short_binstring("audio").op('q').uint_le(1, 1);
    b.global("numpy.core.multiarray", "_reconstruct").op('q').uint_le(2, 1);
    b.global("numpy", "ndarray").binint1(0).op(0x85).short_binstring("b").op(0x87).op('R');
    b.op('(').binint1(1).binint1(2).binint1(2).op(0x86);
    b.global("numpy", "dtype").short_binstring("f8").binint1(0).binint1(1).op(0x87).op('R');
    b.op('(').binint1(3).short_binstring("<").op('N').op('N').op('N').binint(-1).binint(-1);
    b.binint1(0).op('t').op('b').binint1(0);
    std::vector<double> v{1.0, -2.0, 0.5, 4.0};
    b.binstring(as_bytes(v)).op('t').op('b').op('s').op('.');
    out.push_back(b.str());
  }
  {  // protocol 2 as Python 3 writes bytes: _codecs.encode(latin-1 text, 'latin1')
    Bytes b;
    b.proto(2).global("_codecs", "encode").op('q').uint_le(0, 1);
    b.binunicode(std::string("\xc3\xbf\x00"
                             "A\xc2\x80",
                             6))
        .short_unicode("latin1");
    b.op(0x86).op('R');
    b.global("__builtin__", "bytes").op(')').op('R').op(0x86).op('.');
    out.push_back(b.str());
  }
  {  // protocol 4: FRAME, MEMOIZE, STACK_GLOBAL, big-endian Fortran array
    Bytes b;
    b.proto(4).op(0x95).uint_le(0, 8).op('}').op(0x94).op('(').short_unicode("x").op(0x94);
    std::vector<int16_t> v{0x0100, 0x0200, 0x0300, 0x0400, 0x0500, 0x0600};  // big-endian 1..6
    numpy_array(b, "i2", '>', {2, 3}, true, as_bytes(v), "numpy._core.multiarray");
    b.op(0x94).short_unicode("y").op(0x88).op('u').op('.');
    out.push_back(b.str());
  }
  {  // protocol 5: _frombuffer with BYTEARRAY8
    Bytes b;
    b.proto(5).stack_global("numpy._core.numeric", "_frombuffer").op(0x94).op('(');
    std::vector<float> v{1.5f, 2.5f, -3.5f};
    b.op(0x96).uint_le(12, 8).raw(as_bytes(v));
    b.stack_global("numpy", "dtype").short_unicode("f4").op(0x89).op(0x88).op(0x87).op('R');
    b.op('(').binint1(3).short_unicode("<").op('N').op('N').op('N').binint(-1).binint(-1);
    b.binint1(0).op('t').op('b').binint1(3).op(0x85).short_unicode("C").op('t').op('R').op('.');
    out.push_back(b.str());
  }
  return out;
}

TEST(PickleReader, HandBuiltProtocol0) {
  ValuePtr v = parse_string(valid_samples()[0]);
  ASSERT_TRUE(v->is_dict());
  const Value& labels = v->at("labels");
  ASSERT_EQ(labels.kind, Value::Kind::kList);
  ASSERT_EQ(labels.items.size(), 6u);
  EXPECT_EQ(labels.items[0]->kind, Value::Kind::kBool);
  EXPECT_TRUE(labels.items[0]->boolean);
  EXPECT_EQ(labels.items[1]->integer, 12345678901);
  EXPECT_EQ(labels.items[2]->floating, -1.5e-3);
  EXPECT_EQ(labels.items[3]->kind, Value::Kind::kStr);
  EXPECT_EQ(labels.items[3]->text, "\xc3\xa9t\xc3\xa9");  // "été"
  EXPECT_EQ(labels.items[4]->kind, Value::Kind::kBytes);
  EXPECT_EQ(labels.items[4]->text, std::string("a'b\0\n", 5));
  EXPECT_EQ(labels.items[5]->text, "labels");  // GET of the memoised key
  EXPECT_EQ(v->keys(), std::vector<std::string>{"labels"});
}

TEST(PickleReader, HandBuiltPython2NumpyArray) {
  ValuePtr v = parse_string(valid_samples()[1]);
  const NdArray& a = v->at("audio").array();  // bytes key found by a str lookup
  EXPECT_EQ(a.dtype, DType::kFloat64);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a.to_double(), (std::vector<double>{1.0, -2.0, 0.5, 4.0}));
  EXPECT_FALSE(a.source_fortran);
  EXPECT_EQ(a.keep_alive, nullptr);  // parse() copies
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 8, 0u);
}

TEST(PickleReader, HandBuiltCodecsLatin1AndEmptyBytes) {
  ValuePtr v = parse_string(valid_samples()[2]);
  ASSERT_EQ(v->kind, Value::Kind::kTuple);
  EXPECT_EQ(v->items[0]->kind, Value::Kind::kBytes);
  EXPECT_EQ(v->items[0]->text, std::string("\xff\x00"
                                           "A\x80",
                                           4));
  EXPECT_EQ(v->items[1]->kind, Value::Kind::kBytes);
  EXPECT_EQ(v->items[1]->text, "");
}

TEST(PickleReader, HandBuiltBigEndianFortran) {
  ValuePtr v = parse_string(valid_samples()[3]);
  const NdArray& a = v->at("x").array();
  EXPECT_EQ(a.dtype, DType::kInt16);
  EXPECT_TRUE(a.source_big_endian);
  EXPECT_TRUE(a.source_fortran);
  // Fortran payload 1..6 of shape (2, 3) is [[1, 3, 5], [2, 4, 6]] in C order.
  std::vector<int64_t> got;
  for (int64_t i = 0; i < a.numel(); ++i) got.push_back(a.get<int64_t>(i));
  EXPECT_EQ(got, (std::vector<int64_t>{1, 3, 5, 2, 4, 6}));
  EXPECT_EQ(v->at("y").kind, Value::Kind::kBool);
}

TEST(PickleReader, HandBuiltFromBuffer) {
  ValuePtr v = parse_string(valid_samples()[4]);
  const NdArray& a = v->array();
  EXPECT_EQ(a.dtype, DType::kFloat32);
  EXPECT_EQ(a.shape, std::vector<int64_t>{3});
  EXPECT_EQ(a.get<float>(2), -3.5f);
}

TEST(PickleReader, StackMemoAndDictSemantics) {
  Bytes b;  // POP, POP_MARK, DUP, a far memo index, duplicate dict keys, TUPLE2/3, BINFLOAT
  b.proto(2).op('N').op('0').op('(').op('N').op('N').op('1');
  b.op('}').short_unicode("k").binint1(1).op('s').short_unicode("k").binint1(2).op('s');
  b.short_unicode("j").op('G').raw(std::string("\x3f\xf8\0\0\0\0\0\0", 8)).op('s');
  b.op('r').uint_le(0xFFFFFFF0, 4).op('2').op(0x86);
  b.op('j').uint_le(0xFFFFFFF0, 4).binint(-7).op(0x87).op('.');
  ValuePtr v = parse_string(b.str());  // ((d, d), d, -7)
  ASSERT_EQ(v->kind, Value::Kind::kTuple);
  ASSERT_EQ(v->items.size(), 3u);
  const Value& pair = *v->items[0];
  const Value& d = *v->items[1];
  ASSERT_EQ(pair.items.size(), 2u);
  EXPECT_EQ(pair.items[0].get(), &d);  // DUP and the memo share one object
  EXPECT_EQ(pair.items[1].get(), &d);
  ASSERT_EQ(d.dict.size(), 2u);  // "k" replaced in place, as Python does
  EXPECT_EQ(d.at("k").integer, 2);
  EXPECT_EQ(d.at("j").floating, 1.5);
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"k", "j"}));
  EXPECT_EQ(v->items[2]->integer, -7);
  EXPECT_EQ(d.find("missing"), nullptr);
  try {
    d.at("missing");
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("key \"missing\" not found; the dict has keys \"k\", "
                                         "\"j\""),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(d.array(), DataError);
}

TEST(PickleReader, IntegerAndFloatEncodings) {
  Bytes b;
  b.proto(2).op('(').op('J').uint_le(0x80000000u, 4).op('M').uint_le(0xFFFF, 2);
  b.op(0x8a).uint_le(8, 1).uint_le(0x8000000000000000ull, 8);  // -2**63
  b.op(0x8a).uint_le(9, 1).uint_le(0x7FFFFFFFFFFFFFFFull, 8).raw(std::string(1, '\0'));
  b.op(0x8a).uint_le(0, 1);                     // 0
  b.op(0x8a).uint_le(2, 1).uint_le(0xFF7F, 2);  // -129
  b.op('I').line("-42").op('L').line("-9223372036854775808L").op('F').line("inf");
  b.op('F').line("1e400").op('F').line("-1e-400").op('F').line("nan").op('t').op('.');
  ValuePtr v = parse_string(b.str());
  ASSERT_EQ(v->items.size(), 12u);
  EXPECT_EQ(v->items[0]->integer, -2147483648);
  EXPECT_EQ(v->items[1]->integer, 65535);
  EXPECT_EQ(v->items[2]->integer, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(v->items[3]->integer, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(v->items[4]->integer, 0);
  EXPECT_EQ(v->items[5]->integer, -129);
  EXPECT_EQ(v->items[6]->integer, -42);
  EXPECT_EQ(v->items[7]->integer, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(v->items[8]->floating, HUGE_VAL);
  EXPECT_EQ(v->items[9]->floating, HUGE_VAL);
  EXPECT_EQ(v->items[10]->floating, 0.0);
  EXPECT_TRUE(std::signbit(v->items[10]->floating));
  EXPECT_TRUE(std::isnan(v->items[11]->floating));
}

TEST(PickleReader, Float16AndConversions) {
  const std::vector<uint16_t> halves{0x3C00, 0x0001, 0x7C00, 0xFC00, 0x7E00,
                                     0x8000, 0x7BFF, 0x0400, 0x03FF, 0xC100};
  Bytes b;
  numpy_array(b.proto(3), "f2", '<', {static_cast<int64_t>(halves.size())}, false,
              as_bytes(halves));
  b.op('.');
  ValuePtr v = parse_string(b.str());
  const NdArray& a = v->array();
  EXPECT_STREQ(dtype_name(a.dtype), "float16");
  EXPECT_EQ(dtype_size(a.dtype), 2u);
  EXPECT_EQ(a.get<float>(0), 1.0f);
  EXPECT_EQ(a.get<double>(1), std::ldexp(1.0, -24));
  EXPECT_EQ(a.get<float>(2), HUGE_VALF);
  EXPECT_EQ(a.get<float>(3), -HUGE_VALF);
  EXPECT_TRUE(std::isnan(a.get<float>(4)));
  EXPECT_TRUE(std::signbit(a.get<float>(5)));
  EXPECT_EQ(a.get<float>(6), 65504.0f);
  EXPECT_EQ(a.get<float>(7), std::ldexp(1.0f, -14));
  EXPECT_EQ(a.get<double>(8), 1023 * std::ldexp(1.0, -24));
  EXPECT_EQ(a.get<int64_t>(9), -2);  // -2.5 truncates toward zero
  EXPECT_EQ(a.get<int32_t>(0), 1);
  EXPECT_THROW(a.get<int64_t>(2), DataError);  // inf
  EXPECT_THROW(a.get<int64_t>(4), DataError);  // NaN
  EXPECT_THROW(a.get<uint8_t>(9), DataError);  // negative
  EXPECT_THROW(a.get<float>(10), DataError);   // out of range
  EXPECT_THROW(a.get<float>(-1), DataError);
  const std::vector<double> d = a.to_double();
  EXPECT_EQ(d[6], 65504.0);
  EXPECT_EQ(d[9], -2.5);

  const std::vector<int64_t> ints{-1, 300, std::numeric_limits<int64_t>::max()};
  Bytes c;
  numpy_array(c.proto(3), "i8", '<', {3}, false, as_bytes(ints));
  c.op('.');
  ValuePtr w = parse_string(c.str());
  const NdArray& i = w->array();
  EXPECT_EQ(i.get<int8_t>(0), -1);
  EXPECT_THROW(i.get<int8_t>(1), DataError);
  EXPECT_THROW(i.get<uint64_t>(0), DataError);
  EXPECT_EQ(i.get<uint64_t>(2), static_cast<uint64_t>(ints[2]));
  EXPECT_EQ(i.get<uint16_t>(1), 300);
  EXPECT_TRUE(i.get<bool>(0));
  EXPECT_EQ(i.get<double>(1), 300.0);
}

TEST(PickleReader, EveryTruncationFailsCleanly) {
  for (const std::string& full : valid_samples()) {
    ASSERT_NO_THROW(parse_string(full));
    for (std::size_t n = 0; n < full.size(); ++n) {
      try {
        parse_string(full.substr(0, n));
        ADD_FAILURE() << "prefix of " << n << " of " << full.size() << " bytes was accepted";
      } catch (const DataError&) {
      }
    }
  }
}

// Random byte edits of valid pickles must either load or raise DataError: never crash, hang or
// throw anything else (run under ROBUSTMSA_SANITIZE=ON to also catch memory errors).
TEST(PickleReader, RandomMutationsFailCleanly) {
  std::mt19937 rng(20240613);
  int accepted = 0, rejected = 0;
  for (const std::string& full : valid_samples()) {
    for (int trial = 0; trial < 4000; ++trial) {
      std::string s = full;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % s.size();
        switch (rng() % 4) {
          case 0:
            s[at] = static_cast<char>(rng());
            break;
          case 1:
            s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
            break;
          case 2:
            s.erase(at, 1);
            break;
          default:
            s.insert(at, 1, static_cast<char>(rng()));
        }
        if (s.empty()) s = "N";
      }
      try {
        parse_string(s);
        ++accepted;
      } catch (const DataError&) {
        ++rejected;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "non-DataError exception: " << e.what() << " for " << hex(s);
      }
    }
  }
  EXPECT_GT(rejected, 0);
  std::printf("mutations: %d accepted, %d rejected with DataError\n", accepted, rejected);
}

// ---- the latin-1 decoder (protocol 2's bytes), against a one-character-at-a-time reference ----

// Reference: decoded bytes, or the position of the first invalid byte.
bool reference_latin1(const std::string& s, std::string& out, std::size_t& bad) {
  out.clear();
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size() &&
        (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      out.push_back(static_cast<char>(((c & 3) << 6) | (s[i + 1] & 0x3F)));
      i += 2;
      continue;
    }
    bad = (c == 0xC2 || c == 0xC3) && i + 1 < s.size() ? i + 1 : i;
    return false;
  }
  return true;
}

TEST(PickleCodec, Latin1DecoderMatchesReference) {
  std::mt19937 rng(99);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < 80; ++n) lengths.push_back(n);
  for (std::size_t n : {127, 128, 129, 1000, 4095, 4096, 4097, 70000}) lengths.push_back(n);
  int checked_errors = 0;
  for (std::size_t n : lengths) {
    for (int ascii_bias = 0; ascii_bias < 3; ++ascii_bias) {
      std::string latin1(n, '\0');
      for (auto& c : latin1) {
        c = static_cast<char>(ascii_bias == 2                ? rng() % 128
                              : ascii_bias == 1 && rng() % 4 ? rng() % 128
                                                             : rng() % 256);
      }
      std::string utf8;
      for (unsigned char c : latin1) detail::append_utf8(utf8, c);
      for (int variant = 0; variant < 6; ++variant) {
        std::string in = utf8;
        if (variant > 0 && !in.empty()) {  // plant one defect
          const std::size_t at = rng() % in.size();
          const char defects[] = {'\x80', '\xbf', '\xc4', '\xc0', '\xc1', '\xe2', '\xff'};
          if (variant == 5) {
            in.insert(at, 1, '\xc3');  // a lead byte followed by whatever comes next
          } else {
            in[at] = defects[rng() % sizeof(defects)];
          }
        }
        std::string want;
        std::size_t bad = 0;
        const bool ok = reference_latin1(in, want, bad);
        std::vector<uint8_t> out(in.size() + detail::kLatin1Slack);
        const auto* p = reinterpret_cast<const uint8_t*>(in.data());
        std::size_t out_size = 0;
        const detail::CodecStatus st = detail::utf8_to_latin1(p, in.size(), out.data(), out_size);
        ASSERT_EQ(st.ok, ok) << "length " << n << " input " << hex(in);
        if (ok) {
          ASSERT_EQ(out_size, want.size());
          ASSERT_EQ(std::string(reinterpret_cast<const char*>(out.data()), want.size()), want)
              << "length " << n;
        } else {
          ASSERT_EQ(st.position, bad) << "length " << n << " input " << hex(in);
          ++checked_errors;
        }
      }
    }
  }
  EXPECT_GT(checked_errors, 100);
}

// ---- load_file -------------------------------------------------------------------------------

TEST(PickleLoadFile, PathErrors) {
  const std::string dir = temp_dir();
  auto message = [](const std::string& path) -> std::string {
    try {
      load_file(path);
    } catch (const DataError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message(dir), str("file '", dir, "': is a directory; expected a pickle file"));
  EXPECT_EQ(message(dir + "/nope.pkl"),
            str("file '", dir, "/nope.pkl': does not exist; expected a pickle file"));
  write_file(dir + "/empty.pkl", "");
  EXPECT_EQ(message(dir + "/empty.pkl"),
            str("file '", dir, "/empty.pkl': is empty; expected a pickle file"));
  write_file(dir + "/text.pkl", "hello\n");
  EXPECT_NE(
      message(dir + "/text.pkl").find(str("file '", dir, "/text.pkl': byte offset 0: opcode")),
      std::string::npos);
  std::remove((dir + "/empty.pkl").c_str());
  std::remove((dir + "/text.pkl").c_str());
  rmdir(dir.c_str());
}

// A pickle of one float32 array whose payload starts at a chosen file offset modulo 8.
std::string array_pickle_with_payload_at(std::size_t modulo8, const std::vector<float>& values,
                                         bool big_endian) {
  for (std::size_t pad = 0; pad < 16; ++pad) {
    Bytes b;
    b.proto(4).short_unicode(std::string(pad, 'p')).op('0');
    numpy_array(b, "f4", big_endian ? '>' : '<', {static_cast<int64_t>(values.size())}, false,
                as_bytes(values));
    b.op('.');
    const std::size_t payload_at = b.size() - 3 - values.size() * 4;
    if (payload_at % 8 == modulo8) return b.str();
  }
  throw std::logic_error("no padding found");
}

// Native C-order payloads are used in place at any byte offset (readers use memcpy / get<T>).
TEST(PickleLoadFile, ZeroCopyOnlyWhenNative) {
  const std::string dir = temp_dir();
  struct Case {
    const char* name;
    std::size_t count;  // floats; 300000 (1.2 MB) exercises the large-copy buffers
    std::size_t modulo8;
    bool big_endian;
    bool expect_view;
  };
  for (const Case& c :
       {Case{"aligned", 4096, 0, false, true}, Case{"aligned4", 4096, 4, false, true},
        Case{"unaligned", 4096, 1, false, true}, Case{"big_endian", 4096, 0, true, false},
        Case{"large_aligned", 300000, 4, false, true},
        Case{"large_unaligned", 300000, 3, false, true},
        Case{"large_big_endian", 300000, 0, true, false}}) {
    SCOPED_TRACE(c.name);
    std::vector<float> values(c.count);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.25f * static_cast<float>(i) - 7;
    std::vector<float> file_values = values;
    if (c.big_endian) {
      for (float& f : file_values) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        u = __builtin_bswap32(u);
        std::memcpy(&f, &u, 4);
      }
    }
    const std::string path = str(dir, "/", c.name, ".pkl");
    write_file(path, array_pickle_with_payload_at(c.modulo8, file_values, c.big_endian));
    ValuePtr v = load_file(path);
    const NdArray& a = v->array();
    // A view into the mapping leaves `owned` empty and holds the mapping in keep_alive; a small
    // copy lives in `owned`, a large one in a buffer held by keep_alive.
    const bool large = c.count * 4 >= (std::size_t{1} << 20);
    EXPECT_EQ(a.owned.empty(), c.expect_view || large);
    EXPECT_EQ(a.keep_alive != nullptr, c.expect_view || large);
    EXPECT_EQ(a.source_big_endian, c.big_endian);
    ASSERT_EQ(a.nbytes, values.size() * 4);
    EXPECT_EQ(std::memcmp(a.data, values.data(), a.nbytes), 0);
    // Drops mapped pages (they fault back in from the file); must never touch a heap copy.
    a.release_source();
    EXPECT_EQ(std::memcmp(a.data, values.data(), a.nbytes), 0);
    // The same bytes through parse() are always copied.
    const std::string bytes = read_file(path);
    ValuePtr w = parse_string(bytes);
    EXPECT_EQ(w->array().owned.empty(), large);
    EXPECT_EQ(std::memcmp(w->array().data, values.data(), a.nbytes), 0);
    std::remove(path.c_str());
  }
  // The array keeps the mapping alive after the tree that held it is gone.
  std::vector<float> values(4096, 1.25f);
  const std::string path = dir + "/keep.pkl";
  write_file(path, array_pickle_with_payload_at(0, values, false));
  std::shared_ptr<NdArray> kept = load_file(path)->ndarray;
  std::remove(path.c_str());
  EXPECT_EQ(kept->keep_alive.use_count(), 1);
  EXPECT_EQ(kept->get<float>(4095), 1.25f);
  rmdir(dir.c_str());
}

// ---- pickles written by Python + NumPy ---------------------------------------------------------

std::vector<std::string> python_interpreters() {
  std::vector<std::string> out;
  auto consider = [&](const std::string& py) {
    if (py.empty()) return;
    for (const auto& seen : out) {
      if (seen == py) return;
    }
    const std::string cmd = str("'", py, "' -c 'import numpy' >/dev/null 2>&1");
    if (std::system(cmd.c_str()) == 0) out.push_back(py);
  };
  const char* env = std::getenv("ROBUSTMSA_PYTHON");
  consider(env != nullptr ? env : "");
  // The system interpreter often carries a different NumPy major version (numpy.core vs
  // numpy._core module names); use it too when present.
  if (file_exists("/usr/bin/python3")) consider("/usr/bin/python3");
  return out;
}

std::string script_path() {
  const char* src = std::getenv("ROBUSTMSA_SOURCE_DIR");
  if (src != nullptr && *src != '\0') return str(src, "/tests/python/pickle_cases.py");
  // Without the variable: next to this file (__FILE__ is absolute in CMake builds).
  const std::string here = __FILE__;
  return here.substr(0, here.rfind('/')) + "/../python/pickle_cases.py";
}

uint64_t hex_to_u64_le(const std::string& h) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::stoul(h.substr(2 * i, 2), nullptr, 16);
  return v;
}

void expect_matches(const Value& v, const nlohmann::json& e, const std::string& path) {
  const std::string t = e.at("t").get<std::string>();
  SCOPED_TRACE(path);
  if (t == "none") {
    EXPECT_EQ(v.kind, Value::Kind::kNone);
  } else if (t == "bool") {
    ASSERT_EQ(v.kind, Value::Kind::kBool);
    EXPECT_EQ(v.boolean, e.at("v").get<bool>());
  } else if (t == "int") {
    ASSERT_EQ(v.kind, Value::Kind::kInt);
    EXPECT_EQ(v.integer, e.at("v").get<int64_t>());
  } else if (t == "float") {
    ASSERT_EQ(v.kind, Value::Kind::kFloat);
    const uint64_t want = hex_to_u64_le(e.at("bits").get<std::string>());
    double w;
    std::memcpy(&w, &want, 8);
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(v.floating));
    } else {
      uint64_t got;
      std::memcpy(&got, &v.floating, 8);
      EXPECT_EQ(got, want) << v.floating << " vs " << w;
    }
  } else if (t == "str") {
    ASSERT_EQ(v.kind, Value::Kind::kStr);
    EXPECT_EQ(v.text, e.at("v").get<std::string>());
  } else if (t == "bytes") {
    ASSERT_EQ(v.kind, Value::Kind::kBytes);
    EXPECT_EQ(hex(v.text), e.at("hex").get<std::string>());
  } else if (t == "list" || t == "tuple") {
    ASSERT_EQ(v.kind, t == "list" ? Value::Kind::kList : Value::Kind::kTuple);
    const auto& items = e.at("items");
    ASSERT_EQ(v.items.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      expect_matches(*v.items[i], items[i], str(path, "[", i, "]"));
    }
  } else if (t == "dict") {
    ASSERT_EQ(v.kind, Value::Kind::kDict);
    const auto& items = e.at("items");
    ASSERT_EQ(v.dict.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      expect_matches(*v.dict[i].first, items[i][0], str(path, ".key", i));
      const std::string key = v.dict[i].first->text;
      expect_matches(*v.dict[i].second, items[i][1], str(path, "[", key, "]"));
    }
  } else if (t == "ndarray") {
    ASSERT_EQ(v.kind, Value::Kind::kArray);
    const NdArray& a = v.array();
    EXPECT_EQ(dtype_name(a.dtype), e.at("dtype").get<std::string>());
    EXPECT_EQ(a.shape, e.at("shape").get<std::vector<int64_t>>());
    EXPECT_EQ(a.source_big_endian, e.at("big_endian").get<bool>());
    EXPECT_EQ(a.source_fortran, e.at("fortran").get<bool>());
    if (a.dtype == DType::kObject) {
      const auto& objs = e.at("objects");
      ASSERT_EQ(a.objects.size(), objs.size());
      ASSERT_EQ(a.object_is_bytes.size(), objs.size());
      for (std::size_t i = 0; i < objs.size(); ++i) {
        if (objs[i].contains("str")) {
          EXPECT_FALSE(a.object_is_bytes[i]) << i;
          EXPECT_EQ(a.objects[i], objs[i]["str"].get<std::string>()) << i;
        } else {
          EXPECT_TRUE(a.object_is_bytes[i]) << i;
          EXPECT_EQ(hex(a.objects[i]), objs[i]["bytes_hex"].get<std::string>()) << i;
        }
      }
    } else {
      const std::size_t k = dtype_size(a.dtype);
      ASSERT_EQ(a.nbytes, static_cast<std::size_t>(a.numel()) * k);
      EXPECT_EQ(hex(std::string_view(reinterpret_cast<const char*>(a.data), a.nbytes)),
                e.at("hex").get<std::string>());
      const std::string f8 = e.at("f8hex").get<std::string>();
      const std::vector<double> d = a.to_double();
      ASSERT_EQ(d.size() * 16, f8.size());
      for (std::size_t i = 0; i < d.size(); ++i) {
        const uint64_t want = hex_to_u64_le(f8.substr(16 * i, 16));
        double w;
        std::memcpy(&w, &want, 8);
        if (std::isnan(w)) {
          EXPECT_TRUE(std::isnan(d[i])) << i;
          EXPECT_TRUE(std::isnan(a.get<double>(static_cast<int64_t>(i)))) << i;
        } else {
          EXPECT_EQ(d[i], w) << "element " << i;
          EXPECT_EQ(a.get<double>(static_cast<int64_t>(i)), w) << "element " << i;
        }
      }
    }
  } else {
    ADD_FAILURE() << "unknown expected type " << t;
  }
}

TEST(PicklePython, NumpyPicklesLoadExactly) {
  const std::vector<std::string> pythons = python_interpreters();
  if (pythons.empty()) GTEST_SKIP() << "no python3 with numpy (ROBUSTMSA_PYTHON)";
  ASSERT_TRUE(file_exists(script_path())) << script_path();
  bool saw_core = false, saw_underscore_core = false;
  for (const std::string& py : pythons) {
    SCOPED_TRACE(py);
    const std::string dir = temp_dir();
    const std::string marker = dir + "/pwned";
    const std::string cmd = str("'", py, "' '", script_path(), "' '", dir, "' '", marker, "'");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const nlohmann::json manifest = nlohmann::json::parse(read_file(dir + "/expected.json"));
    std::printf("%s: numpy %s, %zu pickles\n", py.c_str(),
                manifest["numpy_version"].get<std::string>().c_str(), manifest["cases"].size());
    for (const auto& c : manifest["cases"]) {
      const std::string file = dir + "/" + c["file"].get<std::string>();
      SCOPED_TRACE(file);
      saw_core |= c["numpy_core"].get<bool>();
      saw_underscore_core |= c["numpy__core"].get<bool>();
      ValuePtr mapped;
      ASSERT_NO_THROW(mapped = load_file(file));
      expect_matches(*mapped, c["expected"], c["case"].get<std::string>());
      const std::string bytes = read_file(file);
      ValuePtr copied = parse_string(bytes, file);
      expect_matches(*copied, c["expected"], c["case"].get<std::string>());
      std::remove(file.c_str());
    }
    for (const auto& f : manifest["evil"]) {
      const std::string file = dir + "/" + f.get<std::string>();
      SCOPED_TRACE(file);
      try {
        load_file(file);
        ADD_FAILURE() << "accepted";
      } catch (const DataError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("is not allowed"), std::string::npos) << msg;
        EXPECT_TRUE(msg.find("opcode GLOBAL (0x63)") != std::string::npos ||
                    msg.find("opcode STACK_GLOBAL (0x93)") != std::string::npos)
            << msg;
      }
      std::remove(file.c_str());
    }
    EXPECT_FALSE(file_exists(marker));
    std::remove((dir + "/expected.json").c_str());
    rmdir(dir.c_str());
  }
  // Which NumPy module spellings were covered (both when NumPy 1.x and 2.x are installed).
  std::printf("covered numpy.core: %s, numpy._core: %s\n", saw_core ? "yes" : "no",
              saw_underscore_core ? "yes" : "no");
  EXPECT_TRUE(saw_core || saw_underscore_core);
}

}  // namespace
}  // namespace robustmsa::pickle

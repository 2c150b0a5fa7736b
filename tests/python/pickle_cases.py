#!/usr/bin/env python3
"""Writes test pickles for robustmsa's pickle reader (tests/core/pickle_test.cc).

usage: pickle_cases.py OUT_DIR MARKER_PATH

For every case and every protocol 0-5 it writes OUT_DIR/<case>_p<protocol>.pkl with this
interpreter's pickle + NumPy, and OUT_DIR/expected.json describing the value each file must load
as (exactly: floats as IEEE bit patterns, arrays as native little-endian C-order bytes).

It also writes OUT_DIR/evil_p<protocol>.pkl: pickles whose loading by Python would run
os.system("touch MARKER_PATH") (and similar for eval / subprocess). They are only written here,
never loaded; the C++ test checks that the reader rejects them and that MARKER_PATH never appears.
"""
import json
import os
import pickle
import struct
import subprocess
import sys

import numpy as np


def describe(v):
    """JSON description of a value, as the C++ test compares it."""
    if v is None:
        return {"t": "none"}
    if isinstance(v, (bool, np.bool_)):
        return {"t": "bool", "v": bool(v)}
    if isinstance(v, np.ndarray):
        return describe_array(v)
    if isinstance(v, (np.integer,)):
        return {"t": "int", "v": int(v)}
    if isinstance(v, (np.floating,)):
        return {"t": "float", "bits": struct.pack("<d", float(v)).hex()}
    if isinstance(v, np.str_):
        return {"t": "str", "v": str(v)}
    if isinstance(v, np.bytes_):
        return {"t": "bytes", "hex": bytes(v).hex()}
    if isinstance(v, int):
        return {"t": "int", "v": v}
    if isinstance(v, float):
        return {"t": "float", "bits": struct.pack("<d", v).hex()}
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, (bytes, bytearray)):
        return {"t": "bytes", "hex": bytes(v).hex()}
    if isinstance(v, list):
        return {"t": "list", "items": [describe(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": "tuple", "items": [describe(x) for x in v]}
    if isinstance(v, dict):
        return {"t": "dict", "items": [[describe(k), describe(x)] for k, x in v.items()]}
    raise TypeError("no description for %r" % (type(v),))


def describe_array(a):
    kind = a.dtype.kind
    d = {
        "t": "ndarray",
        "shape": list(a.shape),
        "big_endian": a.dtype.byteorder == ">"
        or (a.dtype.byteorder == "=" and sys.byteorder == "big"),
        # What NumPy's pickling records: Fortran-contiguous and not C-contiguous.
        "fortran": bool(a.flags.f_contiguous and not a.flags.c_contiguous),
    }
    if kind in "OSU":
        d["dtype"] = "object"
        objs = []
        for x in a.ravel(order="C").tolist():
            if isinstance(x, bytes):
                objs.append({"bytes_hex": x.hex()})
            else:
                objs.append({"str": x})
        d["objects"] = objs
        return d
    d["dtype"] = a.dtype.newbyteorder("=").name
    c = np.ascontiguousarray(a)
    d["hex"] = c.astype(c.dtype.newbyteorder("<")).tobytes().hex()
    d["f8hex"] = c.astype("<f8").tobytes().hex()
    return d


def split(rng, n, t, dims, id_kind):
    text = rng.standard_normal((n, t, dims[0])).astype(np.float32)
    audio = rng.standard_normal((n, t, dims[1])).astype(np.float32)
    audio[0, 0, 0] = -np.inf  # COVAREP has -inf
    audio[1, 2, 3 % dims[1]] = np.nan
    audio[2, 1, 0] = np.inf
    vision = rng.standard_normal((n, t, dims[2])).astype(np.float32)
    labels = rng.uniform(-3, 3, size=(n, 1, 1)).astype(np.float32)
    if id_kind == "bytes":
        ids = np.array([[b"vid%d" % i, b"%d.5" % i, b"%d.9" % i] for i in range(n)], dtype=object)
    else:
        ids = np.array([["vid%d" % i, "%d.5" % i, "%d.9" % i] for i in range(n)], dtype=object)
    return {"text": text, "audio": audio, "vision": vision, "labels": labels, "id": ids}


def cases():
    rng = np.random.default_rng(1111)
    out = {}
    # The MulT/CMU layout, as mosi_data.pkl: {split: {text, audio, vision, labels, id}}.
    out["mult_layout"] = {
        "train": split(rng, 4, 50, (20, 5, 7), "bytes"),
        "valid": split(rng, 3, 50, (20, 5, 7), "bytes"),
        "test": split(rng, 3, 50, (20, 5, 7), "str"),
    }
    # The MMSA layout (unaligned_50.pkl-like).
    n = 3
    mmsa = {}
    for name in ("train", "valid", "test"):
        mmsa[name] = {
            "raw_text": np.array(["it was good", "caf\u00e9 \u2603 \U0001d11e", ""], dtype=object),
            "text": rng.standard_normal((n, 10, 16)).astype(np.float32),
            "text_bert": rng.integers(0, 3000, size=(n, 3, 10)).astype(np.float32),
            "audio": rng.standard_normal((n, 20, 5)).astype(np.float32),
            "vision": rng.standard_normal((n, 30, 4)).astype(np.float32),
            "audio_lengths": [20, 13, 1],
            "vision_lengths": np.array([30, 7, 2], dtype=np.int64),
            "regression_labels": rng.uniform(-3, 3, size=n).astype(np.float32),
            "classification_labels": np.array([0.0, 1.0, 2.0], dtype=np.float32),
            "id": np.array(["a$_$1", "b$_$2", "c$_$3"], dtype=object),
        }
    out["mmsa_layout"] = mmsa
    # Every supported dtype, both byte orders, with edge values.
    dt = {}
    ints = [0, 1, -1, 127, -128]
    for code in ("i1", "i2", "i4", "i8"):
        for order in "<>":
            info = np.iinfo(code)
            dt[order + code] = np.array(ints + [info.min, info.max], dtype=order + code)
    for code in ("u1", "u2", "u4", "u8"):
        for order in "<>":
            info = np.iinfo(code)
            dt[order + code] = np.array([0, 1, 200, info.max], dtype=order + code)
    specials = [0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-7, 65504.0, 6.1e-5, 6e-8]
    for code in ("f2", "f4", "f8"):
        for order in "<>":
            dt[order + code] = np.array(specials, dtype=order + code)
    dt["bool"] = np.array([True, False, True])
    dt["f4_big_1k"] = rng.standard_normal(2000).astype(">f4")  # > lazy threshold, swapped
    dt["f4_little_1k"] = rng.standard_normal(2000).astype("<f4")
    out["dtypes"] = dt
    # Memory layouts.
    base = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    out["layouts"] = {
        "fortran_2d": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        "fortran_3d_f4": np.asfortranarray(base),
        "fortran_3d_big_i2": np.asfortranarray(base.astype(">i2")),
        "fortran_big": np.asfortranarray(rng.standard_normal((40, 30)).astype(">f8")),
        "transposed": base.T,  # F-contiguous view
        "strided": base[:, ::2, 1:],  # neither C nor F contiguous: NumPy pickles a C copy
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "one": np.ones((1, 1, 1), dtype=np.int64),
        "fortran_unit_dims": np.asfortranarray(np.arange(5, dtype=np.int32).reshape(1, 5, 1)),
    }
    # Strings in arrays.
    out["strings"] = {
        "S": np.array([b"ab", b"c", b"", b"xyz\x00q"]),
        "U": np.array(["x\u00e9", "y", "", "\u2603\U0001d11e"]),
        "U_big": np.array(["ab", "\u00e9"], dtype=">U2"),
        "U_fortran": np.asfortranarray(np.array([["a", "bb"], ["ccc", "d"], ["e", "f"]])),
        "obj_mixed": np.array(["text", b"raw\xff", "", b""], dtype=object),
        "obj_fortran": np.asfortranarray(
            np.array([["a", "b", "c"], ["d", "e", "f"]], dtype=object)),
        "obj_long": np.array(["w" * 3000, b"v" * 2000], dtype=object),
    }
    # NumPy scalars.
    out["numpy_scalars"] = [
        np.float16(1.5), np.float32(-2.25), np.float64(1.0 / 3.0), np.int8(-5), np.uint8(250),
        np.int16(-300), np.uint16(60000), np.int32(-70000), np.uint32(4000000000),
        np.int64(-(2**63)), np.uint64(2**63 - 1), np.bool_(False), np.bool_(True),
        np.str_("ab\u00e9"), np.bytes_(b"x\xffy"), np.dtype(">f4").type(7.5),
    ]
    # Plain Python values.
    out["python_values"] = {
        "none": None,
        "bools": [True, False],
        "ints": [0, -1, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**31, 2**62,
                 -(2**63), 2**63 - 1],
        "floats": [0.0, -0.0, 1e308, 5e-324, float("inf"), -float("inf"), float("nan"),
                   0.1, -123.456e-200],
        "strs": ["", "abc", "\u00e9\u2603\U0001d11e", "a\\b\nc\r\x00\x1a\\u1234", "x" * 5000],
        "bytes": [b"", b"\x00\xff\\\n\r'\"", bytes(range(256)) * 8],
        "nested": {"a": [1, (2, 3), {"b": (), "c": []}], "d": ({},)},
        "tuple_sizes": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "big_list": list(range(2500)),  # APPENDS in batches of 1000
        "big_dict": {"k%d" % i: i for i in range(1200)},  # SETITEMS in batches
        b"bytes_key": 1,
        7: "int key",
    }
    # Shared references through the memo.
    shared_arr = rng.standard_normal((5, 6)).astype(np.float32)
    shared_list = [1, 2]
    out["shared"] = {"a": shared_arr, "b": shared_arr, "l": [shared_arr, shared_list],
                     "m": shared_list}
    return out


class _Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def main():
    out_dir, marker = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"numpy_version": np.__version__, "python_version": sys.version.split()[0],
                "cases": [], "evil": []}
    for name, value in cases().items():
        expected = describe(value)
        for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
            fname = "%s_p%d.pkl" % (name, proto)
            data = pickle.dumps(value, protocol=proto)
            with open(os.path.join(out_dir, fname), "wb") as f:
                f.write(data)
            manifest["cases"].append({
                "file": fname, "case": name, "protocol": proto, "expected": expected,
                "numpy_core": b"numpy.core" in data, "numpy__core": b"numpy._core" in data,
            })
    evil = [
        ("os_system", _Evil(os.system, ("touch " + marker,))),
        ("eval", _Evil(eval, ("__import__('os').system('touch %s')" % marker,))),
        ("popen", _Evil(subprocess.Popen, (["touch", marker],))),
    ]
    for name, obj in evil:
        for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
            fname = "evil_%s_p%d.pkl" % (name, proto)
            with open(os.path.join(out_dir, fname), "wb") as f:
                # Nested in a realistic container so that the payload is not the first opcode.
                f.write(pickle.dumps({"train": {"text": obj}}, protocol=proto))
            manifest["evil"].append(fname)
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(manifest, f)


if __name__ == "__main__":
    main()

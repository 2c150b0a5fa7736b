"""robustmsa.load and robustmsa.inspect: the same values as pickle.load for every case of the C++
reader's test corpus (tests/python/pickle_cases.py) at every protocol, no copy where the file's
layout allows, hostile pickles refused without running anything, bad input as DataError."""
import json
import math
import os
import pickle
import subprocess

import numpy as np
import pytest

import pickle_cases
import robustmsa


def same(ours, theirs, where="root"):
    """Deep equality of a robustmsa.load result with pickle.load's. NumPy scalars load as the
    Python scalar of the same value; arrays in native byte order and C order (values equal);
    fixed-width S/U arrays as object arrays of bytes/str."""
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), where
        assert ours.shape == theirs.shape, where
        if theirs.dtype.kind in "SUO":
            assert ours.dtype == np.dtype(object), where
            assert ours.tolist() == theirs.tolist(), where
            return
        assert ours.dtype.kind == theirs.dtype.kind, where
        assert ours.dtype.itemsize == theirs.dtype.itemsize, where
        assert ours.dtype.isnative, where
        assert ours.flags.c_contiguous, where
        assert np.array_equal(ours, theirs, equal_nan=theirs.dtype.kind == "f"), where
        if theirs.dtype.kind == "f":  # -0.0 stays -0.0
            assert np.array_equal(np.signbit(ours), np.signbit(theirs)), where
        return
    if isinstance(theirs, np.generic):
        theirs = theirs.item()
    if isinstance(theirs, float):
        assert isinstance(ours, float), where
        if math.isnan(theirs):
            assert math.isnan(ours), where
        else:
            assert ours == theirs and math.copysign(1, ours) == math.copysign(1, theirs), where
        return
    assert type(ours) is type(theirs), f"{where}: {type(ours)} vs {type(theirs)}"
    if isinstance(theirs, dict):
        assert list(ours.keys()) == list(theirs.keys()), where
        for k in theirs:
            same(ours[k], theirs[k], f"{where}[{k!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs, where


CASES = pickle_cases.cases()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("case", sorted(CASES))
def test_load_equals_pickle_load(tmp_path, case, protocol):
    path = tmp_path / f"{case}_p{protocol}.pkl"
    path.write_bytes(pickle.dumps(CASES[case], protocol=protocol))
    with open(path, "rb") as f:
        theirs = pickle.load(f)
    same(robustmsa.load(path), theirs)


def test_shared_objects_stay_shared(tmp_path):
    path = tmp_path / "shared.pkl"
    path.write_bytes(pickle.dumps(CASES["shared"], protocol=4))
    d = robustmsa.load(str(path))
    assert d["a"] is d["b"] and d["l"][0] is d["a"]
    assert d["l"][1] is d["m"]


def mapped_range(path):
    """The address range of the file's mapping in this process (/proc/self/maps)."""
    real = os.path.realpath(path)
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == real:
                lo, hi = (int(x, 16) for x in fields[0].split("-"))
                return lo, hi
    return None


def test_native_arrays_are_views_of_the_mapped_file(small_mosi):
    d = robustmsa.load(small_mosi)
    text = d["train"]["text"]
    assert text.dtype == np.float32 and text.flags.c_contiguous
    assert not text.flags.writeable and not text.flags.owndata
    span = mapped_range(small_mosi)
    assert span is not None, "the file is not mapped while its arrays live"
    assert span[0] <= text.ctypes.data and text.ctypes.data + text.nbytes <= span[1]
    with pytest.raises(ValueError):
        text[0, 0, 0] = 1.0
    writable = text.copy()
    writable[0, 0, 0] = 1.0
    # The mapping lives as long as an array does, not longer than needed.
    del d
    assert mapped_range(small_mosi) is not None
    del text
    assert mapped_range(small_mosi) is None


def test_big_endian_arrays_are_converted(tmp_path):
    a = np.arange(6, dtype=">f8").reshape(2, 3)
    path = tmp_path / "be.pkl"
    path.write_bytes(pickle.dumps({"x": a}, protocol=2))
    x = robustmsa.load(path)["x"]
    assert x.dtype == np.dtype("=f8") and np.array_equal(x, a)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("name", ["os_system", "eval", "popen"])
def test_hostile_pickle_raises_and_runs_nothing(tmp_path, name, protocol):
    marker = tmp_path / "marker"
    payload = {
        "os_system": (os.system, ("touch " + str(marker),)),
        "eval": (eval, ("__import__('os').system('touch %s')" % marker,)),
        "popen": (subprocess.Popen, (["touch", str(marker)],)),
    }[name]
    path = tmp_path / f"evil_{name}_p{protocol}.pkl"
    path.write_bytes(pickle.dumps({"train": {"text": pickle_cases._Evil(*payload)}},
                                  protocol=protocol))
    with pytest.raises(robustmsa.DataError) as err:
        robustmsa.load(path)
    msg = str(err.value)
    assert str(path) in msg and "offset" in msg
    assert isinstance(err.value, ValueError) and isinstance(err.value, robustmsa.Error)
    with pytest.raises(robustmsa.DataError):
        robustmsa.inspect(path)
    assert not marker.exists()


def test_bad_input(tmp_path):
    missing = tmp_path / "missing.pkl"
    with pytest.raises(robustmsa.DataError, match="does not exist"):
        robustmsa.load(missing)
    with pytest.raises(robustmsa.DataError, match="is a directory"):
        robustmsa.load(tmp_path)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(robustmsa.DataError, match="is empty"):
        robustmsa.load(empty)
    good = pickle.dumps({"x": np.zeros((100, 10), dtype=np.float32)}, protocol=4)
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(robustmsa.DataError, match="offset") as err:
        robustmsa.load(cut)
    assert str(cut) in str(err.value)
    with pytest.raises(TypeError):
        robustmsa.load(42)


def test_inspect_is_the_cli_json(small_mosi, cli):
    ours = robustmsa.inspect(small_mosi)
    out = subprocess.run([cli, "inspect", small_mosi, "--json"], check=True,
                         capture_output=True, text=True).stdout
    assert ours == json.loads(out)
    assert ours["layout"] == "mult"


def test_inspect_reports_the_layout(small_mosi):
    info = robustmsa.inspect(small_mosi)
    assert info["layout"] == "mult"
    assert set(info["splits"]) == {"train", "valid", "test"}

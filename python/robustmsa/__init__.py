"""robustmsa from Python: the C++ core's reader, inspector, synthetic benchmark, missing-modality
protocols, metrics, training, evaluation, reports, prediction and trained models, as the CLI has
them (docs/python.md).

    import robustmsa
    data = robustmsa.load("mosi_data.pkl")          # dict of NumPy arrays, nothing executed
    info = robustmsa.inspect("mosi_data.pkl")       # what `robustmsa inspect --json` prints
    out = robustmsa.synth("synth.pkl", like="mosi", seed=7)
    masks = robustmsa.protocols.masks("synth.pkl", suite="paper", split="test")
    m = robustmsa.metrics.regression(pred, label)   # MMSA's names: Non0_F1_score, ...
    r = robustmsa.train("synth.pkl", model="umdf", out="runs/umdf", seeds=[1111])
    r = robustmsa.run("umdf", "synth.pkl", seeds=[1111, 1112])   # MMSA_run-style compare
    model = robustmsa.load_model("runs/umdf/seed_1111")          # forward on torch.Tensors

Every function calls the library function the command line calls; errors are the CLI's, raised as
robustmsa.DataError, ConfigError, UsageError (all also ValueError) or RunError (also RuntimeError),
subclasses of robustmsa.Error.
"""

import json as _json
import os as _os

from . import _core
from ._core import ConfigError, DataError, Error, RunError, UsageError

__version__ = _core.__version__
#: The LibTorch version this build was configured against (the interpreter's torch).
torch_version = _core.torch_version

from . import metrics, protocols  # noqa: E402  (they use _core)
from .training import (  # noqa: E402
    Model,
    compare,
    evaluate,
    load_model,
    models,
    predict,
    report,
    resolved_config,
    rows,
    run,
    train,
)

__all__ = [
    "ConfigError",
    "DataError",
    "Error",
    "RunError",
    "UsageError",
    "Model",
    "compare",
    "evaluate",
    "inspect",
    "load",
    "load_model",
    "metrics",
    "models",
    "predict",
    "protocols",
    "report",
    "resolved_config",
    "rows",
    "run",
    "synth",
    "torch_version",
    "train",
]


def load(path):
    """Read a feature pickle (MulT/CMU or MMSA layout, or any pickle of plain data and NumPy
    arrays) with robustmsa's restricted reader: nothing in the file is executed.

    Returns what ``pickle.load`` would: dicts, lists, tuples, str, bytes, int, float, bool, None
    and ``numpy.ndarray``; an object the pickle shares appears once. Arrays are read-only: those
    the file holds in native byte order and C order are views of the memory-mapped file (no copy;
    ``.copy()`` gives a writable one); big-endian and Fortran-order arrays are converted to native
    C order. Object arrays of str/bytes become NumPy object arrays.

    Raises robustmsa.DataError naming the file, the byte offset, the opcode and what was expected
    for anything the reader refuses (a global other than NumPy's reconstruction functions, a
    truncated stream, sizes that do not add up), exactly as ``robustmsa inspect`` reports it.
    """
    return _core.load(_os.fspath(path))


def inspect(path):
    """What a feature file holds, as a dict: the JSON of ``robustmsa inspect FILE --json``
    (layout, splits, every key's shape and dtype, NaN/inf/clamped counts per split and modality,
    label statistics, SHA-256). Raises robustmsa.DataError for an unreadable or malformed file.
    """
    return _core.inspect(_os.fspath(path))


def synth(out, like="mosi", layout="mult", seed=1, **options):
    """Write a synthetic benchmark in the real file formats, as ``robustmsa synth`` does.

    ``out`` is the pickle to write; ``like`` mosi, mosei or iemocap; ``layout`` mult,
    mmsa_aligned or mmsa_unaligned; ``seed`` the generator seed (the CLI's default, 1). Any other
    generator option of docs/synthetic.md (the CLI's ``--set key=value``) is a keyword argument,
    e.g. ``n_train=200, n_valid=40, n_test=80, label_noise_sd=1.0``. Unknown keys and wrong types
    raise robustmsa.ConfigError naming the key.

    Returns a dict: ``data``, ``oracle_path``, ``generator_path`` (the three files written),
    ``sha256`` (of the data file), ``oracle`` (the oracle file's content: the best score any model
    can reach under every condition of every suite) and ``generator`` (every generator parameter).
    """
    opts = dict(options, like=like, layout=layout, seed=seed)
    return _core.synth(_os.fspath(out), _json.dumps(opts))

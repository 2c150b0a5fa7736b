"""The missing-modality protocols (docs/protocols.md): the masks the evaluator applies, as NumPy
arrays. Masks are a pure function of (condition, mask seed, sample index), so the same seed gives
the same masks as ``robustmsa eval`` (whose default mask seed is 0, config ``eval.mask_seed``).

    import robustmsa
    robustmsa.protocols.suite("paper")                 # ['complete', '{l}', ..., 'frame=1.0']
    m = robustmsa.protocols.masks("synth.pkl", suite="paper", split="test")
    m["{l,a}"]["present"]                              # (N, 3) bool
    m["frame=0.3"]["keep"]["audio"]                    # (N, T_a) bool
"""

import os as _os

from . import _core

__all__ = ["condition_name", "masks", "suite", "suite_names"]


def suite_names():
    """The evaluation suites: ['paper', 'mmsa', 'gcnet']."""
    return list(_core.suite_names())


def suite(name):
    """The condition names of a suite, in the order of the reports ('paper': 17 conditions,
    'mmsa': 10, 'gcnet': 8). Raises robustmsa.UsageError for an unknown suite."""
    return list(_core.suite(name))


def condition_name(spec):
    """The report name of a condition spec ('frame:0.3' -> 'frame=0.3', 'condition:l,a' ->
    '{l,a}'). Raises robustmsa.UsageError naming the spec and the accepted forms."""
    return _core.condition_name(spec)


def masks(path, condition=None, suite=None, split="test", seed=0):
    """The masks of conditions for one split of a data file, as ``robustmsa eval`` makes them.

    Give ``condition`` (one spec or report name, or a list of them: 'complete', '{l,a}',
    'frame=0.3', 'rate=0.2', 'MR=0.5', 'frame_rate:0.1,0.2,0.3', ...) or ``suite`` ('paper',
    'mmsa', 'gcnet'; all its conditions), not both. ``split`` is train, valid or test; ``seed`` the
    mask seed (>= 0; the evaluator's default is 0).

    Returns {report name: {"keep": {"text", "audio", "vision": (N, T_m) bool}, "present": (N, 3)
    bool, "valid": {modality: (N, T_m) bool}, "protocol": str, "parameter": str}} in suite order.
    ``keep`` is 0 where the protocol removed a frame, ``valid`` where the file has no frame
    (padding); a model uses frame f of modality m where ``valid & keep``. ``present`` is 1 where the
    modality is given and at least one valid frame survives.
    """
    if (condition is None) == (suite is None):
        raise _core.UsageError("masks: give either condition= or suite=, not both or neither")
    if suite is not None:
        specs = list(_core.suite(suite))
    elif isinstance(condition, str):
        specs = [condition]
    else:
        specs = list(condition)
    return _core.masks(_os.fspath(path), specs, split, int(seed))

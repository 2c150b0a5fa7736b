"""The field's metrics under MMSA's names and definitions (docs/metrics.md), computed by the same
C++ functions as every robustmsa report.

    import robustmsa
    robustmsa.metrics.regression(pred, label)   # MOSI / MOSEI: Has0_acc_2, Non0_F1_score, ...
    robustmsa.metrics.sims(pred, label)         # CH-SIMS: Mult_acc_2/3/5, F1_score, MAE, Corr
    robustmsa.metrics.iemocap(pred, label)      # IEMOCAP: <Emotion>_Acc/_F1, Avg_Acc, Avg_F1

Inputs are anything NumPy turns into a numeric array; they are flattened. Bad input (different
lengths, no samples, non-finite values, classes other than 0/1) raises robustmsa.DataError with
the library's message.
"""

import numpy as _np

from . import _core

__all__ = ["iemocap", "regression", "sims"]


def regression(pred, label):
    """MOSI / MOSEI regression metrics (scores in [-3, 3]) as MMSA's eval_mosi_regression names
    them: Has0_acc_2, Has0_F1_score, Non0_acc_2, Non0_F1_score, Mult_acc_5, Mult_acc_7, MAE, Corr,
    plus Non0_F1_score_mult (MulT's swapped-argument F1, for comparing with tables made by that
    code). F1 is scikit-learn's weighted F1 with the labels as the truth."""
    return dict(_core.regression(_np.asarray(pred), _np.asarray(label)))


def sims(pred, label):
    """CH-SIMS regression metrics (scores in [-1, 1], clipped first) as MMSA's
    eval_sims_regression names them: Mult_acc_2, Mult_acc_3, Mult_acc_5, F1_score, MAE, Corr."""
    return dict(_core.sims(_np.asarray(pred), _np.asarray(label)))


def _classes(x, what):
    """(N, 4) classes from (N, 4) class indices or (N, 4, 2) logits / one-hot rows (argmax)."""
    a = _np.asarray(x)
    if a.ndim == 3 and a.shape[1:] == (4, 2):
        return a.argmax(axis=2)
    if a.ndim != 2 or a.shape[1] != 4:
        raise _core.UsageError(
            f"iemocap {what}: shape {a.shape}; expected (N, 4) classes or (N, 4, 2) logits")
    if a.dtype.kind == "f":
        bad = _np.flatnonzero(a.reshape(-1) != _np.round(a.reshape(-1)))
        if bad.size:
            i = int(bad[0])
            raise _core.UsageError(
                f"iemocap {what}: value {a.reshape(-1)[i]} at sample {i // 4} emotion {i % 4} is "
                "not a class index; expected 0 or 1 (or pass (N, 4, 2) logits)")
    return a


def iemocap(pred, label):
    """IEMOCAP's four binary emotions (neutral, happy, sad, angry): Neutral_Acc, Neutral_F1, ...,
    Angry_F1, Avg_Acc, Avg_F1 (weighted F1 per emotion). ``pred`` and ``label`` are (N, 4) class
    indices in {0, 1}, or (N, 4, 2) logits or one-hot rows (as the files store the labels), whose
    argmax is taken."""
    return dict(_core.iemocap(_classes(pred, "pred"), _classes(label, "label")))

#!/usr/bin/env python3
"""Reference values for robustmsa's metrics, computed with scikit-learn and NumPy.

Writes random prediction/label vectors and the values MMSA's definitions give for them
(DESIGN §4, docs/metrics.md) to a JSON file; tests/core/metrics_test.cc recomputes them with
robustmsa and compares. Exit status 3 when NumPy or scikit-learn is missing, so the C++ test can
skip cleanly.

Usage: sklearn_metrics.py --out FILE
"""
import argparse
import json
import sys
import warnings

try:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
except ImportError as e:  # the C++ test turns this into GTEST_SKIP
    print(f"missing module: {e}", file=sys.stderr)
    sys.exit(3)


def corr(p, y):
    # np.corrcoef gives NaN for a constant vector; robustmsa defines Corr = 0 there.
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(p, y)[0][1]
    return 0.0 if np.isnan(r) else float(r)


def regression_reference(p, y):
    """MOSI / MOSEI: MMSA's regression metrics, plus MulT's swapped-argument F1."""
    a7 = np.sum(np.round(np.clip(p, -3.0, 3.0)) == np.round(np.clip(y, -3.0, 3.0))) / len(y)
    a5 = np.sum(np.round(np.clip(p, -2.0, 2.0)) == np.round(np.clip(y, -2.0, 2.0))) / len(y)
    nz = y != 0
    nz_truth, nz_pred = y[nz] > 0, p[nz] > 0
    has0_truth, has0_pred = y >= 0, p >= 0
    return {
        "Has0_acc_2": accuracy_score(has0_truth, has0_pred),
        "Has0_F1_score": f1_score(has0_truth, has0_pred, average="weighted"),
        "Non0_acc_2": accuracy_score(nz_truth, nz_pred),
        "Non0_F1_score": f1_score(nz_truth, nz_pred, average="weighted"),
        "Non0_F1_score_mult": f1_score(nz_pred, nz_truth, average="weighted"),
        "Mult_acc_7": a7,
        "Mult_acc_5": a5,
        "MAE": np.mean(np.abs(p - y)),
        "Corr": corr(p, y),
    }


def sims_bins(v, edges):
    """Class k for values in (edges[k], edges[k+1]]; compared in v's dtype (float32, as MMSA's
    tensors are)."""
    out = np.zeros(v.shape, dtype=np.int64)
    for k in range(len(edges) - 1):
        lo, hi = v.dtype.type(edges[k]), v.dtype.type(edges[k + 1])
        out[np.logical_and(v > lo, v <= hi)] = k
    return out


def sims_reference(p32, y32):
    p = np.clip(p32, -1.0, 1.0).astype(np.float32)
    y = np.clip(y32, -1.0, 1.0).astype(np.float32)
    e2 = [-1.01, 0.0, 1.01]
    e3 = [-1.01, -0.1, 0.1, 1.01]
    e5 = [-1.01, -0.7, -0.1, 0.1, 0.7, 1.01]
    t2, g2 = sims_bins(y, e2), sims_bins(p, e2)
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    return {
        "Mult_acc_2": accuracy_score(t2, g2),
        "Mult_acc_3": accuracy_score(sims_bins(y, e3), sims_bins(p, e3)),
        "Mult_acc_5": accuracy_score(sims_bins(y, e5), sims_bins(p, e5)),
        "F1_score": f1_score(t2, g2, average="weighted"),
        "MAE": np.mean(np.abs(p64 - y64)),
        "Corr": corr(p64, y64),
    }


def iemocap_reference(pred_class, label_class):
    out = {}
    accs, f1s = [], []
    for e, name in enumerate(["Neutral", "Happy", "Sad", "Angry"]):
        t, g = label_class[:, e], pred_class[:, e]
        accs.append(accuracy_score(t, g))
        f1s.append(f1_score(t, g, average="weighted"))
        out[f"{name}_Acc"], out[f"{name}_F1"] = accs[-1], f1s[-1]
    out["Avg_Acc"], out["Avg_F1"] = float(np.mean(accs)), float(np.mean(f1s))
    return out


def mosi_like(rng, n):
    """Labels as in MOSI: many exact zeros and half values (ties for rounding), a few beyond the
    clip range; predictions near them, some snapped to half values, zeros and out of range."""
    y = rng.uniform(-3.5, 3.5, n)
    kind = rng.random(n)
    y[kind < 0.35] = np.round(rng.uniform(-3.0, 3.0, n)[kind < 0.35] * 2) / 2  # k/2, incl. x.5
    y[kind < 0.12] = 0.0
    p = y + rng.normal(0.0, 0.8, n)
    snap = rng.random(n)
    p[snap < 0.25] = np.round(p[snap < 0.25] * 2) / 2
    p[snap < 0.05] = 0.0
    p[snap > 0.97] = rng.choice([-4.0, 4.0], size=int(np.sum(snap > 0.97)))
    return p, y


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    # Ill-defined per-class scores (a class never predicted) count as 0, as in robustmsa; the
    # warnings about them would only clutter the test log.
    warnings.simplefilter("ignore")
    cases = []

    def add(kind, name, inputs, expected):
        cases.append({"kind": kind, "name": name, **inputs,
                      "expected": {k: float(v) for k, v in expected.items()}})

    for seed, n in [(0, 3), (1, 8), (2, 50), (3, 229), (4, 686), (5, 4659)]:
        rng = np.random.default_rng(seed)
        p, y = mosi_like(rng, n)
        if not np.any(y != 0):  # sklearn refuses an empty non-zero set; robustmsa tests it alone
            y[0] = 1.0
        add("regression", f"mosi_like seed {seed} n {n}",
            {"pred": p.tolist(), "label": y.tolist()}, regression_reference(p, y))
    rng = np.random.default_rng(10)
    # One-sided cases: every label positive; every prediction negative; constant prediction.
    y = rng.uniform(0.1, 3.0, 40)
    p = y + rng.normal(0, 1.5, 40)
    add("regression", "all labels positive", {"pred": p.tolist(), "label": y.tolist()},
        regression_reference(p, y))
    p = -rng.uniform(0.1, 3.0, 40)
    add("regression", "all predictions negative", {"pred": p.tolist(), "label": y.tolist()},
        regression_reference(p, y))
    p = np.full(40, 0.5)
    add("regression", "constant prediction", {"pred": p.tolist(), "label": y.tolist()},
        regression_reference(p, y))

    for seed, n in [(20, 5), (21, 60), (22, 457)]:
        rng = np.random.default_rng(seed)
        grid = np.array([-1.0, -0.8, -0.7, -0.6, -0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4, 0.6, 0.7,
                         0.8, 1.0], dtype=np.float32)
        y = rng.choice(grid, n).astype(np.float32)
        p = rng.uniform(-1.3, 1.3, n).astype(np.float32)
        snap = rng.random(n) < 0.3
        p[snap] = rng.choice(grid, int(np.sum(snap)))
        add("sims", f"sims seed {seed} n {n}",
            {"pred": p.astype(np.float64).tolist(), "label": y.astype(np.float64).tolist()},
            sims_reference(p, y))

    for seed, n in [(30, 4), (31, 97), (32, 938)]:
        rng = np.random.default_rng(seed)
        logits = rng.normal(0, 1, (n, 4, 2))
        pred_class = np.argmax(logits, axis=2)
        label_class = (rng.random((n, 4)) < np.array([0.3, 0.15, 0.12, 0.13])).astype(np.int64)
        if seed == 30:
            pred_class[:, 1] = 0  # one emotion never predicted
            label_class[:, 2] = 1  # one emotion always true
        add("iemocap", f"iemocap seed {seed} n {n}",
            {"pred_class": pred_class.reshape(-1).tolist(),
             "label_class": label_class.reshape(-1).tolist()},
            iemocap_reference(pred_class, label_class))

    with open(args.out, "w") as f:
        json.dump({"numpy": np.__version__, "cases": cases}, f)


if __name__ == "__main__":
    main()

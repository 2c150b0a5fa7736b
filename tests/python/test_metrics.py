"""robustmsa.metrics against scikit-learn and NumPy (the references of tests/python/
sklearn_metrics.py, which the C++ suite also uses), and its bad-input errors."""
import warnings

import numpy as np
import pytest

import robustmsa

pytest.importorskip("sklearn")
import sklearn_metrics as ref  # noqa: E402  (needs scikit-learn)


def close(ours, theirs):
    assert set(ours) == set(theirs)
    for k in theirs:
        assert ours[k] == pytest.approx(float(theirs[k]), abs=1e-9), k


@pytest.mark.parametrize("seed", range(5))
def test_regression_equals_sklearn(seed):
    p, y = ref.mosi_like(np.random.default_rng(seed), 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref.regression_reference(p, y)
    close(robustmsa.metrics.regression(p, y), expected)
    # Any shape and dtype NumPy can flatten: (N, 1) float32 labels as the MulT files hold them.
    close(robustmsa.metrics.regression(p.reshape(-1, 1), y.reshape(-1, 1, 1)), expected)


@pytest.mark.parametrize("seed", range(5))
def test_sims_equals_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    y = np.round(rng.uniform(-1.2, 1.2, 200) * 5) / 5  # ties at the bin edges
    p = (y + rng.normal(0, 0.3, 200)).astype(np.float32)
    y = y.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref.sims_reference(p, y)
    close(robustmsa.metrics.sims(p, y), expected)


@pytest.mark.parametrize("seed", range(5))
def test_iemocap_equals_sklearn(seed):
    rng = np.random.default_rng(200 + seed)
    label = (rng.random((150, 4)) < 0.3).astype(np.int64)
    pred = np.where(rng.random((150, 4)) < 0.8, label, 1 - label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref.iemocap_reference(pred, label)
    close(robustmsa.metrics.iemocap(pred, label), expected)
    # Logits (N, 4, 2) and one-hot labels (N, 4, 2), as models output and files store them.
    logits = rng.normal(size=(150, 4, 2))
    logits[np.arange(150)[:, None], np.arange(4)[None, :], pred] += 10.0
    onehot = np.eye(2)[label]
    close(robustmsa.metrics.iemocap(logits, onehot), expected)


def test_bad_input():
    with pytest.raises(robustmsa.DataError, match="differ in length"):
        robustmsa.metrics.regression([0.1, 0.2], [0.3])
    with pytest.raises(robustmsa.DataError, match="no samples"):
        robustmsa.metrics.regression([], [])
    with pytest.raises(robustmsa.DataError, match="not finite"):
        robustmsa.metrics.regression([0.1, float("nan")], [0.3, 0.4])
    with pytest.raises(robustmsa.DataError, match="not finite"):
        robustmsa.metrics.sims([0.1, 0.2], [float("inf"), 0.4])
    with pytest.raises(robustmsa.UsageError, match="numeric"):
        robustmsa.metrics.regression(["a", "b"], [0.1, 0.2])
    with pytest.raises(robustmsa.DataError, match="0 or 1"):
        robustmsa.metrics.iemocap([[0, 1, 2, 0]], [[0, 1, 1, 0]])
    with pytest.raises(robustmsa.UsageError, match="not a class index"):
        robustmsa.metrics.iemocap([[0, 0.5, 1, 0]], [[0, 1, 1, 0]])
    with pytest.raises(robustmsa.UsageError, match=r"expected \(N, 4\)"):
        robustmsa.metrics.iemocap([0, 1, 1], [0, 1, 1])

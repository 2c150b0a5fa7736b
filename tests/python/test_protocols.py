"""robustmsa.protocols: the evaluator's masks as NumPy arrays. They are checked against the
NumPy re-implementation of docs/protocols.md in tests/python/check_synth.py, the same one that
checks the masks behind the CLI's oracle (tests/core/synth_test.cc): frame drop by the hash,
modality_drop's subsets, padding and presence rules."""
import numpy as np
import pytest

import check_synth as spec
import robustmsa

MODALITIES = ("text", "audio", "vision")


def reference(entry, n, seed):
    """keep/present from the spec, given the file's frame validity."""
    protocol, parameter = entry["protocol"], entry["parameter"]
    given = spec.given_modalities(protocol, parameter, seed, n)
    rates = spec.frame_rates(protocol, parameter)
    keep, present = {}, np.zeros((n, 3), dtype=bool)
    for m, name in enumerate(MODALITIES):
        valid = entry["valid"][name]
        t = valid.shape[1]
        i, f = np.meshgrid(np.arange(n), np.arange(t), indexing="ij")
        u = spec.uniform(spec.hash_words(spec.TAG_FRAME, seed, i.ravel(), m, f.ravel()))
        dropped = (u < rates[m]).reshape(n, t) & valid
        k = ~dropped & given[:, m : m + 1]
        keep[name] = k
        present[:, m] = given[:, m] & np.any(k & valid, axis=1)
    return keep, present


@pytest.mark.parametrize("suite", ["paper", "mmsa", "gcnet"])
@pytest.mark.parametrize("seed", [0, 17])
def test_masks_follow_the_spec(small_mosi, suite, seed):
    masks = robustmsa.protocols.masks(small_mosi, suite=suite, split="test", seed=seed)
    assert list(masks) == robustmsa.protocols.suite(suite)
    for name, entry in masks.items():
        n = entry["present"].shape[0]
        assert n == 40
        keep, present = reference(entry, n, seed)
        for m in MODALITIES:
            assert entry["keep"][m].dtype == np.bool_
            assert np.array_equal(entry["keep"][m], keep[m]), (name, m)
        assert np.array_equal(entry["present"], present), name


def test_same_seed_same_masks_other_seed_other_masks(small_mosi):
    a = robustmsa.protocols.masks(small_mosi, condition="frame=0.5", split="valid", seed=3)
    b = robustmsa.protocols.masks(small_mosi, condition="frame:0.5", split="valid", seed=3)
    c = robustmsa.protocols.masks(small_mosi, condition="frame=0.5", split="valid", seed=4)
    for m in MODALITIES:
        assert np.array_equal(a["frame=0.5"]["keep"][m], b["frame=0.5"]["keep"][m])
    assert not np.array_equal(a["frame=0.5"]["keep"]["text"], c["frame=0.5"]["keep"]["text"])


def test_conditions_and_names(small_mosi):
    masks = robustmsa.protocols.masks(small_mosi, condition=["condition:l,a", "MR=0.7"],
                                      split="train")
    assert list(masks) == ["{l,a}", "MR=0.7"]
    la = masks["{l,a}"]
    assert not la["keep"]["vision"].any() and not la["present"][:, 2].any()
    assert la["present"][:, :2].all()
    # MR >= 2/3: exactly two modalities dropped from every sample.
    assert (masks["MR=0.7"]["present"].sum(axis=1) == 1).all()
    assert robustmsa.protocols.suite_names() == ["paper", "mmsa", "gcnet"]
    assert len(robustmsa.protocols.suite("paper")) == 17
    assert robustmsa.protocols.condition_name("condition:l,v") == "{l,v}"


def test_bad_arguments(small_mosi, tmp_path):
    with pytest.raises(robustmsa.UsageError, match="split 'dev'"):
        robustmsa.protocols.masks(small_mosi, suite="paper", split="dev")
    with pytest.raises(robustmsa.UsageError, match="unknown|suite"):
        robustmsa.protocols.masks(small_mosi, suite="nope")
    with pytest.raises(robustmsa.UsageError):
        robustmsa.protocols.masks(small_mosi, condition="frame=2")
    with pytest.raises(robustmsa.UsageError, match="either"):
        robustmsa.protocols.masks(small_mosi, condition="complete", suite="paper")
    with pytest.raises(robustmsa.UsageError, match="mask seed"):
        robustmsa.protocols.masks(small_mosi, condition="complete", seed=-1)
    with pytest.raises(robustmsa.DataError, match="does not exist"):
        robustmsa.protocols.masks(tmp_path / "none.pkl", condition="complete")

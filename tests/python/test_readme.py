"""The README's "From Python" example, run as it stands (in a scratch directory), so that the
session it shows stays true: load, train UMDF on the synthetic set, evaluate, the model in PyTorch.
"""
import os
import re

import pytest

from conftest import SOURCE_DIR

torch = pytest.importorskip("torch")


def readme_example():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = re.search(r"^## From Python.*?(?=^## )", text, re.S | re.M)
    assert section, "README.md has no '## From Python' section"
    blocks = re.findall(r"^```python\n(.*?)^```", section.group(0), re.S | re.M)
    assert len(blocks) == 1, f"the section should hold one python block, found {len(blocks)}"
    return blocks[0]


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    try:
        torch.from_numpy(__import__("numpy").zeros(1, "float32"))
    except RuntimeError as e:  # Debian's torch 1.13 beside a NumPy 2 (the README says numpy<2)
        pytest.skip(f"this torch cannot take NumPy arrays here: {e}")
    monkeypatch.chdir(tmp_path)
    scope = {"__name__": "readme_example"}
    exec(compile(readme_example(), "README.md (From Python)", "exec"), scope)
    out = capsys.readouterr().out
    # What it promises: the layout, the train table, MMSA's metric names, gradients.
    assert "mult" in out and "Non0_F1_score" in out and "Has0_acc_2" in out
    assert os.path.isfile(tmp_path / "runs/umdf/seed_1111/results.json")
    assert os.path.isfile(tmp_path / "runs/umdf/seed_1111/results_mmsa.json")
    assert os.listdir(tmp_path / "runs/umdf/seed_1111/tensorboard")
    assert scope["pred"].shape == (120,) and torch.isfinite(scope["pred"]).all()
    assert scope["rows"] and {"variant", "condition", "metric", "mean"} <= set(scope["rows"][0])
    grads = [p.grad for p in scope["model"].parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)

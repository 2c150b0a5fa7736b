"""robustmsa.synth: the CLI's files byte for byte, the oracle as a dict, option errors."""
import hashlib
import json
import os
import pickle
import subprocess

import pytest

import robustmsa


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_synth_returns_the_files_and_the_oracle(tmp_path):
    out = robustmsa.synth(tmp_path / "s.pkl", like="iemocap", seed=5, n_train=30, n_valid=10,
                          n_test=12)
    assert out["data"] == str(tmp_path / "s.pkl")
    assert out["oracle_path"] == out["data"] + ".oracle.json"
    assert out["generator_path"] == out["data"] + ".generator.json"
    for key in ("data", "oracle_path", "generator_path"):
        assert os.path.isfile(out[key])
    assert out["sha256"] == sha256(out["data"])
    with open(out["oracle_path"]) as f:
        assert out["oracle"] == json.load(f)
    with open(out["generator_path"]) as f:
        assert out["generator"] == json.load(f)
    assert out["oracle"]["task"] == "iemocap"
    assert [c["name"] for c in out["oracle"]["conditions"]] == robustmsa.protocols.suite("paper")
    with open(out["data"], "rb") as f:
        data = pickle.load(f)  # Python can read the file
    assert len(data["test"]["labels"]) == 12


@pytest.mark.parametrize("layout", ["mult", "mmsa_aligned", "mmsa_unaligned"])
def test_synth_writes_what_the_cli_writes(tmp_path, cli, layout):
    ours = robustmsa.synth(tmp_path / "py.pkl", like="mosi", layout=layout, seed=9, n_train=40,
                           n_valid=10, n_test=20, label_noise_sd=0.5)
    subprocess.run([cli, "synth", "--like", "mosi", "--layout", layout, "--seed", "9",
                    "--set", "n_train=40", "--set", "n_valid=10", "--set", "n_test=20",
                    "--set", "label_noise_sd=0.5", str(tmp_path / "cli.pkl")],
                   check=True, capture_output=True)
    assert ours["sha256"] == sha256(tmp_path / "cli.pkl")
    with open(tmp_path / "cli.pkl.oracle.json") as f:
        cli_oracle = json.load(f)
    cli_oracle.pop("data", None)
    ours["oracle"].pop("data", None)  # the file's own path differs
    assert ours["oracle"] == cli_oracle


def test_synth_default_seed_is_the_clis(tmp_path, cli):
    ours = robustmsa.synth(tmp_path / "py.pkl", n_train=20, n_valid=8, n_test=8)
    subprocess.run([cli, "synth", "--set", "n_train=20", "--set", "n_valid=8", "--set",
                    "n_test=8", str(tmp_path / "cli.pkl")], check=True, capture_output=True)
    assert ours["sha256"] == sha256(tmp_path / "cli.pkl")


def test_synth_option_errors(tmp_path):
    with pytest.raises(robustmsa.ConfigError, match="no_such_option"):
        robustmsa.synth(tmp_path / "x.pkl", no_such_option=1)
    with pytest.raises(robustmsa.ConfigError, match="n_train"):
        robustmsa.synth(tmp_path / "x.pkl", n_train="many")
    with pytest.raises(robustmsa.ConfigError, match="like"):
        robustmsa.synth(tmp_path / "x.pkl", like="cifar")
    assert not (tmp_path / "x.pkl").exists()

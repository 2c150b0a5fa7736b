"""robustmsa.train / compare / run / evaluate / report / predict / load_model: the CLI's commands
from Python. Each is checked against the CLI on the same files (byte-identical results.json, no
.new file when the CLI re-evaluates what Python evaluated, equal predictions), for its events and
errors, and the trained model in PyTorch for its forward, autograd and fine-tuning."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import robustmsa

torch = pytest.importorskip("torch")

# Small and quick: two epochs of UMDF on the 60-sample file.
SETS = {"train.epochs": 2, "train.batch_size": 16}


def sets_args(sets):
    args = []
    for k, v in sets.items():
        args += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    return args


def read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def trained(small_mosi, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("train") / "umdf")
    events = []
    result = robustmsa.train(small_mosi, model="umdf", out=out, set=SETS, seeds=[1111],
                             progress=lambda event, info: events.append((event, info)))
    return out, result, events


def test_train_returns_the_runs_and_the_report(trained):
    out, result, _ = trained
    assert [r["seed"] for r in result["runs"]] == [1111]
    assert result["runs"][0] == json.loads(read(os.path.join(out, "seed_1111", "results.json")))
    assert result["report_dir"] == os.path.join(out, "report")
    assert os.path.isfile(os.path.join(out, "report", "report.md"))
    assert result["report"]["suite"] == "paper"
    assert "Non0_F1_score" in result["table"] or "Has0_acc_2" in result["table"]
    # The rows a DataFrame takes: one dict per variant x condition x metric, the same keys.
    rows = result["rows"]
    assert rows and all(set(r) == set(rows[0]) for r in rows)
    assert {r["condition"] for r in rows} >= {"complete"}
    table = robustmsa.rows(result["report"], "conditions")
    assert [r["variant"] for r in table if not r["oracle"]] == ["umdf"]
    with pytest.raises(KeyError, match="conditions"):
        robustmsa.rows(result["report"], "no_such_table")
    assert os.path.isdir(os.path.join(out, "seed_1111", "tensorboard"))


def test_train_events_come_in_the_documented_order(trained):
    _, result, events = trained
    names = [e for e, _ in events]
    assert names[0] == "log" and "samples" in events[0][1]["line"]
    assert names[1] == "run_start"
    assert names.count("epoch_end") == 2
    assert names[-1] == "test"
    start = events[1][1]
    assert start["epochs"] == 2 and start["seed"] == 1111 and start["train_samples"] == 60
    steps = [i for e, i in events if e == "step"]
    assert len(steps) == 2 * start["steps_per_epoch"]
    assert steps[-1]["samples"] == 60
    ends = [i for e, i in events if e == "epoch_end"]
    assert [e["epoch"] for e in ends] == [1, 2]
    assert "loss" in ends[0]["train_loss"] and "MAE" in ends[0]["validation"]
    assert events[-1][1] == result["runs"][0]


def test_python_and_the_cli_train_the_same_run(trained, small_mosi, cli, tmp_path):
    out, _, _ = trained
    cli_out = str(tmp_path / "cli")
    subprocess.run([cli, "train", "--data", small_mosi, "--model", "umdf", "--out", cli_out,
                    "--seeds", "1111,"] + sets_args(SETS), check=True, capture_output=True)
    assert read(os.path.join(cli_out, "seed_1111", "results.json")) == read(
        os.path.join(out, "seed_1111", "results.json"))


def test_evaluate_matches_the_cli(trained, cli):
    out, _, _ = trained
    lines = []
    result = robustmsa.evaluate(out, suite="mmsa",
                                progress=lambda e, i: lines.append(i["line"]) if e == "log" else 0)
    assert len(result["runs"]) == 1 and result["runs"][0]["suite"] == "mmsa"
    path = os.path.join(out, "seed_1111", "results_mmsa.json")
    assert json.loads(read(path)) == result["runs"][0]
    assert any("evaluated" in line for line in lines)
    # The CLI evaluating the same run again finds the same numbers: no .new file beside it.
    subprocess.run([cli, "eval", "--run", out, "--suite", "mmsa"], check=True,
                   capture_output=True)
    assert not os.path.exists(path + ".new")
    with pytest.raises(robustmsa.UsageError, match="suite"):
        robustmsa.evaluate(out, suite="no_such_suite")


def test_report_and_predict_match_the_cli(trained, small_mosi, cli, tmp_path):
    out, _, _ = trained
    written = robustmsa.report(out, out=str(tmp_path / "rep"))
    # One report per suite (the paper suite of training, the mmsa suite evaluated above).
    assert sorted(w["report_dir"] for w in written) == [str(tmp_path / "rep_mmsa"),
                                                        str(tmp_path / "rep_paper")]
    assert written[0]["rows"] and written[0]["table"]
    run_dir = os.path.join(out, "seed_1111")
    mine = robustmsa.predict(run_dir, small_mosi, split="valid")
    printed = subprocess.run([cli, "predict", "--run", run_dir, "--input", small_mosi,
                              "--split", "valid"], check=True, capture_output=True, text=True)
    assert mine == json.loads(printed.stdout)
    assert len(mine["predictions"]) == 20
    with pytest.raises(robustmsa.UsageError, match="exactly one"):
        robustmsa.predict(run_dir)


def test_compare_and_run(small_mosi, tmp_path):
    out = str(tmp_path / "cmp")
    result = robustmsa.compare(small_mosi, models="umdf,umdf:distill=false", out=out,
                               set=SETS, seeds=[1111], progress=False)
    assert sorted(r["variant"] for r in result["runs"]) == ["umdf", "umdf:distill=false"]
    assert {p["variant"] for p in result["report"]["paired"]} == {"umdf:distill=false"}
    # Finished cells are read, not trained again.
    events = []
    again = robustmsa.compare(small_mosi, models="umdf,umdf:distill=false", out=out, set=SETS,
                              seeds=[1111], progress=lambda e, i: events.append(e))
    assert events.count("finished_run") == 2 and "step" not in events
    assert again["runs"] == result["runs"]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        mmsa_style = robustmsa.run("umdf", small_mosi, seeds=[1111], set=SETS, progress=False)
    finally:
        os.chdir(cwd)
    assert os.path.isfile(tmp_path / "runs" / "mosi_umdf" / "umdf" / "seed_1111" / "results.json")
    umdf = next(r for r in result["runs"] if r["variant"] == "umdf")
    assert mmsa_style["runs"] == [umdf]  # the same configuration and seed: the same numbers


def test_an_interrupted_train_resumes_to_the_same_results(trained, small_mosi, tmp_path):
    out, _, _ = trained
    cut = str(tmp_path / "cut")

    def stop_in_epoch_2(event, info):
        if event == "step" and info["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        robustmsa.train(small_mosi, model="umdf", out=cut, set=SETS, seeds=[1111],
                        progress=stop_in_epoch_2)
    assert not os.path.exists(os.path.join(cut, "seed_1111", "results.json"))
    with pytest.raises(robustmsa.Error):  # not overwritten without resume
        robustmsa.train(small_mosi, model="umdf", out=cut, set=SETS, seeds=[1111],
                        progress=False)
    robustmsa.train(small_mosi, model="umdf", out=cut, set=SETS, seeds=[1111], resume=True,
                    progress=False)
    assert read(os.path.join(cut, "seed_1111", "results.json")) == read(
        os.path.join(out, "seed_1111", "results.json"))


def test_bad_arguments_raise_the_cli_errors(small_mosi, tmp_path):
    out = str(tmp_path / "bad")
    with pytest.raises(robustmsa.UsageError, match="unknown model 'nope'"):
        robustmsa.train(small_mosi, model="nope", out=out, progress=False)
    with pytest.raises(robustmsa.ConfigError, match="train.nope"):
        robustmsa.train(small_mosi, model="umdf", out=out, set={"train.nope": 1}, progress=False)
    with pytest.raises(robustmsa.DataError, match="missing.pkl"):
        robustmsa.train(str(tmp_path / "missing.pkl"), model="umdf", out=out, progress=False)
    with pytest.raises(robustmsa.UsageError, match="--out"):
        robustmsa.train(small_mosi, model="umdf", progress=False)
    with pytest.raises(TypeError):
        robustmsa.train(small_mosi, model="umdf", out=out, progress=3)
    assert not os.path.exists(out) or not os.listdir(out)


def test_models_and_resolved_config():
    names = [m["name"] for m in robustmsa.models()]
    assert "umdf" in names and "mult" in names
    cfg = robustmsa.resolved_config("x.pkl", "umdf", set={"train.lr": 0.01}, seeds=3)
    assert cfg["model"]["name"] == "umdf" and cfg["train"]["lr"] == 0.01
    assert cfg["train"]["seeds"] == [1111, 1112, 1113] and cfg["data"]["path"] == "x.pkl"


# ---- the trained model in PyTorch -------------------------------------------------------------


def tensor(array):
    # Through a list: Debian's torch 1.13 cannot take arrays of a NumPy 2 it was not built with.
    a = np.nan_to_num(np.asarray(array, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return torch.tensor(a.tolist(), dtype=torch.float32)


def features(path, split="test"):
    data = robustmsa.load(path)[split]
    return {m: tensor(data[m]) for m in ("text", "audio", "vision")}


def test_loaded_model_predicts(trained, small_mosi):
    out, _, _ = trained
    run_dir = os.path.join(out, "seed_1111")
    model = robustmsa.load_model(run_dir)
    assert model.info["variant"] == "umdf" and model.info["seed"] == 1111
    assert not model.training and model.device == torch.device("cpu")
    x = features(small_mosi, "valid")
    with torch.no_grad():
        pred = model(**x)
    assert pred.shape == (20,) and pred.dtype == torch.float32
    assert torch.isfinite(pred).all()
    # The features as the run read them (sanitised, padding invalid): predict()'s numbers.
    inputs = model.inputs(small_mosi, "valid")
    assert set(inputs) == {"text", "audio", "vision", "valid", "present"}
    assert inputs["valid"]["audio"].dtype == torch.bool and inputs["present"].shape == (20, 3)
    with torch.no_grad():
        mine = model(**inputs)
    theirs = [p["prediction"] for p in robustmsa.predict(run_dir, small_mosi,
                                                         split="valid")["predictions"]]
    assert torch.allclose(mine.double(), torch.tensor(theirs, dtype=torch.float64), atol=1e-5)
    # A predict JSON file: per-sample missing modalities come as `present`.
    dims = model.info["dim"]
    samples = [{"id": "a", "text": [[0.1] * dims[0]] * 2, "vision": [[0.2] * dims[2]]},
               {"id": "b", "text": [[-0.3] * dims[0]], "audio": None}]
    path = os.path.join(os.path.dirname(small_mosi), "samples.json")
    with open(path, "w") as f:
        json.dump({"samples": samples}, f)
    js = model.inputs(path)
    assert js["present"].tolist() == [[True, False, True], [True, False, False]]
    assert js["valid"]["text"][:, :2].tolist() == [[True, True], [True, False]]
    with torch.no_grad():
        mine_js = model(**js)
    theirs_js = [p["prediction"] for p in robustmsa.predict(run_dir, path)["predictions"]]
    assert torch.allclose(mine_js.double(), torch.tensor(theirs_js, dtype=torch.float64),
                          atol=1e-5)
    # Marking frames invalid changes what the model sees; an absent modality's entry is ignored.
    fewer = {m: v.clone() for m, v in inputs["valid"].items()}
    fewer["text"][:, : fewer["text"].shape[1] // 2] = False
    with torch.no_grad():
        assert not torch.equal(model(**dict(inputs, valid=fewer)), mine)
        assert torch.equal(model(text=inputs["text"], valid=inputs["valid"]),
                           model(text=inputs["text"], valid={"text": inputs["valid"]["text"]}))
    # A missing modality: None for everyone, or per sample through `present`.
    with torch.no_grad():
        no_audio = model(text=x["text"], vision=x["vision"])
        present = torch.ones(20, 3, dtype=torch.bool)
        present[:, 1] = False
        assert torch.equal(model(**x, present=present), no_audio)
        pred2, named = model(**x, features=True)
    assert torch.equal(pred2, pred) and isinstance(named, dict)


def test_protocol_masks_give_the_evaluators_numbers(trained, small_mosi):
    """robustmsa.protocols.masks are the masks `train`'s evaluation applied: the loaded model under
    each condition's keep/present, scored by robustmsa.metrics, gives results.json's numbers."""
    out, _, _ = trained
    run_dir = os.path.join(out, "seed_1111")
    results = json.loads(read(os.path.join(run_dir, "results.json")))
    model = robustmsa.load_model(run_dir)
    x = model.inputs(small_mosi, "test")
    labels = robustmsa.load(small_mosi)["test"]["labels"]
    masks = robustmsa.protocols.masks(small_mosi, suite="paper", split="test", seed=0)
    assert [c["name"] for c in results["conditions"]] == list(masks)
    for condition in results["conditions"]:
        m = masks[condition["name"]]
        with torch.no_grad():
            pred = model(**dict(x, keep=m["keep"], present=m["present"]))
        mine = robustmsa.metrics.regression(pred.numpy(), labels)
        for metric, value in condition["metrics"].items():
            assert mine[metric] == pytest.approx(value, abs=1e-6), (condition["name"], metric)
    # Another mask seed removes other frames: not the evaluator's numbers.
    other = robustmsa.protocols.masks(small_mosi, condition="frame=0.5", split="test", seed=9)
    with torch.no_grad():
        a = model(**dict(x, keep=masks["frame=0.5"]["keep"], present=masks["frame=0.5"]["present"]))
        b = model(**dict(x, keep=other["frame=0.5"]["keep"], present=other["frame=0.5"]["present"]))
    assert not torch.equal(a, b)


def test_loaded_model_has_autograd_and_fine_tunes(trained, small_mosi):
    out, _, _ = trained
    model = robustmsa.load_model(os.path.join(out, "seed_1111")).train()
    params = list(model.parameters())
    assert params and all(p.requires_grad for p in params)
    assert len(list(model.named_parameters())) == len(params)
    x = features(small_mosi, "train")
    text = x["text"][:16].clone().requires_grad_(True)
    label = tensor(robustmsa.load(small_mosi)["train"]["labels"]).reshape(-1)[:16]
    opt = torch.optim.SGD(params, lr=0.05)
    model.eval()
    with torch.no_grad():
        before = model(text=text, audio=x["audio"][:16], vision=x["vision"][:16]).clone()
    loss = torch.nn.functional.l1_loss(
        model(text=text, audio=x["audio"][:16], vision=x["vision"][:16]), label)
    opt.zero_grad()
    loss.backward()
    grads = [p.grad for p in params if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert text.grad is not None and torch.isfinite(text.grad).all() and text.grad.abs().sum() > 0
    opt.step()
    with torch.no_grad():
        after = model(text=text, audio=x["audio"][:16], vision=x["vision"][:16])
    assert not torch.equal(before, after)


def test_loaded_model_refuses_bad_input(trained, small_mosi, tmp_path):
    out, _, _ = trained
    model = robustmsa.load_model(os.path.join(out, "seed_1111"))
    x = features(small_mosi)
    with pytest.raises(robustmsa.UsageError, match="at least one"):
        model()
    with pytest.raises(robustmsa.UsageError, match="'audio'"):
        model(text=x["text"], audio=x["audio"][:, :, :3])
    with pytest.raises(robustmsa.UsageError, match="batch size"):
        model(text=x["text"], audio=x["audio"][:5])
    with pytest.raises(robustmsa.UsageError, match="torch.Tensor"):
        model(text=np.zeros((2, 3, 4)))
    with pytest.raises(robustmsa.UsageError, match="present"):
        model(**x, present=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(robustmsa.UsageError, match=r"valid\['text'\]"):
        model(**x, valid={"text": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(robustmsa.UsageError, match="key 'speech'"):
        model(**x, valid={"speech": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(robustmsa.UsageError, match=r"keep\['audio'\]"):
        model(**x, keep={"audio": torch.ones(40, 1, dtype=torch.bool)})
    with pytest.raises(robustmsa.UsageError, match="'keep': expected a dict"):
        model(**x, keep=[1, 2])
    # Raw NaN/inf would make the prediction NaN: refused, with where the first one is.
    bad = x["audio"].clone()
    bad[4, 2, 1] = float("-inf")
    with pytest.raises(robustmsa.DataError, match="sample 4 frame 2 feature 1"):
        model(text=x["text"], audio=bad)
    with pytest.raises(robustmsa.UsageError, match="split"):
        model.inputs(small_mosi, "nope")
    with pytest.raises(robustmsa.Error):
        robustmsa.load_model(str(tmp_path / "nothing"))
    # A shorter sequence is padded as invalid frames; a longer one is refused.
    t = x["text"].shape[1]
    with torch.no_grad():
        assert model(text=x["text"][:, : t - 2]).shape == (40,)
    with pytest.raises(robustmsa.UsageError, match="T <="):
        model(text=torch.cat([x["text"], x["text"]], 1))
    shutil.rmtree(tmp_path, ignore_errors=True)

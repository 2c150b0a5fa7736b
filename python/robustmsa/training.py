"""Training, evaluation, reports, prediction and trained models from Python: the CLI's commands
(``robustmsa train / compare / eval / report / predict``) as functions, run by the same library
calls (include/robustmsa/train.h), so the same arguments give the same run directories and the
same numbers. Results are plain dicts; report tables come as rows a ``pandas.DataFrame`` accepts.

The module behind them (robustmsa._train) links LibTorch; it is imported, with ``torch`` first,
on the first call, so ``import robustmsa`` alone stays light.
"""

import json as _json
import os as _os
import sys as _sys

__all__ = [
    "Model",
    "compare",
    "evaluate",
    "load_model",
    "models",
    "predict",
    "report",
    "resolved_config",
    "rows",
    "run",
    "train",
]

_lib = None


def _train_module():
    global _lib
    if _lib is None:
        import torch  # noqa: F401  (loads the LibTorch libraries the module links)

        from . import _train

        _lib = _train
    return _lib


# ---- arguments --------------------------------------------------------------------------------


def _set_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return _json.dumps(value)


def _sets(options):
    """``set=`` as the CLI's --set list: a dict {"train.lr": 1e-3} or a list of "key=value"."""
    if options is None:
        return []
    if isinstance(options, dict):
        return [f"{k}={_set_text(v)}" for k, v in options.items()]
    if isinstance(options, str):
        return [options]
    return [str(s) for s in options]


def _seeds(seeds):
    """``seeds=`` as the CLI's --seeds: a count N < 1000, one seed, or a list of seeds."""
    if seeds is None:
        return None
    if isinstance(seeds, (list, tuple)):
        text = ",".join(str(int(s)) for s in seeds)
        return text + "," if len(seeds) == 1 else text
    return str(seeds)


def _paths(value):
    if value is None:
        return []
    if isinstance(value, (str, _os.PathLike)):
        return [_os.fspath(value)]
    return [_os.fspath(v) for v in value]


def _opt_path(value):
    return None if value is None else _os.fspath(value)


def _layers(data, config, set, seeds, threads, text_encoder, finetune_text):
    return {
        "data": _opt_path(data),
        "config": _paths(config),
        "set": _sets(set),
        "seeds": _seeds(seeds),
        "threads": threads,
        "text_encoder": _opt_path(text_encoder),
        "finetune_text": bool(finetune_text),
    }


# ---- progress ---------------------------------------------------------------------------------


class _Progress:
    """The CLI's progress in Python: a tqdm bar per run (when tqdm is installed) and the CLI's
    line per epoch, early stop, finished run and log line, on stderr."""

    def __init__(self, stream=None):
        self.stream = stream or _sys.stderr
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self.tqdm = tqdm
        self.bar = None
        self.steps = 0

    def write(self, line):
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __call__(self, event, info):
        if event in ("log", "finished_run", "epoch_end", "early_stop"):
            self.write(info["line"])  # the CLI's line (run/progress_text.h)
        elif event == "run_start":
            self.close()
            self.steps = info["steps_per_epoch"]
            if self.tqdm is not None:
                self.bar = self.tqdm(total=info["epochs"] * self.steps,
                                     initial=info["start_epoch"] * self.steps,
                                     desc=f"{info['variant']} seed {info['seed']}", unit="step",
                                     file=self.stream, leave=False)
        elif event == "step":
            if self.bar is not None:
                self.bar.n = (info["epoch"] - 1) * self.steps + info["step"]
                self.bar.set_postfix(loss=f"{info['loss']:.4f}", refresh=False)
                self.bar.refresh()
        elif event == "test":
            self.close()


def _observer(progress):
    if progress is True:
        return _Progress()
    if not progress:
        return None
    if callable(progress):
        return progress
    raise TypeError("progress: expected True, False or a callable(event, info)")


def _run(function, request, progress):
    observer = _observer(progress)
    try:
        out = _json.loads(function(_json.dumps(request), observer))
    finally:
        if isinstance(observer, _Progress):
            observer.close()
    if out.get("report") is not None:
        out["rows"] = rows(out["report"])
    return out


# ---- the commands -----------------------------------------------------------------------------


def train(data=None, model=None, out=None, *, config=None, set=None, seeds=None, threads=None,
          text_encoder=None, finetune_text=False, resume=False, tensorboard=True, progress=True):
    """``robustmsa train``: one run per seed into ``out/seed_<seed>``, then the report in
    ``out/report``.

    ``data`` is the feature file (``--data``; default: the configuration's), ``model`` a name of
    ``robustmsa.models()`` (default: the configuration's), ``config`` one JSON file or a list
    (``--config``, later files win), ``set`` a dict ``{"train.epochs": 5}`` or a list of
    ``"section.key=value"`` (``--set``), ``seeds`` a count N < 1000 (1111 ... 1110+N), one seed, or
    a list. ``resume`` continues interrupted runs (``--resume``); ``tensorboard=False`` is
    ``--no-tensorboard``. ``progress``: True shows the CLI's progress (a tqdm bar when tqdm is
    installed), False nothing, a callable ``f(event, info)`` receives every event of
    robustmsa/observer.h as a dict ("run_start", "step", "epoch_end", "test", "log", ...).

    Returns a dict: ``runs`` (each run's results.json), ``report`` (report.json), ``rows`` (the
    report's long-format summary, one dict per variant x condition x metric), ``report_dir`` and
    ``table`` (the terminal table the CLI prints). Raises ConfigError / UsageError / DataError as
    the CLI reports them, KeyboardInterrupt leaves the interrupted run resumable.
    """
    request = _layers(data, config, set, seeds, threads, text_encoder, finetune_text)
    request.update(model=model, out=_opt_path(out), resume=bool(resume),
                   tensorboard=bool(tensorboard))
    return _run(_train_module().train, request, progress)


def compare(data=None, models="umdf", out=None, *, suite=None, config=None, set=None, seeds=None,
            threads=None, text_encoder=None, finetune_text=False, discussion=None,
            reported=None, reported_file=None, tensorboard=True, progress=True):
    """``robustmsa compare``: every variant of ``models`` (``"umdf,umdf:distill=false,mult"``,
    or ``"all"``) x every seed into ``out/<variant>/seed_<seed>``, the report with the paired
    comparisons in ``out/report``. Finished cells of the same configuration are read, not
    trained again; interrupted ones continue. ``suite`` overrides eval.suite; ``discussion`` is a
    Markdown file for the report; ``reported`` ("mosi", "mosei", "iemocap") adds the papers'
    numbers for a real data file. Other arguments and the result as for :func:`train`.
    """
    request = _layers(data, config, set, seeds, threads, text_encoder, finetune_text)
    request.update(models=models, out=_opt_path(out), suite=suite,
                   discussion=_opt_path(discussion), reported=reported,
                   reported_file=_opt_path(reported_file), tensorboard=bool(tensorboard))
    return _run(_train_module().compare, request, progress)


def run(model, data, seeds=(1111,), out=None, **options):
    """MMSA-style: ``robustmsa.run("umdf", "mosi.pkl", seeds=[1111, 1112])`` trains ``model``
    (a model or variant, e.g. ``"umdf:distill=false"``) on ``data`` for each seed and returns
    :func:`compare`'s dict. ``out`` defaults to ``runs/<data file stem>_<model>`` in the working
    directory; other keyword arguments are :func:`compare`'s (``set=``, ``suite=``, ...).
    """
    if out is None:
        stem = _os.path.splitext(_os.path.basename(_os.fspath(data)))[0]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
        out = _os.path.join("runs", f"{stem}_{safe}")
    return compare(data, models=model, out=out, seeds=seeds, **options)


def evaluate(run, suite="paper", *, data=None, mask_seed=None, threads=0, progress=True):
    """``robustmsa eval``: every run directory at or under ``run`` on ``suite`` (paper, mmsa or
    gcnet), on the data file each run was trained on (or ``data``) with its mask seed (or
    ``mask_seed``). Results go into each run directory (results_<suite>.json; an earlier file that
    differs is kept and the new one written beside it as .new), the report into
    ``run/report_<suite>``. Returns the dict of :func:`train`.
    """
    request = {"run": _opt_path(run), "suite": suite, "data": _opt_path(data),
               "mask_seed": mask_seed, "threads": threads}
    return _run(_train_module().evaluate, request, progress)


def report(dir, out=None, *, oracle=None, discussion=None, reference=None, reported=None,
           reported_file=None):
    """``robustmsa report DIR``: one report per suite of the results under ``dir`` (written to
    ``out`` or ``dir/report``). ``reference`` is the variant every other is paired against.
    Returns a list with one dict per report: ``report`` (report.json), ``rows``, ``report_dir``,
    ``table`` and ``note`` (why a report has no reported section; "" when none)."""
    request = {"dir": _opt_path(dir), "out": _opt_path(out), "oracle": _opt_path(oracle),
               "discussion": _opt_path(discussion), "reference": reference,
               "reported": reported, "reported_file": _opt_path(reported_file)}
    written = _json.loads(_train_module().report(_json.dumps(request)))
    for w in written:
        w["rows"] = rows(w["report"])
    return written


def predict(run, input=None, *, texts=None, split="test", text_encoder=None, threads=0):
    """``robustmsa predict``: a trained run (one seed directory) on new features — ``input`` a
    JSON file ``{"samples": [{"id", "text": [[...]], "audio": null, "vision": [...]}]}`` or a
    pickle (rows of ``split``) — or on sentences (``texts``, encoded by the run's or the given
    text encoder). Returns ``{"predictions": [...]}`` as the CLI prints it."""
    if isinstance(texts, str):
        texts = [texts]
    request = {"run": _opt_path(run), "input": _opt_path(input), "split": split,
               "texts": list(texts or []), "text_encoder": _opt_path(text_encoder),
               "threads": threads}
    return _json.loads(_train_module().predict(_json.dumps(request)))


def resolved_config(data=None, model=None, *, config=None, set=None, seeds=None, threads=None,
                    text_encoder=None, finetune_text=False):
    """The configuration a run with these arguments would use (``--dump-config``), as a dict."""
    request = _layers(data, config, set, seeds, threads, text_encoder, finetune_text)
    request["model"] = model
    return _json.loads(_train_module().resolved_config(_json.dumps(request)))


def models():
    """The registry: a list of {"name", "paper", "options" (defaults), "help"}, as
    ``robustmsa models --json`` (plus each option's help text)."""
    return _json.loads(_train_module().models())


def rows(report, table=None):
    """A report's numbers as rows for ``pandas.DataFrame(rows)``.

    Without ``table``: the long-format summary (report.csv), one dict per variant x condition x
    metric with ``mean``, ``std``, ``n``, ``expected`` and the per-seed ``values``. With ``table``
    (an id of ``report["tables"]``: "conditions", "frame", "rate", ...): that table as printed,
    one dict per variant with its ``seeds`` and, per column, the mean (``"<column>"``) and the
    standard deviation over seeds (``"<column> std"``).
    """
    if table is None:
        return [dict(entry) for entry in report["summary"]]
    for t in report["tables"]:
        if t["id"] == table:
            out = []
            for row in t["rows"]:
                r = {"variant": row["variant"], "oracle": row["oracle"],
                     "seeds": row["seeds_found"]}
                for column, cell in zip(t["columns"], row["cells"]):
                    r[column] = cell["mean"]
                    r[column + " std"] = cell["std"]
                out.append(r)
            return out
    ids = ", ".join(t["id"] for t in report["tables"])
    raise KeyError(f"table {table!r}: the report has {ids}")


# ---- trained models ---------------------------------------------------------------------------


def _mask(value):
    """A NumPy bool array as a torch tensor (through a list where this torch cannot take NumPy
    arrays: Debian's torch 1.13 beside a NumPy 2); anything else unchanged."""
    if type(value).__module__ != "numpy":
        return value
    import torch

    try:
        return torch.from_numpy(value.astype(bool, copy=True))
    except RuntimeError:
        return torch.tensor(value.astype(bool).tolist(), dtype=torch.bool)


def _masks(value):
    return {k: _mask(v) for k, v in value.items()} if isinstance(value, dict) else value


class Model:
    """A trained run's model (its selected weights) for use in PyTorch code: ``model(text=...,
    audio=..., vision=...)`` takes (B, T, D) ``torch.Tensor``s of the caller's torch on the
    model's device — ``None`` for a modality missing in every sample, or ``present`` a (B, 3) bool
    tensor for per-sample holes, ``valid`` a dict of (B, T) bool tensors marking the frames that
    exist (default: every frame given), ``keep`` one in the same form marking the frames a
    protocol did not remove (default: all) — and returns the prediction tensor ((B,) for
    regression, (B, 4, 2) logits for IEMOCAP), with autograd through the model and back to the
    inputs.
    Sequences shorter than the run's length are padded as invalid frames; NaN or inf in the
    features raise robustmsa.DataError saying where.

    ``inputs(path, split)`` reads a split of a feature file as the run's training read it (the
    reader's sanitised values, its padding as invalid frames, the run's data options), so
    ``model(**model.inputs(path, "test"))`` gives exactly what ``robustmsa.predict`` gives.

    ``parameters()`` are the model's own tensors, so ``torch.optim.Adam(model.parameters())``
    fine-tunes it; ``train()``/``eval()`` switch dropout (a loaded model starts in eval mode);
    ``to(device)`` moves it; ``info`` says what it is (variant, model, seed, task, input dims and
    lengths, the resolved configuration).
    """

    def __init__(self, run_dir):
        self._model = _train_module().LoadedModel(_os.fspath(run_dir))
        self.info = _json.loads(self._model.info())

    def __call__(self, text=None, audio=None, vision=None, present=None, valid=None, keep=None,
                 features=False):
        """The prediction; with ``features=True`` also the dict of named representations the
        model exposes (e.g. "fused"). ``present``, ``valid`` and ``keep`` may be NumPy bool arrays
        as well (``robustmsa.protocols.masks`` gives them so: ``model(**x, keep=m["keep"],
        present=m["present"])`` is the evaluator's view of a condition)."""
        return self._model.forward(text, audio, vision, _mask(present), _masks(valid),
                                   _masks(keep), features)

    forward = __call__

    def inputs(self, path, split="test"):
        """The features of ``split`` (train, valid or test) of a feature file, or of every sample
        of a predict JSON file, as keyword arguments of this model: a dict with ``text``,
        ``audio``, ``vision`` (float tensors on the model's device), ``valid`` (per modality, the
        (N, T) frames that exist) and ``present`` ((N, 3) bool). Read as the run's training read
        its data, so ``model(**inputs)`` reproduces ``robustmsa.predict``; the file's replaced
        NaN/inf values are reported on stderr, as the CLI does."""
        return self._model.inputs(_os.fspath(path), split)

    def parameters(self):
        return iter(self._model.parameters())

    def named_parameters(self):
        return iter(self._model.named_parameters())

    def train(self, mode=True):
        self._model.set_training(bool(mode))
        return self

    def eval(self):
        return self.train(False)

    @property
    def training(self):
        return self._model.training

    def to(self, device):
        self._model.to(str(device))
        return self

    @property
    def device(self):
        import torch

        return torch.device(self._model.device)

    def __repr__(self):
        i = self.info
        return (f"robustmsa.Model({i['variant']!r}, seed {i['seed']}, task {i['task']}, "
                f"run {i['run_dir']!r})")


def load_model(run_dir):
    """The trained model of one run directory (``out/seed_<seed>``) as a :class:`Model`."""
    return Model(run_dir)

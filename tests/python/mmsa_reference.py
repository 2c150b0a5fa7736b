#!/usr/bin/env python3
"""Reference check of robustmsa's MulT, TFN and LF-DNN against MMSA's (PyPI mmsa 2.2.1, unmodified).

tests/torch/mmsa_reference_test.cc builds a robustmsa model, writes its parameters and buffers,
the inputs and its eval-mode outputs to a pickle, and runs

    python3 tests/python/mmsa_reference.py CASE.pkl     # exit 0: match, 1: mismatch, 77: skip
    python3 tests/python/mmsa_reference.py --probe      # exit 0 if torch and MMSA are importable

This script loads the weights into MMSA's module by name, runs MMSA's forward in eval mode on the
same inputs and prints the largest absolute difference.

MMSA's package __init__ imports its whole training stack (easydict, pandas, transformers, ...),
none of which the model classes use. So the packages MMSA, MMSA.models, MMSA.models.subNets and
MMSA.models.singleTask are registered here as plain namespaces pointing at the installed
directories, and the model files are executed from there as they are. The only name provided
from outside is subNets.BertTextEncoder (its module needs `transformers`); the models run with
use_bert=False, so it is never called.
"""
import importlib.util
import json
import pickle
import sys
import types

SKIP = 77


def skip(reason):
    print("skip: " + reason)
    sys.exit(SKIP)


def load_mmsa():
    try:
        import torch  # noqa: F401
    except ImportError as e:
        skip(f"torch is not importable by {sys.executable} ({e}); install Debian's python3-torch")
    spec = importlib.util.find_spec("MMSA")
    if spec is None or not spec.submodule_search_locations:
        skip(f"MMSA is not installed for {sys.executable}; "
             "pip install --no-deps mmsa==2.2.1")
    root = list(spec.submodule_search_locations)[0]

    def package(name, path):
        mod = types.ModuleType(name)
        mod.__path__ = [path]
        sys.modules[name] = mod
        return mod

    def module(name, path):
        s = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(s)
        sys.modules[name] = mod
        s.loader.exec_module(mod)
        return mod

    package("MMSA", root)
    package("MMSA.models", root + "/models")
    subnets = package("MMSA.models.subNets", root + "/models/subNets")
    package("MMSA.models.singleTask", root + "/models/singleTask")

    class BertTextEncoderUnavailable:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("BertTextEncoder is not loaded in the reference test (use_bert=False)")

    subnets.BertTextEncoder = BertTextEncoderUnavailable
    feature_nets = module("MMSA.models.subNets.FeatureNets", root + "/models/subNets/FeatureNets.py")
    subnets.SubNet, subnets.TextSubNet = feature_nets.SubNet, feature_nets.TextSubNet
    models = {}
    for name in ("MULT", "TFN", "LF_DNN"):
        models[name] = getattr(
            module("MMSA.models.singleTask." + name, f"{root}/models/singleTask/{name}.py"), name)
    version = "unknown"
    try:
        from importlib.metadata import version as dist_version
        version = dist_version("MMSA")
    except Exception:
        pass
    return models, version


def tensor(a):
    import torch
    return torch.from_numpy(a.copy())


def mult_state(params, model, opt):
    """robustmsa MulT names -> MMSA MULT state dict."""
    import numpy as np
    mods = "lav"
    sd = {}
    for m in range(3):
        sd[f"proj_{mods[m]}.weight"] = params[f"projections.{m}.conv.weight"]
    nets = {}
    for m in range(3):
        others = [n for n in range(3) if n != m]
        for k, n in enumerate(others):
            nets[f"crossmodal.{m * 2 + k}."] = f"trans_{mods[m]}_with_{mods[n]}."
        nets[f"memory.{m}."] = f"trans_{mods[m]}_mem."
    layer_map = {"attn.out_proj.": "self_attn.out_proj.", "ffn.fc1.": "fc1.", "ffn.fc2.": "fc2.",
                 "attn_norm.": "layer_norms.0.", "ffn_norm.": "layer_norms.1."}
    for ours, theirs in nets.items():
        layers = sorted({int(k[len(ours) + len("layers."):].split(".")[0])
                         for k in params if k.startswith(ours + "layers.")})
        for i in layers:
            p = f"{ours}layers.{i}."
            t = f"{theirs}layers.{i}."
            for part in ("weight", "bias"):
                sd[f"{t}self_attn.in_proj_{part}"] = np.concatenate(
                    [params[f"{p}attn.q_proj.{part}"], params[f"{p}attn.kv_proj.{part}"]], 0)
            for o, th in layer_map.items():
                for part in ("weight", "bias"):
                    sd[t + th + part] = params[p + o + part]
        for part in ("weight", "bias"):
            sd[f"{theirs}layer_norm.{part}"] = params[f"{ours}final_norm.{part}"]
    for o, th in (("head.proj1.", "proj1."), ("head.proj2.", "proj2."), ("head.out.", "out_layer.")):
        for part in ("weight", "bias"):
            sd[th + part] = params[o + part]
    return sd


def late_state(params, model):
    """robustmsa TFN / LF-DNN names -> MMSA TFN / LF_DNN state dict."""
    sd = {}
    for k, v in params.items():
        t = k
        t = t.replace("text_lstm.", "text_subnet.rnn.").replace("text_out.", "text_subnet.linear_1.")
        t = t.replace("vision_subnet.", "video_subnet.")
        for i in (1, 2, 3):
            t = t.replace(f"subnet.linear{i}.", f"subnet.linear_{i}.")
            t = t.replace(f"fusion{i}.", f"post_fusion_layer_{i}.")
        sd[t] = v
    return sd


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--probe":
        load_mmsa()
        sys.exit(0)
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    models, version = load_mmsa()
    import numpy as np
    import torch
    torch.set_num_threads(1)
    with open(sys.argv[1], "rb") as f:
        case = pickle.load(f)
    name = case["model"]
    opt = json.loads(case["options"])
    dims = [int(d) for d in case["dims"]]
    params = case["params"]
    x = case["inputs"]
    if name == "mult":
        args = types.SimpleNamespace(
            use_bert=False, feature_dims=dims, train_mode="regression",
            dst_feature_dim_nheads=[opt["width"], opt["heads"]], nlevels=opt["levels"],
            attn_dropout=opt["attn_dropout"], attn_dropout_a=opt["attn_dropout_a"],
            attn_dropout_v=opt["attn_dropout_v"], relu_dropout=opt["relu_dropout"],
            embed_dropout=opt["embed_dropout"], res_dropout=opt["res_dropout"],
            output_dropout=opt["output_dropout"], text_dropout=opt["text_dropout"],
            attn_mask=opt["causal"], conv1d_kernel_size_l=opt["text_kernel"],
            conv1d_kernel_size_a=opt["audio_kernel"], conv1d_kernel_size_v=opt["vision_kernel"])
        if opt["mem_layers"] != max(opt["levels"], 3):
            print(f"mem_layers {opt['mem_layers']} differs from MMSA's max(nlevels, 3)")
            sys.exit(2)
        model = models["MULT"](args)
        theirs = mult_state(params, model, opt)
        inputs = (tensor(x["text"]), tensor(x["audio"]), tensor(x["vision"]))
    elif name in ("tfn", "lf_dnn"):
        args = types.SimpleNamespace(
            feature_dims=dims, train_mode="regression",
            hidden_dims=[opt["text_hidden"], opt["audio_hidden"], opt["vision_hidden"]],
            text_out=opt["text_out"], post_fusion_dim=opt["post_fusion_dim"],
            dropouts=[opt["audio_dropout"], opt["vision_dropout"], opt["text_dropout"],
                      opt["post_fusion_dropout"]])
        model = models["TFN" if name == "tfn" else "LF_DNN"](args)
        theirs = late_state(params, model)
        # MMSA's data loader averages audio and vision over time for these models (need_normalized).
        inputs = (tensor(x["text"]), tensor(x["audio"]).mean(1, keepdim=True),
                  tensor(x["vision"]).mean(1, keepdim=True))
    else:
        print(f"no MMSA reference for model '{name}'")
        sys.exit(2)
    sd = model.state_dict()
    unknown = sorted(set(theirs) - set(sd))
    if unknown:
        print("robustmsa tensors without an MMSA counterpart: " + ", ".join(unknown))
        sys.exit(1)
    # MMSA-only entries that carry no learned state: MulT's encoder version counters and TFN's
    # constant output range/shift (compared through the output instead).
    own = {"output_range", "output_shift"}
    missing = sorted(k for k in sd if k not in theirs and not k.endswith(".version") and k not in own)
    if missing:
        print("MMSA tensors not filled from robustmsa: " + ", ".join(missing))
        sys.exit(1)
    for k, v in theirs.items():
        t = tensor(np.asarray(v))
        if tuple(t.shape) != tuple(sd[k].shape):
            print(f"shape mismatch for {k}: robustmsa {tuple(t.shape)}, MMSA {tuple(sd[k].shape)}")
            sys.exit(1)
        sd[k] = t.to(sd[k].dtype)
    model.load_state_dict(sd, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(*inputs)["M"].reshape(-1).double().numpy()
    ours = np.asarray(case["output"], dtype=np.float64).reshape(-1)
    diff = float(np.max(np.abs(out - ours)))
    tol = float(case["tolerance"])
    # Negative control: the output layer's bias moved by 0.1 must show in the output, or the
    # comparison would not be sensitive to the module that was loaded.
    last = "out_layer.bias" if name == "mult" else "post_fusion_layer_3.bias"
    with torch.no_grad():
        model.state_dict()[last].add_(0.1)
        moved = model(*inputs)["M"].reshape(-1).double().numpy()
    control = float(np.max(np.abs(moved - ours)))
    print(f"model {name} mmsa {version} torch {torch.__version__} n {out.size} "
          f"max_abs_diff {diff:.3e} tolerance {tol:.0e} control_diff {control:.3e}")
    if control <= tol:
        print("negative control failed: perturbing MMSA's weights does not change the output")
        sys.exit(1)
    sys.exit(0 if diff <= tol else 1)


if __name__ == "__main__":
    main()

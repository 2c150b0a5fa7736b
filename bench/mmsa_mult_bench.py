#!/usr/bin/env python3
"""Training throughput of MMSA's MulT (PyPI mmsa 2.2.1, unmodified) on a robustmsa feature file.

    /usr/bin/python3 bench/mmsa_mult_bench.py DATA.pkl --batch 128 --steps 5 --threads 2

Runs MMSA's training step for MulT (MULT forward, L1 loss, backward, clip_grad_value_ 0.6, Adam
lr 2e-3: MMSA's trains/singleTask/MULT.py with the MOSI entry of config_regression.json) on the
train split of DATA.pkl (MulT or MMSA layout, as `robustmsa synth` writes it), after two warm-up
steps, and prints one line

    mmsa: batch B, steps S, X ms/step, E s/epoch (N train samples), peak RSS M MB, threads T

The epoch time is the measured time per step times ceil(N / B) steps (scaled, not a full epoch).
MMSA steps its optimiser once every `update_epochs` batches; this loop steps every batch, as
robustmsa's bench_train does (the optimiser step is a negligible part of a MulT step).
MMSA's model files are loaded as they are, without its package __init__ (which imports its
whole training stack): the loader of tests/python/mmsa_reference.py is reused.
"""
import argparse
import math
import os
import pickle
import resource
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))


def mosi_mult_args(dims):
    # config_regression.json: "mult" -> commonParams + datasetParams.mosi (MMSA 2.2.1).
    return types.SimpleNamespace(
        use_bert=False, use_finetune=False, transformers="bert", pretrained="bert-base-uncased",
        feature_dims=tuple(dims), dst_feature_dim_nheads=(50, 10), nlevels=4,
        attn_dropout=0.3, attn_dropout_a=0.2, attn_dropout_v=0.0, relu_dropout=0.0,
        embed_dropout=0.2, res_dropout=0.0, output_dropout=0.5, text_dropout=0.5,
        attn_mask=True, conv1d_kernel_size_l=5, conv1d_kernel_size_a=5, conv1d_kernel_size_v=5,
        train_mode="regression", num_classes=1, need_data_aligned=False,
        need_model_aligned=False)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    from mmsa_reference import load_mmsa  # exits 77 (skip) when torch or MMSA is missing
    models, version = load_mmsa()
    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(1111)
    with open(a.data, "rb") as f:
        train = pickle.load(f)["train"]
    x = [np.ascontiguousarray(train[k], dtype=np.float32) for k in ("text", "audio", "vision")]
    for arr in x:  # COVAREP-like -inf, as MMSA's loaders would have cleaned them
        arr[~np.isfinite(arr)] = 0
    y = np.asarray(train["regression_labels"] if "regression_labels" in train
                   else train["labels"], dtype=np.float32).reshape(-1, 1)
    n = y.shape[0]
    model = models["MULT"](mosi_mult_args([arr.shape[2] for arr in x]))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.L1Loss()
    tensors = [torch.from_numpy(arr) for arr in x]
    labels = torch.from_numpy(y)
    elapsed = 0.0
    for s in range(a.steps + 2):
        rows = torch.tensor([(s * a.batch + i) % n for i in range(a.batch)])
        t0 = time.perf_counter()
        text, audio, vision = (t.index_select(0, rows) for t in tensors)
        out = model(text, audio, vision)["M"]
        loss = loss_fn(out, labels.index_select(0, rows))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_([q for q in model.parameters() if q.requires_grad], 0.6)
        opt.step()
        if s >= 2:  # two warm-up steps
            elapsed += time.perf_counter() - t0
    ms = 1000.0 * elapsed / a.steps
    epoch = ms / 1000.0 * math.ceil(n / a.batch)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"mmsa {version} (torch {torch.__version__}): batch {a.batch}, steps {a.steps}, "
          f"{ms:.1f} ms/step, {epoch:.1f} s/epoch ({n} train samples), peak RSS {rss:.0f} MB, "
          f"threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()

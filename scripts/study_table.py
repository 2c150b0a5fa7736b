#!/usr/bin/env python3
"""Summarise runs of the distillation study (scripts/distill_study.sh, docs/umdf.md).

Usage: study_table.py REF_DIR DIR ...   (each DIR holds seed_<seed>/results.json of one variant)

For every variant: seeds, the mean +- sample sd over seeds of Avg Non0_F1_score (the mean over the
six modality conditions of the `paper` suite) and of {l,a,v}, the mean best validation selection
score of the trainer (metrics.jsonl), and the paired difference against REF_DIR on the seeds both
have: mean, 95% Student-t interval, seeds ahead. The study trains on a copy of the data whose test
split is the validation split, so these numbers are validation numbers.
"""
import json
import math
import os
import statistics
import sys

SIX = ["{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}"]
# Student t 0.975 quantiles, df = 1..30.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060,
        2.056, 2.052, 2.048, 2.045, 2.042]


def load(variant_dir):
    out = {}
    for name in sorted(os.listdir(variant_dir)):
        path = os.path.join(variant_dir, name, "results.json")
        if not name.startswith("seed_") or not os.path.exists(path):
            continue
        res = json.load(open(path))
        f1 = {c["name"]: c["metrics"]["Non0_F1_score"] for c in res["conditions"]}
        best = None
        mpath = os.path.join(variant_dir, name, "metrics.jsonl")
        if os.path.exists(mpath):
            rows = [json.loads(l) for l in open(mpath) if l.strip()]
            best = min(r["val_score"] for r in rows)
        out[res["seed"]] = (sum(f1[c] for c in SIX) / 6, f1["complete"], best)
    return out


def fmt(xs):
    if len(xs) < 2:
        return f"{xs[0]:.4f}" if xs else "-"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}"


def main():
    dirs = sys.argv[1:]
    if not dirs:
        print(__doc__)
        return 2
    runs = [load(d) for d in dirs]
    ref = runs[0]
    print("| variant | seeds | Avg Non0_F1 | {l,a,v} | selection score | Avg − ref [95% CI] | ahead |")
    print("|---|---|---|---|---|---|---|")
    for d, r in zip(dirs, runs):
        seeds = sorted(r)
        avg = [r[s][0] for s in seeds]
        full = [r[s][1] for s in seeds]
        sel = [r[s][2] for s in seeds if r[s][2] is not None]
        common = [s for s in seeds if s in ref]
        diff = [r[s][0] - ref[s][0] for s in common]
        paired = "-"
        if r is not ref and len(diff) >= 2:
            m, sd = statistics.mean(diff), statistics.stdev(diff)
            h = T975[min(len(diff) - 1, 30) - 1] * sd / math.sqrt(len(diff))
            ahead = sum(x > 0 for x in diff)
            paired = f"{m:+.4f} [{m - h:+.4f}, {m + h:+.4f}] | {ahead} of {len(diff)}"
        else:
            paired = "- | -"
        name = os.path.relpath(d)
        print(f"| {name} | {len(seeds)} | {fmt(avg)} | {fmt(full)} | {fmt(sel)} | {paired} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

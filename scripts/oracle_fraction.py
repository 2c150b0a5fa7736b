#!/usr/bin/env python3
"""Fractions of the oracle of runs (docs/synthetic.md, "What the family is for").

Usage: oracle_fraction.py DATA.pkl VARIANT_DIR ...

For each VARIANT_DIR (seed_<seed>/results.json of one variant trained on DATA.pkl) and each of
Non0_F1_score and Corr: the mean over seeds of the Avg of the six modality conditions and of
{l,a,v} (complete), each divided by the oracle's (DATA.pkl.oracle.json), and the per-seed
difference of the two fractions (missing minus complete) with its 95% Student-t interval.
"""
import json
import math
import os
import statistics
import sys

SIX = ["{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}"]
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086]


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    oracle = json.load(open(sys.argv[1] + ".oracle.json"))
    om = {c["name"]: c["metrics"] for c in oracle["conditions"]}
    print("| variant | metric | seeds | Avg (missing) | Avg / oracle | {l,a,v} | {l,a,v} / oracle "
          "| missing − complete fraction [95% CI] |")
    print("|---|---|---|---|---|---|---|---|")
    for d in sys.argv[2:]:
        runs = []
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name, "results.json")
            if name.startswith("seed_") and os.path.exists(p):
                res = json.load(open(p))
                runs.append({c["name"]: c["metrics"] for c in res["conditions"]})
        for metric in ("Non0_F1_score", "Corr"):
            o_avg = sum(om[c][metric] for c in SIX) / 6
            o_all = om["complete"][metric]
            avg = [sum(r[c][metric] for c in SIX) / 6 for r in runs]
            full = [r["complete"][metric] for r in runs]
            diff = [a / o_avg - f / o_all for a, f in zip(avg, full)]
            ci = "-"
            if len(diff) >= 2:
                m, s = statistics.mean(diff), statistics.stdev(diff)
                h = T975[min(len(diff) - 1, 20) - 1] * s / math.sqrt(len(diff))
                ci = f"{m:+.3f} [{m - h:+.3f}, {m + h:+.3f}]"
            print(f"| {os.path.relpath(d)} | {metric} | {len(runs)} | {statistics.mean(avg):.4f} | "
                  f"{statistics.mean(avg) / o_avg:.3f} | {statistics.mean(full):.4f} | "
                  f"{statistics.mean(full) / o_all:.3f} | {ci} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

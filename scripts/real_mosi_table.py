#!/usr/bin/env python3
"""The Markdown tables of docs/real-mosi.md and the README's "Real trimodal MOSI" section.

Reads the per-seed values that `robustmsa report` wrote (report_seeds.csv of the paper and gcnet
reports made by scripts/real_mosi.sh) and prints: the complete-data table, the missing-modality
conditions, the paired differences of every model against the reference (the report's first
variant, UMDF) and the GCNet modality-drop curve. Every number is a mean over the seeds a model
has (sample std, n - 1); the seed count is printed beside it.

Usage: python3 scripts/real_mosi_table.py [OUT]     (default runs/real_mosi/bclstm)
"""
import csv
import json
import math
import os
import statistics
import sys
from collections import defaultdict

from scipy.stats import t as student_t

out = sys.argv[1] if len(sys.argv) > 1 else "runs/real_mosi/bclstm"
PERCENT = {"Has0_acc_2", "Non0_acc_2", "Has0_F1_score", "Non0_F1_score", "Mult_acc_7"}
LOWER_IS_BETTER = {"MAE"}


def read(path):
    values = defaultdict(dict)  # (variant, condition, metric) -> {seed: value}
    order = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["variant"] == "oracle":
                continue
            if row["variant"] not in order:
                order.append(row["variant"])
            if row["value"] == "":  # a seed this variant lacks (the report lists it as missing)
                continue
            values[(row["variant"], row["condition"], row["metric"])][int(row["seed"])] = float(
                row["value"])
    # The reference (the report's first variant) first, then its two ablations, then the rest.
    head = [order[0]] + [v for v in ("umdf:distill=false", "teacher_student") if v in order[1:]]
    return values, head + [v for v in order if v not in head]


def fmt(metric, xs):
    scale = 100.0 if metric in PERCENT else 1.0
    digits = 1 if metric in PERCENT else 3
    m = statistics.mean(xs) * scale
    if len(xs) < 2:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {statistics.stdev(xs) * scale:.{digits}f}"


def seeds_of(values, variant):
    return sorted({s for (v, _, m), by_seed in values.items() if v == variant and m == "MAE"
                   for s in by_seed})


def grid(values, order, columns, cell, title):
    """One row per model: its seed count, then cell(model, column) for every column."""
    print(f"\n{title}\n")
    print("| model | seeds | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for v in order:
        print(f"| {v} | {len(seeds_of(values, v))} | " + " | ".join(cell(v, c) for c in columns)
              + " |")


def table(values, order, condition, metrics, title):
    grid(values, order, metrics, lambda v, m: fmt(m, list(values[(v, condition, m)].values())),
         title)


def conditions_table(values, order, conditions, metric, title):
    grid(values, order, conditions,
         lambda v, c: fmt(metric, list(values[(v, c, metric)].values())), title)


def paired(values, order, conditions, metrics):
    ref = order[0]
    print(f"\nPaired differences against `{ref}` (variant − {ref}, over the seeds both have; "
          "95% Student-t interval of the mean difference; 'better' counts seeds on which the "
          "variant is better: higher, or lower for MAE)\n")
    print("| variant | condition | metric | n | mean difference | 95% CI | variant better on |")
    print("|---|---|---|---:|---:|---:|---:|")
    for v in order[1:]:
        for c in conditions:
            for m in metrics:
                a, b = values[(v, c, m)], values[(ref, c, m)]
                seeds = sorted(set(a) & set(b))
                d = [a[s] - b[s] for s in seeds]
                scale = 100.0 if m in PERCENT else 1.0
                digits = 2 if m in PERCENT else 3
                mean = statistics.mean(d) * scale
                if len(d) >= 2:
                    half = student_t.ppf(0.975, len(d) - 1) * statistics.stdev(d) / math.sqrt(
                        len(d)) * scale
                    ci = f"[{mean - half:+.{digits}f}, {mean + half:+.{digits}f}]"
                else:
                    ci = "—"
                better = sum((x < 0) if m in LOWER_IS_BETTER else (x > 0) for x in d)
                print(f"| {v} | {c} | {m} | {len(d)} | {mean:+.{digits}f} | {ci} | "
                      f"{better}/{len(d)} |")


paper, order = read(f"{out}/report_paper/report_seeds.csv")
main_metrics = ["Has0_acc_2", "Non0_acc_2", "Has0_F1_score", "MAE", "Corr"]
table(paper, order, "complete", main_metrics, "Complete test set (all three modalities)")
table(paper, order, "Avg", main_metrics, "Avg of the six missing-modality conditions")
conditions_table(paper, order, ["{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}", "Avg", "complete"],
                 "Has0_acc_2", "Has0_acc_2 (%) per condition of the paper suite")
conditions_table(paper, order, ["{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}", "Avg", "complete"],
                 "MAE", "MAE per condition of the paper suite")
paired(paper, order, ["complete", "Avg"], ["Has0_acc_2", "Non0_F1_score", "MAE", "Corr"])
gcnet, gorder = read(f"{out}/report_gcnet/report_seeds.csv")
mr = sorted({c for (_, c, _) in gcnet if c.startswith("MR=")}, key=lambda c: float(c[3:]))
conditions_table(gcnet, gorder, mr, "Has0_acc_2",
                 "GCNet modality-drop curve: Has0_acc_2 (%) at missing rate MR")


def published(path, conditions):
    """The accuracy rows of the published-rows file, cells as printed (blank where none)."""
    with open(path) as f:
        reported = json.load(f)
    print("\nPublished Has0_acc_2 (%) on these files, REPORTED, NOT MEASURED by robustmsa "
          "(each cell a model trained on those modalities; sources and settings: "
          "data/reported/mosi_utterance.json)\n")
    print("| source | row | " + " | ".join(c if c != "{l,a,v}" else "complete" for c in conditions)
          + " |")
    print("|---|---|" + "---:|" * len(conditions))
    for e in reported["entries"]:
        if e["metric"] != "Has0_acc_2":
            continue
        digits = e["decimals"]  # as printed by the paper
        for row, cells in e["rows"].items():
            print(f"| {e['short']} | {row} | "
                  + " | ".join(f"{cells[c]:.{digits}f}" if c in cells else "" for c in conditions)
                  + " |")


published(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "data", "reported",
                       "mosi_utterance.json"),
          ["{l}", "{a}", "{v}", "{l,a}", "{l,v}", "{a,v}", "{l,a,v}"])

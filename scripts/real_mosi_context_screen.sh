#!/bin/bash
# The context form's window (docs/real-mosi.md, "The context form"): data.context = 1, 3 and 7
# (the target utterance and N of its video's utterances each side), UMDF and LF-DNN, seeds
# 1111-1112, configs/mosi_utterance.json, scored on the validation split only (the best
# validation selection score of the trainer, metrics.jsonl val_score, lower is better). compare
# also evaluates the test split; the summary below reads only the validation scores (which is why
# it does not use scripts/study_table.py, which prints test numbers). The whole video (-1, 63
# frames) is not screened: UMDF trains at about 50 samples/s on it with one thread against about
# 480 at N = 3, which puts a ten-seed table of every model out of reach of two cores.
#
# Usage: bash scripts/real_mosi_context_screen.sh      (ROBUSTMSA_SHARED_DATA as real_mosi.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${ROBUSTMSA_SHARED_DATA:-../shared/data}/mosi-utterance
bin=${ROBUSTMSA_BIN:-build/robustmsa}
out=runs/real_mosi/context_screen
mkdir -p "$out"
export OMP_WAIT_POLICY=passive
run() {
  "$bin" compare --data "$shared/bclstm" --set "data.labels=$shared/CMU_MOSI_Opinion_Labels.csd" \
    --config configs/mosi_utterance.json --set "data.context=$1" --threads 1 \
    --models umdf,lf_dnn --seeds 2 --out "$out/context_$1" >"$out/context_$1.log" 2>&1
}
{ run 1; run 7; } &
a=$!
run 3 &
b=$!
wait "$a"
wait "$b"
# The selection score of every run: its best validation score (lower is better).
python3 - "$out" <<'PY'
import glob, json, os, sys
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "context_*", "*", "seed_*", "metrics.jsonl"))):
    parts = path.split(os.sep)
    scores = [json.loads(line)["val_score"] for line in open(path) if line.strip()]
    rows.setdefault((parts[-4], parts[-3]), []).append(min(scores))
print("| data.context | model | best validation score per seed | mean |")
print("|---|---|---|---|")
for (ctx, model), v in sorted(rows.items()):
    print(f"| {ctx.split('_')[1]} | {model} | {', '.join(f'{x:.4f}' for x in v)} | {sum(v)/len(v):.4f} |")
PY

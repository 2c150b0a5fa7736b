#!/bin/bash
# The validation-only choice of configs/mosi_utterance.json (docs/real-mosi.md, "How the
# configuration was chosen"): four shared schedules x {umdf, lf_dnn} x seeds 1111,1112 on the
# bc-LSTM files, two single-threaded processes side by side, then the selection score of each
# candidate from metrics.jsonl (validation only; results.json, the test split, is not read).
#
# Usage: bash scripts/real_mosi_select.sh     (ROBUSTMSA_SHARED_DATA, ROBUSTMSA_BIN as in real_mosi.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${ROBUSTMSA_SHARED_DATA:-../shared/data}/mosi-utterance
bin=${ROBUSTMSA_BIN:-build/robustmsa}
out=runs/real_mosi_select
mkdir -p "$out"
export OMP_WAIT_POLICY=passive
base=(--data "$shared/bclstm" --set "data.labels=$shared/CMU_MOSI_Opinion_Labels.csd"
      --set train.batch_size=64 --set train.epochs=30 --set train.patience=8 --threads 1
      --seeds 1111,1112 --suite paper)
declare -A cand=(
  [c1]="data.zscore=false train.lr=1e-3 missing.max_frame_rate=0.7"
  [c2]="data.zscore=true train.lr=1e-3 missing.max_frame_rate=0.7"
  [c3]="data.zscore=true train.lr=1e-3 missing.max_frame_rate=0.0"
  [c4]="data.zscore=true train.lr=3e-4 missing.max_frame_rate=0.7"
)
stream() {  # one process per model
  for c in c1 c2 c3 c4; do
    sets=()
    for kv in ${cand[$c]}; do sets+=(--set "$kv"); done
    nice -n 15 "$bin" compare "${base[@]}" "${sets[@]}" --models "$1" --out "$out/$c/$1" \
      >"$out/$c.$1.log" 2>&1
  done
}
stream umdf & p0=$!
stream lf_dnn & p1=$!
wait $p0 && wait $p1
python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
for model in ("umdf", "lf_dnn"):
    for c in ("c1", "c2", "c3", "c4"):
        best = [min(json.loads(l)["val_score"] for l in open(f))
                for f in sorted(glob.glob(f"{out}/{c}/{model}/{model}/seed_*/metrics.jsonl"))]
        print(f"{model:8s} {c}  mean selection score {statistics.mean(best):.4f}  per seed "
              + ", ".join(f"{b:.4f}" for b in best))
PY

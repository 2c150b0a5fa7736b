#!/usr/bin/env bash
# The main job: a MOSI-like synthetic set, UMDF and UMDF without self-distillation over 5 seeds,
# the `paper` suite on the test split, and the table beside the oracle, ending with the paired
# comparison of the two variants over seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
mkdir -p runs
[[ -f runs/synth_mosi.pkl ]] || ./build/robustmsa synth --like mosi --seed 7 runs/synth_mosi.pkl
# The two variants train side by side, one single-threaded process per core (configs/demo.json
# sets train.threads = 1); passive OpenMP waiting keeps them from spinning on each other's core.
# Each writes only its own runs/demo/<variant>/seed_*; the report over both comes last.
export OMP_WAIT_POLICY=passive
pids=()
for variant in umdf umdf:distill=false; do
  ./build/robustmsa compare --data runs/synth_mosi.pkl --config configs/demo.json \
    --models "$variant" --seeds 5 --suite paper --out runs/demo \
    >"runs/demo.${variant//[:=]/_}.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
if ((status != 0)); then
  echo "demo: a variant failed; see runs/demo.*.log" >&2
  tail -n 5 runs/demo.*.log >&2
  exit "$status"
fi
./build/robustmsa report runs/demo --discussion docs/demo-discussion.md

#!/usr/bin/env bash
# The main job: a MOSI-like synthetic set, UMDF and UMDF without self-distillation over 5 seeds,
# the `paper` suite on the test split, and the table beside the oracle.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
mkdir -p runs
[[ -f runs/synth_mosi.pkl ]] || ./build/robustmsa synth --like mosi --seed 7 runs/synth_mosi.pkl
./build/robustmsa compare --data runs/synth_mosi.pkl --config configs/demo.json \
  --models umdf,umdf:distill=false --seeds 5 --suite paper --out runs/demo \
  --discussion docs/demo-discussion.md

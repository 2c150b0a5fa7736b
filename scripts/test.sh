#!/usr/bin/env bash
# Builds robustmsa and runs every test (C++ unit tests, CLI tests, NumPy/scikit-learn reference
# tests — those skip cleanly when Python packages are missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
ctest --test-dir build --output-on-failure -j "$(nproc)"

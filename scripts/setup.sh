#!/usr/bin/env bash
# Installs the Debian packages robustmsa needs (when missing), configures and builds it.
# Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]   (default build dir: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true

packages=(build-essential cmake ninja-build ccache pkg-config libtorch-dev libopenblas0-pthread
          nlohmann-json3-dev libcli11-dev libgtest-dev libbenchmark-dev libgloo-dev
          libutf8proc-dev libhdf5-dev gnuplot-nox python3 python3-pip python3-numpy
          iproute2 slurm-wlm  # ip netns and a one-node Slurm for the scale-out tests
          python3-venv pybind11-dev)  # venvs for the Python package's tests (scripts/test_torch2.sh)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Reference checks (NumPy pickles, scikit-learn metrics) use whichever python3 is first on PATH.
if ! python3 -c 'import numpy, sklearn' 2>/dev/null; then
  python3 -m pip install --quiet numpy scikit-learn 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages numpy scikit-learn 2>/dev/null ||
    echo "note: numpy/scikit-learn unavailable; the reference tests will be skipped" >&2
fi

# TensorBoard's own reader for the event-file test (tests/core/tensorboard_test.cc). Optional:
# that test skips without it.
if ! python3 -c 'import tensorboard' 2>/dev/null; then
  python3 -m pip install --quiet tensorboard 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages tensorboard 2>/dev/null ||
    echo "note: tensorboard unavailable; the TensorBoard reader test will be skipped" >&2
fi

# MMSA reference tests (tests/torch/mmsa_reference_test.cc): Debian's PyTorch for /usr/bin/python3
# and MMSA 2.2.1 from PyPI without its training-stack dependencies (the model files need only
# torch). Optional: when either is unavailable those tests skip.
as_root=""
[[ $(id -u) -ne 0 ]] && as_root=sudo
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  { $as_root apt-get update >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y --no-install-recommends \
      python3-torch >/dev/null 2>&1; } ||
    echo "note: python3-torch unavailable; the MMSA reference tests will be skipped" >&2
fi
if /usr/bin/python3 -c 'import torch' 2>/dev/null &&
   ! /usr/bin/python3 -c 'import importlib.util as u; assert u.find_spec("MMSA")' 2>/dev/null; then
  /usr/bin/python3 -m pip install --quiet --no-deps mmsa==2.2.1 2>/dev/null ||
    /usr/bin/python3 -m pip install --quiet --break-system-packages --no-deps mmsa==2.2.1 2>/dev/null ||
    echo "note: mmsa 2.2.1 unavailable; the MMSA reference tests will be skipped" >&2
fi

# Text encoder reference tests (tests/core/wordpiece_test.cc, tests/torch/bert_test.cc,
# docs/text.md): Hugging Face transformers 4.40 (it runs on Debian's python3-torch 1.13) in python3
# and in /usr/bin/python3, where Debian's torch lives. Optional: those tests skip without it.
for py in python3 /usr/bin/python3; do
  if ! "$py" -c 'import transformers' 2>/dev/null; then
    "$py" -m pip install --quiet "transformers>=4.30,<4.41" 2>/dev/null ||
      "$py" -m pip install --quiet --break-system-packages "transformers>=4.30,<4.41" 2>/dev/null ||
      echo "note: transformers unavailable for $py; the text reference tests may skip" >&2
  fi
done

jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$jobs"

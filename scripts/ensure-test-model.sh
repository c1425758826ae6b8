#!/usr/bin/env bash
# Make sure the tiny test model exists in the dev cache (outside the repo) and
# print its path as the last line of stdout. The model is generated locally
# from random weights by examples/make-tiny-gguf.py; nothing is downloaded
# except the `gguf` Python package, when it is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/llama"
MODEL="$CACHE/tiny.gguf"
PY="${PYTHON:-python3}"

if [ ! -s "$MODEL" ]; then
  if ! "$PY" -c 'import gguf' 2>/dev/null; then
    echo "ensure-test-model: installing the gguf Python package" >&2
    "$PY" -m pip install --quiet gguf >&2
  fi
  mkdir -p "$CACHE"
  # Write to a temp name and rename, so a concurrent run or an interrupted
  # one never leaves a truncated model at $MODEL.
  tmp="$MODEL.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  "$PY" "$ROOT/examples/make-tiny-gguf.py" "$tmp"
  mv -f "$tmp" "$MODEL"
  echo "ensure-test-model: wrote $MODEL" >&2
fi
echo "$MODEL"

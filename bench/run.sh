#!/usr/bin/env bash
# make bench: lpa-run against bubblewrap, firejail and bare, written to stdout and docs/BENCHMARKS.md.
#   bench/run.sh [--quick] [--only startup,memory,seccomp,relay,hash,llama] [--out FILE|-] [bench.py options]
# Needs the release build (make build). Installs bubblewrap, firejail, passt (pasta), socat and
# gnuplot-nox with apt when root, otherwise prints the command. Under 10 minutes on 2 cores (about 4-6 here).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${LPA_RUN:-$ROOT/.build/release/lpa-run}"
PY="${PYTHON:-/usr/bin/python3}"
command -v "$PY" >/dev/null || PY=python3

log() { echo "bench: $*" >&2; }

[ -x "$BIN" ] || { log "missing $BIN: run 'make build' first"; exit 1; }

# What we compare against, and what the helpers need.
missing=()
command -v bwrap    >/dev/null || missing+=(bubblewrap)
command -v firejail >/dev/null || missing+=(firejail)
# The other published-port relays of the relay rows, and the charts (docs/bench/*.svg).
command -v pasta    >/dev/null || missing+=(passt)
command -v socat    >/dev/null || missing+=(socat)
command -v gnuplot  >/dev/null || missing+=(gnuplot-nox)
command -v cc       >/dev/null || missing+=(gcc)
command -v openssl  >/dev/null || missing+=(openssl)
[ -f /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    log "missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# Small C helpers, built fresh into a world-readable temp dir (the sandboxed runs exec them).
HELPERS="$(mktemp -d /tmp/lpa-bench-bin.XXXXXX)"
trap 'rm -rf "$HELPERS"' EXIT
chmod 755 "$HELPERS"
cc -O2 -o "$HELPERS/netbench" "$ROOT/bench/netbench.c"
cc -O2 -o "$HELPERS/sysloop"  "$ROOT/bench/sysloop.c"
cc -O2 -o "$HELPERS/mkbpf"    "$ROOT/bench/mkbpf.c" -lseccomp

"$PY" "$ROOT/bench/bench.py" --lpa-run "$BIN" --helpers "$HELPERS" "$@"

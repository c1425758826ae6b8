#!/usr/bin/env bash
# Serve a model from the strict sandbox and ask it something through the published port.
#
#   examples/serve-llama.sh [MODEL.gguf] [HOST_PORT]
#
# Defaults: the tiny test model and llama-server that `make llama` builds. The server
# gets no network at all: lpa-run publishes 127.0.0.1:HOST_PORT itself and relays each
# connection to 127.0.0.1:8080 inside the sandbox.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/llama"
MODEL="$(realpath "${1:-$CACHE/tiny.gguf}")"
PORT="${2:-18080}"
LLAMA="${LLAMA_SERVER:-$CACHE/bin/llama-server}"
LPA_RUN="${LPA_RUN:-$ROOT/.build/release/lpa-run}"
[ -x "$LPA_RUN" ] || LPA_RUN="$(command -v lpa-run)"

echo "==> lpa-run --profile strict --model $MODEL -p 127.0.0.1:$PORT:8080 llama-server -m $MODEL --host 127.0.0.1 --port 8080"
"$LPA_RUN" --profile strict --model "$MODEL" -p "127.0.0.1:$PORT:8080" \
  "$LLAMA" -m "$MODEL" --host 127.0.0.1 --port 8080 2>/tmp/lpa-demo-server.log &
lpa_pid=$!
trap 'kill -TERM $lpa_pid 2>/dev/null; wait $lpa_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 $lpa_pid 2>/dev/null || { echo "lpa-run exited; server log:"; cat /tmp/lpa-demo-server.log; exit 1; }
  sleep 0.2
done

echo "==> POST /v1/chat/completions through the published port"
curl -sf "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"messages":[{"role":"user","content":"Hello from the host!"}],"max_tokens":16,"temperature":0}' |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print("answer:", json.dumps(r["choices"][0]["message"]["content"]))'

# The server's own view of the network, read from the host through /proc.
init_pid=$(cat /proc/$lpa_pid/task/*/children | tr ' ' '\n' | head -1)
server_pid=$(cat /proc/$init_pid/task/*/children | tr ' ' '\n' | head -1)
echo "==> what llama-server (pid $server_pid) can reach"
echo "interfaces: $(tail -n +3 /proc/$server_pid/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
routes=$(tail -n +2 /proc/$server_pid/net/route | wc -l)
echo "IPv4 routes: $routes (no route leads off the loopback interface)"
echo "==> done; stopping the server (its tmpfs home, caches and /tmp vanish with it)"

#!/usr/bin/env bash
# `make run-multicluster`: admin + datacatalog (aloft up) and two data planes, each an `aloft-propeller manager`
# with its own shards (config/multicluster/*.yaml). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
CONFIGS=config/multicluster
mkdir -p .aloft/multicluster/logs
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

"$BIN/aloft" up --config "$CONFIGS/control-plane.yaml" --services datacatalog,admin &
pids+=($!)
for _ in $(seq 1 600); do
  "$BIN/python" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', 8089)))" 2>/dev/null && break
  sleep 0.1
done
for plane in a b; do
  "$BIN/aloft-propeller" --config "$CONFIGS/plane-$plane.yaml" manager \
    > ".aloft/multicluster/logs/plane-$plane.log" 2>&1 &
  pids+=($!)
  echo "data plane $plane: propeller manager (log .aloft/multicluster/logs/plane-$plane.log)"
done
wait -n "${pids[@]}"
echo "a component exited; stopping the stack" >&2

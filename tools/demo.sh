#!/usr/bin/env bash
# The first thing a new user tries: register examples/ with pyflyte, run the pipeline on the local stack, wait,
# print its outputs and how to inspect it. Needs the stack `make run` started (admin on $ALOFT_ENDPOINT).
#
#   tools/demo.sh              # or: make demo
#   ALOFT_ENDPOINT=localhost:9089 N=8 tools/demo.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENDPOINT="${ALOFT_ENDPOINT:-localhost:8089}"
CONSOLE="${ALOFT_CONSOLE_URL:-http://localhost:8088/console}"
PROJECT="${PROJECT:-flytesnacks}"
DOMAIN="${DOMAIN:-development}"
N="${N:-6}"
VENV="${ALOFT_FLYTEKIT_VENV:-$REPO/.venv-flytekit}"
PYFLYTE="$VENV/bin/pyflyte"
STATE="$REPO/.aloft/demo"
VERSION="demo-$(date +%Y%m%d-%H%M%S)"
NAME="demo-$(date +%s)"

if [[ ! -x "$PYFLYTE" ]]; then
  echo "no flytekit environment at $VENV: run \`make setup\` (or set ALOFT_FLYTEKIT_VENV)" >&2
  exit 1
fi
if ! "$VENV/bin/python" - "$ENDPOINT" <<'PY'
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
try:
    socket.create_connection((host or "localhost", int(port)), timeout=2).close()
except OSError:
    sys.exit(1)
PY
then
  echo "nothing answers on $ENDPOINT: start the stack first with \`make run\` (in another terminal)" >&2
  exit 1
fi

# A flytectl-style config pointing flytekit at the local admin (gRPC, no TLS); console.endpoint makes the link
# `pyflyte run` prints open the console (admin serves it under /console on its HTTP port).
mkdir -p "$STATE"
CONFIG="$STATE/flytekit.yaml"
cat > "$CONFIG" <<CFG
admin:
  endpoint: dns:///$ENDPOINT
  insecure: true
console:
  endpoint: ${CONSOLE%/console}
CFG

cd "$REPO/examples"
echo "==> registering examples/aloft_demo as $PROJECT/$DOMAIN version $VERSION"
"$PYFLYTE" --config "$CONFIG" register --project "$PROJECT" --domain "$DOMAIN" --version "$VERSION" aloft_demo

echo "==> running aloft_demo.pipeline.pipeline(n=$N) as execution $NAME"
"$PYFLYTE" --config "$CONFIG" run --remote --project "$PROJECT" --domain "$DOMAIN" --name "$NAME" \
  aloft_demo/pipeline.py pipeline --n "$N"

echo "==> waiting for $NAME"
status=0
"$VENV/bin/python" "$REPO/examples/show_execution.py" --config "$CONFIG" --project "$PROJECT" --domain "$DOMAIN" \
  "$NAME" || status=$?

ALOFTCTL="$REPO/.venv/bin/aloftctl"
if [[ -x "$ALOFTCTL" ]]; then
  echo "==> aloftctl get execution -p $PROJECT -d $DOMAIN $NAME --details"
  "$ALOFTCTL" --config "$CONFIG" get execution -p "$PROJECT" -d "$DOMAIN" "$NAME" --details || true
fi
cat <<EOF

Inspect it:
  console:   $CONSOLE/projects/$PROJECT/domains/$DOMAIN/executions/$NAME
  aloftctl:  $ALOFTCTL --config $CONFIG get execution -p $PROJECT -d $DOMAIN $NAME
             $ALOFTCTL --config $CONFIG get execution -p $PROJECT -d $DOMAIN $NAME --details
             $ALOFTCTL --config $CONFIG get execution -p $PROJECT -d $DOMAIN $NAME -o yaml | grep -A 20 error
             $ALOFTCTL --config $CONFIG get executions -p $PROJECT -d $DOMAIN --filter.limit 10
             $ALOFTCTL --config $CONFIG get launchplan -p $PROJECT -d $DOMAIN aloft_demo.pipeline.pipeline --execFile exec.yaml
             $ALOFTCTL --config $CONFIG create execution -p $PROJECT -d $DOMAIN --execFile exec.yaml   # after editing its inputs
  python:    FlyteRemote(Config.auto("$CONFIG")).fetch_execution(project="$PROJECT", domain="$DOMAIN", name="$NAME")
  task logs and working directories: $REPO/.aloft/propeller/work/$NAME-*/
EOF
exit "$status"

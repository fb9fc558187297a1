#!/usr/bin/env bash
# Stops the `feast serve` that benches/feast/run.sh started (its PID file in REPO_DIR).
#   benches/feast/stop.sh [REPO_DIR]     (default: benches/feast/repo)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="${1:-$here/repo}"
pidfile="$repo/serve.pid"
[ -f "$pidfile" ] || { echo "feast serve not running (no $pidfile)"; exit 0; }
pid="$(cat "$pidfile")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"   # the gunicorn master: stops its workers and exits
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  echo "==> feast serve (pid $pid) stopped"
else
  echo "feast serve (pid $pid) was not running"
fi
rm -f "$pidfile"

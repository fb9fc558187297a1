#!/usr/bin/env bash
# Starts `feast serve` (the Python feature server) in the background on the repo that
# benches/feast/setup.sh made, waits until POST /get-online-features answers 200 and
# prints that answer once. PID in REPO_DIR/serve.pid, log in REPO_DIR/serve.log.
#
#   benches/feast/run.sh [REPO_DIR]     (default: benches/feast/repo)
#
# Env: FEAST_HOST (127.0.0.1), FEAST_PORT (6567), FEAST_WORKERS (2: gunicorn worker
# processes), FEAST_MAX_REQUESTS (0 = never recycle a worker; feast's default is 1000),
# FEAST_START_TIMEOUT (seconds, 120).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "${1:-$here/repo}" && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/quiver/feast-venv"
host="${FEAST_HOST:-127.0.0.1}"
port="${FEAST_PORT:-6567}"
workers="${FEAST_WORKERS:-2}"
max_requests="${FEAST_MAX_REQUESTS:-0}"
timeout="${FEAST_START_TIMEOUT:-120}"
pidfile="$repo/serve.pid"
export FEAST_USAGE=False
[ -f "$repo/feature_store.yaml" ] || { echo "no feature repo in $repo: run benches/feast/setup.sh first" >&2; exit 1; }

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "==> feast serve already running (pid $(cat "$pidfile"))"
else
  echo "==> starting feast serve on $host:$port with $workers workers (log: $repo/serve.log)"
  cd "$repo"
  # setsid: own process group, so stop.sh can end the gunicorn master and its workers.
  setsid "$venv/bin/feast" serve --host "$host" --port "$port" --workers "$workers" \
    --no-access-log --max-requests "$max_requests" >"$repo/serve.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
fi
pid="$(cat "$pidfile")"

features='"serve_bench:f0"'
for k in 1 2 3 4 5 6 7 8 9; do features="$features, \"serve_bench:f$k\""; done
body="{\"features\": [$features], \"entities\": {\"customer_id\": [1, 2]}}"
deadline=$(( $(date +%s) + timeout ))
while :; do
  code="$(curl -s -o "$repo/first_response.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d "$body" \
    "http://$host:$port/get-online-features" 2>/dev/null || true)"
  [ "$code" = 200 ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "feast serve exited; its log:" >&2; tail -30 "$repo/serve.log" >&2; rm -f "$pidfile"; exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "no 200 from feast serve after ${timeout} s (last: ${code:-none}); log:" >&2
    tail -30 "$repo/serve.log" >&2; exit 1
  fi
  sleep 0.5
done
echo "==> feast serve up (pid $pid): POST http://$host:$port/get-online-features ->"
cat "$repo/first_response.json"; echo

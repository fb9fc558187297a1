#!/usr/bin/env bash
# The test suite: formatting, lints, unit/integration/golden tests, and a
# check that the golden corpus still matches what DuckDB computes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

# The live tests need a real Kafka-protocol broker, the Redis-store tests a
# real redis-server and the enrich tests Redis and PostgreSQL: install (once)
# and start them; their tests fail rather than skip when they are missing.
eval "$(./scripts/services.sh start | grep '^export ')"
export QUIVER_REQUIRE_KAFKA=1
export QUIVER_REQUIRE_REDIS=1
export QUIVER_REQUIRE_POSTGRES=1
export QUIVER_REQUIRE_PUSHGATEWAY=1
# promtool (Debian package `prometheus`) checks the /metrics output.
if ! command -v promtool >/dev/null && command -v apt-get >/dev/null; then
  apt-get install -y -q prometheus >/dev/null || { apt-get update -q && apt-get install -y -q prometheus; }
fi
export QUIVER_REQUIRE_PROMTOOL=1
cargo test --workspace

# The golden expected outputs are DuckDB's; regenerate them in memory and
# fail if the checked-in files differ (skip with QUIVER_SKIP_GOLDEN_CHECK=1).
if [ "${QUIVER_SKIP_GOLDEN_CHECK:-0}" != 1 ]; then
  venv="${QUIVER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/quiver/golden-venv}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q -r tests/golden/requirements.txt
  "$venv/bin/python" tests/golden/generate.py --check
fi
echo "all tests passed"

#!/usr/bin/env bash
# Installs (idempotently) and starts the real services the live tests use, on
# loopback:
#
#   kafka  Tansu, an Apache-Kafka-protocol broker from crates.io, with its
#          sqlite storage engine, on 127.0.0.1:${QUIVER_KAFKA_PORT:-9092}
#
# Usage: scripts/services.sh [install|start|stop|status]   (default: start)
#
# Tansu takes about 20 minutes to build on 2 cores, so the binary is cached
# under $XDG_CACHE_HOME/quiver (keyed on its version and features) and the
# build is skipped when it is there. Data and logs live in .quiver/services/.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${XDG_CACHE_HOME:-$HOME/.cache}/quiver"
tansu_version=0.6.0
tansu_features=libsql
tansu_root="$cache/tansu-$tansu_version-$tansu_features"
tansu="$tansu_root/bin/tansu"
state="${QUIVER_SERVICES_DIR:-$PWD/.quiver/services}"
kafka_port="${QUIVER_KAFKA_PORT:-9092}"

install() {
  if [ ! -x "$tansu" ]; then
    echo "==> building the Tansu broker $tansu_version (about 20 minutes on 2 cores, once)"
    cargo install tansu --version "$tansu_version" --locked \
      --no-default-features --features "$tansu_features" --root "$tansu_root" \
      || cargo install tansu --version "$tansu_version" --locked \
        --features "$tansu_features" --root "$tansu_root"
  fi
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  install
  mkdir -p "$state"
  if port_open "$kafka_port"; then
    echo "kafka: already listening on 127.0.0.1:$kafka_port"
  else
    echo "==> starting Tansu on 127.0.0.1:$kafka_port (data in $state)"
    # Tansu resolves sqlite:// paths against its working directory.
    (cd "$state" && exec nohup "$tansu" broker \
      --listener-url "tcp://127.0.0.1:$kafka_port" \
      --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
      --storage-engine "sqlite://tansu.db" \
      >"$state/tansu.log" 2>&1) &
    echo $! >"$state/tansu.pid"
    for _ in $(seq 1 100); do
      port_open "$kafka_port" && break
      sleep 0.1
    done
    port_open "$kafka_port" || { echo "tansu did not start; see $state/tansu.log" >&2; exit 1; }
  fi
  echo "export QUIVER_TEST_KAFKA=127.0.0.1:$kafka_port"
}

stop() {
  if [ -f "$state/tansu.pid" ]; then
    kill "$(cat "$state/tansu.pid")" 2>/dev/null || true
    rm -f "$state/tansu.pid"
  fi
}

status() {
  if port_open "$kafka_port"; then echo "kafka: up on 127.0.0.1:$kafka_port"; else echo "kafka: down"; fi
}

"${1:-start}"

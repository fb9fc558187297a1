#!/usr/bin/env bash
# Installs (idempotently) and starts the real services the live tests use, on
# loopback:
#
#   kafka  Tansu, an Apache-Kafka-protocol broker from crates.io, with its
#          sqlite storage engine, on 127.0.0.1:${QUIVER_KAFKA_PORT:-9092}
#   redis  redis-server from Debian's package (apt-get installs it when
#          missing), on 127.0.0.1:${QUIVER_REDIS_PORT:-6379}, in memory only
#   postgres  PostgreSQL from Debian's `postgresql` package (installed when
#          missing), a cluster initdb'd into the state dir, on
#          127.0.0.1:${QUIVER_POSTGRES_PORT:-5433}, trust auth on loopback,
#          run as the `postgres` user (PostgreSQL refuses to run as root)
#   pushgateway  the Prometheus Pushgateway from Debian's
#          `prometheus-pushgateway` package, on
#          127.0.0.1:${QUIVER_PUSHGATEWAY_PORT:-9091}, in memory only
#          (`quiver backfill --metrics-push`)
#
# Usage: scripts/services.sh [install|start|stop|status] [kafka] [redis] [postgres] [pushgateway]
#        (default: start, all four)
#
# `start` prints `export QUIVER_TEST_KAFKA=...`, `export QUIVER_TEST_REDIS=...`,
# `export QUIVER_TEST_POSTGRES=...` and `export QUIVER_TEST_PUSHGATEWAY=...`
# lines for the tests (scripts/test.sh evals them).
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
redis_port="${QUIVER_REDIS_PORT:-6379}"
pg_port="${QUIVER_POSTGRES_PORT:-5433}"
push_port="${QUIVER_PUSHGATEWAY_PORT:-9091}"

install_kafka() {
  if [ ! -x "$tansu" ]; then
    echo "==> building the Tansu broker $tansu_version (about 20 minutes on 2 cores, once)"
    cargo install tansu --version "$tansu_version" --locked \
      --no-default-features --features "$tansu_features" --root "$tansu_root" \
      || cargo install tansu --version "$tansu_version" --locked \
        --features "$tansu_features" --root "$tansu_root"
  fi
}

# apt_install PACKAGE WHAT: installs Debian's PACKAGE, or says to install
# WHAT by hand where there is no apt-get. As .ci/run does for the build
# tools: plain apt-get (CI and the dev machines run as root); the package
# lists are refreshed only if the first try fails.
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "$1 is not installed and there is no apt-get; install $2 by hand" >&2
    exit 1
  fi
  echo "==> installing $1 (Debian package)"
  apt-get install -y -q "$1" || { apt-get update -q && apt-get install -y -q "$1"; }
}

install_redis() {
  command -v redis-server >/dev/null || apt_install redis-server "Redis 6 or later"
}

install_pushgateway() {
  command -v prometheus-pushgateway >/dev/null || apt_install prometheus-pushgateway "the Prometheus Pushgateway"
}

# The newest installed PostgreSQL's bin directory (Debian keeps them
# versioned under /usr/lib/postgresql, off the PATH).
pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_postgres() {
  [ -n "$(pg_bin)" ] || apt_install postgresql "PostgreSQL 13 or later"
}

# Runs a PostgreSQL program as the `postgres` user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The cluster's directory: in the state dir when the `postgres` user can
# reach it, else under /tmp (a clone under a private home directory).
pg_data() {
  local d="$state/postgres"
  mkdir -p "$d"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$d"
    if ! runuser -u postgres -- test -w "$d"; then
      d="/tmp/quiver-postgres-$pg_port"
      mkdir -p "$d"
      chown postgres: "$d"
    fi
  fi
  chmod 700 "$d"
  echo "$d"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_port PORT NAME LOG: up to 10 s for NAME to listen on PORT.
wait_port() {
  for _ in $(seq 1 100); do
    port_open "$1" && return 0
    sleep 0.1
  done
  echo "$2 did not start; see $3" >&2
  exit 1
}

start_kafka() {
  install_kafka
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
    wait_port "$kafka_port" tansu "$state/tansu.log"
  fi
  echo "export QUIVER_TEST_KAFKA=127.0.0.1:$kafka_port"
}

start_redis() {
  install_redis
  mkdir -p "$state/redis"
  if port_open "$redis_port"; then
    echo "redis: already listening on 127.0.0.1:$redis_port"
  else
    echo "==> starting redis-server on 127.0.0.1:$redis_port (no persistence; log in $state/redis.log)"
    # Loopback only, no RDB snapshots or AOF: the tests need none, and a
    # restart starting empty is what they expect.
    redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
      --dir "$state/redis" --pidfile "$state/redis.pid" --logfile "$state/redis.log" \
      --save "" --appendonly no
    wait_port "$redis_port" redis-server "$state/redis.log"
  fi
  echo "export QUIVER_TEST_REDIS=redis://127.0.0.1:$redis_port"
}

start_pushgateway() {
  install_pushgateway
  mkdir -p "$state"
  if port_open "$push_port"; then
    echo "pushgateway: already listening on 127.0.0.1:$push_port"
  else
    echo "==> starting prometheus-pushgateway on 127.0.0.1:$push_port (no persistence; log in $state/pushgateway.log)"
    nohup prometheus-pushgateway --web.listen-address="127.0.0.1:$push_port" \
      >"$state/pushgateway.log" 2>&1 &
    echo $! >"$state/pushgateway.pid"
    wait_port "$push_port" prometheus-pushgateway "$state/pushgateway.log"
  fi
  echo "export QUIVER_TEST_PUSHGATEWAY=http://127.0.0.1:$push_port"
}

start_postgres() {
  install_postgres
  local bin data
  bin="$(pg_bin)"
  data="$(pg_data)"
  if port_open "$pg_port"; then
    echo "postgres: already listening on 127.0.0.1:$pg_port"
  else
    if [ ! -f "$data/PG_VERSION" ]; then
      echo "==> initdb of a PostgreSQL cluster in $data"
      as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$data/../postgres-initdb.log" 2>&1 \
        || as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8
    fi
    # A self-signed certificate for 127.0.0.1, so the enrich tests can
    # connect over TLS too (sslmode=require with this file as the CA).
    if [ ! -f "$data/server.crt" ] && command -v openssl >/dev/null; then
      as_pg openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1" \
        -keyout "$data/server.key" -out "$data/server.crt" >/dev/null 2>&1 || true
      as_pg chmod 600 "$data/server.key" 2>/dev/null || true
    fi
    local ssl=""
    [ -f "$data/server.crt" ] && ssl="-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
    echo "==> starting PostgreSQL on 127.0.0.1:$pg_port (data in $data)"
    # Loopback only, its socket in the data directory, no fsync: test data.
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/postgres.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $data -c fsync=off $ssl" start >/dev/null
    wait_port "$pg_port" postgres "$data/postgres.log"
  fi
  echo "export QUIVER_TEST_POSTGRES=postgres://postgres@127.0.0.1:$pg_port/postgres"
  # The CA of the cluster that holds the port: this state directory's, or
  # (started from another checkout, such as a CI clone's) the one in the
  # running cluster's own data directory.
  local ca=""
  if [ -f "$data/server.crt" ] && [ -f "$data/postmaster.pid" ]; then
    ca="$data/server.crt"
  else
    local other
    other="$("$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atc 'SHOW data_directory' 2>/dev/null || true)"
    [ -n "$other" ] && [ -f "$other/server.crt" ] && ca="$other/server.crt"
  fi
  if [ -n "$ca" ]; then
    echo "export QUIVER_TEST_POSTGRES_CA=$ca"
  else
    echo "postgres: no TLS certificate for the cluster on port $pg_port; the TLS test needs scripts/services.sh stop postgres, then start" >&2
  fi
  return 0
}

stop_postgres() {
  # Only a cluster this script created (its data dir), never one it found.
  local bin data
  bin="$(pg_bin)"
  for data in "$state/postgres" "/tmp/quiver-postgres-$pg_port"; do
    if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
  done
}

status_postgres() {
  if port_open "$pg_port"; then echo "postgres: up on 127.0.0.1:$pg_port"; else echo "postgres: down"; fi
}

stop_kafka() {
  if [ -f "$state/tansu.pid" ]; then
    kill "$(cat "$state/tansu.pid")" 2>/dev/null || true
    rm -f "$state/tansu.pid"
  fi
}

stop_redis() {
  # Only the server this script started (its pidfile), never one it found.
  if [ -f "$state/redis.pid" ]; then
    kill "$(cat "$state/redis.pid")" 2>/dev/null || true
    rm -f "$state/redis.pid"
    for _ in $(seq 1 50); do
      port_open "$redis_port" || break
      sleep 0.1
    done
  fi
}

stop_pushgateway() {
  if [ -f "$state/pushgateway.pid" ]; then
    kill "$(cat "$state/pushgateway.pid")" 2>/dev/null || true
    rm -f "$state/pushgateway.pid"
  fi
}

status_pushgateway() {
  if port_open "$push_port"; then echo "pushgateway: up on 127.0.0.1:$push_port"; else echo "pushgateway: down"; fi
}

status_kafka() {
  if port_open "$kafka_port"; then echo "kafka: up on 127.0.0.1:$kafka_port"; else echo "kafka: down"; fi
}

status_redis() {
  if port_open "$redis_port"; then echo "redis: up on 127.0.0.1:$redis_port"; else echo "redis: down"; fi
}

cmd="${1:-start}"
[ $# -gt 0 ] && shift
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(kafka redis postgres pushgateway)
case "$cmd" in
  install|start|stop|status) ;;
  *) echo "usage: $0 [install|start|stop|status] [kafka] [redis] [postgres] [pushgateway]" >&2; exit 2 ;;
esac
for svc in "${services[@]}"; do
  case "$svc" in
    kafka|redis|postgres|pushgateway) "${cmd}_${svc}" ;;
    *) echo "unknown service \`$svc\` (kafka, redis, postgres, pushgateway)" >&2; exit 2 ;;
  esac
done

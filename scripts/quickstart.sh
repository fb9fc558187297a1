#!/usr/bin/env bash
# Quickstart on a fresh machine (Rust toolchain only): build Quiver, generate
# 90 days of example events, backfill the example jobs into the historical
# (Parquet) and online (embedded) stores, and read one customer's features.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building quiver (release; about 8 minutes on 2 cores the first time)"
cargo build --release -p quiver-cli
quiver="${CARGO_TARGET_DIR:-target}/release/quiver"

echo "==> generating 90 days of bookings, orders/chargebacks and broker quotes into data/"
generated=$("$quiver" generate --out data --days 90)
echo "$generated"
customer=$(echo "$generated" | sed -n 's/.*busiest customer: customer_id=\([0-9]*\).*/\1/p')

# The PII example job masks with a key from the environment; a throwaway
# one is enough here (hashes then differ from run to run).
if [ -z "${QUIVER_MASK_KEY:-}" ]; then
  QUIVER_MASK_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  export QUIVER_MASK_KEY
  echo "==> QUIVER_MASK_KEY not set: using a random key for this run"
fi

echo "==> validating the example jobs"
"$quiver" validate jobs/

echo "==> backfilling Dagger's per-customer booking counts (1- and 10-minute windows)"
"$quiver" backfill jobs/dagger_customer_bookings.yaml

echo "==> backfilling Butterfree's and Jetpack's jobs"
"$quiver" backfill jobs/butterfree_cpf_orders_chargebacks.yaml jobs/jetpack_broker_quotes.yaml

echo "==> the feature registry"
"$quiver" features list

echo "==> online features of customer $customer"
"$quiver" get customer_bookings_10m --key "customer_id=$customer"

echo
echo "historical features: .quiver/historical/<job>/date=YYYY-MM-DD/*.parquet, e.g."
echo "  duckdb -c \"SELECT * FROM read_parquet('.quiver/historical/customer_bookings_10m/**/*.parquet', hive_partitioning=true) LIMIT 5\""

#!/usr/bin/env bash
# The two stores side by side, in one run on this machine: the same API paths and the same
# PostgreSQL-to-hub sync on SQLite (the embedded default) and on MongoDB (a single-node replica
# set started here by scripts/test-mongo.sh, as the tests run it), with Meltano's tap-postgres
# (a Singer tap) reading the same table as the baseline. Prints a Markdown table. Part of
# `make bench`, not of the test suite.
#   ROWS (default 1,000,000)   rows in the PostgreSQL table; DURATION (10s) per wrk measurement
#   SKIP_BUILD=1               use the binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test >&2
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null; }

ROWS=${ROWS:-1000000}
DURATION=${DURATION:-10s}
BIN=target/release/connector-hub
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --features ssr --bin connector-hub --example fake_providers >&2
fi
venv=target/bench-venv
[ -x "$venv/bin/tap-postgres" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q meltanolabs-tap-postgres >&2; }

work=$(mktemp -d)
pids=()
eval "$(scripts/test-postgres.sh | sed 's/^/export /')"
eval "$(scripts/test-mongo.sh | sed 's/^/export /')"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/test-postgres.sh stop "$TEST_PG_DIR"
  scripts/test-mongo.sh stop "$TEST_MONGO_DIR"
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
psql_() { PGPASSWORD=$TEST_PG_PASSWORD "$(cat "$TEST_PG_DIR/bindir")/psql" -h 127.0.0.1 -p "$TEST_PG_PORT" -U "$TEST_PG_USER" -d "$TEST_PG_DATABASE" -qc "$1" >/dev/null; }

fake_port=$(port)
target/release/examples/fake_providers "127.0.0.1:$fake_port" > "$work/fakes.log" 2>&1 & pids+=($!)
export CONNECTOR_HUB_ENV=production CONNECTOR_HUB_LOG=warn LEPTOS_SITE_ROOT=target/no-site
export JWT_SECRET="bench-secret-0123456789abcdef0123456789"
export CONNECTOR_ENCRYPTION_KEY=$("$BIN" keygen)
export CONNECTOR_HUB_PROVIDER_STRIPE_URL="http://127.0.0.1:$fake_port/stripe" CONNECTOR_HUB_EGRESS_ALLOW=127.0.0.0/8
export CONNECTOR_HUB_MONITOR=false CONNECTOR_HUB_RATE_READS_PER_MIN=100000000 CONNECTOR_HUB_RATE_WRITES_PER_MIN=100000000 CONNECTOR_HUB_RATE_TESTS_PER_MIN=100000000
TOKEN=$(CONNECTOR_HUB_ENV=development CONNECTOR_HUB_DATA_DIR="$work/mint" "$BIN" mint-token --tenant bench --user bench)
export TOKEN

table="bench_stores_$ROWS"
psql_ "CREATE TABLE $table (id bigserial PRIMARY KEY, customer text NOT NULL, email text NOT NULL, total numeric(12,2) NOT NULL,
         status text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
       INSERT INTO $table (customer, email, total, status, created_at, updated_at)
         SELECT 'Customer ' || n, 'c' || n || '@example.com', n * 1.25, 'paid', now() - n * interval '1 second', now()
         FROM generate_series(1, $ROWS) AS n; ANALYZE $table;"
pg_config=$(printf '{"host": "127.0.0.1", "port": "%s", "database": "%s", "username": "%s", "password": "%s", "sslmode": "disable", "tables": "public.%s"}' \
  "$TEST_PG_PORT" "$TEST_PG_DATABASE" "$TEST_PG_USER" "$TEST_PG_PASSWORD" "$table")

# A server on store $1 (sqlite or mongodb), with its own data directory / database.
start_server() {
  local store_env=()
  [ "$1" = mongodb ] && store_env=(MONGO_URI="$TEST_MONGO_URI" MONGO_DB="bench_$2")
  server_port=$(port)
  env "${store_env[@]}" CONNECTOR_HUB_DATA_DIR="$work/data-$1-$2" LEPTOS_SITE_ADDR="127.0.0.1:$server_port" \
    "$BIN" > "$work/server-$1-$2.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  base="http://127.0.0.1:$server_port"
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
# wrk's requests per second.
rps() {
  local out
  out=$(wrk -t2 -c32 -d"$DURATION" "$@" 2>&1)
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: non-2xx answers: $(grep Non-2xx <<<"$out")" >&2; fi
  awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out"
}
seed() {
  python3 - "$base" "$TOKEN" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
for n in range(100):
    body = json.dumps({"connector_type": "stripe", "display_name": f"Seeded {n}", "config": {"api_key": "sk_test_good_4242424242"}}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{base}/v1/connectors", data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}))
PY
}

declare -A result
for store in sqlite mongodb; do
  start_server "$store" api
  seed
  result[$store,list]=$(rps -H "Authorization: Bearer $TOKEN" "$base/v1/connectors?limit=100")
  result[$store,uncached]=$(rps -s bench/uncached.lua "$base")
  result[$store,create]=$(rps -s bench/post.lua "$base/v1/connectors")
  stop_server
  start_server "$store" sync
  read -r s n kb < <(python3 bench/sync.py hub "$base" "$TOKEN" "$server_pid" \
    "{\"connector_type\": \"postgresql\", \"config\": $pg_config, \"sync_frequency\": \"manual\"}")
  result[$store,sync]=$(python3 -c "print(round($n / $s))")
  result[$store,sync_s]=$s
  result[$store,sync_mb]=$(python3 -c "print(round($kb / 1024))")
  stop_server
done
printf '{"host": "127.0.0.1", "port": %s, "user": "%s", "password": "%s", "database": "%s", "filter_schemas": ["public"]}' \
  "$TEST_PG_PORT" "$TEST_PG_USER" "$TEST_PG_PASSWORD" "$TEST_PG_DATABASE" > "$work/tap.json"
read -r ts tn _ < <("$venv/bin/python" bench/sync.py tap "$work/tap.json" "public-$table")
tap=$(python3 -c "print(round($tn / $ts))")

fmt() { python3 -c "print(f'{$1:,}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
rows_text=$(fmt "$ROWS")
echo "| Measurement | SQLite | MongoDB | MongoDB ÷ SQLite |"
echo "|---|---|---|---|"
echo "| POST /v1/connectors, requests/s (validate, seal, audited write) | $(fmt "${result[sqlite,create]}") | $(fmt "${result[mongodb,create]}") | $(ratio "${result[mongodb,create]}" "${result[sqlite,create]}") |"
echo "| GET /v1/connectors, 100 connectors, requests/s | $(fmt "${result[sqlite,list]}") | $(fmt "${result[mongodb,list]}") | $(ratio "${result[mongodb,list]}" "${result[sqlite,list]}") |"
echo "| the same, a new cursor each time (read from the store every time), requests/s | $(fmt "${result[sqlite,uncached]}") | $(fmt "${result[mongodb,uncached]}") | $(ratio "${result[mongodb,uncached]}" "${result[sqlite,uncached]}") |"
echo "| PostgreSQL table of $rows_text rows synced, records/s | $(fmt "${result[sqlite,sync]}") (${result[sqlite,sync_s]} s) | $(fmt "${result[mongodb,sync]}") (${result[mongodb,sync_s]} s) | $(ratio "${result[mongodb,sync]}" "${result[sqlite,sync]}") |"
echo "| the same sync, the hub's peak memory (MB) | ${result[sqlite,sync_mb]} | ${result[mongodb,sync_mb]} | |"
echo "| the same table read by Meltano's tap-postgres (Singer), records/s | $(fmt "$tap") ($ts s) | | |"
echo "| **hub ÷ tap, records/s** | **$(ratio "${result[sqlite,sync]}" "$tap")×** | **$(ratio "${result[mongodb,sync]}" "$tap")×** | |"

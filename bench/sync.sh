#!/usr/bin/env bash
# Data-flow benchmarks on the release build, on this machine; prints Markdown tables. Part of
# `make bench`, not of the test suite.
#   - a 100,000-record Stripe sync from the local fake, beside reading the same pages with no hub;
#   - PostgreSQL tables of 100,000 and 1,000,000 rows synced by the hub and read by Meltano's
#     tap-postgres (a Singer tap, from PyPI), records per second and peak memory side by side;
#   - a records page at 10,000 and at 10,000,000 stored records.
# Sizes: HTTP_RECORDS, PG_SMALL, PG_BIG, STORE_SMALL, STORE_BIG; SKIP_BUILD=1 uses the binaries built.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null; }

HTTP_RECORDS=${HTTP_RECORDS:-100000}
PG_SMALL=${PG_SMALL:-100000}
PG_BIG=${PG_BIG:-1000000}
STORE_SMALL=${STORE_SMALL:-10000}
STORE_BIG=${STORE_BIG:-10000000}
BIN=target/release/connector-hub
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --features ssr --bin connector-hub --example fake_providers --example seed >&2
fi
venv=target/bench-venv
[ -x "$venv/bin/tap-postgres" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q meltanolabs-tap-postgres >&2; }

work=$(mktemp -d)
pids=()
eval "$(scripts/test-postgres.sh | sed 's/^/export /')"
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; scripts/test-postgres.sh stop "$TEST_PG_DIR"; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
psql_() { PGPASSWORD=$TEST_PG_PASSWORD "$(cat "$TEST_PG_DIR/bindir")/psql" -h 127.0.0.1 -p "$TEST_PG_PORT" -U "$TEST_PG_USER" -d "$TEST_PG_DATABASE" -qc "$1" >/dev/null; }

fake_port=$(port)
FAKE_SEED="stripe/customers=$HTTP_RECORDS" target/release/examples/fake_providers "127.0.0.1:$fake_port" > "$work/fakes.log" 2>&1 & pids+=($!)
fakes="http://127.0.0.1:$fake_port"
export CONNECTOR_HUB_ENV=production CONNECTOR_HUB_LOG=warn
export JWT_SECRET="bench-secret-0123456789abcdef0123456789"
export CONNECTOR_ENCRYPTION_KEY=$("$BIN" keygen)
export CONNECTOR_HUB_PROVIDER_STRIPE_URL="$fakes/stripe" CONNECTOR_HUB_EGRESS_ALLOW=127.0.0.0/8
export CONNECTOR_HUB_MONITOR=false CONNECTOR_HUB_RATE_READS_PER_MIN=100000000 CONNECTOR_HUB_RATE_WRITES_PER_MIN=100000000 CONNECTOR_HUB_RATE_TESTS_PER_MIN=100000000
for _ in $(seq 100); do curl -sf "$fakes/health" >/dev/null && break; sleep 0.1; done

# A fresh server on its own data directory (seeded with $2 records for the bench tenant's first connector).
start_server() {
  local data="$work/data-$1"
  TOKEN=$(target/release/examples/seed "$data" bench 1 0 "${2:-0}")
  server_port=$(port)
  CONNECTOR_HUB_DATA_DIR="$data" LEPTOS_SITE_ADDR="127.0.0.1:$server_port" "$BIN" > "$work/server-$1.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  base="http://127.0.0.1:$server_port"
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
per_sec() { python3 -c "print(f'{$2 / $1:,.0f}')"; }
mb() { python3 -c "print(f'{$1 / 1024:,.0f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.1f}')"; }

echo "| Read | Records | Seconds | Records/s | Peak memory (MB) |"
echo "|---|---|---|---|---|"
read -r floor_s floor_n < <("$venv/bin/python" bench/sync.py floor "$fakes/stripe" sk_test_good_4242424242)
echo "| The fake Stripe's customers paged with no hub (Python, one connection: the floor) | $floor_n | $floor_s | $(per_sec "$floor_s" "$floor_n") | — |"
start_server stripe
read -r hub_s hub_n hub_kb < <(python3 bench/sync.py hub "$base" "$TOKEN" "$server_pid" \
  '{"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242424242"}, "sync_frequency": "manual"}' \
  '{"streams": ["customers"]}')
echo "| Hub: Stripe sync of the same customers (paged, sealed, committed page by page) | $hub_n | $hub_s | $(per_sec "$hub_s" "$hub_n") | $(mb "$hub_kb") |"
stop_server

pg_config() { printf '{"host": "127.0.0.1", "port": "%s", "database": "%s", "username": "%s", "password": "%s", "sslmode": "disable", "tables": "public.%s"}' \
  "$TEST_PG_PORT" "$TEST_PG_DATABASE" "$TEST_PG_USER" "$TEST_PG_PASSWORD" "$1"; }
printf '{"host": "127.0.0.1", "port": %s, "user": "%s", "password": "%s", "database": "%s", "filter_schemas": ["public"]}' \
  "$TEST_PG_PORT" "$TEST_PG_USER" "$TEST_PG_PASSWORD" "$TEST_PG_DATABASE" > "$work/tap.json"
for rows in "$PG_SMALL" "$PG_BIG"; do
  table="bench_orders_$rows"
  psql_ "CREATE TABLE $table (id bigserial PRIMARY KEY, customer text NOT NULL, email text NOT NULL, total numeric(12,2) NOT NULL,
           status text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
         INSERT INTO $table (customer, email, total, status, created_at, updated_at)
           SELECT 'Customer ' || n, 'c' || n || '@example.com', n * 1.25, 'paid', now() - n * interval '1 second', now()
           FROM generate_series(1, $rows) AS n; ANALYZE $table;"
  start_server "pg$rows"
  read -r s n kb < <(python3 bench/sync.py hub "$base" "$TOKEN" "$server_pid" \
    "{\"connector_type\": \"postgresql\", \"config\": $(pg_config "$table"), \"sync_frequency\": \"manual\"}")
  echo "| Hub: PostgreSQL table of $(python3 -c "print(f'{$rows:,}')") rows | $n | $s | $(per_sec "$s" "$n") | $(mb "$kb") |"
  stop_server
  read -r ts tn tkb < <("$venv/bin/python" bench/sync.py tap "$work/tap.json" "public-$table")
  echo "| Meltano tap-postgres (Singer), the same table | $tn | $ts | $(per_sec "$ts" "$tn") | $(mb "$tkb") |"
  echo "| **Hub ÷ tap, records/s** | | | **$(ratio "$(python3 -c "print($n / $s)")" "$(python3 -c "print($tn / $ts)")")×** | |"
done

echo
echo "| Records page (100, from the middle, keyset) | Requests/s | p50 | p99 |"
echo "|---|---|---|---|"
for stored in "$STORE_SMALL" "$STORE_BIG"; do
  start_server "store$stored" "$stored"
  cursor="c$((stored / 2))"
  out=$(wrk -t2 -c32 -d10s --latency -H "Authorization: Bearer $TOKEN" \
    "$base/v1/connectors/conn-00000000000000000000/records?stream=customers&limit=100&cursor=$cursor" 2>&1)
  grep -q "Non-2xx" <<<"$out" && echo "warning: $(grep Non-2xx <<<"$out")" >&2
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "| $(python3 -c "print(f'{$stored:,}')") records stored | $rps | $p50 | $p99 |"
  stop_server
done

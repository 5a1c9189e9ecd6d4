#!/usr/bin/env bash
# Benchmarks on the release build with the embedded store, on this machine; prints a Markdown table.
# Not part of the test suite. Usage: bench/run.sh   (or `make bench`)
#   SERVER_BIN=path  measure another build of the server (an A/B against an older commit's binary)
#   QUICK=1          only the first table's rows (for alternating A/B runs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null; }
command -v brotli >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq brotli >/dev/null || sudo apt-get install -y -qq brotli >/dev/null; }

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
SERVER_BIN=${SERVER_BIN:-target/release/connector-hub}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo leptos build --release >&2
  cargo build --release --features ssr --example fake_providers --example seed >&2
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

fake_port=$(port)
target/release/examples/fake_providers "127.0.0.1:$fake_port" > "$work/fakes.log" 2>&1 & pids+=($!)
export CONNECTOR_HUB_ENV=production CONNECTOR_HUB_LOG=warn LEPTOS_SITE_ROOT=target/site
export JWT_SECRET="bench-secret-0123456789abcdef0123456789"
export CONNECTOR_ENCRYPTION_KEY=$("$SERVER_BIN" keygen)
export CONNECTOR_HUB_PROVIDER_STRIPE_URL="http://127.0.0.1:$fake_port/stripe"
export CONNECTOR_HUB_MONITOR=false CONNECTOR_HUB_RATE_MCP_PER_MIN=100000000 CONNECTOR_HUB_RATE_READS_PER_MIN=100000000 CONNECTOR_HUB_RATE_WRITES_PER_MIN=100000000 CONNECTOR_HUB_RATE_TESTS_PER_MIN=100000000
sleep 0.5

# wrk's summary → "rps p50 p99" (latencies in ms).
measure() {
  local out
  local threads=2
  [ "$CONNS" -lt 2 ] && threads=1
  out=$(wrk -t"$threads" -c"$CONNS" -d"$DURATION" --latency "$@" 2>&1)
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: non-2xx answers: $(grep Non-2xx <<<"$out")" >&2; fi
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}
to_ms() { python3 -c "import re,sys; v,u=re.match(r'([\d.]+)(\w+)','$1').groups(); print(round(float(v)*{'us':0.001,'ms':1,'s':1000}[u],2))"; }

# Starts a server on a data dir seeded with $2 tenant connectors and $3 other tenants' connectors.
start_server() {
  local data="$work/data-$1"
  TOKEN=$(target/release/examples/seed "$data" bench "$2" "$3")
  export TOKEN
  server_port=$(port)
  # shellcheck disable=SC2086 # SERVER_ENV holds NAME=value words
  env ${SERVER_ENV:-} CONNECTOR_HUB_DATA_DIR="$data" LEPTOS_SITE_ADDR="127.0.0.1:$server_port" "$SERVER_BIN" > "$work/server-$1.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$server_port/healthz" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$server_port"
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }

row() { printf '| %s | %s | %s ms | %s ms |\n' "$1" "$2" "$3" "$4"; }
echo "| Measurement | Requests/s | p50 | p99 |"
echo "|---|---|---|---|"

start_server small 100 0
read -r rps p50 p99 < <(measure "$base/healthz"); row "GET /healthz (trivial handler, the ceiling)" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure -H "Authorization: Bearer $TOKEN" "$base/v1/connectors?limit=100"); row "GET /v1/connectors, 100 connectors" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure -s bench/uncached.lua "$base"); row "GET /v1/connectors, 100 connectors, a new cursor each time (never from the page cache)" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure -s bench/mcp.lua "$base/mcp"); row "POST /mcp tools/call list_connectors, 100 connectors (MCP, stateless)" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure "$base/pkg/connector-hub.css"); row "GET /pkg/connector-hub.css (33 KB static file)" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure -s bench/post.lua "$base/v1/connectors"); row "POST /v1/connectors (validate, encrypt, durable write)" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure -s bench/test.lua "$base/v1/connectors/test"); row "POST /v1/connectors/test against the fake Stripe" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure -H "Authorization: Bearer sk_test_good_4242424242" "http://127.0.0.1:$fake_port/stripe/v1/balance"); row "bare GET to the same fake Stripe" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(CONNS=1 measure -s bench/test.lua "$base/v1/connectors/test"); row "POST /v1/connectors/test, one connection" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(CONNS=1 measure -H "Authorization: Bearer sk_test_good_4242424242" "http://127.0.0.1:$fake_port/stripe/v1/balance"); row "bare GET to the fake Stripe, one connection" "$rps" "$p50" "$p99"
read -r rps p50 p99 < <(measure "$base/"); row "GET / (SSR marketplace, full response)" "$rps" "$p50" "$p99"
stop_server
[ -n "${QUICK:-}" ] && exit 0

for others in 10000 100000; do
  start_server "o$others" 100 "$others"
  read -r rps p50 p99 < <(measure -H "Authorization: Bearer $TOKEN" "$base/v1/connectors?limit=100")
  row "GET /v1/connectors, 100 connectors, $others others in the store" "$rps" "$p50" "$p99"
  read -r rps p50 p99 < <(measure -s bench/uncached.lua "$base")
  row "the same, a new cursor each time (never from the page cache)" "$rps" "$p50" "$p99"
  stop_server
done

# Pages read from the store every time: the page cache is off for this server.
SERVER_ENV="CONNECTOR_HUB_PAGE_CACHE=false" start_server paged 1000 100000
read -r rps p50 p99 < <(measure -H "Authorization: Bearer $TOKEN" "$base/v1/connectors?limit=50"); row "first page (50) of 1,000, 100,000 others, page cache off" "$rps" "$p50" "$p99"
cursor=$(python3 - "$base" "$TOKEN" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
cursor = None
for _ in range(18):
    url = f"{base}/v1/connectors?limit=50" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})))
    cursor = page["next_cursor"]
print(cursor)
PY
)
read -r rps p50 p99 < <(measure -H "Authorization: Bearer $TOKEN" "$base/v1/connectors?limit=50&cursor=$cursor"); row "page 19 (50) of 1,000, 100,000 others, page cache off" "$rps" "$p50" "$p99"
stop_server

wasm=target/site/pkg/connector-hub.wasm
js=target/site/pkg/connector-hub.js
size() { printf '%s KB raw, %s KB gzip, %s KB brotli' $(( $(stat -c%s "$1") / 1024 )) $(( $(gzip -9c "$1" | wc -c) / 1024 )) $(( $(brotli -q 11 -c "$1" | wc -c) / 1024 )); }
echo
echo "WASM: $(size "$wasm")"
echo "JS:   $(size "$js")"
echo
echo "Criterion: Fernet on a typical config; the Stripe check against the fake vs a bare GET with the same key"
cargo bench --features ssr --bench vault --bench check -- --noplot 2>/dev/null | grep -E "^(vault|stripe)/|time:|thrpt:"

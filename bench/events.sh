#!/usr/bin/env bash
# Proxy and event benchmarks on the release build, on this machine; prints Markdown tables. Part
# of `make bench`, not of the test suite.
#   - the proxy: a Stripe list call through the hub against the same call straight to the fake, at
#     one connection (every proxied call audited, a durable write), with the fake answering at once
#     and with 5 ms and 50 ms of provider latency;
#   - events: N changes, each queuing an event, delivered to a local endpoint, beside the same
#     endpoint posted to directly, 8 at a time (the hub's default delivery concurrency).
# Sizes: EVENTS; SKIP_BUILD=1 uses the binaries built.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null || sudo apt-get install -y -qq wrk >/dev/null; }

EVENTS=${EVENTS:-5000}
DURATION=${DURATION:-10s}
BIN=target/release/connector-hub
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --features ssr --bin connector-hub --example fake_providers --example seed >&2
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export CONNECTOR_HUB_ENV=production CONNECTOR_HUB_LOG=warn
export JWT_SECRET="bench-secret-0123456789abcdef0123456789"
export CONNECTOR_ENCRYPTION_KEY=$("$BIN" keygen)
export CONNECTOR_HUB_EGRESS_ALLOW=127.0.0.0/8 CONNECTOR_HUB_MONITOR=false
for class in READS WRITES TESTS PROXY; do export "CONNECTOR_HUB_RATE_${class}_PER_MIN=100000000"; done

start_fakes() {
  fake_port=$(port)
  FAKE_DELAY_MS=$1 target/release/examples/fake_providers "127.0.0.1:$fake_port" > "$work/fakes-$1.log" 2>&1 & fake_pid=$!
  pids+=($fake_pid)
  fakes="http://127.0.0.1:$fake_port"
  for _ in $(seq 100); do curl -sf "$fakes/health" >/dev/null && break; sleep 0.1; done
}
start_server() {
  local data="$work/data-$1"
  TOKEN=$(target/release/examples/seed "$data" bench 0 0 0)
  server_port=$(port)
  CONNECTOR_HUB_PROVIDER_STRIPE_URL="$fakes/stripe" CONNECTOR_HUB_DATA_DIR="$data" \
    LEPTOS_SITE_ADDR="127.0.0.1:$server_port" "$BIN" > "$work/server-$1.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  base="http://127.0.0.1:$server_port"
  for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
}
# wrk's summary → "rps p50" (p50 in ms).
measure() {
  local out
  out=$(wrk -t1 -c1 -d"$DURATION" --latency "$@" 2>&1)
  grep -q "Non-2xx" <<<"$out" && echo "warning: $(grep Non-2xx <<<"$out")" >&2
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p=$2; if (p ~ /us$/) {sub(/us/,"",p); p=p/1000} else if (p ~ /ms$/) {sub(/ms/,"",p)} else if (p ~ /s$/) {sub(/s/,"",p); p=p*1000}} END {printf "%.0f %.3f\n", rps, p}' <<<"$out"
}

echo "| Call, one connection | Requests/s | p50 (ms) | Proxy ÷ direct, time per call |"
echo "|---|---|---|---|"
for delay in 0 5 50; do
  start_fakes "$delay"
  start_server "proxy$delay"
  connector=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"connector_type": "stripe", "config": {"api_key": "sk_test_good_4242424242"}, "sync_frequency": "manual"}' \
    "$base/v1/connectors" | python3 -c 'import json,sys; print(json.load(sys.stdin)["connector_id"])')
  read -r d_rps d_p50 < <(measure -H "Authorization: Bearer sk_test_good_4242424242" "$fakes/stripe/v1/customers?limit=10")
  read -r p_rps p_p50 < <(measure -H "Authorization: Bearer $TOKEN" "$base/proxy/$connector/v1/customers?limit=10")
  label=$([ "$delay" = 0 ] && echo "the fake answering at once" || echo "the fake answering after ${delay} ms")
  echo "| Stripe customers straight from the fake, $label | $d_rps | $d_p50 | |"
  echo "| The same through the hub's proxy (credential swapped in, audited) | $p_rps | $p_p50 | **$(python3 -c "print(f'{$d_rps / $p_rps:.2f}')")×** |"
  kill "$server_pid" "$fake_pid"; wait "$server_pid" "$fake_pid" 2>/dev/null || true
done

echo
echo "| Events | Seconds | Events/s | Hub ÷ bare posts |"
echo "|---|---|---|---|"
start_fakes 0
start_server events
read -r f_s f_n < <(python3 bench/events.py floor "$fakes/hooks/bench" "$EVENTS")
read -r h_s h_n < <(python3 bench/events.py deliver "$base" "$TOKEN" "$fakes/hooks/bench" "$EVENTS")
echo "| Bare POSTs of an event-sized body to the same endpoint, 8 at a time (Python, no hub) | $f_n | $f_s | $(python3 -c "print(f'{$f_n / $f_s:,.0f}')") | |"
echo "| Hub: $h_n connector changes, each event queued with its change, signed (Standard Webhooks) and delivered, attempts recorded | $h_n | $h_s | $(python3 -c "print(f'{$h_n / $h_s:,.0f}')") | $(python3 -c "print(f'{($h_n / $h_s) / ($f_n / $f_s):.2f}')")× |"

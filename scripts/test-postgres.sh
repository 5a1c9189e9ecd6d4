#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the tests (scram-sha-256, on a free port) and prints
# shell assignments for it; `scripts/test-postgres.sh stop DIR` stops it and removes DIR.
set -euo pipefail

if [ "${1:-}" = "stop" ]; then
  dir=$2
  bin=$(cat "$dir/bindir")
  run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  run "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
password="pg-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
dir=$(mktemp -d /tmp/connector-hub-pg.XXXXXX)
echo "$bin" > "$dir/bindir"
printf '%s\n' "$password" > "$dir/pwfile"
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$dir"; fi
run "$bin/initdb" -D "$dir/data" -U hub --auth=scram-sha-256 --pwfile="$dir/pwfile" >/dev/null
run "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U hub -d postgres -qc "CREATE DATABASE analytics" >/dev/null
# A table for the browser tests' preview and table choice (the Rust tests make their own).
PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U hub -d analytics -qc "
  CREATE TABLE public.shop_orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now());
  INSERT INTO public.shop_orders (customer, total) SELECT 'Customer ' || n, n * 1.5 FROM generate_series(1, 40) AS n;" >/dev/null
echo "TEST_PG_DIR=$dir"
echo "TEST_PG_PORT=$port"
echo "TEST_PG_USER=hub"
echo "TEST_PG_PASSWORD=$password"
echo "TEST_PG_DATABASE=analytics"

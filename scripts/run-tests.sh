#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then runs every test: Rust unit and integration tests, the alerting rules (promtool), then Playwright
# (hydrated and without JavaScript) in Debian's Chromium against the real built server. Starts
# its own PostgreSQL and MongoDB (a replica set); the integration suite runs on SQLite, then
# again on MongoDB.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH:$HOME/.cache/connector-hub/bin"
# The build's configuration (`--cfg erase_components`) comes from .cargo/config.toml alone, so
# cargo-leptos and cargo's own commands share compiled dependencies. A RUSTFLAGS from outside
# would replace it and make a server that cannot hydrate its pages: refuse it.
if [ -n "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
  echo "[test] RUSTFLAGS is set; it would replace the build flags in .cargo/config.toml. Unset it." >&2
  exit 1
fi
export CARGO_TERM_COLOR=never
# A test build is not edited and rebuilt in a loop; incremental caches only cost disk here.
export CARGO_INCREMENTAL=0

say() { printf '\n\033[1m[test]\033[0m %s\n' "$*"; }

# Runs one build step, keeping its output; when it fails, the causes are repeated last, where a
# CI log's tail shows them, with the free disk space (a full disk fails builds without a hint).
build_step() {
  local log
  log=$(mktemp)
  if ! "$@" 2>&1 | tee "$log"; then
    say "FAILED: $*"
    grep -E '^(error|warning: .*(space|memory))|No space left|panicked|Error:' "$log" | tail -n 40 || true
    df -h . | tail -n 1 | awk '{print "[test] disk: " $4 " free of " $2}'
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

# Running the tests must leave the working tree as it found it (no rewritten lockfiles or
# screenshots); what the tree looked like before is compared at the end.
tree_before=$(git status --porcelain 2>/dev/null || true)
scripts/setup.sh --test

pg_env=$(scripts/test-postgres.sh)
eval "$(printf '%s\n' "$pg_env" | sed 's/^/export /')"
export CONNECTOR_HUB_REQUIRE_PG=1
say "PostgreSQL $(basename "$(dirname "$(cat "$TEST_PG_DIR/bindir")")") listening on 127.0.0.1:$TEST_PG_PORT"

# MongoDB: where setup could install mongod, it must start; only a machine where it cannot be
# installed skips the MongoDB runs, and says so at the start and at the end.
mongo_skipped=""
if [ -f target/test-venv/.mongo ]; then
  mongo_env=$(scripts/test-mongo.sh)
  eval "$(printf '%s\n' "$mongo_env" | sed 's/^/export /')"
  say "MongoDB $("$TEST_MONGOD" --version | head -n 1 | sed 's/.*v//') replica set listening at $TEST_MONGO_URI"
else
  mongo_skipped="MongoDB: SKIPPED — mongod could not be installed on this machine (scripts/setup.sh --test), so the MongoDB store contract and the suite's MongoDB run did not run"
  say "$mongo_skipped"
fi
stop_servers() {
  scripts/test-postgres.sh stop "$TEST_PG_DIR"
  if [ -n "${TEST_MONGO_DIR:-}" ]; then scripts/test-mongo.sh stop "$TEST_MONGO_DIR"; fi
}
trap stop_servers EXIT
# When a MongoDB run fails, its server's log goes where CI's log shows it.
mongo_log() {
  if [ -n "${TEST_MONGO_DIR:-}" ]; then
    say "the end of MongoDB's server log ($TEST_MONGO_DIR/mongod.log):"
    scripts/test-mongo.sh log "$TEST_MONGO_DIR" 80
  fi
}

say "building the site (server, WASM, CSS)"
build_step cargo leptos build
build_step cargo build --features ssr --example fake_providers

say "Rust unit and integration tests (the store contract on SQLite and MongoDB; the integration suite on SQLite)"
status=0
cargo test --features ssr --no-fail-fast || { status=$?; mongo_log; }
if [ -z "$mongo_skipped" ]; then
  # The same integration binary (no second build), every server it starts on the replica set.
  say "the integration suite again, on MongoDB (TEST_STORE=mongodb)"
  TEST_STORE=mongodb cargo test --features ssr --test integration --no-fail-fast || { status=$?; mongo_log; }
fi
[ "$status" -eq 0 ] || exit "$status"

if command -v promtool >/dev/null; then
  say "Alerting rules (docs/alerts.yml): promtool check and unit tests"
  promtool check rules docs/alerts.yml
  (cd docs && promtool test rules alerts.test.yml)
else
  say "Alerting rules: promtool tests SKIPPED (promtool could not be fetched from Debian's prometheus package; see scripts/setup.sh)"
fi

say "Playwright in Chromium, hydrated and without JavaScript"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export APP_PORT=${APP_PORT:-$(free_port)} FAKE_PORT=${FAKE_PORT:-$(free_port)}
results="$PWD/end2end/test-results.json"
status=0
(cd end2end && PLAYWRIGHT_JSON_OUTPUT_NAME="$results" npx playwright test --reporter=list,json) || status=$?
# One plain closing line for the browser suite: "playwright: N passed, N failed, N skipped".
counts() {
  node -e '
    const s = require(process.argv[1]).stats;
    console.log(`${s.expected + s.flaky} ${s.unexpected} ${s.skipped}`);
  ' "$1" || echo "0 1 0"
}
read -r passed failed skipped < <(counts "$results")

# What an operator deploys: the release build (`make release`), into a site of its own so the
# debug site above stays as it was. Every page must hydrate there too.
say "Release build, and every page hydrating in Chromium against it"
release_site=target/site-release
build_step env LEPTOS_SITE_ROOT="$release_site" cargo leptos build --release
release_results="$PWD/end2end/test-results-release.json"
(cd end2end && HUB_BUILD=release HUB_SITE_ROOT="$release_site" \
  PLAYWRIGHT_JSON_OUTPUT_NAME="$release_results" npx playwright test --reporter=list,json) || status=$?
read -r r_passed r_failed r_skipped < <(counts "$release_results")
# One plain closing line for both browser runs: "playwright: N passed, N failed, N skipped".
echo "playwright: $((passed + r_passed)) passed, $((failed + r_failed)) failed, $((skipped + r_skipped)) skipped"
if [ -n "$mongo_skipped" ]; then say "$mongo_skipped"; fi

tree_after=$(git status --porcelain 2>/dev/null || true)
if [ "$tree_before" != "$tree_after" ]; then
  say "FAILED: the test run changed the working tree:"
  diff <(printf '%s\n' "$tree_before") <(printf '%s\n' "$tree_after") || true
  status=1
fi
exit "$status"

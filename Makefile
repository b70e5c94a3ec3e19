# attest: `make run` serves the demo, `make test` runs every test. Both install what is
# missing first (pinned versions) and skip what is already there.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

CARGO_LEPTOS_VERSION := 0.3.10
CARGO_NEXTEST_VERSION := 0.9.143
# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
# wasm-opt for release builds: rustc emits reference types for wasm32, which Debian's
# binaryen (108) rewrites into a module browsers refuse; binaryen from npm is current.
BINARYEN_VERSION := 132.0.0
TOOLS := $(CURDIR)/target/tools
export PATH := $(TOOLS)/node_modules/.bin:$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_UPDATED := /tmp/.attest-apt-updated

.PHONY: run test tools test-tools build unit e2e bench fuzz clean

run: tools build
	@echo "==> serving the demo on http://127.0.0.1:3000 (data in data/attest.db; Ctrl-C stops)"
	ATTEST_DEMO=1 ./target/release/attest serve

test: tools test-tools unit build e2e

tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || { echo "==> adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }
	@if [ "$$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $(CARGO_LEPTOS_VERSION)" ]; then \
	  echo "==> installing cargo-leptos $(CARGO_LEPTOS_VERSION) (once; about 20 minutes on 2 cores)"; \
	  cargo install cargo-leptos@$(CARGO_LEPTOS_VERSION) --locked --features no_downloads; \
	else echo "==> cargo-leptos $(CARGO_LEPTOS_VERSION): present"; fi
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "==> installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (once; about 3 minutes)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	else echo "==> wasm-bindgen $(WASM_BINDGEN_VERSION): present"; fi
	@if ! cargo nextest --version >/dev/null 2>&1; then \
	  echo "==> installing cargo-nextest $(CARGO_NEXTEST_VERSION) (once)"; \
	  cargo install cargo-nextest@$(CARGO_NEXTEST_VERSION) --locked; \
	else echo "==> cargo-nextest: present"; fi
	@command -v npm >/dev/null || $(MAKE) --no-print-directory apt PACKAGES="nodejs npm" COMMANDS="npm"
	@if ! $(TOOLS)/node_modules/.bin/wasm-opt --version 2>/dev/null | grep -q "^wasm-opt version $(word 1,$(subst ., ,$(BINARYEN_VERSION))) "; then \
	  echo "==> installing wasm-opt (npm binaryen $(BINARYEN_VERSION)) into target/tools"; \
	  npm install --prefix $(TOOLS) --no-save --no-audit --no-fund binaryen@$(BINARYEN_VERSION); \
	else echo "==> wasm-opt $(BINARYEN_VERSION): present"; fi
	@$(MAKE) --no-print-directory apt PACKAGES="sqlite3" COMMANDS="sqlite3"

test-tools:
	@$(MAKE) --no-print-directory apt PACKAGES="chromium" COMMANDS="chromium"
	@if [ ! -d end2end/node_modules/playwright-core ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then \
	  echo "==> installing end2end node packages (npm ci)"; (cd end2end && npm ci --no-audit --no-fund); \
	else echo "==> end2end node packages: present"; fi

# Installs Debian packages whose commands are missing.
apt:
	@missing=0; for c in $(COMMANDS); do command -v $$c >/dev/null || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  echo "==> installing Debian packages: $(PACKAGES)"; \
	  [ -f $(APT_UPDATED) ] || { $(SUDO) apt-get update -q && touch $(APT_UPDATED); }; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(PACKAGES); \
	else echo "==> $(COMMANDS): present"; fi

build:
	@echo "==> building the release binary and the browser bundle (cargo leptos build --release)"
	cargo leptos build --release

unit:
	@echo "==> unit and integration tests (SQLite$${ATTEST_TEST_POSTGRES_URL:+ and PostgreSQL})"
	cargo nextest run --release -p app -p server --features app/ssr

e2e:
	@echo "==> end-to-end tests in Chromium against the release binary"
	node --test --test-concurrency=1 end2end/tests/

bench: tools build
	./target/release/attest bench

# Every import reader on mutated public samples, at once, for ATTEST_FUZZ_SECS (600) seconds.
fuzz:
	ATTEST_FUZZ_SECS=$${ATTEST_FUZZ_SECS:-600} cargo test --release -p app --features ssr --lib formats::fuzz -- --ignored --nocapture

clean:
	cargo clean
	rm -rf data end2end/node_modules

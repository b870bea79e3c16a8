# orderflow: `make demo` runs it, `make test` tests it.
SHELL := /bin/bash
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export DATABASE_URL
CARGO ?= cargo
FILLS ?= 1000000
# Milliseconds the bench's replay node holds every answer (bench-backfill; 0: a local node).
RPC_LATENCY_MS ?= 0
# The built admin CLI, wherever cargo puts it (CARGO_TARGET_DIR is honoured).
ORDERFLOW = $(CARGO) run --quiet --release --bin orderflow --
# A real Ethereum node for the chain tests, pinned, installed from npm into .tools/.
ANVIL_VERSION := 1.7.1
ANVIL := .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: demo test build migrate bench-ingest bench-backfill check-tools tools fmt lint

## The whole system on its embedded default: anvil + simulated market -> indexer -> scores -> signals -> paper executor.
demo: check-tools tools build
	$(ORDERFLOW) demo

## Run every test (unit and integration, against a real Postgres and a real anvil node).
test: check-tools tools
	$(CARGO) test --release --all-targets -- --test-threads=2

build: check-tools
	$(CARGO) build --release

## Create or update the schema in DATABASE_URL.
migrate: build
	$(ORDERFLOW) migrate

## Import speed against raw COPY, and the importer's peak memory (FILLS=10000000 for 10M).
bench-ingest: build
	$(ORDERFLOW) bench ingest --fills $(FILLS)

## Install the pinned anvil into .tools/ (once).
tools: $(ANVIL)

$(ANVIL):
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (anvil comes from npm)"; exit 1; }
	npm install --prefix .tools --no-save --no-audit --no-fund @foundry-rs/anvil-linux-amd64@$(ANVIL_VERSION)
	@$(ANVIL) --version | head -1

## Backfill speed over the whole RPC path (FILLS=... fills in a simulated chain; RPC_LATENCY_MS=500 plays a hosted provider).
bench-backfill: build
	$(ORDERFLOW) bench backfill --fills $(FILLS) --rpc-latency-ms $(RPC_LATENCY_MS)

check-tools:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }
	@command -v psql >/dev/null || command -v initdb >/dev/null || [ -n "$$DATABASE_URL" ] || \
		{ echo "no Postgres: set DATABASE_URL or install PostgreSQL"; exit 1; }

fmt:
	$(CARGO) fmt

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings

# Gavel: `make run` starts the server, `make test` runs every test. Both install what is
# missing first (scripts/setup-system.sh), so these two commands are the whole set-up.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/gavel/target
export CARGO_TERM_COLOR ?= never

.PHONY: setup build run test lint unit

setup:
	@scripts/setup-system.sh
	@scripts/make-media.sh
	@scripts/setup-model.sh
	@scripts/setup-model-base.sh
	@scripts/make-speech.sh
	@scripts/make-speech-zh.sh
	@scripts/make-noise.sh
	@scripts/setup-e2e.sh

build: setup
	cargo build --release --locked

MODELS ?= $(HOME)/.cache/gavel/models

run: build
	@test -f $(MODELS)/ggml-tiny.en.bin || \
	  $(CARGO_TARGET_DIR)/release/gavel model import $(MODELS)/tiny.en-ct2 $(MODELS)/ggml-tiny.en.bin
	@test -f $(MODELS)/ggml-base.bin || \
	  $(CARGO_TARGET_DIR)/release/gavel model import $(MODELS)/base-ct2 $(MODELS)/ggml-base.bin
	$(CARGO_TARGET_DIR)/release/gavel serve

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

test: setup lint
	@url=$$(scripts/test-postgres.sh) && \
	  if command -v cargo-nextest >/dev/null; then \
	    GAVEL_TEST_PG_URL=$$url cargo nextest run --workspace --locked --no-fail-fast; \
	  else \
	    GAVEL_TEST_PG_URL=$$url cargo test --workspace --locked --no-fail-fast; \
	  fi

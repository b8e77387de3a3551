# Wirewatch: every set-up step is here, so a fresh machine needs only `make demo` or `make test`.
SHELL := /bin/bash
# The distribution's CPython 3.11 when there is one: Debian builds it with profile-guided and
# link-time optimisation, and `wirewatch process` ran 13% faster on it than on a pyenv build
# of 3.11.7 without --enable-optimizations (bench/README.md). `make PYTHON=...` overrides.
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || echo python3.11)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL := deploy/local
# The Rust extension (services/wirewatch_native: dedupe's LSH index), built in release mode
# into the venv; cargo's build cache lives outside the repo and is reused across worktrees.
NATIVE := services/wirewatch_native
NATIVE_STAMP := $(VENV)/.native-installed
NATIVE_SOURCES := $(wildcard $(NATIVE)/src/*.rs) $(NATIVE)/Cargo.toml $(NATIVE)/Cargo.lock $(NATIVE)/pyproject.toml $(NATIVE)/wirewatch_native.pyi
export CARGO_TARGET_DIR ?= $(HOME)/.cache/wirewatch/cargo-target

.PHONY: install lint test test-unit stack-up stack-down stack-status demo bench clean

install: $(STAMP) $(NATIVE_STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; \
	  test -x $(BIN)/python || $${PYTHON:-$(PYTHON)} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ner]'
	touch $(STAMP)

# rebuilt whenever a Rust source, the stub or the crate's manifests change (maturin from the dev extra)
$(NATIVE_STAMP): $(STAMP) $(NATIVE_SOURCES)
	@command -v cargo >/dev/null || { echo "make install: cargo not found; install Rust (https://rustup.rs) to build $(NATIVE)" >&2; exit 1; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pip install -q --no-build-isolation $(NATIVE)
	touch $(NATIVE_STAMP)

lint: install
	$(BIN)/ruff check services tests bench
	$(BIN)/mypy services/wirewatch tests bench

stack-up: install
	$(LOCAL)/stack.sh up

stack-down:
	$(LOCAL)/stack.sh down

stack-status:
	$(LOCAL)/stack.sh status

# The whole suite against the real Kafka, Elasticsearch and Prometheus, started
# here and stopped afterwards (also when the tests fail).
test: install
	@$(LOCAL)/stack.sh up
	@source $(LOCAL)/env.sh; set +e; $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	  $(LOCAL)/stack.sh down; exit $$rc

test-unit: install
	$(BIN)/pytest -q -m "not kafka and not elastic and not prometheus and not browser" $(PYTEST_ARGS)

demo: install
	$(BIN)/python -m wirewatch.embedded.demo $(DEMO_ARGS)

bench: install
	@$(LOCAL)/stack.sh up
	@source $(LOCAL)/env.sh; set +e; $(BIN)/python -m bench.run $(BENCH_ARGS); rc=$$?; $(LOCAL)/stack.sh down; exit $$rc

clean:
	rm -rf $(VENV) .wirewatch build *.egg-info .mypy_cache .ruff_cache bench/out

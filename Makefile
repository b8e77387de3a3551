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
# The Rust extension (events' core, dedupe's LSH index) and its build cache: outside the repo, so a fresh clone
# (CI) reuses the compiled dependencies instead of building from nothing (12 s -> 4 s here).
NATIVE := services/wirewatch_native
NATIVE_STAMP := $(VENV)/.native
export CARGO_TARGET_DIR ?= $(HOME)/.cache/wirewatch/cargo-target
NO_CARGO := cargo (Rust) is needed to build services/wirewatch_native: install it with rustup (https://rustup.rs), then retry

.PHONY: install lint test test-unit stack-up stack-down stack-status demo bench clean

install: $(STAMP) $(NATIVE_STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || PYTHON=python3; \
	  test -x $(BIN)/python || $${PYTHON:-$(PYTHON)} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ner]'
	touch $(STAMP)

# release profile (maturin's default); maturin comes from the dev extra, hence the PATH
$(NATIVE_STAMP): $(STAMP) $(NATIVE)/Cargo.toml $(NATIVE)/Cargo.lock $(NATIVE)/pyproject.toml \
		$(NATIVE)/wirewatch_native.pyi $(wildcard $(NATIVE)/src/*.rs)
	@command -v cargo >/dev/null || { echo "make install: $(NO_CARGO)" >&2; exit 1; }
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pip install -q --no-build-isolation ./$(NATIVE)
	touch $(NATIVE_STAMP)

lint: install
	$(BIN)/ruff check services tests bench
	$(BIN)/mypy services/wirewatch tests bench
	cargo clippy -q --release --manifest-path $(NATIVE)/Cargo.toml -- -D warnings

stack-up: install
	$(LOCAL)/stack.sh up

stack-down:
	$(LOCAL)/stack.sh down

stack-status:
	$(LOCAL)/stack.sh status

# The whole suite against the real Kafka, Elasticsearch and Prometheus, started
# here and stopped afterwards (also when the tests fail); a Kafka started here starts on
# fresh storage (WIREWATCH_STACK_FRESH: the tests' topics are theirs alone).
test: install
	@WIREWATCH_STACK_FRESH=1 $(LOCAL)/stack.sh up
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

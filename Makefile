# `make up` runs Vigil on this machine; `make test` runs `check`, then the whole suite. Both create .venv.
# The first Python 3.11+ that runs (python3 if it is new enough); Vigil needs 3.11 or later.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LINTED := $(wildcard vigil tests bench)  # bench/ may not exist yet on a fresh clone

.PHONY: up test check lint unit upstream bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Vigil needs Python 3.11 or later (set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

# `make up ARGS="--port 9000"` passes options to `vigil up`.
up: $(STAMP)
	$(BIN)/vigil up $(ARGS)

test: check $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q --durations=15

# What every commit must pass: lint, format, complexity (ruff), types (mypy, see pyproject.toml).
check: lint $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# The state machine and the policy alone, with few Hypothesis examples: seconds, for every edit.
# Without schemathesis' pytest plugin, which unit tests never use: loading it (and pytest rewriting
# its modules' asserts, uncached under PYTHONDONTWRITEBYTECODE) was a fifth of the run.
unit: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(BIN)/pytest -q -p no:schemathesis tests/unit

# Reproductions of issues in Temporal itself, to report upstream: not in `make test` (tests/upstream).
upstream: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -s -m upstream tests/upstream

# `make bench ARGS="--quick"`: every benchmark against its baseline, one table (bench/run_all.py).
bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.run_all $(ARGS)

clean:
	rm -rf $(VENV) .vigil .pytest_cache

# `make up` runs Vigil on this machine; `make test` runs the whole suite. Both create .venv.
# The newest Python 3.11+ on PATH (Vigil needs 3.11 or later).
PYTHON ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

# `make up ARGS="--port 9000"` passes options to `vigil up`.
up: $(STAMP)
	$(BIN)/vigil up $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check vigil tests bench
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check vigil tests bench

clean:
	rm -rf $(VENV) .vigil .pytest_cache

# `make up` runs Vigil on this machine; `make test` runs the whole suite. Both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/vigil up

test: $(STAMP)
	$(BIN)/ruff check vigil tests bench
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check vigil tests bench

clean:
	rm -rf $(VENV) .vigil .pytest_cache

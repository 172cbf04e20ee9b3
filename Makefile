# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: start the built-in sandbox providers and run every configured check once
run: $(STAMP)
	$(BIN)/atom-monitor run --once --config config.yaml

## test: lint, type-check, and the whole pytest suite (unit and end-to-end)
test: $(STAMP) lint typecheck
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check monitor tests
	$(BIN)/ruff format --check monitor tests

typecheck: $(STAMP)
	$(BIN)/mypy

## schema: regenerate config.schema.json (the editor schema config.yaml points at)
schema: $(STAMP)
	$(BIN)/atom-monitor config schema > config.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache reports/out atom-monitor.db

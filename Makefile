# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the embedded default: sandbox providers + every check once (a table), the readiness
##      report in reports/out/, then the daemon on http://127.0.0.1:9400 until Ctrl-C
run: $(STAMP)
	-$(BIN)/atom-monitor run --once --config config.yaml
	$(BIN)/atom-monitor report --config config.yaml --out reports/out
	$(BIN)/atom-monitor serve --config config.yaml

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

## bench: CPU per check, throughput and lag, latency accuracy, RSS; vs blackbox_exporter
bench: $(STAMP)
	$(BIN)/pip install --quiet 'py-spy>=0.3.14'  # samples the daemon when a target is missed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache reports/out atom-monitor.db

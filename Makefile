# The README's two commands are `make demo` and `make test`; each sets itself up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# moto's Step Functions interpreter compares Wait timestamps with naive local time.
export TZ := UTC

.PHONY: setup demo test test-unit test-integration test-e2e lint bench clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements-dev.txt layers/common/requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(VENV)/bin/arrears demo --out out

test: setup
	$(VENV)/bin/ruff check --quiet functions layers local tests bench
	$(PY) -m pytest -q tests

test-unit: setup
	$(PY) -m pytest -q tests/unit

test-integration: setup
	$(PY) -m pytest -q tests/integration

test-e2e: setup
	$(PY) -m pytest -q tests/e2e

# Figures beside their targets, written to bench/results.json (see docs/performance.md).
bench: setup
	$(PY) bench/run_all.py

lint: setup
	$(VENV)/bin/ruff check functions layers local tests bench
	$(PY) -m pytest -q tests/unit/test_template.py

clean:
	rm -rf $(VENV) node_modules out .pytest_cache

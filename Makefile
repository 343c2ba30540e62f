# The README's two commands are `make demo` and `make test`; each sets itself up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The finance team's console (console/, docs/console.md): its own npm packages, built into console/dist.
CONSOLE_NODE_STAMP := console/node_modules/.installed
CONSOLE_BUILD := console/dist/index.html
CONSOLE_SOURCES := $(wildcard console/src/*.ts console/src/*/*.ts console/src/*.css) console/index.html console/vite.config.ts console/tsconfig.json
# moto's Step Functions interpreter compares Wait timestamps with naive local time.
export TZ := UTC

.PHONY: setup demo test test-unit test-integration test-e2e lint bench chaos clean build checkov

setup: $(PY_STAMP) $(NODE_STAMP) $(CONSOLE_BUILD)

$(PY_STAMP): requirements-dev.txt layers/common/requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_NODE_STAMP): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_BUILD): $(CONSOLE_NODE_STAMP) $(CONSOLE_SOURCES)
	cd console && npm run --silent build

# Tools whose pins clash with the dev venv's, each in its own venv (tools/*-requirements.txt pin everything).
TOOLS := .venv-tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
BUILD_DIR ?= .aws-sam/build

$(SAM): tools/sam-requirements.txt
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet -r tools/sam-requirements.txt
	touch $@

$(CHECKOV): tools/checkov-requirements.txt
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet -r tools/checkov-requirements.txt
	touch $@

# sam build (BuildMethod python3.12, no Docker) needs a python3.12 on PATH: tools/find-python312 finds one
# (PATH, pyenv, the usual places). Then the build is checked: Lambda's size limit, exactly the pinned packages.
build: setup $(SAM)
	@py312="$$(tools/find-python312)" || { echo "make build: no python3.12 found; sam build needs one (e.g. pyenv install 3.12)" >&2; exit 1; }; \
	  echo "sam build with $$py312/python3.12"; \
	  PATH="$$py312:$$PATH" $(SAM) build --template-file template.yaml --build-dir $(BUILD_DIR)
	$(PY) -m arrears_local.build_check $(BUILD_DIR)

# checkov (offline) on template.yaml and on its SAM translation; fails on any finding template.yaml does not skip
# inline with a reason (`# checkov:skip=CKV_AWS_xxx: why`), and on a skip that no longer skips anything.
checkov: setup $(CHECKOV)
	$(PY) -m arrears_local.security_scan --checkov $(CHECKOV)

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

# The chaos property's figures (docs/faults.md): 20 seeds, or CHAOS_SEEDS=200 (a comma list replays seeds: CHAOS_SEEDS=7,).
CHAOS_SEEDS ?= 20
chaos: setup
	$(PY) bench/chaos.py --seeds $(CHAOS_SEEDS)

lint: setup
	$(VENV)/bin/ruff check functions layers local tests bench
	$(PY) -m pytest -q tests/unit/test_template.py

clean:
	rm -rf $(VENV) $(TOOLS) node_modules console/node_modules console/dist out .pytest_cache .aws-sam

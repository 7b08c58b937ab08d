# The two commands a new developer needs: `make run` and `make test`.
# Each creates .venv and installs what it needs; running them again is cheap.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-installed
NODE_STAMP := node_modules/.deps-installed
INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.deps-installed
BENCH_STAMP := $(VENV)/.bench-deps-installed
PORT ?= 7071

.PHONY: run test lint typecheck pytest bench docs mutation clean help

help:
	@echo "make run    - start the app on http://127.0.0.1:$(PORT) with Azurite and the embedded database"
	@echo "             (kept in .localdb/ across restarts; FRESH=1 starts it empty)"
	@echo "make test   - install test dependencies, then lint, type-check and run every test"
	@echo "make bench  - run the benchmarks in bench/ and print ratios against their baselines"
	@echo "make docs   - regenerate docs/api-reference.md from the OpenAPI document"
	@echo "make mutation - mutation-test the security modules (mutmut; slow, not in CI)"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(DEPS_STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(INFRA_STAMP): requirements-infra.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r requirements-infra.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js and npm are required for the Azurite storage emulator"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: $(DEPS_STAMP) $(NODE_STAMP)
	$(PY) -m devhost --port $(PORT) --azurite --db-dir .localdb $(if $(FRESH),--fresh-db)

lint: $(DEPS_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(DEPS_STAMP)
	$(PY) -m mypy

pytest: $(DEPS_STAMP) $(NODE_STAMP) $(INFRA_STAMP)
	$(PY) -m pytest --cov --cov-report=

test: lint typecheck pytest

$(BENCH_STAMP): $(DEPS_STAMP) bench/requirements.txt
	$(PY) -m pip install --quiet -r bench/requirements.txt
	@touch $@

bench: $(DEPS_STAMP) $(BENCH_STAMP) $(NODE_STAMP)
	$(PY) bench/run_all.py

docs: $(DEPS_STAMP)
	$(PY) scripts/generate_api_reference.py

# Not part of `make test` or CI: tens of minutes. See docs/mutation-testing.md.
mutation: $(DEPS_STAMP)
	$(PY) -m pip install --quiet mutmut==3.8.1
	rm -rf mutants
	$(PY) -m mutmut run --max-children $(or $(JOBS),2) || true
	$(PY) -m mutmut results

clean:
	rm -rf mutants $(VENV) $(INFRA_VENV) .venv-worker node_modules .azurite .localdb .pytest_cache .mypy_cache .ruff_cache

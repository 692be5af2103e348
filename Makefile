# Two entry points matter: `make demo` and `make test`. Both build everything they need
# from nothing: a virtual environment, the package, the UI's npm assets and, for the
# browser tests, Debian's chromium; for the PostgreSQL tests, Debian's postgresql (the tests
# start a throwaway server of their own with its initdb and pg_ctl; none is configured here).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
UI_DIR := statemachine_engine/monitor/ui
UI_STAMP := $(UI_DIR)/node_modules/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install ui-assets browser postgres test test-quick lint typecheck demo bench dist clean

install: $(STAMP) ui-assets

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Browser libraries come from the npm registry through the lock file; nothing is vendored.
ui-assets: $(UI_STAMP)

$(UI_STAMP): $(wildcard $(UI_DIR)/package-lock.json)
	@if [ -f $(UI_DIR)/package.json ]; then \
		cd $(UI_DIR) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed-stamp; \
	else mkdir -p $(UI_DIR)/node_modules && touch $(UI_STAMP); fi

# Debian's chromium for the browser tests; never a downloaded browser build.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

# Debian's PostgreSQL server programs for the PostgreSQL tests (tests/pg_cluster.py).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check statemachine_engine tests bench examples scripts
	$(VENV)/bin/ruff format --check statemachine_engine tests bench examples scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy scripts

test: install browser postgres lint typecheck
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The edit-test loop: everything but the slow end-to-end tests.
test-quick: install postgres
	$(VENV)/bin/pytest -m "not slow" -q $(PYTEST_ARGS)

# The demo's database and control socket are printed first, for statemachine-db in another
# terminal. Ctrl-C stops the project (it exits 130); that ends the target without an error:
# the recipe's shell survives the signal (trap) and reports the project's exit itself.
DEMO_DIR := $(CURDIR)/examples/demo
DEMO_DB  := $(DEMO_DIR)/data/demo.db
DEMO_SOCKET := /tmp/statemachine-control-demo.sock

demo: install
	@echo "Demo database: $(DEMO_DB)"
	@echo "Control socket: $(DEMO_SOCKET)"
	@echo "In another terminal: $(VENV)/bin/statemachine-db --db $(DEMO_DB) list"
	@echo "                     $(VENV)/bin/statemachine-db --db $(DEMO_DB) machine-state"
	@echo "Ctrl-C stops the demo."
	@trap ':' INT TERM; $(VENV)/bin/statemachine run $(DEMO_DIR)/statemachine-project.yaml; \
	code=$$?; if [ $$code -ne 130 ] && [ $$code -ne 143 ]; then exit $$code; fi

bench: install
	$(PY) bench/run.py

# a wheel with the UI's browser build of Mermaid inside (from npm, through the lock file)
dist: install
	$(PY) -m pip wheel --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) $(UI_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache build dist

# The README's two commands are `make demo` and `make test`; both install what is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nbauth-installed
NODE_STAMP := node_modules/.nbauth-installed
PYTEST_ARGS ?=

.PHONY: install install-test test test-fast demo lint bench clean

CHROMIUM := /usr/bin/chromium

install: $(STAMP) $(NODE_STAMP)

# Tests also need a browser (JupyterLab end-to-end tests).
install-test: install $(CHROMIUM)

# Python side: a venv from nothing, then the project (editable) with test and demo extras.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,demo]'
	@touch $@

# Node side: Azurite (local Azure Storage) for the storage tests and the demo, pinned by the lock.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests drive Debian's Chromium with Playwright; Playwright's own browser download
# does not work on these machines, so the system package it is.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "Install Debian's chromium (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi

test: install-test
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

# Everything but the slow end-to-end tests (notebooks, browser).
test-fast: install-test
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# `make demo BLOCK_DEVICE_CODE=1` (or =tenant,tenant): the emulator's Conditional Access refuses
# the device-code flow, as many organizations' does; sign in in the browser instead.
demo: install
	$(PY) tools/demo.py $(if $(BLOCK_DEVICE_CODE),--block-device-code=$(BLOCK_DEVICE_CODE))

# Speed and request counts against azure-identity and msal (see benchmarks/README.md).
bench: install
	$(PY) benchmarks/run.py

lint: install
	$(VENV)/bin/ruff check nbauth tests tools benchmarks notebooks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy nbauth

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache *.egg-info

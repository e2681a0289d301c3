# Kirana: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-fast lint bench chromium venv venv-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

## Set up and run the demo store (prints the URL and the logins).
demo: venv
	$(BIN)/kirana demo --dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

## Install Debian's Chromium for the browser tests (as root, when missing).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		(apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
		 (apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null)) \
		 || { echo "could not install chromium"; exit 1; }; \
	else \
		echo "WARNING: /usr/bin/chromium is missing and you are not root:"; \
		echo "         run 'sudo apt-get install chromium' or the browser tests will fail."; \
	fi

## The whole suite: unit, integration, browser (Chromium); in parallel.
test: venv-dev chromium
	$(BIN)/pytest -n auto --dist loadfile -q

## Everything except the browser tests.
test-fast: venv-dev
	$(BIN)/pytest -n auto -q -m "not e2e"

lint: venv-dev
	$(BIN)/ruff check app tests bench tools

bench: venv-dev
	$(BIN)/python bench/scan_lookup.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache

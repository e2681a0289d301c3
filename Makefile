# Kirana: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-fast lint i18n bench chromium system-deps venv venv-dev clean

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

## Debian packages the tests need (as root, when missing): Chromium for the browser
## tests, libzbar0 to decode printed QR codes, a Devanagari font for printed Hindi names,
## nginx-light to check and run the hub's reverse-proxy config (docs/nginx-hub.conf;
## Debian starts its own nginx on port 80: `systemctl disable --now nginx` if unwanted).
SYSTEM_PACKAGES := chromium libzbar0 fonts-lohit-deva nginx-light
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/*/libzbar.so.0 >/dev/null 2>&1 || missing="$$missing libzbar0"; \
	[ -d /usr/share/fonts/truetype/lohit-devanagari ] || missing="$$missing fonts-lohit-deva"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian packages:$$missing"; \
		(apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
		 (apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing >/dev/null)) \
		 || { echo "could not install$$missing"; exit 1; }; \
	else \
		echo "WARNING: missing Debian packages:$$missing (not root, so not installed):"; \
		echo "         run 'sudo apt-get install$$missing' or some tests will fail."; \
	fi

chromium: system-deps

## The whole suite: unit, integration, hub, sync in parallel; then the browser tests
## (Chromium) in one process. (A parallel worker running the browser tests died now and
## then, "node down", and pytest-xdist then hung: see tests/conftest.py's worker traces.)
test: venv-dev system-deps
	$(BIN)/ruff check app tests bench tools
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -n auto --dist loadfile -q -m "not e2e"
	$(BIN)/pytest -q -m e2e

## Everything except the browser tests.
test-fast: venv-dev
	$(BIN)/pytest -n auto -q -m "not e2e"

lint: venv-dev
	$(BIN)/ruff check app tests bench tools
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

## Languages (docs/translating.md): collect the text to translate into
## app/locale/messages.pot, merge it into every catalogue, and fail on anything
## untranslated, fuzzy or with placeholders that differ from the English.
i18n: venv
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output \
		--project Kirana --copyright-holder "Kirana contributors" \
		-o app/locale/messages.pot .
	for po in app/locale/*/LC_MESSAGES/messages.po; do \
		$(BIN)/pybabel -q update --ignore-obsolete --no-wrap \
			-i app/locale/messages.pot -o "$$po" -l "$$(basename $$(dirname $$(dirname $$po)))" || exit 1; \
	done
	$(BIN)/python -m app.locale.check

bench: venv-dev
	$(BIN)/python bench/scan_lookup.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache

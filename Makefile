# The two commands of the README: `make run` and `make test`. Both create .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: install run test lint bench eval browser-deps lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip "setuptools<82" wheel
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

## Start the web page on http://$(HOST):$(PORT) with the built-in example preloaded.
run: install
	$(VENV)/bin/facegraft web --host $(HOST) --port $(PORT)

## Headless Chromium for the browser test (Debian's package; no browser download).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "warning: could not install chromium; browser tests will skip"

test: install browser-deps
	$(VENV)/bin/ruff check facegraft tests
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check facegraft tests

bench: install
	@command -v ffmpeg >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; }
	$(VENV)/bin/facegraft bench

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^facegraft' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

# akhbar — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAKE   ?= data/lake

.PHONY: run test test-e2e lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/akhbar run seeds --lake $(LAKE)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check akhbar flows schemas tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -m "not e2e"

# Opens the HTML report, and the Prefect UI of a test server (a flow run, the topic-samples artifact), in
# headless Chromium and checks the Arabic text (Debian's chromium and Arabic fonts; root to install them).
test-e2e: $(VENV)/.dev-installed
	(command -v chromium && fc-list ':charset=0627' | grep -q .) >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-noto-core)
	$(BIN)/python -m pytest -q -m e2e

bench: $(VENV)/.dev-installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/archive.py

clean:
	rm -rf $(VENV) data/lake .pytest_cache .mypy_cache .ruff_cache

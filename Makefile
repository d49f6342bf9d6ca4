# Two entry points (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FEDIFY := tests/interop/fedify

.PHONY: run test install install-test lint typecheck npm bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/myna init
	$(BIN)/myna serve

npm: $(FEDIFY)/node_modules/.package-lock.json

$(FEDIFY)/node_modules/.package-lock.json: $(FEDIFY)/package-lock.json
	cd $(FEDIFY) && npm ci --no-audit --no-fund --loglevel=error

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

test: install-test npm lint typecheck
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(FEDIFY)/node_modules

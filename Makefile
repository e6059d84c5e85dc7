# The README's commands. Each target builds the venv it needs, so a fresh machine only needs python3.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-all lint demo bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check connector tests bench jobs
	$(BIN)/ruff format --check connector tests bench jobs
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 tests

test-all: lint
	$(BIN)/pytest -n 2 -m '' tests

demo: $(STAMP)
	$(BIN)/revops-sync demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

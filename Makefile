# huaxiang — the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Runtime install (DuckDB engine).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

# Development install: Spark extra, test and lint tools.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## demo: generate the synthetic shop, build its workspace on DuckDB, print a summary
demo: $(VENV)/.installed
	$(BIN)/huaxiang demo --dir demo-workspace

## test: the whole suite (slow, spark and browser tests included), then lint and types
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/build.py

clean:
	rm -rf demo-workspace .pytest_cache .mypy_cache .ruff_cache

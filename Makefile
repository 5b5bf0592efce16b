# zenflow developer entry points. `make demo` and `make test` are the README's two commands.
# Prefer Python 3.13 where present: CPython 3.11.0-3.11.7 and 3.12.0-3.12.1 can raise a spurious
# "AST constructor recursion depth mismatch" SystemError (cpython gh-106905) when pytest formats a
# failure in a multi-threaded process, which aborts the whole session with an INTERNALERROR.
PYTHON ?= $(shell for p in python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) python3; do \
	$$p -c 'import sys' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration crds binaries bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

binaries: $(STAMP)
	$(BIN)/zenflow dev binaries

demo: $(STAMP) binaries
	$(BIN)/zenflow demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not integration"

integration: $(STAMP) binaries
	$(BIN)/pytest -m integration

test: lint typecheck binaries
	$(BIN)/pytest

crds: $(STAMP)
	$(BIN)/zenflow crd --output-dir crds

bench: $(STAMP) binaries
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# zenflow developer entry points. `make demo` and `make test` are the README's two commands.
# zenflow needs Python >= 3.13 (pyproject's requires-python): the first interpreter that is.
PYTHON ?= $(shell for p in python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) python3.14 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 13))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration crds binaries bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "zenflow needs Python >= 3.13 (set PYTHON=...)" >&2; exit 1; }
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

# Figures against the targets of docs/BENCHMARKS.md. BENCH_ARGS: --quick, --scale (adds the
# 1,000 x 20 run), --json PATH (every figure as JSON, to compare runs).
bench: $(STAMP) binaries
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Every target creates the virtualenv it needs on a fresh machine (Python 3.11+ and pip only).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: demo test test-pg check lint typecheck imports bench reliability clean

$(BIN)/sargs: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: $(BIN)/sargs            ## fresh SQLite, both example policies, sample people, server on 127.0.0.1:8000
	$(BIN)/sargs demo

test: $(BIN)/sargs            ## the test suite (SQLite; set SARGS_TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/pytest

test-pg: $(BIN)/sargs
	SARGS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

lint: $(BIN)/sargs
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(BIN)/sargs
	$(BIN)/mypy

imports: $(BIN)/sargs
	$(BIN)/lint-imports

check: lint typecheck imports test

bench: $(BIN)/sargs           ## performance figures (SQLite and PostgreSQL)
	$(BIN)/python benchmarks/run.py

reliability: $(BIN)/sargs     ## crash, concurrency, outage and hostile-input drills (SQLite and PostgreSQL)
	$(BIN)/python benchmarks/reliability.py

clean:
	rm -rf $(VENV) .demo build *.egg-info

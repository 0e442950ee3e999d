# Every target creates the virtualenv it needs on a fresh machine (Python 3.11+ and pip only).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# A PostgreSQL *server* (its maintenance database): the tests create their own database there,
# sargs_test_<random>, and drop it at the end; they never write to the database named here.
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
PORT ?= 8000
# uv pip compile options for `make lock`; `make lock LOCK_ARGS=--upgrade` moves every pin to its newest release
LOCK_ARGS ?=
UV_COMPILE = $(BIN)/uv pip compile -q pyproject.toml --universal --python-version 3.11 --custom-compile-command 'make lock' $(LOCK_ARGS)

.PHONY: demo test test-pg check lint typecheck imports messages messages-check messages-move bench reliability wheel-check lock clean

# Exact versions from the lock file, then Sargs itself (editable); `pip check` fails if pyproject.toml
# declares a dependency the lock does not have (then run `make lock`).
$(BIN)/sargs: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.lock
	$(BIN)/pip install -q -e . --no-deps
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "requirements-dev.lock does not satisfy pyproject.toml: run make lock"; exit 1; }
	@touch $@

demo: $(BIN)/sargs            ## fresh SQLite, both example policies, sample people, server on 127.0.0.1:$(PORT)
	$(BIN)/sargs demo --port $(PORT)

test: $(BIN)/sargs            ## the test suite (SQLite; set SARGS_TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/pytest

test-pg: $(BIN)/sargs        ## the test suite on PostgreSQL: a database of its own on the PG_TEST_URL server
	SARGS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

lint: $(BIN)/sargs messages-check
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

messages: $(BIN)/sargs        ## extract the texts (pybabel's extractors), update every .po, compile the .mo files
	$(BIN)/python tools/messages.py extract

messages-check: $(BIN)/sargs  ## fail when an lv or en text is missing or a .po/.mo is out of date with the code
	$(BIN)/python tools/messages.py check

# Texts still in an old-style {"lv": ..., "en": ...} dict go into the catalogues. With FROM=<git ref>,
# the dicts are read at that ref (e.g. a helper's branch) and only keys the catalogues lack are added.
messages-move: $(BIN)/sargs   ## move old-style text dicts into the catalogues (FROM=<ref> reads them at a git ref)
	$(BIN)/python tools/messages.py move $(if $(FROM),--from-ref $(FROM))

typecheck: $(BIN)/sargs
	$(BIN)/mypy

imports: $(BIN)/sargs
	$(BIN)/lint-imports

check: lint typecheck imports test

bench: $(BIN)/sargs           ## performance figures (SQLite and PostgreSQL)
	$(BIN)/python benchmarks/run.py

reliability: $(BIN)/sargs     ## crash, concurrency, outage and hostile-input drills (SQLite and PostgreSQL)
	$(BIN)/python benchmarks/reliability.py

wheel-check:                  ## build the wheel, install it alone in a clean virtualenv, run the demo and policy check
	PYTHON=$(PYTHON) .ci/wheel-check

lock: $(BIN)/sargs            ## regenerate requirements.lock (runtime) and requirements-dev.lock (with [dev]) with uv
	$(BIN)/pip install -q uv
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) .demo build dist *.egg-info src/*.egg-info

# Loadline developer commands. `make run` and `make test` work on a fresh clone.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export LOADLINE_TEST_PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: install lock run serve test test-sqlite test-postgres lint bench openapi clean

$(BIN)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/.installed

## Re-resolve every dependency to its newest allowed version into constraints.txt (then
## run `make test` before committing it: the suite is what vouches for the new versions)
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	{ sed -n '1,2p' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .lock-venv

## Migrate, load the demo team into an empty database, serve on http://$(HOST):$(PORT)
## (emails, such as invitations and password resets, are printed here instead of sent)
run: export LOADLINE_EMAIL_BACKEND = console
run: install
	$(BIN)/loadline db upgrade
	$(BIN)/loadline demo --if-empty
	$(BIN)/loadline serve --host $(HOST) --port $(PORT)

## The whole suite on SQLite, then on PostgreSQL when one is reachable
test: install test-sqlite test-postgres

test-sqlite: install
	@echo "== test suite on SQLite =="
	LOADLINE_TEST_DATABASE=sqlite $(BIN)/pytest

test-postgres: install
	@if $(BIN)/python -m tests.pg_available; then \
		echo "== test suite on PostgreSQL ($$LOADLINE_TEST_PG_URL) =="; \
		LOADLINE_TEST_DATABASE=postgresql $(BIN)/pytest; \
	elif [ -n "$$LOADLINE_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is required (LOADLINE_REQUIRE_POSTGRES) but not reachable"; exit 1; \
	else \
		echo "== PostgreSQL not reachable at $$LOADLINE_TEST_PG_URL: the PostgreSQL suite did NOT run =="; \
	fi

lint: install
	$(BIN)/ruff check app tests migrations
	$(BIN)/ruff format --check app
	$(BIN)/mypy
	$(BIN)/lint-imports

## ACWR benchmark on PostgreSQL (server: LOADLINE_BENCH_PG_URL); see docs/PERFORMANCE.md
## e.g. `make bench BENCH_ARGS="--teams 10"` for a quick smaller run
bench: install
	$(BIN)/python -m bench.acwr_bench $(BENCH_ARGS)
	$(BIN)/python -m bench.webhooks_bench
	$(BIN)/python -m bench.coach_bench
	$(BIN)/python -m bench.audit_bench
	$(BIN)/python -m bench.reminders_bench
	$(BIN)/python -m bench.http_load
	$(BIN)/python -m bench.floor
	$(BIN)/python -m bench.export_bench

## Export the OpenAPI document that clients are generated from (commit it with the change)
openapi: install
	$(BIN)/loadline openapi --output docs/openapi.json

clean:
	rm -rf $(VENV) loadline.db loadline.db-wal loadline.db-shm

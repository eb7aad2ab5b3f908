# BranchOps: `make demo` and `make test` do all the set-up they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
VENDOR := src/branchops/static/vendor
# Tests get a throw-away state folder so they never touch ./var.
TEST_HOME := $(shell mktemp -d -u /tmp/branchops-test.XXXXXX)
PYTEST_WORKERS ?= 2

.PHONY: help setup demo test test-sqlite test-postgres check bench assets messages system-deps clean

help:
	@echo "make demo    set up and run the demo (Example Securities, SQLite, simulated estate)"
	@echo "make test    set up and run every check and test (SQLite; PostgreSQL too when"
	@echo "             BRANCHOPS_TEST_DATABASE_URL is set, as .ci/run does)"
	@echo "make check   ruff, mypy, migrations and message catalogs"
	@echo "make bench   run every benchmark in benchmarks/"

setup: $(VENV)/.installed $(VENDOR)/.built catalogs

$(VENV)/.installed: pyproject.toml
	@scripts/check-python.sh "$(PYTHON)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENDOR)/.built: frontend/package.json frontend/package-lock.json frontend/build.mjs
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

assets: $(VENDOR)/.built

.PHONY: catalogs
catalogs: $(VENV)/.installed
	@$(BIN)/branchops manage compile_catalogs

system-deps:
	@scripts/install-system-deps.sh

demo: setup
	$(BIN)/branchops demo $(DEMO_ARGS)

check: setup
	$(BIN)/ruff check src tests benchmarks conftest.py
	$(BIN)/ruff format --check src tests benchmarks conftest.py
	$(BIN)/mypy
	BRANCHOPS_HOME=$(TEST_HOME) $(BIN)/branchops manage makemigrations --check --dry-run

test: setup system-deps check test-sqlite test-postgres

test-sqlite: setup
	BRANCHOPS_HOME=$(TEST_HOME) BRANCHOPS_DATABASE_URL= \
		$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

test-postgres: setup
	@if [ -n "$$BRANCHOPS_TEST_DATABASE_URL" ]; then \
		echo "== tests on PostgreSQL ($$BRANCHOPS_TEST_DATABASE_URL)"; \
		BRANCHOPS_HOME=$(TEST_HOME) BRANCHOPS_DATABASE_URL="$$BRANCHOPS_TEST_DATABASE_URL" \
			$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider; \
	else \
		echo "== PostgreSQL tests skipped: BRANCHOPS_TEST_DATABASE_URL is not set"; \
	fi

bench: setup
	@scripts/install-system-deps.sh bench
	@scripts/install-system-deps.sh
	@for b in benchmarks/[a-z]*.py; do $(BIN)/branchops bench $$(basename $$b .py) || exit 1; done

messages:
	@command -v xgettext >/dev/null || { echo "make messages needs GNU gettext (apt-get install gettext)"; exit 1; }
	cd src/branchops && BRANCHOPS_HOME=$(TEST_HOME) ../../$(BIN)/django-admin makemessages -l zh_Hans -l en --no-obsolete \
		--settings=branchops.settings -i 'static/*'
	cd src/branchops && BRANCHOPS_HOME=$(TEST_HOME) ../../$(BIN)/django-admin makemessages -d djangojs -l zh_Hans -l en \
		--no-obsolete --settings=branchops.settings -i 'static/vendor/*'

clean:
	rm -rf $(VENV) frontend/node_modules $(VENDOR) .make

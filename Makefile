# Thin named tasks; CI calls the same ones (`.ci/run` → `make test`).
SHELL := /bin/bash
# uv, pinned, in its own small venv so the system Python's pip policy does not matter.
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help install services browser migrate demo test lint format test-fast faults bench bench-warehouse clean

help:
	@echo "make demo   - the main job: install, migrate, seed, ingest through API + queue, serve"
	@echo "make test   - lint + the whole test suite against real PostgreSQL, RabbitMQ, Redis"
	@echo "make faults - the fault suite: services stopped and killed on purpose (docs/reliability.md)"
	@echo "make bench  - benchmarks in bench/ (see docs/benchmarks.md)"
	@echo "make bench-warehouse - dbt, training and scoring benchmarks on a 100k-member gym"

$(UV):
	@python3 -m venv .tools && .tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.8"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@$(UV) sync --frozen --quiet
	@touch $@

install: $(VENV)/.installed

services:
	@bash scripts/services.sh

migrate: install services
	@$(VENV)/bin/gympulse db upgrade

demo: install services
	@$(VENV)/bin/gympulse demo

# sqlfluff's dbt templater compiles every model as dbt does, so it needs the profile's
# database: `postgres` exists on every server, compiling writes nothing, and dbt's target/logs
# go to var/ so a lint does not race a dev build over dbt/target.
SQLFLUFF_ENV := DBT_DATABASE=postgres DBT_SCHEMA=sqlfluff_lint \
	DBT_TARGET_PATH=$(CURDIR)/var/sqlfluff/target DBT_LOG_PATH=$(CURDIR)/var/sqlfluff/logs

lint: install services
	@$(UV) lock --check --quiet
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache --no-logo
	@$(VENV)/bin/mypy
	@$(SQLFLUFF_ENV) $(VENV)/bin/sqlfluff lint dbt/models dbt/data-tests --quiet --disable-progress-bar

format: install
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

# Coverage only for the whole suite (a developer running one file is not failed by the floor);
# what is measured is in pyproject's [tool.coverage]. The 25 slowest tests are listed, so CI's
# log says where its time goes.
COV_FLOOR ?= 73
COV_ARGS := --cov --cov-report=term-missing:skip-covered --cov-fail-under=$(COV_FLOOR) --durations=25

# The browser tests (tests/e2e) drive Debian's chromium through Playwright: the apt package is
# the only download, never `playwright install`.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)

test: install services browser lint
	@$(VENV)/bin/pytest $(COV_ARGS) $(PYTEST_ARGS)

# The fault suite: tests that stop, kill or restart a real service on purpose (also part of
# `make test`); each prints what it proved. See docs/reliability.md.
faults: install services
	@$(VENV)/bin/pytest -m chaos -rA $(PYTEST_ARGS)

test-fast: install services browser
	@$(VENV)/bin/pytest -m "not chaos and not fuzz" $(PYTEST_ARGS)

bench: install services
	@$(PY) -m bench.checkin_throughput
	@$(PY) -m bench.bulk_throughput
	@$(PY) -m bench.import_throughput

# 100,000 members × 12 months: simulate (~6 min), dbt full build + nights, training, scoring.
bench-warehouse: install services
	@$(PY) -m bench.dbt_build
	@$(PY) -m bench.training
	@$(PY) -m bench.scoring

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache var

# Thin named tasks; CI calls the same ones (`.ci/run` → `make test`).
SHELL := /bin/bash
# uv, pinned, in its own small venv so the system Python's pip policy does not matter.
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help install services migrate demo test lint format test-fast bench bench-warehouse clean

help:
	@echo "make demo   - the main job: install, migrate, seed, ingest through API + queue, serve"
	@echo "make test   - lint + the whole test suite against real PostgreSQL, RabbitMQ, Redis"
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

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

format: install
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

test: install services lint
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install services
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

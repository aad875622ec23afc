# The verbs a person needs. Each does its own set-up on a fresh machine.
VENV ?= .venv
BIN := $(VENV)/bin
LOCKS := pyproject.toml constraints.txt services/registry/region-list/package-lock.json \
	services/gateway/dashboard/package-lock.json services/reporting/native.c \
	services/reporting/copying.c
INSTALLED := $(VENV)/.installed-$(shell cat $(LOCKS) | cksum | cut -d' ' -f1)

.PHONY: run test audit test-unit lint docs bench resilience infra-up infra-down up down setup clean

run: setup            ## start Kafka and all five services (SQLite under /var/tmp/pulih)
	$(BIN)/pulih run

test: setup           ## unit, contract and integration tests on real Kafka, PostgreSQL and SQLite
	$(BIN)/pytest -v --durations=15

test-unit: setup      ## the fast tests: no broker, no PostgreSQL (handlers on SQLite), under 30 s
	$(BIN)/pytest -q -m "not integration" --durations=5 tests/unit

lint: setup           ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check shared services tests
	$(BIN)/mypy shared services

bench: setup          ## benchmarks beside same-run baselines; one table of (a)-(e) into docs/benchmarks.md
	export PULIH_BENCH_RESULTS=$$(mktemp) && \
	$(BIN)/python -m tests.perf.bench_ingest && \
	$(BIN)/python -m tests.perf.bench_messaging && \
	$(BIN)/python -m tests.perf.bench_regions && \
	$(BIN)/python -m tests.perf.bench_sweeper && \
	$(BIN)/python -m tests.perf.bench_reporting && \
	$(BIN)/python -m tests.perf.bench_platform --national && \
	$(BIN)/python -m tests.perf.bench_platform --freshness-only --background 1900 && \
	$(BIN)/python -m tests.perf.summary $$PULIH_BENCH_RESULTS

audit: setup          ## suppression audited by an attacker's integer program on 2,000 new random tables
	PULIH_AUDIT_EXAMPLES=$${PULIH_AUDIT_EXAMPLES:-1000} $(BIN)/pytest -q -p no:cacheprovider \
		tests/unit/reporting/test_suppression.py tests/unit/reporting/test_crossed.py

resilience: setup     ## services SIGKILLed while a larger programme is published: exact totals
	PULIH_RESILIENCE_UNITS=30 PULIH_RESILIENCE_CLIENTS=600 $(BIN)/pytest -s tests/resilience

docs: setup           ## regenerate docs/asyncapi.json and docs/schemas/
	$(BIN)/pulih docs

infra-up: setup       ## start local Kafka and PostgreSQL and print where they are
	$(BIN)/pulih infra up

infra-down: setup
	$(BIN)/pulih infra down

up:                   ## the platform in Docker (needs a Docker engine)
	docker compose up -d --build

down:
	docker compose down

setup: $(INSTALLED)

$(INSTALLED):
	bash deploy/bootstrap.sh
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	npm ci --prefix services/registry/region-list --no-audit --no-fund --ignore-scripts --loglevel=error
	npm ci --prefix services/gateway/dashboard --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache services/reporting/_native.*.so services/reporting/_copying.*.so

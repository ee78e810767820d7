# The two commands a newcomer runs (see README): `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin
export DAGSTER_HOME ?= $(CURDIR)/.stack/dagster_home

.PHONY: install run test unit lint typecheck validate dev up down status clean

install:  ## Python venv, Debian packages, Maven artifacts (all cached)
	./scripts/install.sh

run: install  ## Bring the local stack up and run the whole pipeline end to end
	$(VENV)/steam-platform run

# Two workers (pytest-xdist), one per core: most of the suite waits on servers and JVMs. Tests are
# grouped per module and per shared server (tests/worker_groups.py); TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2

test: install  ## Lint, type-check, validate definitions, then every test against real servers
	$(MAKE) -j3 --output-sync=target lint typecheck validate
	$(VENV)/pytest -q -p no:cacheprovider --durations=20 -n $(TEST_WORKERS) --dist loadfile

# Tests marked with what they need (integration: the local stack; cluster, kafka_security,
# packaging: more) are left out: what remains needs no server and runs in about two minutes.
unit: install  ## The tests that need no server
	$(VENV)/pytest -q -p no:cacheprovider -m "not (integration or cluster or kafka_security or packaging)"

lint:
	$(VENV)/ruff check --no-cache steam_platform steam_devstack steam_simulator streaming tests benchmarks
	$(VENV)/ruff format --no-cache --check steam_platform steam_devstack steam_simulator streaming tests benchmarks
	$(VENV)/lint-imports --no-cache

typecheck:
	$(VENV)/mypy

# Loads the code location both ways it is opened: `dg check defs` (the dg project, [tool.dg] in
# pyproject.toml) and `dagster definitions validate -w workspace.yaml`. Local resources, and an
# empty DAGSTER_HOME for a throw-away instance: the check needs no server, not even Postgres.
validate:
	STEAM_PLATFORM_ENV=local DAGSTER_HOME= VIRTUAL_ENV=$(CURDIR)/.venv $(VENV)/dg check defs
	STEAM_PLATFORM_ENV=local DAGSTER_HOME= $(VENV)/dagster definitions validate -w workspace.yaml

# `dagster dev` (webserver + daemon) on the code location `steam_platform` served by a code server
# (port 4000) that `steam-platform dev` restarts when it dies: `dg dev` would not (steam_devstack/code_server.py).
dev: install up  ## Stack + Dagster (UI on http://127.0.0.1:3000); Ctrl-C stops Dagster
	mkdir -p $(DAGSTER_HOME) && cp deploy/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	set -a && source .stack/env && set +a && exec $(VENV)/steam-platform dev --host 127.0.0.1 --port 3000

up:
	$(VENV)/steam-platform stack up

down:
	$(VENV)/steam-platform stack down

status:
	$(VENV)/steam-platform stack status

clean:  ## Build outputs and tool caches (not the stack's data: `steam-platform stack down --purge`)
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +

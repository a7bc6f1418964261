# Two commands do all the set-up on a fresh machine: `make demo` and `make test` create the virtualenv, install
# the project and its pinned dependencies, and create what they need (SQLite files, throwaway test databases).
# constraints.txt pins every package to the version CI tested (`make constraints` refreshes it after a change to
# the dependencies in pyproject.toml); a fresh machine installs exactly that set.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export ECOM_PIPELINE_HOME ?= $(DAGSTER_HOME)

.PHONY: install demo dev test test-fast lint validate bench bench-push bench-tick clean constraints

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/ecom-pipeline demo
	$(VENV)/bin/ecom-pipeline stock demo

# The Dagster UI on the demo's instance, with the emulated shops and the webhook receiver running, so Materialize
# works and a change made in a shop arrives by webhook (the daemon runs the inbox sensor).
dev: install
	@mkdir -p $(DAGSTER_HOME); [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	@$(VENV)/bin/ecom-pipeline sandbox --demo \
	    --credentials-file $(DAGSTER_HOME)/sandbox-shops.json > $(DAGSTER_HOME)/sandbox.log 2>&1 & \
	  sandbox=$$!; \
	  $(VENV)/bin/ecom-pipeline serve-webhooks --port 8712 > $(DAGSTER_HOME)/webhooks.log 2>&1 & \
	  receiver=$$!; trap "kill $$sandbox $$receiver 2>/dev/null" EXIT INT TERM; \
	  echo "emulated shops: pid $$sandbox (log $(DAGSTER_HOME)/sandbox.log)"; \
	  echo "webhook receiver: pid $$receiver on 127.0.0.1:8712 (log $(DAGSTER_HOME)/webhooks.log)"; \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: install
	@mkdir -p $(DAGSTER_HOME); [ -f $(DAGSTER_HOME)/dagster.yaml ] || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster definitions validate -w workspace.yaml

# pytest-xdist spreads the tests over the machine's cores (PYTEST_WORKERS=0 runs them in one process). worksteal: a
# worker that runs out of tests takes half of another's queue (with the default "load", one worker was seen running
# the last end-to-end tests alone for minutes while the other sat idle).
PYTEST_WORKERS ?= auto
PYTEST_DIST := $(if $(filter 0,$(PYTEST_WORKERS)),,--dist worksteal)
test: install lint validate
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_DIST) --maxprocesses=4 --durations=30

# The inner loop: everything but the tests marked slow (a real Dagster instance, end-to-end runs, big builds).
test-fast: install
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_DIST) --maxprocesses=4 -m "not slow"

# Re-pin constraints.txt to what is installed now (run after changing dependencies and checking `make test`).
constraints: install
	@{ echo "# Every package at the version CI tested, for \`pip install -c constraints.txt -e '.[dev]'\` (make install)."; \
	   echo "# Produced by \`make constraints\` (pip freeze minus the project itself); refresh it when pyproject.toml changes."; \
	   $(VENV)/bin/pip freeze --exclude-editable | grep -v '^ecom[-_]pipeline'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

bench: install
	$(PY) -m benchmarks.run

# The push benchmark alone (also part of `make bench`): replaces its section of docs/benchmarks.md.
bench-push: install
	$(PY) -m benchmarks.push_bench --write

# One schedule tick of TENANTS tenants (default 20) through dagster-daemon (also part of `make bench`): replaces its
# section of docs/benchmarks.md. PostgreSQL on 127.0.0.1:5432 when it answers (throwaway databases), else SQLite.
TENANTS ?= 20
# both: one run per tenant, then batched (ECOM_TICK_BATCH_SIZE tenants per run), in one session; or per-tenant, batched
TICK_MODE ?= both
bench-tick: install
	$(PY) -m benchmarks.tick_bench --tenants $(TENANTS) --mode $(TICK_MODE) --write

clean:
	rm -rf .dagster_home .pytest_cache .ruff_cache

# kitflow: the common commands. `make run` starts the whole system; `make test` installs and tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := 3.11
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
LOCAL := deploy/local/kitflow-local
PYTHON := $(CURDIR)/.venv/bin/python
export PYTHON

OPERATIONS ?= 10000

.PHONY: help install browser run run-cluster chaos stop status test test-unit test-infra lint format snapshots bench clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --user --quiet uv==$(UV_VERSION)

install: $(UV) ## install Python dependencies (locked) and the local Kafka + store
	$(UV) sync --frozen
	$(LOCAL) install

run: install ## start Kafka, the store, the four services and demo data; Ctrl-C stops all
	$(UV) run --frozen python deploy/local/run_system.py

run-cluster: install ## the same on a three-broker Kafka cluster, two instances of each service and a front (ports beside make run's)
	$(UV) run --frozen python deploy/local/run_system.py --cluster

chaos: install ## a cluster of its own under a mixed workload while replicas, a broker and the store are killed; then every acknowledged operation checked (OPERATIONS=10000)
	$(UV) run --frozen python -m tools.chaos --operations $(OPERATIONS)

SERVICE_PROCESSES := python -m kitflow_(stock|needs|distribution|gateway)|deploy/local/front\.py
LOCAL_DIR := $(or $(KITFLOW_LOCAL_DIR),$(CURDIR)/.local)
RUN_SYSTEM_PIDS := $(LOCAL_DIR)/run_system.pid $(LOCAL_DIR)/run_cluster.pid
# This checkout's service processes (their working directory is the checkout; other checkouts'
# and their tests' are left alone). Without /proc (macOS), every kitflow service process.
SERVICE_PIDS = for p in $$(pgrep -f '$(SERVICE_PROCESSES)'); do \
	  if [ ! -d /proc/$$p ] || [ "$$(readlink /proc/$$p/cwd)" = '$(CURDIR)' ]; then echo $$p; fi; done

# `make run`'s supervisor first (it would restart a service stopped under it; on SIGTERM it stops
# the services in order, then the broker and store), then whatever is left: the services, and
# only once they are gone the broker and store (a service still shutting down would otherwise
# wait on a broker that is no longer there).
stop: ## stop whatever `make run` or `make run-cluster` left running (services and infrastructure)
	-@for f in $(RUN_SYSTEM_PIDS); do pid=$$(cat "$$f" 2>/dev/null); \
	if [[ "$$pid" =~ ^[0-9]+$$ ]] && ps -o args= -p "$$pid" 2>/dev/null | grep -q run_system.py; then \
	  echo "stopping $$(basename "$$f" .pid) (pid $$pid) ..."; kill -TERM "$$pid"; \
	  for _ in $$(seq 1 120); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.5; done; \
	fi; done
	-@pids=$$($(SERVICE_PIDS)); [ -z "$$pids" ] || kill -TERM $$pids 2>/dev/null || true
	@for _ in $$(seq 1 60); do [ -n "$$($(SERVICE_PIDS))" ] || break; sleep 0.5; done
	-@pids=$$($(SERVICE_PIDS)); [ -z "$$pids" ] || kill -KILL $$pids 2>/dev/null || true
	$(LOCAL) stop all
	$(PYTHON) deploy/local/cluster.py stop

status: ## show the local infrastructure
	$(LOCAL) status

# The dashboard is tested in Debian's Chromium (Playwright drives it; no browser download).
browser: ## install Debian's chromium for the dashboard's browser tests (needs root or sudo)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; } || \
	  { echo "chromium is needed for the dashboard tests: apt-get install chromium" >&2; exit 1; }; }

# Coverage is gathered tier by tier (the second appends to the first) and checked once, over the
# whole suite, against the floor in pyproject.toml ([tool.coverage.report] fail_under).
COVERAGE := --cov --cov-report= --cov-fail-under=0

test: test-unit test-infra ## every test tier: unit first (no infrastructure), then the rest against the real broker and store (started and stopped here); then the coverage floor
	$(UV) run --frozen coverage report

test-unit: $(UV) ## unit tests only: no infrastructure, a few minutes (coverage data in .coverage)
	$(UV) run --frozen pytest $(COVERAGE) tests/unit

test-infra: install browser ## the tiers that need the broker and store: contract, integration, e2e (appends to the unit tier's coverage)
	$(UV) run --frozen pytest $(COVERAGE) --cov-append --ignore=tests/unit tests

lint: $(UV) ## ruff, formatting, mypy (strict) and the import contracts
	$(UV) sync --frozen
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

format: ## fix what ruff can
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

snapshots: ## rewrite the event contracts' JSON Schema snapshots, the services' OpenAPI snapshots the gateway publishes, and docs/asyncapi.json (review the diff!)
	$(UV) run --frozen python -m tests.contract.snapshots
	$(UV) run --frozen python -m tests.contract.service_openapi
	$(UV) run --frozen python -m kitflow_shared.asyncapi > docs/asyncapi.json

bench: install ## run every benchmark (ratios against references measured in the same run), then bench/results/report.md
	$(UV) run --frozen python -m bench.run stock_reservations
	$(UV) run --frozen python -m bench.run needs_hxl_import
	$(UV) run --frozen python -m bench.run needs_import_levers
	$(UV) run --frozen python -m bench.run kobo_burst
	$(UV) run --frozen python -m bench.run planner
	$(UV) run --frozen python -m bench.run gateway_needs
	$(UV) run --frozen python -m bench.run gateway_intake
	$(UV) run --frozen python -m bench.run store_durability
	$(UV) run --frozen python -m bench.run warehouse_2g
	$(UV) run --frozen python -m bench.run propagation
	$(UV) run --frozen python -m bench.run stack_memory
	$(UV) run --frozen python -m bench.run cluster_intake
	$(UV) run --frozen python -m bench.run propagation_cluster
	$(UV) run --frozen python -m bench.run stack_memory_cluster
	$(UV) run --frozen python -m bench.run stock_replicas
	$(UV) run --frozen python -m bench.run gaps
	$(UV) run --frozen python -m bench.run catch_up
	$(UV) run --frozen python -m bench.run rebuild
	$(UV) run --frozen python -m bench.run catch_up_cluster
	$(UV) run --frozen python -m bench.run rebuild_cluster
	$(UV) run --frozen python -m bench.report

.PHONY: soak
soak: install ## cluster mode at half its measured maximum for 30 minutes (MINUTES=, WINDOW=): bench/results/soak.md
	$(UV) run --frozen python -m bench.run soak --minutes $(or $(MINUTES),30) $(if $(WINDOW),--window $(WINDOW))
	$(UV) run --frozen python -m bench.report

clean: ## remove caches and test artefacts (keeps .local data; `make stop` first)
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-artifacts .coverage .coverage.*

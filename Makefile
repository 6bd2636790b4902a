# Tandem: `make serve` runs the demo, `make test` runs every test.
# Python comes from one lock (uv.lock, hashes included), installed by uv (scripts/uv-requirements.txt,
# itself pinned by hash). `make serve` installs the runtime only; `make test` adds the dev group.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
PORT   ?= 8080
# uv never fetches an interpreter of its own, and creates .venv from $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: serve test lint pytest bench services chromium coturn cluster-tools cluster cluster-stop lock lock-check python-check clean

python-check:
	@./scripts/check-python.sh "$(PYTHON)"

$(UV): scripts/uv-requirements.txt | python-check
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --no-deps --require-hashes -r scripts/uv-requirements.txt
	touch $(UV)

lock-check: $(UV)
	@$(UV) lock --check -q 2>/dev/null || { \
	  echo "uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock with the change." >&2; exit 1; }

# Refresh uv.lock within pyproject.toml's ranges (newest releases allowed by them).
lock: $(UV)
	$(UV) lock --upgrade

$(VENV)/.runtime: uv.lock pyproject.toml $(UV) | lock-check
	$(UV) sync --locked --no-dev
	rm -f $(VENV)/.dev
	touch $@

$(VENV)/.dev: uv.lock pyproject.toml $(UV) | lock-check
	$(UV) sync --locked
	touch $(VENV)/.runtime $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch node_modules/.installed

serve: $(VENV)/.runtime
	$(BIN)/tandem serve --demo --port $(PORT)

services:
	./scripts/ensure-services.sh

chromium:
	./scripts/ensure-chromium.sh

coturn:
	./scripts/ensure-coturn.sh

# nginx, and promtool for the alert rules (Debian packages; no service is started)
cluster-tools:
	./scripts/ensure-cluster.sh

# The stack of deploy/ on this machine, on loopback only (tests/helpers/cluster.py); Ctrl-C or
# `make cluster-stop` tears it down.
cluster: $(VENV)/.runtime cluster-tools coturn
	$(BIN)/python -m tests.helpers.cluster

cluster-stop:
	@if [ -f var/cluster.pid ]; then pid=$$(cat var/cluster.pid); kill -TERM $$pid 2>/dev/null || true; \
	  while kill -0 $$pid 2>/dev/null; do sleep 0.2; done; echo "cluster stopped"; \
	else echo "no cluster running (var/cluster.pid not found)"; fi

lint: $(VENV)/.dev
	$(BIN)/ruff check server tests bench
	$(BIN)/mypy --strict server

pytest: $(VENV)/.dev node_modules/.installed services chromium coturn cluster-tools
	$(BIN)/pytest $(PYTEST_ARGS)

test: lock-check lint pytest

bench: $(VENV)/.dev services
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/messaging.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/checkins.py
	$(BIN)/python bench/sfu.py

clean:
	rm -rf $(VENV) $(TOOLS) node_modules var

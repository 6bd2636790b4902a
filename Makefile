# Tandem: `make serve` runs the demo, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
STAMP  := $(VENV)/.installed

.PHONY: serve test lint pytest bench services chromium clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch node_modules/.installed

serve: $(STAMP)
	$(BIN)/tandem serve --demo --port $(PORT)

services:
	./scripts/ensure-services.sh

chromium:
	./scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check server tests bench
	$(BIN)/mypy --strict server

pytest: $(STAMP) node_modules/.installed services chromium
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint pytest

bench: $(STAMP) services
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/messaging.py
	$(BIN)/python bench/retention.py
	$(BIN)/python bench/checkins.py

clean:
	rm -rf $(VENV) node_modules var

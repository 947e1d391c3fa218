# Rollcall: the two commands are `make run` and `make test`.
#
#   make run    demo data, web server, Celery worker and beat together on 127.0.0.1:8000; Ctrl-C stops all three
#   make test   the whole pytest suite (pass options with ARGS="-k sync -x")
#   make lint   ruff check, ruff format --check, and lint-imports (the layers of pyproject.toml)
#
# With nothing set, everything is embedded (SQLite in var/, Celery broker on the filesystem).
# DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rollcall-installed
PORT ?= 8000
# make run answers on this machine only; HOST=0.0.0.0 shows the demo to the network.
HOST ?= 127.0.0.1
ARGS ?=

# Debian packages (WeasyPrint's libraries, certificate fonts, Chromium for the browser tests): the one list in
# system-packages.txt, which .ci/run and the Dockerfile read too.
SYSTEM_PACKAGES ?= $(shell sed -e 's/\#.*//' system-packages.txt | awk 'NF { print $$1 }')

.PHONY: venv run test lint system-deps

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml is newer than the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

system-deps:
	@command -v dpkg-query >/dev/null || { echo "system-deps: not a Debian system; install the equivalents of system-packages.txt yourself."; exit 0; }; \
	missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "system-deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "system-deps: missing Debian packages:$$missing"; \
	  echo "system-deps: install them with: sudo apt-get install$$missing (carrying on without them)"; \
	fi

run: venv system-deps
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" bin/run

test: venv system-deps
	$(BIN)/pytest $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

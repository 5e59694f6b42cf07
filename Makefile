# Two commands do all the set-up: `make demo` and `make test`. Both create .venv with the
# project's pinned ranges on first use, so a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m solver.engine.warm --jobs 2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/carerota demo

lint: $(STAMP)
	$(BIN)/ruff check carerota solver api scenarios benchmarks tests
	$(BIN)/ruff format --check carerota solver api scenarios benchmarks tests
	$(BIN)/mypy

# Line coverage of carerota, solver, scenarios and api by the whole suite, reported with a
# floor: the full suite covered 92.9% on 2026-12-06 (a clean clone through .ci/run); the floor
# sits a little below (skipped optional tests cost a point or two), so a new untested module
# still fails CI.
COVERAGE_FLOOR := 88

# Two test processes (pytest-xdist), work-stealing so the long service tests at the end do not
# wait on one process: the suite spends much of its time waiting on the services it starts.
# The slowest tests are listed, so CI's log shows where its time goes.
test: $(STAMP) lint
	$(BIN)/pytest -n 2 --dist worksteal --durations=15 --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-only

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two commands: `make demo` (the main job) and `make test` (every check).
# Both build .venv on first use; a fresh clone needs only python3 and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types docs pytest bench bench-smoke clean

# The package with the extras its commands use, plus the dev dependency group (PEP 735:
# `pip install --group` needs pip >= 25.1, hence the upgrade first).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -e '.[emulator,migrate,remote]' --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fireworks-training demo

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks scripts
	$(BIN)/ruff format --check src tests examples benchmarks scripts
	$(BIN)/python scripts/unasync.py --check

types: $(STAMP)
	$(BIN)/mypy --strict src benchmarks

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

# Tests run on every core, a test file per worker (its module fixtures are set up once).
pytest: $(STAMP)
	$(BIN)/python -m pytest -W error -q -n auto --maxprocesses 4 --dist loadfile

test: lint types docs pytest bench-smoke

# Side-by-side measurements against the emulator: benchmarks/RESULTS.md and ratios.png.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --group bench
	$(BIN)/python -m benchmarks.run --out benchmarks

# Tiny sizes into a temporary folder, only to prove the benchmark scripts run.
bench-smoke: $(STAMP)
	tmp=$$(mktemp -d) && $(BIN)/python -m benchmarks.run --smoke --out "$$tmp"; \
		status=$$?; rm -rf "$$tmp"; exit $$status

clean:
	rm -rf $(VENV) build dist site .mypy_cache .ruff_cache

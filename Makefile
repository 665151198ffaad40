# FinVeil: `make demo` runs the main job on the embedded data, `make test` runs every check.
# Both create (or reuse) .venv and install what they need first; only Python >= 3.11 is required.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.finveil-installed
PYTEST_ARGS ?=

.PHONY: demo test check lint typecheck pytest bench docs clean help

help:
	@echo "make demo   run the batch job on the embedded German credit data (out/demo)"
	@echo "make test   lint, type-check and run the test suite"
	@echo "make bench  run the benchmarks (prints tables, writes benchmarks/results/*.json)"
	@echo "make docs   the API reference, generated from docstrings, in docs/api/"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "FinVeil needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench,report]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/finveil demo

test: check pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff format --check engine enclaves tests benchmarks
	$(BIN)/ruff check engine enclaves tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_tokenize.py
	$(BIN)/python benchmarks/bench_he.py
	$(BIN)/python benchmarks/bench_smpc.py
	$(BIN)/python benchmarks/bench_discovery.py
	$(BIN)/python benchmarks/bench_anomaly.py
	$(BIN)/python benchmarks/bench_service.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_fraud_job.py

docs: $(STAMP)
	$(BIN)/pdoc --docformat google --output-directory docs/api $$($(BIN)/python -c \
		'from tests.test_public_api import PUBLIC_API; print(" ".join(sorted(PUBLIC_API)))')
	@echo "API reference: docs/api/index.html"

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache .hypothesis

# spendwatch: `make demo` and `make test` each work as the first command on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo demo-kafka test test-fast check bench fuzz broker clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "spendwatch needs Python 3.11+ (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/spendwatch demo

demo-kafka: install
	$(BIN)/spendwatch demo --kafka

broker: install
	$(BIN)/spendwatch broker

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider
	$(MAKE) check

# everything that needs neither a broker nor PostgreSQL, on two processes (tests/conftest.py marks the rest)
test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not kafka and not postgres" -n 2

check: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

# a million mutated lines through `spendwatch replay` (tests/fuzz runs a bounded version in `make test`)
fuzz: install
	$(BIN)/python -m bench.fuzz

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

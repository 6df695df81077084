# spendwatch: `make demo` and `make test` each work as the first command on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo demo-kafka test test-fast check bench fuzz broker kafka-local system-deps clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "spendwatch needs Python 3.11+ (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/spendwatch demo

demo-kafka: install system-deps
	$(BIN)/spendwatch demo --kafka

broker: install
	$(BIN)/spendwatch broker

kafka-local: install system-deps
	$(BIN)/spendwatch kafka-local

# What the suite starts besides Python: Apache Kafka (Java 17 + Maven, jars cached under
# ~/.cache/spendwatch) and a private PostgreSQL (Debian's postgresql binaries). Installed with
# apt-get only when missing and when root; otherwise the tests that need them say what is missing.
system-deps:
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || [ -f "$${XDG_CACHE_HOME:-$$HOME/.cache}/spendwatch/kafka-4.4.0/libs/.complete" ] || missing="$$missing maven"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (install them; the tests that need them will say so)"; fi; \
	fi
	@if command -v java >/dev/null 2>&1; then $(BIN)/spendwatch kafka-local --fetch-only >/dev/null; fi

test: install system-deps
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

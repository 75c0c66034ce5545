# Two commands do all the set-up on a fresh machine: `make console` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: console test bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

console: $(STAMP)
	$(BIN)/meetops console

serve: $(STAMP)
	$(BIN)/meetops serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/ack_latency.py
	$(BIN)/python benchmarks/burst_breakdown.py
	$(BIN)/python benchmarks/digest_memory.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

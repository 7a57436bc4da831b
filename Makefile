# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# llama-cpp-python builds from source the first time (~10 min on 2 cores); pip caches the wheel.
	$(BIN)/pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modelsel eval requirements/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not local_model and not browser"

lint: $(STAMP)
	$(BIN)/ruff check modelsel tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/latency_accuracy.py
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) reports/.cache

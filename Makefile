# The two commands on a fresh machine: `make demo` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The similarity scorer's embedding model runs on PyTorch; the CPU build is pinned and installed
# first so that pip does not pull several GB of CUDA wheels for it.
TORCH  ?= torch==2.13.0

.PHONY: demo test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The local model: llama-cpp-python builds from source the first time (~10 min on 2 cores);
# pip caches the wheel, so later installs take seconds.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[local]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-demo
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[local,similarity,dev,mlflow]"
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/modelsel eval requirements/demo.yaml

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not local_model and not browser"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check modelsel tests benchmarks

# Figures, not tests: each script prints what it measured. peers.py runs inspect_ai and promptfoo
# where they are installed (see its docstring) and says so where they are not.
bench: $(VENV)/.installed-test
	cd benchmarks && ../$(BIN)/python coverage.py && ../$(BIN)/python messy.py && ../$(BIN)/python peers.py && ../$(BIN)/python large.py \
		&& ../$(BIN)/python faults.py && ../$(BIN)/python hostile.py && ../$(BIN)/python batch.py && ../$(BIN)/python latency_accuracy.py \
		&& ../$(BIN)/python overhead.py

clean:
	rm -rf $(VENV) reports/.cache

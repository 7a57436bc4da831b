# The two commands on a fresh machine: `make demo` and `make test`. Both are idempotent.
# Both install from the lock (lock/*.txt: every package pinned with its hashes, made by pip-tools'
# pip-compile), so a fresh clone installs today what it installed on the day of the commit.
# `make update-lock` moves the lock and the price snapshot forward.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# pip itself and the build backends come from the lock too (lock/build.txt, hashed): the venv's own
# pip (the one Python ships, ensurepip) installs them, then every later step uses them. Nothing is
# built with build isolation (which fetches a backend from the index unhashed): llama-cpp-python is
# built with the locked scikit-build-core, modelsel with the locked setuptools.
PIP    := $(BIN)/pip install --quiet --require-hashes --no-build-isolation

.PHONY: demo test test-fast lint bench update-lock clean

$(VENV)/.installed-build: lock/build.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r lock/build.txt
	touch $@

# The local model: llama-cpp-python builds from source the first time (10-26 min on 2 cores);
# pip caches the wheel, so later installs take seconds. The package itself goes in last, editable
# and without dependencies (an editable install has no single file to hash).
# Not --quiet: pip then says what it collects and, while llama.cpp compiles, "still running..." a
# line a minute off a terminal (a spinner on one), so a long first build is never a silent one.
$(VENV)/.installed-demo: lock/demo.txt pyproject.toml $(VENV)/.installed-build
	@echo "Installing the demo's packages from lock/demo.txt. The first time, llama-cpp-python compiles llama.cpp" \
	      "from source: 10-26 minutes on 2 cores (pip caches the wheel: later installs take seconds)."
	$(BIN)/pip install --require-hashes --no-build-isolation -r lock/demo.txt
	$(BIN)/pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

# lock/test.txt pins the CPU build of PyTorch (torch==2.13.0+cpu): without it pip would pull
# several GB of CUDA wheels for the similarity scorer's embedding model.
$(VENV)/.installed-test: lock/test.txt pyproject.toml $(VENV)/.installed-demo
	$(PIP) -r lock/test.txt
	$(BIN)/pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/modelsel eval requirements/demo.yaml

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not local_model and not browser"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check modelsel tests benchmarks

# Moves the lock and the genai-prices snapshot to the newest releases, records the snapshot's
# publication date in modelsel/catalog.yaml, reinstalls and runs the suite. Needs the package index.
update-lock:
	$(PYTHON) lock/update.py
	rm -f $(VENV)/.installed-demo $(VENV)/.installed-test
	$(MAKE) test

# Figures, not tests: each script prints what it measured. peers.py runs inspect_ai and promptfoo
# where they are installed (see its docstring) and says so where they are not.
bench: $(VENV)/.installed-test
	cd benchmarks && ../$(BIN)/python coverage.py && ../$(BIN)/python messy.py && ../$(BIN)/python peers.py && ../$(BIN)/python large.py \
		&& ../$(BIN)/python faults.py && ../$(BIN)/python hostile.py && ../$(BIN)/python batch.py && ../$(BIN)/python latency_accuracy.py \
		&& ../$(BIN)/python overhead.py && ../$(BIN)/python tools.py && ../$(BIN)/python long_waits.py \
		&& ../$(BIN)/python clock_checks.py

clean:
	rm -rf $(VENV) reports/.cache

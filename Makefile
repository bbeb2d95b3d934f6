# Set-up and main jobs. Each target creates .venv with the system python3 if needed and installs what it needs
# from this project's own pyproject.toml. Works on a fresh Debian / Raspberry Pi OS with python3 + python3-venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# runtime only (what a Raspberry Pi needs): numpy, scipy, soundfile, click, ai-edge-litert
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# everything the host test suite needs: runtime + training/export (TensorFlow) + dev references
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(BIN)/aebox-edge demo --out demo_out --force

test: $(VENV)/.dev
	$(BIN)/python -m pytest tests

bench: $(VENV)/.dev
	$(BIN)/python -m pytest tests -k bench --benchmark-only --benchmark-min-rounds=50 --benchmark-max-time=2

clean:
	rm -rf $(VENV) demo_out .benchmarks .hypothesis .pytest_cache

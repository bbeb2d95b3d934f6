# Set-up and main jobs. Each target creates .venv with the system python3 if needed and installs what it needs
# from this project's own pyproject.toml. Works on a fresh Debian / Raspberry Pi OS with python3 + python3-venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean device-test-arm64

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# runtime (what a Raspberry Pi needs: numpy, scipy, soundfile, click, ai-edge-litert) + the demo extra
# (matplotlib for the PNG, pyloudnorm for the LUFS metric)
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
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

# Opt-in, not part of CI: the runtime and device_tests on aarch64 under qemu-user (root, Debian; see docs/arm64.md).
# Uses the host .venv (runtime) for the x86 reference parameters.
device-test-arm64:
	@if [ "$(AEBOX_ARM64)" != 1 ]; then \
	  echo "device-test-arm64 builds an arm64 Debian root (~8 min, ~1 GB in /var/tmp) and runs it under qemu as root;"; \
	  echo "it is opt-in: run  AEBOX_ARM64=1 make device-test-arm64  (see docs/arm64.md)"; exit 2; fi
	$(MAKE) --no-print-directory $(VENV)/.runtime
	device_tests/arm64_emulated.sh

clean:
	rm -rf $(VENV) demo_out .benchmarks .hypothesis .pytest_cache

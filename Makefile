# Everything a fresh machine with Python, pip and apt needs: `make test`, `make demo`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Debian packages the tests need: chromium drives the demo's browser test (through PyPI's playwright;
# never `playwright install`, which downloads a browser); libusb-1.0-0 lets open3d import (points app);
# fluidsynth + timgm6mb-soundfont render MIDI to audio (music app).
APT_PACKAGES ?= chromium libusb-1.0-0 fluidsynth timgm6mb-soundfont
EXTRAS ?= test

.PHONY: install test test-fast demo bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-$(EXTRAS): pyproject.toml constraints.txt | $(VENV)/bin/python
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; fi
	$(PIP) install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed-$(EXTRAS)

test: install
	$(PY) -m pytest tests

# Skips the end-to-end tests marked slow (CI runs everything).
test-fast: install
	$(PY) -m pytest tests -m "not slow"

# The main job: the Gradio hub on http://127.0.0.1:7860 (`make demo PORT=7862` to change the port; without
# PORT, demos/hub.py reads $SPANMIX_DEMO_PORT, else 7860).
demo: install
	$(PY) demos/hub.py $(if $(PORT),--port $(PORT))

# Every benchmark table in benchmarks/results/ (hours on 2 CPU cores). benchmarks/kernels.py times the
# Triton kernels on a CUDA machine only; here it writes their compile-time resource table (--ptxas).
bench: install
	$(PY) benchmarks/mixers.py
	$(PY) benchmarks/scan_cpu.py
	$(PY) benchmarks/forecast.py
	$(PY) benchmarks/finance.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/eeg.py --epochs 15 --seeds 0 1 2
	OMP_NUM_THREADS=1 $(PY) benchmarks/genomics.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/long_conv.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/points.py --ops
	OMP_NUM_THREADS=1 $(PY) benchmarks/points_fewshot.py --run
	$(PY) benchmarks/kernels.py --ptxas
	$(PY) benchmarks/demo_load.py --concurrency 1 2 4

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

# Everything a fresh machine with Python, pip and apt needs: `make test`, `make demo`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Debian packages the installed extras need at run time (none yet for the backbone).
APT_PACKAGES ?=
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

# Until the first app lands, the main job is the backbone benchmark.
demo: install
	$(PY) benchmarks/mixers.py --quick

bench: install
	$(PY) benchmarks/mixers.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

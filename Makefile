# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test bench lint clean chromium java

# root installs system packages directly; anyone else through sudo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "lifevalue needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The runtime install: what `make demo` needs.
$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	touch $@

# The dev install: runtime plus the test tools and the reference implementation.
$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[dev]'
	touch $@ $(VENV)/.runtime

demo: $(VENV)/.runtime
	$(VENV)/bin/lifevalue demo

# The report test renders the HTML in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The Spark tests run Spark in local mode, which needs a Java runtime (17 or newer).
java:
	@java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])' || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless >/dev/null; }

test: $(VENV)/.dev chromium java
	$(PY) -m pytest

# Side-by-side benchmarks (not part of `make test`): lifevalue vs lifetimes and
# pymc-marketing, each case in a fresh, time-capped process, printed as one table with
# ratios and the scale targets marked met / not met; then the simulation-based
# calibration of the BG/NBD posterior (about 15 CPU minutes).
bench: $(VENV)/.dev
	$(PIP) install -q -e '.[dev,bench]'
	$(PY) bench/run.py --sizes 10000 100000 1000000
	$(PY) bench/sbc.py --reps 200 --out reports/sbc.csv

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete

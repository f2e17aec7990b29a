# Two commands on a fresh machine: `make demo` and `make test`.
# lifevalue needs Python >= 3.12: scripts/find_python.sh looks for one already on the
# machine (python3.13 / python3.12 / python3 on PATH, then pyenv's interpreters);
# `make PYTHON=/path/to/python3.12 demo` names one.
PYTHON ?= $(shell sh scripts/find_python.sh)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test docs bench lint clean chromium java

# root installs system packages directly; anyone else through sudo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# a .venv made by an older Python (lifevalue < 0.2 ran on 3.11) is made again
ifneq ($(wildcard $(PY)),)
ifneq ($(shell $(PY) -c 'import sys; print(sys.version_info >= (3, 12))' 2>/dev/null),True)
$(shell rm -rf $(VENV))
endif
endif

$(VENV)/bin/python:
	@[ -n "$(PYTHON)" ] || { echo "lifevalue needs Python >= 3.12 and found none on PATH" \
	  "(python3.13, python3.12, python3) or installed by pyenv. Install one, or name it:" \
	  "make PYTHON=/path/to/python3.12 demo" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(not sys.version_info >= (3, 12))' || { \
	  echo "lifevalue needs Python >= 3.12; $(PYTHON) is $$($(PYTHON) -V 2>&1)." \
	  "Name another: make PYTHON=/path/to/python3.12 demo" >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) -V 2>&1))"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The runtime install: what `make demo` needs.
$(VENV)/.runtime: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install -q -c constraints.txt -e .
	touch $@

# The dev install: runtime plus the test tools and the reference implementation.
$(VENV)/.dev: pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) install -q -c constraints.txt -e '.[dev]'
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

test: $(VENV)/.dev chromium java docs
	$(PY) -m pytest

# The documentation site (Sphinx) into build/docs: user guide, API reference from the
# docstrings, and the notebooks executed with their figures. Offline; warnings are
# errors; -E reads every page again, so every notebook runs against the current code.
docs: $(VENV)/.dev
	$(PY) -m sphinx -b html -E -W --keep-going -q -d build/.doctrees docs build/docs
	@echo "Documentation: build/docs/index.html"

# Side-by-side benchmarks (not part of `make test`): lifevalue vs lifetimes and
# pymc-marketing, each case in a fresh, time-capped process, printed as one table with
# ratios and the scale targets marked met / not met; then the simulation-based
# calibration of the BG/NBD posterior (about 15 CPU minutes).
# pymc-marketing 1.3.0 and lifetimes 0.11.3 go into the same environment as lifevalue
# (which proves that they coexist: pip check must stay clean).
bench: $(VENV)/.dev
	$(PIP) install -q -c constraints.txt -e '.[dev,bench]'
	$(PIP) check
	$(PY) bench/run.py --sizes 10000 100000 1000000
	$(PY) bench/sbc.py --reps 200 --out reports/sbc.csv

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete

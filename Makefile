# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
# Setup is skipped while .venv's stamp file is newer than pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --quiet --disable-pip-version-check --no-input

.PHONY: demo test bench lint clean distclean

demo: $(VENV)/.stamp-test
	@echo "== notebooks/demo.ipynb, first run in a fresh kernel: computes what is out of date"
	$(PY) notebooks/run_demo.py
	@echo "== second run in another fresh kernel: every value is loaded, nothing is computed"
	$(PY) notebooks/run_demo.py

test: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(VENV)/.stamp-bench
	$(PY) bench/run.py

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PIP) install -e ".[test]"
	@touch $@

$(VENV)/.stamp-bench: pyproject.toml | $(PY)
	$(PIP) install -e ".[bench]"
	@touch $@

# Removes the demo's outputs and pipeline state (the next `make demo` recomputes everything).
clean:
	rm -rf examples/output examples/.ppg notebooks/output notebooks/.ppg notebooks/stations.csv

distclean: clean
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info

# The two commands: `make run` (the whole product) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install run test test-fast bench lint clean-data

$(VENV)/.installed: requirements.txt requirements-embedded.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-embedded.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) scripts/run.py

test: install
	$(PY) -m pytest

# Pure-Python tests only (no database): the simulator and the algorithms, and the layering of the imports.
test-fast: install
	$(PY) -m pytest -p no:django -W ignore::pytest.PytestConfigWarning tests/test_layering.py tests/ems/sim tests/ems/algos tests/rfq/test_pricing.py tests/rfq/test_scoring.py tests/tca/test_measures.py tests/tca/test_benchmarks.py tests/tca/test_replay.py

bench: install
	$(PY) bench/sim.py
	$(PY) bench/intake.py
	$(PY) bench/execution.py
	$(PY) bench/ems.py
	$(PY) bench/ems_scaling.py
	$(PY) bench/rfq.py
	$(PY) bench/tca.py
	$(PY) bench/audit_merkle.py
	$(PY) bench/audit.py
	$(PY) bench/fix.py
	$(PY) bench/aims.py

lint: install
	$(VENV)/bin/ruff check .

# The two set-up commands a new user needs are `make demo` and `make test`; both build the
# virtualenv from the pinned requirements first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test check lint typecheck demo bench reliability sandbox clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

check: lint typecheck test

demo: $(STAMP)
	$(PY) -m syncsvc demo $(if $(ONCE),--once,)

sandbox: $(STAMP)
	$(PY) -m sandbox

bench: $(STAMP)
	$(PY) -m bench

reliability: $(STAMP)
	$(PY) -m pytest -q tests/reliability $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

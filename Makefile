# Two commands do all the set-up on a fresh machine:
#   make run    — install ticketbolt (runtime dependencies only) into .venv and run it on embedded
#                 defaults: the sandbox when no Slack credentials are set
#   make test   — install it with the development extras and run the whole test suite
PYTHON ?= python3
VENV := .venv
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck check clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	@echo "Installing ticketbolt and its runtime dependencies into $(VENV) (a minute or two the first time)…"
	$(VENV)/bin/pip install --progress-bar on -e .
	touch $(RUNTIME)

$(DEV): pyproject.toml | $(VENV)/bin/python
	@echo "Installing ticketbolt with the development extras into $(VENV)…"
	$(VENV)/bin/pip install --progress-bar on -e '.[dev]'
	touch $(DEV) $(RUNTIME)

run: $(RUNTIME)
	$(VENV)/bin/ticketbolt run

# The suite mostly waits on loopback servers and child processes, so three workers beat the
# two cores of a small machine; PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 3

test: $(DEV)
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV)
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# One command each: make digest (the main job), make test, make lint, make bench.
# make lint runs ruff and then mypy; make typecheck runs mypy alone.
# The first run creates .venv and installs digestbot with its test tools into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TOPIC ?= post-train
ARGS ?=

.PHONY: install digest test lint typecheck bench run clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "digestbot needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(BIN)/.installed

digest: install  ## print this week's digest of TOPIC in the terminal
	$(BIN)/digestbot digest $(TOPIC) $(ARGS)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

typecheck: install  ## mypy over bot/, digest/ and storage/ ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run_all.py

run: install  ## run the bot (Slack and/or Discord, whichever tokens are set)
	$(BIN)/digestbot run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info

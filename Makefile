# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make demo   set up .venv, then run the pipeline on the embedded MNIST digits
#   make test   set up .venv, then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
DEMO_ARGS ?=
TEST_ARGS ?=

.PHONY: demo test venv clean-runs

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo.py $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(TEST_ARGS)

clean-runs:
	rm -rf logs weights results

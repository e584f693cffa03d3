# The two Quickstart commands: `make all` (set up, then `spacy project run all`) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the workflow's commands call `clintiny` and `python`: put the venv first on PATH
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
TORCH_VERSION ?= 2.13.0

.PHONY: setup all smoke test lint clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, CPU build: any requirement that lets pip pick torch pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==$(TORCH_VERSION)
	$(BIN)/pip install -q -e ".[teacher,dev,onnx,spark,encrypt]"
	touch $@

setup: $(BIN)/.installed

all: setup
	$(BIN)/python -m spacy project run all

smoke: setup
	$(BIN)/python -m spacy project run smoke

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info

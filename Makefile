# The two Quickstart commands: `make all` (set up, then `spacy project run all`) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# the workflow's commands call `clintiny` and `python`: put the venv first on PATH
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
TORCH_VERSION ?= 2.13.0
# pytest workers: the smoke workflow (one test, most of the suite's time) on one core, the rest on the other
TEST_WORKERS ?= 2
# numpy's OpenBLAS runs its generic kernels on CPUs newer than its tables (6-8x slower matrix
# products in the heads): name the core type from the CPU's flags unless you set it
# (spacy_clintiny/blas.py explains; `python -m spacy train` loads numpy before the package can)
ifeq ($(origin OPENBLAS_CORETYPE),undefined)
OPENBLAS_CORETYPE := $(shell $(PYTHON) spacy_clintiny/blas.py 2>/dev/null)
endif
ifneq ($(OPENBLAS_CORETYPE),)
export OPENBLAS_CORETYPE
endif

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
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

clean:
	rm -rf $(VENV) *.egg-info

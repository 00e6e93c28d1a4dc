# The README's commands. Every target creates/updates the virtualenv from the project's own files.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint bench ingest clean reader

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/helpdesk run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check ingest bot eval tests bench
	$(BIN)/ruff format --check ingest bot eval tests bench
	$(BIN)/mypy

# The reading model (bot/reading/weights): mine pairs from the dev help center's training
# pages, fine-tune e5-small's first layers on CPU, export int8 ONNX. Needs the train extra.
reader: $(STAMP)
	$(BIN)/python -m eval.helpcenter.build_reader

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

# The README's commands. Every target creates/updates the virtualenv from the project's own files.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint bench ingest clean reader llm llm-install

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

# The optional local LLM (bot/local_llm.py): llama-cpp-python has only an sdist, so its wheel
# is built once (~7 min, CPU flags that run on any AVX2 machine) and kept in .cache/wheels.
WHEELS      := .cache/wheels
LLM_STAMP   := $(VENV)/.llm-installed
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF

$(LLM_STAMP): pyproject.toml | $(STAMP)
	@ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel --no-deps -w $(WHEELS) llama-cpp-python==0.3.36
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e '.[dev,train,llm]'
	touch $(LLM_STAMP)

llm-install: $(LLM_STAMP)

# Serve it on 127.0.0.1:8081; the command prints the settings that make the bot answer with it.
llm: $(LLM_STAMP)
	$(BIN)/helpdesk llm

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

# Two set-up commands on a fresh machine:  `make serve` (local server)  and  `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
CLIENT_VENV ?= .venv-client

.PHONY: serve test test-client test-browser docs docs-serve test-container test-gpu-image typecheck lint bench bench-rerank clean

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ./client
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $@

serve: $(VENV)/.installed  ## run the local server on the embedded default model (port 8080)
	$(VENV)/bin/embed-serve

test: $(VENV)/.installed  ## unit, model, parity, integration, reliability, infra and client tests
	$(PY) -m pytest -q

test-client: $(VENV)/.installed  ## the client alone: a fresh venv with only `pip install ./client`, against the real server
	rm -rf $(CLIENT_VENV)
	$(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install --quiet "./client[test]"
	CLIENT_ONLY_VENV=1 EMBEDDING_SERVER_PYTHON="$(abspath $(PY))" \
	  $(CLIENT_VENV)/bin/python -P -m pytest -q -p no:cacheprovider -c client/pyproject.toml --rootdir client client/tests

test-browser: $(VENV)/.installed  ## the playground and /docs in headless Chromium (apt-get install chromium chromium-driver)
	$(PY) -m pytest -q -m browser tests/browser

test-container: $(VENV)/.installed  ## build the image and test it (needs Docker; see .ci/run)
	$(PY) -m pytest -q -m container tests/container

test-gpu-image: $(VENV)/.installed  ## build the GPU flavour (CUDA 12.8) and check it without a GPU (needs Docker)
	$(PY) -m pytest -q -m gpu_image tests/container

typecheck: $(VENV)/.installed  ## mypy --strict over inference/ (configuration: pyproject.toml [tool.mypy])
	$(VENV)/bin/mypy

bench: $(VENV)/.installed  ## side-by-side benchmark table (sentence-transformers, this service, Infinity)
	TORCH="$(TORCH)" $(PY) bench/run.py $(BENCH_ARGS)

bench-rerank: $(VENV)/.installed  ## reranking pairs/s: CrossEncoder in-process, this service, Infinity (bench/rerank.py)
	TORCH="$(TORCH)" $(PY) bench/rerank.py $(BENCH_ARGS)

docs: $(VENV)/.installed  ## the documentation site (MkDocs + Material, mkdocs.yml) into site/; any warning fails it
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

docs-serve: $(VENV)/.installed  ## the documentation site with live reload on http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check inference client tests marketplace infra

clean:
	rm -rf $(VENV) $(CLIENT_VENV) .pytest_cache

.PHONY: bench-gpu
bench-gpu:  ## on a CUDA machine, offline: GPU tests + GPU bench table in one command (bench/gpu.sh; wheels: bench/gpu-wheels.sh)
	bash bench/gpu.sh $(BENCH_GPU_ARGS)

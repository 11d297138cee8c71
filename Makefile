# Two set-up commands on a fresh machine:  `make serve` (local server)  and  `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
CLIENT_VENV ?= .venv-client
# Python 3.12 (the GPU image's) for the HTTP front's tests: `make test-py312`; pyenv's if installed, else PATH's.
PYTHON312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
PY312_VENV ?= .venv-py312
# The SageMaker Python SDK page's tests: one venv per SDK version (v3, v2), layered on $(VENV) (make test-sagemaker-sdk).
SDK_VENV ?= .venv-sagemaker-sdk

.PHONY: serve test test-py312 print-python312 test-client test-browser test-sagemaker-sdk docs docs-serve test-container test-gpu-image typecheck lint bench bench-rerank bench-multivector bench-model-set bench-cpu-backends clean

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ./client
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	touch $@

serve: $(VENV)/.installed  ## run the local server on the embedded default model (port 8080)
	@# The model's ONNX package (once, kept in EMB_ONNX_CACHE_DIR): CPU workers then start without torch
	@# (docs/performance/cpu.md#cpu-backends). A model that has none is served on torch.
	-@$(VENV)/bin/embed-serve export-onnx --into cache
	$(VENV)/bin/embed-serve

test: $(VENV)/.installed  ## unit, model, parity, integration, reliability, infra, client and docs tests
	$(PY) -m pytest -q --durations=25 $(TEST_ARGS)

test-client: $(VENV)/.installed  ## the client alone: a fresh venv with only `pip install ./client`, against the real server
	rm -rf $(CLIENT_VENV)
	$(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install --quiet "./client[test]"
	CLIENT_ONLY_VENV=1 EMBEDDING_SERVER_PYTHON="$(abspath $(PY))" \
	  $(CLIENT_VENV)/bin/python -P -m pytest -q -p no:cacheprovider -c client/pyproject.toml --rootdir client client/tests

# The SDK and what it pins (protobuf < 7) in their own venv; the rest (torch, moto, pytest) is $(VENV)'s.
$(SDK_VENV)-%/.installed: pyproject.toml tests/infra/sagemaker/sagemaker_sdk_venv.py $(VENV)/.installed
	$(PY) tests/infra/sagemaker/sagemaker_sdk_venv.py $(SDK_VENV)-$* sagemaker-sdk-$*

test-sagemaker-sdk: $(SDK_VENV)-v3/.installed $(SDK_VENV)-v2/.installed  ## docs/guides/sagemaker/python-sdk.md's code with SDK v3 and v2 (moto + the real server)
	$(SDK_VENV)-v3/bin/python -m pytest -q -rs -m sagemaker_sdk tests/infra/sagemaker/test_sagemaker_sdk_v3.py
	$(SDK_VENV)-v2/bin/python -m pytest -q -rs -m sagemaker_sdk tests/infra/sagemaker/test_sagemaker_sdk_v2.py

test-browser: $(VENV)/.installed  ## the playground and /docs in headless Chromium (apt-get install chromium chromium-driver)
	$(PY) -m pytest -q -m browser tests/browser

print-python312:
	@echo $(PYTHON312)

test-py312:  ## the HTTP front's tests on Python 3.12, the GPU image's Python (only what the front imports; no torch)
	@test -n "$(PYTHON312)" || { echo "no python3.12 found: set PYTHON312=/path/to/python3.12"; exit 1; }
	test -x $(PY312_VENV)/bin/python || $(PYTHON312) -m venv $(PY312_VENV)
	$(PY312_VENV)/bin/python -m pip install --quiet h11 orjson flask pydantic pydantic-settings pillow numpy urllib3 certifi pytest
	$(PY312_VENV)/bin/python -m pytest -q -p no:cacheprovider --noconftest -o addopts="" \
	  tests/reliability/test_front.py tests/reliability/test_front_hostile.py

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

bench-multivector: $(VENV)/.installed  ## multi-vector docs/s and MaxSim rerank pairs/s: MultiVectorEncoder in-process, this service (bench/multivector.py)
	$(PY) bench/multivector.py $(BENCH_ARGS)

bench-model-set: $(VENV)/.installed  ## one server, embedder + reranker: the reranker's latency idle and with the embedder overloaded (bench/model_set.py)
	$(PY) bench/model_set.py

bench-cpu-backends: $(VENV)/.installed  ## CPU backends in-process: torch fp32, ONNX Runtime fp32 and int8, speed and accuracy (bench/cpu_backends.py)
	$(PY) bench/cpu_backends.py $(BENCH_ARGS)

docs: $(VENV)/.installed  ## the documentation site (MkDocs + Material, mkdocs.yml) into site/; any warning fails it
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

docs-serve: $(VENV)/.installed  ## the documentation site with live reload on http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check inference client tests marketplace infra

clean:
	rm -rf $(VENV) $(CLIENT_VENV) $(SDK_VENV)-v3 $(SDK_VENV)-v2 .pytest_cache

.PHONY: bench-gpu
bench-gpu:  ## on a CUDA machine, offline: GPU tests + GPU bench table in one command (bench/gpu.sh; wheels: bench/gpu-wheels.sh)
	bash bench/gpu.sh $(BENCH_GPU_ARGS)

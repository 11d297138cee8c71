# Two set-up commands on a fresh machine:  `make serve` (local server)  and  `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0

.PHONY: serve test test-container lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

serve: $(VENV)/.installed  ## run the local server on the embedded default model (port 8080)
	$(VENV)/bin/embed-serve

test: $(VENV)/.installed  ## unit, model, parity and integration tests
	$(PY) -m pytest -q

test-container: $(VENV)/.installed  ## build the image and test it (needs Docker; see .ci/run)
	$(PY) -m pytest -q -m container tests/container

bench: $(VENV)/.installed  ## side-by-side benchmark table (sentence-transformers, this service, Infinity)
	TORCH="$(TORCH)" $(PY) bench/run.py $(BENCH_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check inference tests marketplace infra

clean:
	rm -rf $(VENV) .pytest_cache

# gridsim — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test app bench clean lock docs validate

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gridsim needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## run the main job on the embedded defaults (the baseline scenario) and show the KPIs
run: $(STAMP)
	$(BIN)/gridsim run --out out/baseline

## the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -n auto -q

## the Streamlit app
app: $(STAMP)
	$(BIN)/gridsim app

## performance figures (see benchmarks/README.md)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_sweep.py

## regenerate docs/kpis.md and docs/scenario-fields.md from the code (see docs/README.md)
docs: $(STAMP)
	$(BIN)/gridsim docs

## full-size validation against published figures (docs/validation.md)
validate: $(STAMP)
	$(BIN)/python benchmarks/validate.py

## re-pin requirements.lock from pyproject.toml
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra test --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) out build *.egg-info

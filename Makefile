# ccrkit — the README's two commands live here: `make demo` and `make test`.
# Every set-up path installs the pinned torch first: an unpinned torch pulls GBs of CUDA packages.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
TORCH ?= torch==2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint format bench bench-serve install install-dev clean world nrccr-world report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/ccrkit evaluate --example --out runs/demo-metrics

# The synthetic multilingual world (images, videos, six languages, noisy MT, backbone features).
world: install
	$(BIN)/ccrkit world --config world-default --out data/world

test: install-dev lint
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install-dev
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: install-dev
	$(BIN)/python benchmarks/bench_metrics.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_translate.py --sentences 200
	$(BIN)/python benchmarks/bench_world.py

bench-serve: install-dev
	$(BIN)/python benchmarks/bench_serve.py

# NRCCR vs the baseline on the synthetic world (issue 7): worlds at three MT noise levels, three
# seeds, the ablation and the compatibility switches -> results/nrccr-world.{md,json,png}. Runs are
# cached by config hash in runs/report/: a rerun trains only what is missing.
nrccr-world: install
	$(BIN)/ccrkit report --grid nrccr-world

# The comparison report (issue 11): every grid below, then results/README.md gathering all their
# pages (methods x languages x MT noise levels, MRV, ablations, plots, budget). Runs are cached by
# config hash: a rerun trains only what is missing. Add a grid here to add it to the report.
REPORT_GRIDS ?= nrccr-world multilingual-world
report: install
	$(BIN)/ccrkit report $(foreach grid,$(REPORT_GRIDS),--grid $(grid))

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache

# ccrkit — the README's two commands live here: `make demo` and `make test`.
# Every set-up path installs the pinned torch first: an unpinned torch pulls GBs of CUDA packages.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
TORCH ?= torch==2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo demo-video serve test lint format bench bench-serve bench-soak bench-index install install-dev clean world nrccr-world report rehearsal

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

# The main job on the embedded default: the synthetic world (generated once, then cached), the
# translate-train baseline on English + German MT, evaluation with human German queries (native
# and NRCCR-fused), and a search index ready to serve.
WORLD ?= data/world

demo: install
	$(BIN)/ccrkit world --config world-default --out $(WORLD)
	$(BIN)/ccrkit train --config demo-world data.root=$(WORLD) --out runs/demo --force
	$(BIN)/ccrkit index build --checkpoint runs/demo --data world-image --root $(WORLD) \
		--split test --out runs/demo-index --force
	@echo "Search the demo model in a browser:  make serve   (or: $(BIN)/ccrkit serve --index runs/demo-index)"

demo-video: install
	$(BIN)/ccrkit world --config world-default --out $(WORLD)
	$(BIN)/ccrkit train --config baseline-world-video data.root=$(WORLD) --out runs/demo-video --force
	$(BIN)/ccrkit index build --checkpoint runs/demo-video --data world-video --root $(WORLD) \
		--split test --out runs/demo-video-index --force
	@echo "Search the video model in a browser:  $(BIN)/ccrkit serve --index runs/demo-video-index"

serve: install
	$(BIN)/ccrkit serve --index runs/demo-index

# The synthetic multilingual world (images, videos, six languages, noisy MT, backbone features).
world: install
	$(BIN)/ccrkit world --config world-default --out data/world

# lint-imports: the import table of docs/architecture.md (.importlinter) and no import cycle.
test: install-dev lint
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The real Multi30K pipeline (issue 20): real task 1 text from ../shared/data/multi30k, random
# stand-in image features, every stage from data check to serve; under 2 minutes on 2 cores.
rehearsal: install-dev
	$(BIN)/python tests/rehearsal/rehearse.py --work runs/rehearsal

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

# Issue 23's soak: 10 minutes of mixed valid and hostile traffic at 200 q/s over 100k items.
bench-soak: install-dev
	$(BIN)/python benchmarks/bench_serve.py --soak 10

# Indexes at scale (docs/scale.md): BENCH_ITEMS=10000000 BENCH_DATA=structured for 10M.
BENCH_ITEMS ?= 1000000
BENCH_DATA ?= both
bench-index: install-dev
	$(BIN)/python benchmarks/bench_index.py --items $(BENCH_ITEMS) --data $(BENCH_DATA)

# The papers' claims on the synthetic world (issues 7, 10, 19): NRCCR, NRF and CL2CM against their
# matched translate-train baselines at three MT noise levels, to early stopping, 3-5 seeds, Welch
# tests -> results/nrccr-world.{md,json,png}. Runs are cached by config hash in runs/report/: a
# rerun trains only what is missing. Both report targets print what they will train and how long
# it should take before they start (`ccrkit report ... --dry-run` prints only that).
nrccr-world: install
	$(BIN)/ccrkit report --grid nrccr-world

# The comparison report (issue 11): every grid below, then results/README.md gathering all their
# pages (methods x languages x MT noise levels, MRV, ablations, plots, budget). Runs are cached by
# config hash: a rerun trains only what is missing. Add a grid here to add it to the report.
REPORT_GRIDS ?= nrccr-core nrccr-converged nrf-cl2cm-core nrccr-world multilingual-world world-power
report: install
	$(BIN)/ccrkit report $(foreach grid,$(REPORT_GRIDS),--grid $(grid))

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache

# diffsep: two commands on a fresh machine.
#   make run    set up, then run the default Snakemake pipeline (report: results/report/index.html)
#   make test   set up, then run the test suite
# Set-up installs into $(VENV). On a CPU-only machine it installs the CPU build of torch named by
# TORCH_SPEC first; a GPU user installs their own torch into the venv beforehand (or sets
# TORCH_SPEC, e.g. TORCH_SPEC=torch), and set-up keeps whatever torch is already importable.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
CORES ?= 2
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=

.PHONY: setup run test test-fast lint dry-run report clean-results bench-env

setup: $(VENV)/.diffsep-installed

$(VENV)/.diffsep-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete
	@echo "report: results/report/index.html"

dry-run: setup
	$(BIN)/snakemake -n --cores $(CORES) --configfile $(CONFIG)

lint: setup
	$(BIN)/snakemake --lint --configfile $(CONFIG)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -m "not slow and not slurm and not browser and not faults" $(PYTEST_ARGS)

clean-results:
	rm -rf results/data results/models results/measure results/classifier results/guidance results/dae results/tables results/report results/logs logs .snakemake/incomplete

# benchmark-mi (the "Beyond Normal" MI benchmark) pins NumPy < 2 and JAX: its own environment, used
# only by benchmarks/bmi_export.py (see README "Benchmarks")
bench-env: .venv-bmi/.installed

.venv-bmi/.installed: benchmarks/requirements-bmi.txt
	test -x .venv-bmi/bin/python || $(PYTHON) -m venv .venv-bmi
	.venv-bmi/bin/pip install --quiet -r benchmarks/requirements-bmi.txt
	touch $@

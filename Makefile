# diffsep: two commands on a fresh machine.
#   make run    set up, then run the default Snakemake pipeline (prints where its report is)
#   make test   set up, then run the test suite
# Others: make data (optional real datasets), make report (the HTML report and snakemake --report's
# zip), make lint, make dry-run, make constraints (record the tested package set), make clean-results.
# Set-up installs into $(VENV). On a CPU-only machine it installs the CPU build of torch named by
# TORCH_SPEC first; a GPU user installs their own torch into the venv beforehand (or sets
# TORCH_SPEC, e.g. TORCH_SPEC=torch), and set-up keeps whatever torch is already importable. Every
# other package is installed at the exact version of constraints.txt (the set the tests passed with).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
CORES ?= 2
CONFIG ?= config/config.yaml
PYTEST_ARGS ?=
# extra snakemake arguments, e.g. SMK_ARGS="--directory DIR"
SMK_ARGS ?=

.PHONY: setup run test test-fast lint dry-run report data constraints clean-results bench-env

setup: $(VENV)/.diffsep-installed

$(VENV)/.diffsep-installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

run: setup
	$(BIN)/snakemake $(SMK_ARGS) --cores $(CORES) --rerun-incomplete --configfile $(CONFIG)
	@echo "report: $$($(BIN)/diffsep paths $(CONFIG) --only report)"

# the HTML report (one self-contained file) and Snakemake's own report (a zip with every figure)
report: setup
	$(BIN)/snakemake $(SMK_ARGS) --cores $(CORES) --rerun-incomplete render_report --configfile $(CONFIG)
	$(BIN)/snakemake $(SMK_ARGS) --cores 1 --report "$$($(BIN)/diffsep paths $(CONFIG) --only results)/report.zip" --configfile $(CONFIG)
	@echo "report: $$($(BIN)/diffsep paths $(CONFIG) --only report)"
	@echo "snakemake report: $$($(BIN)/diffsep paths $(CONFIG) --only results)/report.zip"

# optional real datasets (Debian packages): installed as root with apt, else the command is printed
data: setup
	$(BIN)/diffsep install-data $(CONFIG)

dry-run: setup
	$(BIN)/snakemake -n --cores $(CORES) --configfile $(CONFIG)

lint: setup
	$(BIN)/python scripts/check_lint.py --configfile $(CONFIG)

# record the installed set as the tested one (after `make test` passed with it)
constraints: setup
	{ sed -n '/^#/p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^torch=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/pytest -m "not slow and not slurm and not browser and not faults" $(PYTEST_ARGS)

clean-results:
	rm -rf results/data results/models results/measure results/classifier results/guidance results/dae results/tables results/report results/report.zip results/logs logs .snakemake/incomplete

# benchmark-mi (the "Beyond Normal" MI benchmark) pins NumPy < 2 and JAX: its own environment, used
# only by benchmarks/bmi_export.py (see README "Benchmarks")
bench-env: .venv-bmi/.installed

.venv-bmi/.installed: benchmarks/requirements-bmi.txt
	test -x .venv-bmi/bin/python || $(PYTHON) -m venv .venv-bmi
	.venv-bmi/bin/pip install --quiet -r benchmarks/requirements-bmi.txt
	touch $@

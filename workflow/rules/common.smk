# Shared helpers: config validation (before any job), wildcard constraints, path builders.
import hashlib
import json
import re
import sys
from pathlib import Path

from diffsep import config as dsconfig

try:
    for _configfile in workflow.configfiles:  # Snakemake's parser keeps the last of duplicate keys
        dsconfig.check_file(_configfile)
    PLAN = dsconfig.load(config)  # validated against the package's config schema (diffsep/schemas/)
except dsconfig.ConfigError as exc:
    sys.stderr.write(f"diffsep config error: {exc}\n")
    sys.exit(1)

# scripts see the normalised config (defaults filled in) through snakemake.config
config.clear()
config.update(PLAN.config)

R = PLAN.config["results"]
CONFIG_HASH = hashlib.sha256(json.dumps(PLAN.config, sort_keys=True).encode()).hexdigest()[:12]
for _name, _why in PLAN.skipped.items():
    sys.stderr.write(f"diffsep: skipping dataset {_name!r}: {_why}\n")

MEASURE_TABLES = ["information", "rates", "per_class", "cutoffs"]
# Extension points: each stage's .smk registers its collected tables (name -> function listing the
# per-job Parquet files) and its final outputs; `all`, `collect_table` and the report use them.
TABLE_PARTS = {}
OUTPUT_FUNCS = []


def _alternatives(names):
    names = sorted(set(names))
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


wildcard_constraints:
    dataset=_alternatives(PLAN.datasets),
    resolution=r"\d+",
    model=_alternatives(list(PLAN.config["models"]) + ["exact"]),
    trained_model=_alternatives(PLAN.config["models"]),
    seed=r"\d+",
    table=r"[a-z_]+",


def dataset_spec(name):
    return PLAN.datasets[name]


def model_cfg(name):
    return PLAN.config["models"][name]


def process_cfg():
    return dict(PLAN.config["process"])


def output_path(pattern, **wildcards):
    """One file of another rule's output: ``pattern`` is ``rules.<rule>.output.<name>`` (the one home
    of that path), ``wildcards`` its wildcard values (a missing one raises WildcardError)."""
    [path] = expand(pattern, **wildcards)
    return path


def measure_parts(name):
    return [
        output_path(getattr(rules.measure.output, name), dataset=j.dataset, resolution=j.resolution,
                    model=j.model, seed=j.seed)
        for j in PLAN.information
    ]


def table_parts(wildcards):
    return TABLE_PARTS[wildcards.table]()


def tables():
    """Collected tables of this run, in registration order."""
    return list(TABLE_PARTS)


def model_paths():
    return [
        output_path(rules.train.output.model, dataset=j.dataset, resolution=j.resolution,
                    trained_model=j.model, seed=j.seed)
        for j in PLAN.trained
    ]


def all_outputs():
    """Everything the run produces. Per-job files are listed too, so that deleting one of them
    re-runs that job and what depends on it (Snakemake ignores missing intermediate files)."""
    out = []
    for fn in OUTPUT_FUNCS:
        out += fn()
    for name, parts in TABLE_PARTS.items():
        out += parts()
    out += [output_path(rules.collect_table.output.table, table=t) for t in tables()]
    out.append(rules.render_report.output.html)
    return out

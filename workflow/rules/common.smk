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


# Scheduling. Snakemake starts ready jobs by priority; without one it may leave the longest training
# job for last and finish on one busy core (the default run's texture U-Net started 16 minutes in and
# ran alone for its last 3). Data first (cheap, and every job waits on it), then training jobs longest
# first by a rough count of their optimiser work, then the rest.
PREPARE_PRIORITY = 1000


def work_priority(steps, batch_size, pixels=1, width=1.0, networks=1):
    """Priority of a training job: 1 + its work in millions of (example x pixel x width^2) steps."""
    return 1 + int(int(steps) * int(batch_size) * pixels * width**2 * networks / 1e6)


def train_priority(wc):
    m = model_cfg(wc.trained_model)  # normalised: train.steps, batch_size and networks are filled in
    unet = m["net"] == "unet"
    return work_priority(m["train"]["steps"], m["train"]["batch_size"],
                         pixels=int(wc.resolution) ** 2 if unet else 1,
                         width=m["net_params"].get("base", 16) / 16 if unet else 1.0, networks=m["networks"])


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
    out += [output_path(rules.collect_table.output.csv, table=t) for t in tables()]
    out.append(rules.render_report.output.html)
    return out


# Short job reasons. Snakemake lists every updated input in a job's reason: for `all` (and any
# other collecting job) that is one line of thousands of characters, printed last in the run. We
# keep the first few names and count the rest; the full reason stays in `--verbose` runs' debug
# output and in `--summary`. (A filter on Snakemake's logger; if its records change, it does nothing.)
def _short_reason(reason, limit=300):
    out = []
    for part in str(reason).split("; "):
        head, sep, files = part.partition(": ")
        names = files.split(", ")
        if sep and len(part) > limit and len(names) > 3:
            part = f"{head}: {', '.join(names[:3])}, ... (+{len(names) - 3} more)"
        elif len(part) > limit:
            part = part[: limit - 3] + "..."
        out.append(part)
    return "; ".join(out)


def _install_short_reasons():
    import logging as _logging

    try:
        from snakemake.logging import logger as _smk_logger
    except ImportError:
        return

    class _ShortReasons(_logging.Filter):
        def filter(self, record):
            if isinstance(getattr(record, "reason", None), str) and len(record.reason) > 300:
                record.reason = _short_reason(record.reason)
            return True

    if not any(type(f).__name__ == "_ShortReasons" for f in _smk_logger.filters):
        _smk_logger.addFilter(_ShortReasons())


_install_short_reasons()


# Where to look when the run ends (the Snakefile's onsuccess / onerror handlers).
import time as _time

RUN_STARTED = _time.time()
LOGS = f"{R}/logs"


def failed_logs():
    """Job logs written during this run whose last line is diffsep's one-line failure message
    (``diffsep <stage> failed (...)``), oldest first; else the job logs written last."""
    recent = [p for p in Path(LOGS).rglob("*.log") if p.is_file() and p.stat().st_mtime >= RUN_STARTED - 1]
    recent.sort(key=lambda p: p.stat().st_mtime)
    failed = []
    for p in recent:
        lines = [ln for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
        if lines and lines[-1].startswith("diffsep ") and " failed (" in lines[-1]:
            failed.append((p, lines[-1]))
    return failed or [(p, None) for p in recent[-3:]]


def print_success():
    print(f"diffsep: done. Report: {R}/report/index.html (one self-contained file); tables: {R}/tables/; "
          f"logs: {LOGS}/", file=sys.stderr)


def print_failure(snakemake_log):
    print("diffsep: the run stopped.", file=sys.stderr)
    for path, line in failed_logs():
        print(f"  failing job log: {path}" + (f"\n    {line}" if line else " (written last)"), file=sys.stderr)
    print(f"  Snakemake's log: {snakemake_log}", file=sys.stderr)

"""Test helpers shared across test directories (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "tests" / "configs"


def run_config(tmp_path_factory, config: Path, name: str) -> Path:
    """The whole DAG on ``config`` in a fresh work directory ``name``; returns the work dir."""
    import shutil

    wd = tmp_path_factory.mktemp(name)
    shutil.copy(config, wd / config.name)
    proc = snakemake(wd, configfile=wd / config.name)
    (wd / "snakemake-output.txt").write_text(proc.stdout + proc.stderr)  # what the user saw
    return wd


def snakemake(workdir: Path, *args, configfile: Path | str | None = None, check: bool = True,
              timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with ``workdir`` as working directory."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2"]
    cmd += list(args)
    if configfile:  # last: --configfile takes several values and would swallow targets
        cmd += ["--configfile", str(configfile)]
    # umask 022 as on a typical shared machine: outputs must come out 0644 (group- and world-readable)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir, umask=0o022)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


DELETE = object()  # with_key(..., DELETE) removes the key


def with_key(base: dict, path: str, value) -> dict:
    """A deep copy of config ``base`` with the dotted key ``path`` set to ``value`` (``DELETE``
    removes it); missing parents are created."""
    import copy

    cfg = copy.deepcopy(base)
    node = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return cfg

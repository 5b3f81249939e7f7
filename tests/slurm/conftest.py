"""Fixtures of the SLURM tests: skip (with the reason) unless a cluster with accounting answers.

Start one with `sudo scripts/slurm-cluster.sh start` (CI does it in .ci/run). Run the set with
`.venv/bin/python -m pytest -m slurm tests/slurm` (add `and not slow` to leave out the time limit).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from helpers import CONFIGS

PARTITION = "debug"
# the launcher block every test starts from: fast polling, small jobs on the local partition
LAUNCHER = {"kind": "slurm", "partition": PARTITION, "mem_gb": 2, "timeout_min": 10, "poll_seconds": 0.5}


def _run(*cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def cluster_problem() -> str | None:
    """Why no SLURM cluster can be used here, or None."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM client (sinfo/sbatch) not installed"
    try:
        out = _run("sinfo", "-h", "-p", PARTITION, "-o", "%t")
        if out.returncode != 0:
            return f"SLURM controller not reachable ({(out.stderr or out.stdout).strip()})"
        states = out.stdout.split()
        if not any(s.rstrip("*~#!%$@^-") in {"idle", "mix", "alloc", "comp"} for s in states):
            return f"no usable node in partition {PARTITION!r} (states: {states})"
        acct = _run("sacct", "-n", "-X", "-S", "now-1minutes", "-o", "JobID")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"SLURM commands failed ({exc})"
    if acct.returncode != 0:
        return f"SLURM accounting (sacct) not working ({acct.stderr.strip()}); submitit needs it to see killed jobs"
    return None


@pytest.fixture(scope="session", autouse=True)
def _slurm_cluster():
    problem = cluster_problem()
    if problem:
        pytest.skip(f"no SLURM cluster: {problem}; start one with `sudo scripts/slurm-cluster.sh start`")


def sacct_state(job_id: str) -> str:
    rows = [r for r in _run("sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State").stdout.split() if r]
    return rows[-1] if rows else ""


def wait_until(pred, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def job_ids(folder: Path) -> dict[str, list[str]]:
    """stage -> SLURM job ids found in the submitit folder (from the ``<id>_0_log.err`` names)."""
    out = {}
    for d in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        out[d.name] = sorted({p.name.split("_0_log")[0] for p in d.glob("*_0_log.err")})
    return out


def squeue_ids(name: str) -> list[str]:
    return _run("squeue", "-h", "-n", name, "-o", "%i").stdout.split()


def tiny_config(workdir: Path, launcher: dict | None = None, **model_train) -> Path:
    """tests/configs/tiny.yaml with ``launcher`` merged over :data:`LAUNCHER` and train overrides."""
    cfg = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())
    cfg["launcher"] = {**LAUNCHER, **(launcher or {})}
    cfg["models"]["mlp_tiny"]["train"].update(model_train)
    path = Path(workdir) / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="session")
def make_config():
    """:func:`tiny_config` for fixtures wider than one test."""
    return tiny_config


@pytest.fixture
def sl():
    """Helpers of the SLURM tests; jobs registered in ``sl.jobs`` are cancelled at the end."""
    ns = SimpleNamespace(sacct_state=sacct_state, wait_until=wait_until, job_ids=job_ids, squeue_ids=squeue_ids,
                         tiny_config=tiny_config, launcher=dict(LAUNCHER), run=_run, jobs=[])
    yield ns
    for jid in ns.jobs:
        subprocess.run(["scancel", str(jid)], capture_output=True)

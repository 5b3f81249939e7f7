"""A normal (non-editable) install works away from the source tree.

A wheel is built from a copy of the repository and installed into a fresh virtual environment that
does not have the repository on its path; the dependencies come from the test environment's
site-packages, listed in a ``.pth`` file (a directory added this way does not run the ``.pth``
hooks inside it, so the test environment's editable ``diffsep`` stays invisible: checked below).
Then the workflow files alone (Snakefile, workflow/, config/; no ``diffsep/``) run the tiny config
with that environment's Python, and the installed ``diffsep`` command works.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from helpers import CONFIGS, REPO

pytestmark = pytest.mark.slow

# what never goes into a wheel build: environments, VCS data, build and run outputs
_NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "results", "logs", ".snakemake",
                                     "__pycache__", ".pytest_cache", ".gl")


def _env(fresh: Path | None = None) -> dict:
    """The environment of the subprocesses: nothing that would put the source tree on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_RETRIES="1",
               PIP_TIMEOUT="20")
    if fresh is not None:
        env["PATH"] = f"{fresh / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(fresh)
    return env


def _run(cmd, cwd: Path, env: dict, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def _check_build_backend() -> None:
    """Without build isolation the test environment's setuptools builds: it must meet pyproject's requirement."""
    from packaging.requirements import Requirement

    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    for req in map(Requirement, requires):
        try:
            have = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"build requirement {req} is not installed and the isolated build failed")
        assert req.specifier.contains(have, prereleases=True), f"build requirement {req}: installed {have}"


def _build_wheel(tmp: Path) -> Path:
    src, out = tmp / "src", tmp / "wheels"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCE)  # build from a clean copy: no stale build/ in the repo
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src]
    proc = _run(cmd, tmp, _env(), timeout=180, check=False)  # isolated: fetches setuptools from the index
    if proc.returncode != 0:
        _check_build_backend()
        _run(cmd[:4] + ["--no-build-isolation"] + cmd[4:], tmp, _env(), timeout=180)
    wheels = sorted(out.glob("diffsep-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _fresh_venv(tmp: Path) -> tuple[Path, Path]:
    """A venv without pip and without the repository; the test environment's packages through a .pth."""
    fresh = tmp / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", fresh], tmp, _env(), timeout=120)
    py = fresh / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp,
                     _env(fresh)).stdout.strip())
    assert site.is_relative_to(fresh), site
    (site / "_diffsep_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return fresh, site


def test_wheel_installs_and_runs_the_workflow_away_from_the_source_tree(tmp_path):
    wheel = _build_wheel(tmp_path)
    fresh, site = _fresh_venv(tmp_path)
    py, env = fresh / "bin" / "python", _env(fresh)

    # before the install, the test environment's editable diffsep must not leak in through the .pth
    proc = _run([py, "-c", "import diffsep"], tmp_path, env, check=False)
    assert proc.returncode != 0 and "No module named 'diffsep'" in proc.stderr, proc.stderr
    # --ignore-installed: pip would take the test environment's diffsep metadata for an installed copy
    _run([py, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel], tmp_path, env)
    probe = ("import diffsep, diffsep.config as c, diffsep.tables as t; "
             "print(diffsep.__file__); print(c.SCHEMA_PATH); print(t.SCHEMA_DIR)")
    lines = _run([py, "-c", probe], tmp_path, env).stdout.split()
    for path in map(Path, lines):
        assert path.is_relative_to(site) and not path.is_relative_to(REPO), (path, site)
        assert path.exists(), path
    assert (fresh / "bin" / "diffsep").exists()

    # the workflow files only: jobs import the installed diffsep
    wf = tmp_path / "wf"
    wf.mkdir()
    shutil.copy(REPO / "Snakefile", wf / "Snakefile")
    for d in ("workflow", "config"):
        shutil.copytree(REPO / d, wf / d, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIGS / "tiny.yaml", wf / "tiny.yaml")
    assert not (wf / "diffsep").exists()
    _run([py, "-m", "snakemake", "--snakefile", wf / "Snakefile", "--directory", wf, "--cores", "2",
          "--configfile", wf / "tiny.yaml"], wf, env, timeout=600)
    info = wf / "results" / "tables" / "information.parquet"
    assert info.exists()
    df = pd.read_parquet(info)
    exact = df[df.model == "exact"]
    assert set(exact.dataset) == {"gauss_small", "mix_small"}, df[["dataset", "model"]]
    assert (wf / "results" / "report" / "index.html").exists()

    out = _run([fresh / "bin" / "diffsep", "tables"], wf, env, timeout=120).stdout
    assert "information" in out and "dataset" in out
    out = _run([fresh / "bin" / "diffsep", "validate", wf / "config" / "config.yaml"], wf, env, timeout=120).stdout
    assert "valid" in out

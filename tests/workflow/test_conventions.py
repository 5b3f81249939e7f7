"""Snakemake conventions and pinned versions: min_version, lint, conda env, constraints, licence."""

import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
import yaml

from helpers import CONFIGS, REPO, snakemake

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _constraints():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _requirements():
    reqs = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    return {re.sub(r"[-_.]+", "-", re.split(r"[<>=\[]", r)[0]).lower(): r for r in reqs}


def test_numpy_lower_bound_is_2_and_every_dependency_is_pinned_in_constraints():
    reqs = _requirements()
    assert reqs["numpy"] == "numpy>=2.0"  # np.trapezoid
    pins = _constraints()
    assert "torch" not in pins  # chosen by TORCH_SPEC or a GPU user's build
    missing = [n for n in reqs if n != "torch" and n not in pins]
    assert missing == []
    assert "-c constraints.txt" in (REPO / "Makefile").read_text()


def test_installed_versions_are_the_tested_set():
    pins = _constraints()
    wrong = {n: (metadata.version(n), pins[n]) for n in _requirements() if n in pins
             and metadata.version(n) != pins[n]}
    assert wrong == {}, "installed != constraints.txt (make setup installs with -c constraints.txt; " \
                        "after an upgrade that passes the tests, run make constraints)"


def test_min_version_is_the_tested_snakemake():
    m = re.search(r'min_version\("([\d.]+)"\)', (REPO / "Snakefile").read_text())
    assert m and m.group(1) == _constraints()["snakemake"]
    assert _requirements()["snakemake"] == f"snakemake>={m.group(1)}"


def test_license_file_matches_pyproject():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_conda_env_has_every_dependency_at_the_tested_version():
    env = yaml.safe_load((REPO / "workflow/envs/diffsep.yaml").read_text())
    deps = {d.split("=")[0].strip(): d.split("=", 1)[1].strip().lstrip("=") for d in env["dependencies"]}
    conda_name = {"torch": "pytorch-cpu", "matplotlib": "matplotlib-base"}
    pins = _constraints()
    for name in _requirements():
        if name in ("snakemake", "pytest", "pytest-timeout"):
            continue  # the driver and the tests are not job dependencies
        cname = conda_name.get(name, name)
        assert cname in deps, name
        assert deps[cname] == ("2.13.0" if name == "torch" else pins[name]), name
    rules = "".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    assert rules.count('"../envs/diffsep.yaml"') == rules.count("run_stage.py") > 0


@pytest.mark.slow  # about 30 s; CI also runs `make lint`
def test_lint_is_clean_but_for_the_justified_warnings(tmp_path):
    shutil.copy(CONFIGS / "tiny.yaml", tmp_path)
    proc = subprocess.run([sys.executable, str(REPO / "scripts/check_lint.py"), "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "--configfile", str(tmp_path / "tiny.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    import runpy

    ALLOWED = runpy.run_path(str(REPO / "scripts/check_lint.py"))["ALLOWED"]
    readme = (REPO / "README.md").read_text()
    for title in ALLOWED:
        assert title in readme, title


def test_compute_rules_have_benchmarks_and_dry_run_with_conda(tmp_path):
    shutil.copy(CONFIGS / "tiny.yaml", tmp_path)
    proc = snakemake(tmp_path, "-n", configfile=tmp_path / "tiny.yaml")
    jobs = proc.stdout.split("\n\n")
    train = [j for j in jobs if "rule train:" in j]
    assert train and all("benchmark: results/benchmarks/train/" in j for j in train)
    if shutil.which("conda") or shutil.which("mamba"):
        snakemake(tmp_path, "-n", "--sdm", "conda", configfile=tmp_path / "tiny.yaml")
    else:
        pytest.skip("no conda here: the environment file is checked above, its dry run needs conda")


def test_readme_covers_report_reruns_progress_and_where_prepare_runs():
    readme = (REPO / "README.md").read_text()
    for needle in ("snakemake --report", "--forcerun", "## Watching a long run", "make data", "make report",
                   "## The report", "CSV"):
        assert needle in readme, needle
    from diffsep.launch import LOCAL_STAGES

    assert "prepare" not in LOCAL_STAGES  # data preparation goes to SLURM, as the README says
    assert "compute job (data preparation, training" in readme.replace("\n", " ")


def _bin(tmp_path):
    """A bin folder whose python, snakemake and diffsep are this interpreter's (the checkout under test)."""
    import os

    b = tmp_path / "bin"
    b.mkdir()
    for name, cmd in (("python", f'exec "{sys.executable}" "$@"'),
                      ("snakemake", f'exec "{sys.executable}" -m snakemake "$@"'),
                      ("diffsep", f'exec "{sys.executable}" -m diffsep.cli "$@"')):
        (b / name).write_text(f"#!/bin/sh\n{cmd}\n")
        os.chmod(b / name, 0o755)
    return b


@pytest.mark.slow
def test_make_report_builds_the_page_and_snakemakes_zip_and_prints_their_paths(tiny_run, tmp_path):
    import os

    b = _bin(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(["make", "-C", str(REPO), "-o", f"{tmp_path}/.diffsep-installed", "report",
                           f"VENV={tmp_path}", f"BIN={b}", f"CONFIG={tiny_run / 'tiny.yaml'}",
                           f"SMK_ARGS=--snakefile {REPO / 'Snakefile'} --directory {tiny_run}"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "report: results/report/index.html" in lines and "snakemake report: results/report.zip" in lines
    assert (tiny_run / "results/report.zip").stat().st_size > 10_000

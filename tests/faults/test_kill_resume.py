"""Kill -9 mid-job, re-run the same command: bit-identical checkpoints and rows, nothing truncated."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from diffsep.io import load_torch

from helpers import CONFIGS, REPO

pytestmark = pytest.mark.faults

MODEL = "results/models/gauss_kill/4/mlp_kill/seed0"
MEASURE = "results/measure/gauss_kill/4/mlp_kill/seed0/information.parquet"
VALUE_COLS = ["S_marg", "S_marg_se", "S_cond", "mi_minde", "mi_minde_se", "mi_diff", "mi_mmse", "train_steps"]


def _cmd(wd, *targets):
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
            "--cores", "1", "--rerun-incomplete", *targets, "--configfile", str(wd / "faults.yaml")]


def _run(wd, *targets):
    p = subprocess.run(_cmd(wd, *targets), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def _workdir(tmp_path, name):
    wd = tmp_path / name
    wd.mkdir()
    shutil.copy(CONFIGS / "faults.yaml", wd / "faults.yaml")
    return wd


def _kill_when(wd, ready, *targets, timeout=300):
    """Start the DAG, SIGKILL its whole process group once ``ready()`` is true."""
    env = {**os.environ, "DIFFSEP_PROGRESS_EVERY": "0.2"}  # progress lines in the log often enough to see
    proc = subprocess.Popen(_cmd(wd, *targets), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    t0 = time.time()
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail("the job finished before the kill point was reached")
            if time.time() - t0 > timeout:
                pytest.fail("kill point not reached in time")
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _ckpt_step(path):
    try:
        return int(load_torch(path)["step"])
    except (FileNotFoundError, ValueError):
        return -1


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    wd = _workdir(tmp_path_factory.mktemp("ref"), "ref")
    _run(wd, MEASURE)
    return wd


def _same_model(a, b):
    sa, sb = load_torch(a)["state"], load_torch(b)["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _no_partial_files(wd):
    leftovers = [p for p in (wd / "results").rglob("*") if p.name.startswith(".") and p.suffix in (".tmp", ".parquet")]
    assert not leftovers, leftovers


@pytest.mark.parametrize("kill_seed", [0, 1, 2])
def test_training_killed_at_random_step_resumes_bit_identical(reference, tmp_path, kill_seed):
    kill_step = int(np.random.default_rng(kill_seed).integers(60, 700))
    wd = _workdir(tmp_path, f"kill{kill_seed}")
    ckpt = wd / f"{MODEL}.ckpt"
    _kill_when(wd, lambda: _ckpt_step(ckpt) >= kill_step, MEASURE)
    assert not (wd / f"{MODEL}.pt").exists()  # killed before the model was written
    resumed_from = _ckpt_step(ckpt)
    assert 0 < resumed_from < 800
    subprocess.run(_cmd(wd, "--unlock"), capture_output=True, timeout=120)  # stale lock of the killed run
    _run(wd, MEASURE)
    _same_model(reference / f"{MODEL}.pt", wd / f"{MODEL}.pt")
    a, b = pd.read_parquet(reference / MEASURE), pd.read_parquet(wd / MEASURE)
    pd.testing.assert_frame_equal(a[VALUE_COLS], b[VALUE_COLS])
    log = (wd / "results/logs/train/gauss_kill/4/mlp_kill/seed0.log").read_text()
    assert f"from step {resumed_from}" in log, log[-2000:]
    _no_partial_files(wd)


def test_measurement_killed_midway_reruns_identical(reference, tmp_path):
    wd = _workdir(tmp_path, "killm")
    shutil.copytree(reference / "results/data", wd / "results/data")
    (wd / MODEL).parent.mkdir(parents=True)
    for suffix in (".pt", ".history.parquet", ".ckpt"):
        shutil.copy(reference / f"{MODEL}{suffix}", wd / f"{MODEL}{suffix}")
    log = wd / "results/logs/measure/gauss_kill/4/mlp_kill/seed0.log"

    def measuring():  # the measure job has started and is mid-way through its time grid
        return log.exists() and "measure gauss_kill/4" in log.read_text(errors="replace")

    _kill_when(wd, measuring, MEASURE)
    assert not (wd / MEASURE).exists()
    subprocess.run(_cmd(wd, "--unlock"), capture_output=True, timeout=120)
    _run(wd, MEASURE)
    a, b = pd.read_parquet(reference / MEASURE), pd.read_parquet(wd / MEASURE)
    pd.testing.assert_frame_equal(a[VALUE_COLS], b[VALUE_COLS])
    _no_partial_files(wd)

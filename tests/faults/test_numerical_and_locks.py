"""Numerical faults stop cleanly; concurrent runs are refused by Snakemake's lock."""

import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from diffsep.io import load_torch
from diffsep.measure import measure_information
from diffsep.gaussian import JointGaussian
from diffsep.process import VPProcess

from helpers import CONFIGS, REPO, snakemake

pytestmark = pytest.mark.faults
CKPT = "results/models/gauss_kill/4/mlp_kill/seed0.ckpt"
MODEL = "results/models/gauss_kill/4/mlp_kill/seed0.pt"


def _cfg(tmp_path, **train):
    cfg = yaml.safe_load((CONFIGS / "faults.yaml").read_text())
    cfg["models"]["mlp_kill"]["train"].update(train)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "cfg.yaml"


def test_nan_loss_stops_training_naming_step_and_last_good_checkpoint(tmp_path):
    cfg = _cfg(tmp_path, fault_nan_step=130, checkpoint_every=50)
    proc = snakemake(tmp_path, MODEL, configfile=cfg, check=False)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("diffsep train failed")]
    assert len(lines) == 1, proc.stderr[-3000:]
    msg = lines[0]
    assert "non-finite training loss" in msg and "at step 130" in msg and "(step 100)" in msg, msg
    # the workflow's onerror handler names the failing job's log and repeats its one-line message
    tail = proc.stderr[proc.stderr.index("diffsep: the run stopped."):]
    assert "failing job log: results/logs/train/gauss_kill/4/mlp_kill/seed0.log" in tail, tail
    assert "    diffsep train failed" in tail and "Snakemake's log: " in tail, tail
    assert int(load_torch(tmp_path / CKPT)["step"]) == 100  # last good checkpoint kept, not overwritten
    assert not (tmp_path / MODEL).exists()
    # the fault hook is not part of the run's identity: without it the same run resumes at step 100
    cfg = _cfg(tmp_path, checkpoint_every=50)
    snakemake(tmp_path, MODEL, configfile=cfg)
    log = (tmp_path / "results/logs/train/gauss_kill/4/mlp_kill/seed0.log").read_text()
    assert "from step 100" in log


def test_measurement_refuses_nan_inputs():
    p = VPProcess()
    jg = JointGaussian(3, 2, 0.5)
    x, y = jg.sample(200)
    x[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        measure_information(jg.score_model(p), torch.tensor(x), torch.tensor(y))
    x[5, 1] = 0.0
    y[3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        measure_information(jg.score_model(p), torch.tensor(x), torch.tensor(y))


def test_second_concurrent_invocation_is_refused_by_the_lock(tmp_path):
    # The second run starts once the first is training (its resume checkpoint exists). Earlier, in
    # the moment between the data file's rename and Snakemake's bookkeeping, Snakemake would refuse
    # the second run for the first one's incomplete output instead (it checks those before the lock).
    cfg = _cfg(tmp_path, steps=3000)
    base = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
            "--cores", "1", MODEL, "--configfile", str(cfg)]
    first = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        while not (tmp_path / CKPT).exists():
            assert time.time() < deadline and first.poll() is None, "the first run did not start training"
            time.sleep(0.2)
        second = subprocess.run(base, capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run ended before the second one was refused"
        assert second.returncode != 0
        assert "cannot be locked" in second.stderr or "LockException" in second.stderr, second.stderr[-2000:]
    finally:
        first.kill()
        first.wait()

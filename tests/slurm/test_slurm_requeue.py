"""A training job requeued mid-way (`scontrol requeue`) resumes from its checkpoint file and ends
with the same weights and history as an uninterrupted run (bit-identical on CPU)."""

import subprocess

import pandas as pd
import pytest
import torch
import yaml

from diffsep import config, launch
from diffsep.stages import prepare, train
from diffsep.io import load_torch

from helpers import CONFIGS

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(240)]
MODEL = {"net": "mlp", "net_params": {"width": 32, "depth": 2, "emb_dim": 16}, "holdout_fraction": 0.1,
         "train": {"steps": 3000, "batch_size": 64, "eval_every": 100, "checkpoint_every": 100,
                   "select": "best_holdout"}}


def _step(ckpt):
    try:
        return int(load_torch(ckpt)["step"])
    except Exception:  # not written yet (or being replaced)
        return 0


def test_requeued_training_resumes_and_matches_uninterrupted(tmp_path, sl):
    plan = config.load(yaml.safe_load((CONFIGS / "tiny.yaml").read_text()))
    spec = plan.datasets["gauss_small"]
    data = str(tmp_path / "data.npz")
    prepare.run({}, {"data": data}, name="gauss_small", spec=spec, resolution=spec["resolutions"][0])
    kw = dict(dataset="gauss_small", resolution=spec["resolutions"][0], model="m", model_cfg=MODEL, seed=0,
              process=plan.config["process"], device="cpu", threads=1, progress=False)
    out = {"model": str(tmp_path / "slurm/m.pt"), "history": str(tmp_path / "slurm/h.parquet")}
    job = launch.submit("train", "diffsep.stages.train", {"inp": {"data": data}, "out": out, **kw},
                        {**sl.launcher, "folder": str(tmp_path / "sub")})
    sl.jobs.append(job.job_id)
    ckpt = tmp_path / "slurm/m.ckpt"
    at = sl.wait_until(lambda: _step(ckpt) >= 300 and _step(ckpt), 120, "checkpoint at step >= 300")
    subprocess.run(["scontrol", "requeue", job.job_id], check=True)
    assert not (tmp_path / "slurm/m.pt").exists(), "training finished before the requeue: make it longer"
    ref = {"model": str(tmp_path / "ref/m.pt"), "history": str(tmp_path / "ref/h.parquet")}
    train.run({"data": data}, ref, **kw)  # the uninterrupted run, here, while the job waits to restart
    launch.wait(job, "train", sl.launcher, "requeued")
    err = job.stderr()
    assert "restart 1: resumes from its own checkpoint files" in err and "resumed " in err, err[-2000:]
    resumed = int(err.split("resumed ")[1].split("from step ")[1].split()[0])
    assert at <= resumed < 3000, (at, resumed)
    assert "REQUEUED" in sl.run("sacct", "-j", job.job_id, "-X", "-D", "-n", "-o", "State").stdout
    a, b = (load_torch(p["model"])["state"] for p in (ref, out))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ha, hb = (pd.read_parquet(p["history"]).drop(columns=["seconds", "created_at"]) for p in (ref, out))
    pd.testing.assert_frame_equal(ha, hb, check_exact=True)

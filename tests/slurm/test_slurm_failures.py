"""Failed SLURM jobs fail their rule with one line: job id, state, reason, stderr path and tail."""

import re
import subprocess
import sys
import time

import pytest

from diffsep import launch

from helpers import REPO, snakemake

pytestmark = pytest.mark.slurm
TARGET = "results/models/gauss_small/4/mlp_tiny/seed0.pt"


@pytest.fixture(scope="module")
def wd(tmp_path_factory, make_config):
    """A work dir whose gauss_small data were prepared by a SLURM job."""
    d = tmp_path_factory.mktemp("fail")
    snakemake(d, "results/data/gauss_small/4.npz", configfile=make_config(d))
    return d


def _failure_line(stderr: str, stage: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith(f"diffsep {stage} failed")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


@pytest.mark.timeout(180)
def test_raising_job_fails_its_rule_with_job_id_and_stderr_tail(wd, sl):
    proc = snakemake(wd, TARGET, configfile=sl.tiny_config(wd, fault_nan_step=5), check=False)
    line = _failure_line(proc.stderr, "train")
    jid = line.split("SLURM job ")[1].split()[0]
    assert proc.returncode != 0 and f"SLURM job {jid} FAILED (exit 1:0)" in line
    assert "TrainingDiverged: non-finite training loss (nan) at step 5" in line
    assert f"stderr {wd}/results/logs/submitit/train/{jid}_0_log.err: " in line and "srun: error" in line
    assert sl.sacct_state(jid) == "FAILED"


@pytest.mark.timeout(180)
def test_scancelled_job_fails_its_rule_promptly(wd, sl):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd),
           "--cores", "2", TARGET, "--configfile", str(sl.tiny_config(wd, steps=10**6))]
    before = set(sl.job_ids(wd / "results/logs/submitit").get("train", []))
    proc = subprocess.Popen(cmd, cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        new = sl.wait_until(lambda: set(sl.job_ids(wd / "results/logs/submitit").get("train", [])) - before, 90, "train job")
        jid = new.pop()
        sl.jobs.append(jid)
        sl.wait_until(lambda: "train " in (wd / f"results/logs/submitit/train/{jid}_0_log.err").read_text(), 60, "training")
        subprocess.run(["scancel", jid], check=True)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        proc.terminate()  # SIGTERM: Snakemake stops the rule, whose script cancels its SLURM job
        proc.wait(30)
    line = _failure_line(err, "train")
    assert proc.returncode != 0 and elapsed < 30, elapsed
    assert f"SLURM job {jid} CANCELLED: cancelled (scancel or the cluster) before it wrote a result" in line
    assert f"{jid}_0_log.err: " in line and "CANCELLED AT" in line


@pytest.mark.timeout(120)
def test_job_cancelled_while_requeued_is_not_waited_for_forever(tmp_path, sl):
    """SLURM 22.05 accounting keeps calling such a job REQUEUED; submitit alone would wait forever."""
    cfg = {**sl.launcher, "folder": str(tmp_path)}
    job = launch.submit("train", "diffsep.launch:probe", {"sleep": 300}, cfg)
    sl.jobs.append(job.job_id)
    sl.wait_until(lambda: (tmp_path / "train" / f"{job.job_id}_0_log.out").exists(), 60, "job running")
    subprocess.run(["scontrol", "requeue", job.job_id], check=True)
    sl.wait_until(lambda: sl.run("squeue", "-h", "-j", job.job_id, "-o", "%T").stdout.strip() == "PENDING", 30,
                  "requeued job pending")
    subprocess.run(["scancel", job.job_id], check=True)
    t0 = time.monotonic()
    with pytest.raises(launch.LaunchError, match=f"SLURM job {job.job_id} CANCELLED after 1 requeue"):
        launch.wait(job, "train", cfg, "requeued then cancelled")
    assert time.monotonic() - t0 < 30


def test_refused_submission_is_one_line(tmp_path, sl):
    cfg = {**sl.launcher, "folder": str(tmp_path), "gpus_per_job": 1}  # the local cluster has no GPUs
    with pytest.raises(launch.LaunchError, match=r"^stage train: slurm refused the job \(FailedJobError\): "
                                                 r"sbatch: error: .*gres"):
        launch.run("train", "diffsep.launch:probe", {}, cfg)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_time_limit_requeues_then_fails_clearly(tmp_path, sl):
    # SLURM may send the USR2 warning up to 60 s early: with 2 min and 30 s it comes 30-90 s in,
    # after submitit has installed its handler (a 1 min limit can signal before that, killing the job)
    cfg = {**sl.launcher, "folder": str(tmp_path), "timeout_min": 2, "max_requeues": 1, "signal_delay_s": 30}
    job = launch.submit("train", "diffsep.launch:probe", {"sleep": 600}, cfg)
    sl.jobs.append(job.job_id)
    with pytest.raises(launch.LaunchError) as info:
        launch.wait(job, "train", cfg, "slow")
    msg = str(info.value)
    # FAILED when submitit gives up before the limit, TIMEOUT when SLURM's kill comes first
    assert "\n" not in msg and re.search(rf"SLURM job {job.job_id} (FAILED \(exit 1:0\)|TIMEOUT) after 1 requeue", msg)
    assert "hit its time limit (timeout_min=2) after 1 requeue(s) (launcher.max_requeues)" in msg
    assert "Job not requeued because: timed-out too many times." in job.stdout()

"""workflow/profiles/slurm: Snakemake's own SLURM executor runs a rule as a SLURM job, and the
profile's `launcher={kind: inline}` keeps diffsep from submitting a second time."""

import pytest

from helpers import REPO, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(300)]


def test_profile_runs_a_rule_as_one_slurm_job(tmp_path, sl):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]'")
    cfg = sl.tiny_config(tmp_path, launcher={"kind": "slurm"})  # the profile must override this
    proc = snakemake(tmp_path, "--profile", str(REPO / "workflow/profiles/slurm"),
                     "--slurm-init-seconds-before-status-checks", "1", "results/data/gauss_small/4.npz",
                     configfile=cfg)
    jid = proc.stderr.split("submitted with SLURM jobid ")[1].split()[0]
    assert (tmp_path / "results/data/gauss_small/4.npz").exists()
    assert not (tmp_path / "results/logs/submitit").exists()  # inline inside the Snakemake job: scheduled once
    assert "done in" in (tmp_path / "results/logs/prepare/gauss_small/4.log").read_text()
    sl.wait_until(lambda: sl.sacct_state(jid) == "COMPLETED", 20, "sacct COMPLETED")

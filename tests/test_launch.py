"""The launcher runs a job in-process and through submitit (local, debug), maps the launcher block
to SLURM parameters, and fails in one line. (Real SLURM runs: tests/slurm.)"""

import os
import shutil
from types import SimpleNamespace

import pytest

from diffsep import launch
from diffsep.train import default_checkpoint_every


def test_inline_debug_local_agree_and_local_is_another_process(tmp_path):
    out = {}
    for kind in ("inline", "debug", "local"):
        cfg = {"kind": kind, "folder": str(tmp_path / "sub"), "timeout_min": 2, "poll_seconds": 0.2}
        out[kind] = launch.run("measure", "diffsep.launch:probe", {"value": [1, 2]}, cfg, what="t")
    assert all(r["value"] == [1, 2] for r in out.values())
    assert out["inline"]["pid"] == out["debug"]["pid"] == os.getpid() != out["local"]["pid"]
    assert list((tmp_path / "sub" / "measure").glob("*_log.err"))  # logs under <folder>/<stage>/


def test_local_failure_is_one_line_with_job_id_and_stderr(tmp_path):
    cfg = {"kind": "local", "folder": str(tmp_path / "sub"), "timeout_min": 2, "poll_seconds": 0.2}
    with pytest.raises(launch.LaunchError) as info:
        launch.run("train", "diffsep.launch:probe", {"fail": "injected failure"}, cfg, what="boom")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("stage train (boom): local job ")
    assert " FAILED: RuntimeError: injected failure; stderr " in msg and msg.endswith("RuntimeError: injected failure")
    assert str(tmp_path / "sub" / "train") in msg and "^^^" not in msg


def test_array_in_order_and_partial_failures_in_one_line(tmp_path):
    cfg = {"kind": "local", "folder": str(tmp_path / "sub"), "poll_seconds": 0.2,
           "stages": {"guidance": {"timeout_min": 3, "cpus_per_task": 1}}}
    assert launch.stage_settings(cfg, "guidance")["timeout_min"] == 3
    assert launch.stage_settings(cfg, "train")["timeout_min"] == launch.STAGE_DEFAULTS["train"]["timeout_min"]
    out = launch.run_array("guidance", "diffsep.launch:probe", [{"value": i} for i in range(3)], cfg)
    assert [o["value"] for o in out] == [0, 1, 2]
    for kind in ("inline", "local"):
        with pytest.raises(launch.LaunchError) as info:
            launch.run_array("guidance", "diffsep.launch:probe", [{"value": 0}, {"fail": "no 1"}, {"fail": "no 2"}],
                             {**cfg, "kind": kind}, what="w")
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith("stage guidance (w): 2 of 3 array jobs failed: [1] "), msg
        assert "RuntimeError: no 1" in msg and " || [2] " in msg and "RuntimeError: no 2" in msg
    assert launch.run_array("guidance", "diffsep.launch:probe", [], cfg) == []


def test_launcher_block_maps_to_sbatch_lines_with_stage_overrides(tmp_path, monkeypatch):
    if shutil.which("srun") is None:  # the sbatch text needs no cluster, but submitit's executor refuses to exist
        stub = tmp_path / "bin" / "srun"  # without an srun on PATH (it never runs here)
        stub.parent.mkdir()
        stub.write_text("#!/bin/sh\nexit 1\n")
        stub.chmod(0o755)
        monkeypatch.setenv("PATH", f"{stub.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    block = {"kind": "slurm", "folder": str(tmp_path), "partition": "cpu", "account": "proj", "qos": "high",
             "constraint": "a100", "mem_gb": 16, "cpus_per_task": 4, "max_requeues": 5, "signal_delay_s": 120,
             "extra_sbatch": {"mail-type": "END", "exclusive": True},
             "stages": {"train": {"gpus_per_job": 1, "timeout_min": 240, "partition": "gpu"}}}
    train = launch._executor("train", launch.stage_settings(block, "train"), "diffsep-train")
    text = train._executor._make_submission_file_text("CMD", "uid")
    for line in ("--partition=gpu", "--account=proj", "--qos=high", "--constraint=a100", "--gpus-per-node=1",
                 "--cpus-per-task=4", "--mem=16GB", "--time=240", "--signal=USR2@120", "--mail-type=END",
                 "--exclusive", "--job-name=diffsep-train", f"--error={tmp_path}/train/%j_0_log.err"):
        assert f"#SBATCH {line}\n" in text, line
    assert train._executor.max_num_timeout == 5
    measure = launch._executor("measure", launch.stage_settings(block, "measure"), "m")
    text = measure._executor._make_submission_file_text("CMD", "uid")
    assert "--partition=cpu" in text and "--time=60" in text and "gpus" not in text
    assert launch.stage_settings(block, "report")["kind"] == "inline"  # collect/report: like localrules
    with pytest.raises(ValueError, match="launcher.stages.train.gpu"):
        launch.stage_settings({"stages": {"train": {"gpu": 1}}}, "train")


def test_stage_defaults_sit_under_the_launcher_block_and_stage_overrides():
    for stage, res in launch.STAGE_DEFAULTS.items():
        st = launch.stage_settings({}, stage)
        assert (st["timeout_min"], st["mem_gb"]) == (res["timeout_min"], res["mem_gb"]), stage
    assert launch.stage_settings(None, "train")["timeout_min"] == launch.STAGE_DEFAULTS["train"]["timeout_min"]
    for stage in (*launch.LOCAL_STAGES, "probe"):  # no per-stage default: the launcher's DEFAULTS
        st = launch.stage_settings({}, stage)
        assert (st["timeout_min"], st["mem_gb"]) == (launch.DEFAULTS["timeout_min"], launch.DEFAULTS["mem_gb"])
    st = launch.stage_settings({"timeout_min": 30}, "train")  # the user's block wins over the stage default
    assert (st["timeout_min"], st["mem_gb"]) == (30, launch.STAGE_DEFAULTS["train"]["mem_gb"])
    block = {"mem_gb": 2, "stages": {"train": {"timeout_min": 500}, "dae": {"mem_gb": 64}}}
    assert (launch.stage_settings(block, "train")["timeout_min"], launch.stage_settings(block, "train")["mem_gb"]) \
        == (500, 2)
    assert (launch.stage_settings(block, "dae")["timeout_min"], launch.stage_settings(block, "dae")["mem_gb"]) \
        == (launch.STAGE_DEFAULTS["dae"]["timeout_min"], 64)
    assert set(launch.STAGE_DEFAULTS).isdisjoint(launch.LOCAL_STAGES)
    with pytest.raises(ValueError, match=r"config key 'launcher.stages.dae.memory': unknown key"):
        launch.stage_settings({"stages": {"dae": {"memory": 8}}}, "dae")


def test_jobs_take_paths_and_plain_data_only(tmp_path):
    cfg = {"kind": "local", "folder": str(tmp_path)}
    with pytest.raises(TypeError, match=r"job argument kwargs\['x'\]\[0\] is a object"):
        launch.submit("train", "diffsep.launch:probe", {"x": [object()]}, cfg)
    with pytest.raises(ValueError, match="inline"):
        launch.submit("train", "diffsep.launch:probe", {}, {"kind": "inline"})


def _smk(tmp_path, **kwargs):
    io = lambda d: SimpleNamespace(items=lambda: d.items())  # noqa: E731
    return SimpleNamespace(params=SimpleNamespace(stage="train", fn="diffsep.launch:probe", kwargs=kwargs),
                           input=io({}), output=io({}), log=[str(tmp_path / "logs/train/x.log")],
                           wildcards=io({"dataset": "d"}),
                           config={"launcher": {"kind": "local", "folder": str(tmp_path / "sub"),
                                                "poll_seconds": 0.2}})


def test_rule_failure_is_one_line_naming_the_rule_log(tmp_path):
    with pytest.raises(SystemExit) as info:
        launch.run_from_snakemake(_smk(tmp_path, fail="bad input"))
    msg = str(info.value.code)
    assert "\n" not in msg and msg.startswith("diffsep train failed (dataset=d): local job ")
    assert "RuntimeError: bad input" in msg and msg.endswith(f"[log: {tmp_path}/logs/train/x.log]")
    assert (tmp_path / "logs/train/x.log").read_text().splitlines()[-1] == msg  # the log ends with it too
    launch.run_from_snakemake(_smk(tmp_path, value=1))
    log = (tmp_path / "logs/train/x.log").read_text()
    assert "submitted local job" in log and "stage train (dataset=d) done in" in log


def test_training_checkpoints_by_default_on_evaluation_steps():
    assert default_checkpoint_every({"steps": 2500, "eval_every": 250}) == 250
    assert default_checkpoint_every({"steps": 100_000}) == 500
    assert default_checkpoint_every({"steps": 300}) == 50
    assert default_checkpoint_every({"steps": 20_000, "eval_every": 300}) == 600

"""The launcher runs a job in-process and through submitit (local, debug), and fails in one line."""

import os

import pytest

from diffsep import launch


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
    assert "\n" not in msg and "stage train (boom): job " in msg and "injected failure" in msg
    assert str(tmp_path / "sub" / "train") in msg


def test_array_and_stage_overrides(tmp_path):
    cfg = {"kind": "local", "folder": str(tmp_path / "sub"), "poll_seconds": 0.2,
           "stages": {"guidance": {"timeout_min": 3, "cpus_per_task": 1}}}
    assert launch.stage_settings(cfg, "guidance")["timeout_min"] == 3
    assert launch.stage_settings(cfg, "train")["timeout_min"] == 60
    out = launch.run_array("guidance", "diffsep.launch:probe", [{"value": i} for i in range(3)], cfg)
    assert [o["value"] for o in out] == [0, 1, 2]
    with pytest.raises(ValueError, match="launcher.stages.train.gpu"):
        launch.stage_settings({"stages": {"train": {"gpu": 1}}}, "train")

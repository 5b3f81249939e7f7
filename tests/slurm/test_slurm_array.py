"""run_array on SLURM: one job array, results in order; partial failures reported per element."""

import pytest

from diffsep import launch

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(120)]


def test_array_results_in_order_and_failures_per_element(tmp_path, sl):
    cfg = {**sl.launcher, "folder": str(tmp_path), "array_parallelism": 2}
    out = launch.run_array("guidance", "diffsep.launch:probe", [{"value": i} for i in range(4)], cfg, what="w")
    assert [o["value"] for o in out] == [0, 1, 2, 3]
    logs = sorted(p.name for p in (tmp_path / "guidance").glob("*_0_log.err"))  # <array>_<i>_0_log.err
    assert len(logs) == 4 and len({n.split("_")[0] for n in logs}) == 1
    kws = [{"value": 0}, {"fail": "bad element one"}, {"value": 2}, {"fail": "bad element three"}]
    with pytest.raises(launch.LaunchError) as info:
        launch.run_array("guidance", "diffsep.launch:probe", kws, cfg, what="w")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("stage guidance (w): 2 of 4 array jobs failed: [1] SLURM job ")
    one, three = msg.split(" || ")
    assert "_1 FAILED (exit 1:0): RuntimeError: bad element one; stderr " in one and "_1_0_log.err" in one
    assert "[3] SLURM job " in three and "_3 FAILED" in three and "bad element three" in three

"""The tiny pipeline on the local SLURM cluster: every compute job is a COMPLETED SLURM job and
the collected tables equal those of the inline run (same seeds, same CPU)."""

import pandas as pd
import pytest

from diffsep import tables

from helpers import snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(900)]


def test_tiny_pipeline_on_slurm_equals_inline(tiny_run, tmp_path, sl):
    snakemake(tmp_path, configfile=sl.tiny_config(tmp_path))
    ids = sl.job_ids(tmp_path / "results/logs/submitit")
    assert len(ids["prepare"]) == len(ids["train"]) == 2 and len(ids["measure"]) == 4, ids
    assert not {"collect", "report"} & set(ids)  # light stages run inline, like localrules
    every = [j for v in ids.values() for j in v]
    sl.wait_until(lambda: all(sl.sacct_state(j) == "COMPLETED" for j in every), 20, "sacct COMPLETED")
    names = sorted(p.stem for p in (tiny_run / "results/tables").glob("*.parquet"))
    assert {"information", "training"} <= set(names)
    for table in names:
        timing = [c for c, u in tables.schema(table).units().items() if u == "s"]
        a, b = (tables.read(d / "results/tables" / f"{table}.parquet", table).drop(
            columns=["created_at", "git_rev", *timing]) for d in (tiny_run, tmp_path))
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=table)

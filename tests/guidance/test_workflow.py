"""The guidance stage in the real Snakemake DAG (tests/configs/guidance_tiny.yaml): a few minutes."""

import os

import pytest

from diffsep import tables

from helpers import CONFIGS, run_config, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guidance_run(tmp_path_factory):
    return run_config(tmp_path_factory, CONFIGS / "guidance_tiny.yaml", "guidance")


@pytest.mark.parametrize("table", ["guidance", "guidance_per_class", "guidance_gaussian"])
def test_guidance_tables_match_their_schemas(guidance_run, table):
    df = tables.read(guidance_run / "results" / "tables" / f"{table}.parquet", table)
    assert len(df) > 0 and list(df.columns) == tables.schema(table).names
    for col in tables.ID_COLUMNS:
        assert df[col].notna().all(), col


def test_report_has_the_guidance_sections(guidance_run):
    html = (guidance_run / "results/report/index.html").read_text()
    for title in ("Guidance: weight sweep", "Guidance timing: windows and early/late splits",
                  "accuracy–FD frontier", "Guidance on the joint Gaussian: exact vs neural"):
        assert title in html, title
    figs = {p.name for p in (guidance_run / "results/report/figures").glob("guidance_*.png")}
    assert {"guidance_weights.png", "guidance_windows_digits_8_unet_tiny.png",
            "guidance_frontier_digits_8_unet_tiny.png", "guidance_gaussian_gauss_small_mlp_tiny.png"} <= figs
    assert html.count('class="verdict') >= 3


def test_deleting_a_guidance_part_reruns_only_that_job(guidance_run):
    cfg = guidance_run / "guidance_tiny.yaml"
    assert "Nothing to be done" in "".join(snakemake(guidance_run, "-n", configfile=cfg).stdout.splitlines()[-3:]) + \
        snakemake(guidance_run, "-n", configfile=cfg).stderr
    os.unlink(guidance_run / "results/guidance/gauss_small/4/mlp_tiny/seed0/guidance_gaussian.parquet")
    proc = snakemake(guidance_run, "-n", "--quiet", "rules", configfile=cfg)
    out = proc.stdout + proc.stderr
    counts = dict(line.split() for line in out.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    assert counts.get("guidance_gaussian") == "1", out
    assert not {"train", "measure", "guidance_labels", "train_classifier"} & set(counts), out

"""Integration: the DAE stages in the real Snakemake DAG (tests/dae/dae_tiny.yaml: a ladder DAE at
two split times and a plain one, a few dozen steps each, on tiny synthetic images)."""

import os
from pathlib import Path

import pytest

from diffsep import tables

from helpers import run_config, snakemake

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).with_name("dae_tiny.yaml")
DAE_TABLES = ["dae", "dae_latents", "dae_rates", "dae_samples", "dae_training"]


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    return run_config(tmp_path_factory, CONFIG, "dae_wf")


@pytest.mark.parametrize("table", DAE_TABLES)
def test_tables_match_their_schemas(dae_run, table):
    df = tables.read(dae_run / "results" / "tables" / f"{table}.parquet", table)
    assert list(df.columns) == tables.schema(table).names and len(df) > 0
    assert set(df["variant"]) == {"ladder", "plain"}
    for col in tables.ID_COLUMNS:
        assert df[col].notna().all(), col


def test_arms_and_classifier(dae_run):
    dae = tables.read(dae_run / "results/tables/dae.parquet", "dae")
    assert sorted(dae["s_star"].dropna()) == [0.3, 0.7] and dae["main"].sum() == 1
    assert dae.loc[dae["main"], "s_star"].item() == 0.3
    assert dae["mi_xy_classifier"].notna().all()  # the classifier of the same (dataset, resolution, seed)
    lat = tables.read(dae_run / "results/tables/dae_latents.parquet", "dae_latents")
    assert len(lat) == 5 and set(lat["latent"]) == {"sem", "per", "z"}
    assert (dae_run / "results/dae/synth/8/ladder-0.3/seed0/model.pt").exists()
    assert (dae_run / "results/dae/synth/8/ladder-0.3/seed0/model.ckpt").exists()  # resume file stays


def test_report_section(dae_run):
    html = (dae_run / "results/report/index.html").read_text()
    assert "Semantic vs perceptual latents" in html and 'class="verdict' in html
    figs = {p.name for p in (dae_run / "results/report/figures").glob("dae*.png")}
    assert {"dae_sweep.png", "dae_rates.png", "dae_swaps_synth_8_s0.png", "dae_reconstructions.png",
            "dae_training.png"} <= figs
    for f in figs:
        assert f'data-file="figures/{f}"' in html  # embedded; the file is for snakemake --report


def test_deleting_one_measurement_reruns_only_it(dae_run):
    cfg = dae_run / "dae_tiny.yaml"
    proc = snakemake(dae_run, "-n", configfile=cfg)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    os.unlink(dae_run / "results/dae/synth/8/ladder-0.7/seed0/dae_rates.parquet")
    proc = snakemake(dae_run, "-n", "--quiet", "rules", configfile=cfg)
    out = proc.stdout + proc.stderr
    counts = dict(line.split() for line in out.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    assert counts.get("measure_dae") == "1" and "train_dae" not in counts, out
    assert counts.get("collect_table") == "4", out  # the job's four tables, not dae_training

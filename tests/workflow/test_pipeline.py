"""Integration: the real Snakemake DAG on a tiny config (a few hundred training steps)."""

import math
import os

import pandas as pd
import pytest

from diffsep import tables

from helpers import snakemake


@pytest.mark.parametrize("table", ["information", "rates", "per_class", "cutoffs", "training"])
def test_collected_tables_match_their_schemas(tiny_run, table):
    path = tiny_run / "results" / "tables" / f"{table}.parquet"
    df = tables.read(path, table)  # raises SchemaError on any mismatch
    assert list(df.columns) == tables.schema(table).names
    assert len(df) > 0
    for col in tables.ID_COLUMNS:
        assert df[col].notna().all(), col
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).field("dataset").metadata
    assert b"description" in meta


def test_exact_score_rows_match_truth(tiny_run):
    info = tables.read(tiny_run / "results/tables/information.parquet", "information")
    exact = info[info.model == "exact"].set_index("dataset")
    g = exact.loc["gauss_small"]
    assert abs(g.mi_minde - g.true_mi) / g.true_mi < 0.005, (g.mi_minde, g.true_mi)
    m = exact.loc["mix_small"]  # truth itself is Monte Carlo: compare within the combined error
    assert abs(m.mi_minde - m.true_mi) < 4 * math.hypot(m.mi_minde_se, m.true_mi_se) + 0.005 * m.true_mi
    trained = info[info.model == "mlp_tiny"]
    assert len(trained) == 2 and (trained.train_steps == 300).all() and (trained.train_seconds > 0).all()
    assert set(info.dataset) == {"gauss_small", "mix_small"}


def test_report_written_with_figures(tiny_run):
    html = (tiny_run / "results/report/index.html").read_text()
    figs = sorted(p.name for p in (tiny_run / "results/report/figures").glob("*.png"))
    assert {"mi_vs_truth.png", "training.png"} <= set(figs)
    for f in figs:  # embedded (the page is self-contained); the files are for snakemake --report
        assert f'data-file="figures/{f}"' in html
    assert html.count('src="data:image/png;base64,') == len(figs) and 'src="figures/' not in html
    assert "Published vs this run" in html and "gauss_small" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "file://" not in html


def test_rerun_does_nothing_and_deleting_one_output_reruns_only_dependents(tiny_run):
    proc = snakemake(tiny_run, "-n", configfile=tiny_run / "tiny.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    victim = tiny_run / "results/measure/mix_small/2/exact/seed0/rates.parquet"
    os.unlink(victim)
    proc = snakemake(tiny_run, "-n", "--quiet", "rules", configfile=tiny_run / "tiny.yaml")
    out = proc.stdout + proc.stderr
    counts = dict(line.split() for line in out.splitlines()
                  if len(line.split()) == 2 and line.split()[1].isdigit())
    assert counts.get("measure") == "1", out
    assert "train" not in counts and "prepare_data" not in counts, out
    assert counts.get("render_report") == "1", out
    assert counts.get("collect_table") == "4", out  # the job's four tables; not the training table
    snakemake(tiny_run, configfile=tiny_run / "tiny.yaml")
    assert victim.exists()
    proc = snakemake(tiny_run, "-n", configfile=tiny_run / "tiny.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_training_checkpoints_are_weights_only_and_resume_files_stay(tiny_run):
    from diffsep.models import load_model

    m, meta = load_model(tiny_run / "results/models/gauss_small/4/mlp_tiny/seed0.pt")
    assert meta["train_steps"] == 300 and meta["device"] == "cpu"
    assert (tiny_run / "results/models/gauss_small/4/mlp_tiny/seed0.ckpt").exists()
    assert not list((tiny_run / "results").rglob(".*.tmp"))  # no half-written temp files


def test_same_seed_same_numbers(tiny_run, tmp_path):
    """A second run of one measurement job in another directory gives identical numbers."""
    import shutil

    wd = tmp_path / "again"
    wd.mkdir()
    shutil.copy(tiny_run / "tiny.yaml", wd / "tiny.yaml")
    target = "results/measure/gauss_small/4/mlp_tiny/seed0/information.parquet"
    snakemake(wd, target, configfile=wd / "tiny.yaml")
    a = pd.read_parquet(tiny_run / target)
    b = pd.read_parquet(wd / target)
    cols = ["S_marg", "S_cond", "mi_minde", "mi_diff", "mi_mmse", "train_steps"]
    pd.testing.assert_frame_equal(a[cols], b[cols])


@pytest.mark.parametrize("kind", ["local", "debug"])
def test_submitit_launchers_give_the_same_rows(tiny_run, tmp_path, kind):
    """The same jobs through submitit (subprocess / in-process) write identical numbers."""
    import yaml

    cfg = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    cfg["launcher"] = {"kind": kind, "poll_seconds": 0.2}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/measure/mix_small/2/mlp_tiny/seed0/information.parquet"
    snakemake(tmp_path, target, configfile=tmp_path / "cfg.yaml")
    a, b = pd.read_parquet(tiny_run / target), pd.read_parquet(tmp_path / target)
    cols = ["S_marg", "S_cond", "mi_minde", "mi_diff", "mi_mmse", "true_mi"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    if kind == "local":
        assert list((tmp_path / "results/logs/submitit/train").glob("*_log.err"))


def test_outputs_honour_the_umask_and_tables_come_as_csv_too(tiny_run):
    import stat

    res = tiny_run / "results"
    files = [*res.glob("data/*/*.npz"), *res.glob("models/*/*/*/*.pt"), *res.glob("tables/*.parquet"),
             *res.glob("tables/*.csv"), res / "report/index.html", *res.glob("logs/*/*.log")]
    assert len(list(res.glob("data/*/*.npz"))) >= 2 and list(res.glob("models/*/*/*/*.pt"))
    modes = {str(p.relative_to(res)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes  # the run's umask is 022 (helpers.snakemake)
    for p in res.glob("tables/*.parquet"):
        assert p.with_suffix(".csv").exists(), p


def test_end_of_run_output_fits_a_screen(tiny_run):
    out = (tiny_run / "snakemake-output.txt").read_text().splitlines()
    assert max(len(line) for line in out) < 1000, max(out, key=len)[:300]  # no line of thousands
    tail = out[out.index(next(line for line in out if "Job 0:" in line or "rule all" in line)):]
    assert len(tail) < 20 and max(len(line) for line in tail) < 250, tail  # the end fits a screen
    assert any("Report: results/report/index.html" in line for line in tail), tail

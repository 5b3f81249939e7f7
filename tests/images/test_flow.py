"""A dataset added through config only (an npz written here) flows through the whole DAG into the
report: prepare, train (U-Net), measure, classifier, bounds, collected tables, images section."""

import numpy as np
import pytest
import yaml

from diffsep import tables
from diffsep.data.synthetic import generate_separable

from helpers import snakemake

NAMES = ["<b>bold</b>", "a&b \"q\"", "$\\alpha$ <script>alert(1)</script>"]


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("npzflow")
    x, y = generate_separable(360, 3, 0.3, 1, 16, seed=[7, 0])
    np.savez(wd / "mine.npz", images=x, labels=y, class_names=np.array(NAMES))
    cfg = {
        "results": "results", "threads": 1, "device": "cpu", "launcher": {"kind": "inline"},
        "datasets": {"mine": {"kind": "npz", "params": {"path": str(wd / "mine.npz")}, "resolutions": [8],
                              "test_fraction": 0.25}},
        "models": {"unet_tiny": {"net": "unet", "net_params": {"base": 8, "mults": [1, 2], "emb_dim": 32},
                                 "holdout_fraction": 0.1,
                                 "train": {"steps": 50, "batch_size": 32, "lr": 2.0e-3, "eval_every": 25,
                                           "select": "best_holdout"}}},
        "classifier": {"steps": 40, "batch_size": 32, "width": 8, "lr": 3.0e-3},
        "experiments": {"information": {"datasets": ["mine"], "models": {"image": "unet_tiny"}, "n_eval": 48,
                                        "n_times": 6, "cutoffs": [1.0e-3]}},
    }
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(wd, configfile=wd / "config.yaml")
    return wd


def test_tables_have_the_npz_dataset(npz_run):
    t = npz_run / "results" / "tables"
    info = tables.read(t / "information.parquet", "information")
    assert list(zip(info["dataset"], info["resolution"], info["modality"])) == [("mine", 8, "image")]
    assert info["num_classes"].iloc[0] == 3 and info["train_steps"].iloc[0] == 50
    clf = tables.read(t / "classifier.parquet", "classifier")
    assert list(zip(clf["dataset"], clf["resolution"], clf["model"])) == [("mine", 8, "classifier")]
    assert (npz_run / "results/classifier/mine/8/seed0.pt").exists()
    b = tables.read(t / "bounds.parquet", "bounds")
    assert sorted(b["estimator"]) == ["mi_diff", "mi_minde", "mi_mmse"]
    assert (b["upper"] == np.log(3)).all() and (b["lower"] == clf["mi_lower_bound"].iloc[0]).all()
    assert b["holdout_rise"].notna().all()  # the training history reached the cause rule
    pc = tables.read(t / "per_class.parquet", "per_class")
    assert sorted(pc["class_name"]) == sorted(NAMES)


def test_report_has_images_section_with_escaped_class_names(npz_run):
    html = (npz_run / "results/report/index.html").read_text()
    assert 'id="images"' in html and 'id="bounds"' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "a&amp;b &quot;q&quot;" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    figs = {p.name for p in (npz_run / "results/report/figures").glob("images_*.png")}
    assert figs == {"images_entropy_vs_resolution.png", "images_cutoffs.png", "images_per_class.png"}
    assert "holds:" in html or "does not hold:" in html or "undecided:" in html


def test_rerun_is_a_no_op(npz_run):
    proc = snakemake(npz_run, "-n", configfile=npz_run / "config.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_paper_config_dry_runs(tmp_path):
    """config/paper.yaml plans the image DAG (optional datasets absent here are skipped)."""
    from helpers import REPO

    proc = snakemake(tmp_path, "-n", "--quiet", "rules", configfile=REPO / "config" / "paper.yaml")
    out = proc.stdout + proc.stderr
    counts = dict(line.split() for line in out.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    assert int(counts["train_classifier"]) >= 3 and int(counts["check_bounds"]) == 1, out
    assert int(counts["measure"]) > int(counts["train"]) > 0, out

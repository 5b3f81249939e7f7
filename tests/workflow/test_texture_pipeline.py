"""Integration: the Gaussian texture mixture (exact truth at image scale) in the real DAG, with a
two-network U-Net (cross-fitted MINDE), the label-posterior bound and the convergence record."""

from __future__ import annotations

import math

import pytest

from diffsep import tables

from helpers import CONFIGS, run_config


@pytest.fixture(scope="module")
def texture_run(tmp_path_factory):
    return run_config(tmp_path_factory, CONFIGS / "texture_tiny.yaml", "texture")


def _info(wd):
    return tables.read(wd / "results/tables/information.parquet", "information")


def test_exact_rows_reproduce_the_exact_law_at_every_resolution(texture_run):
    info = _info(texture_run)
    exact = info[info.model == "exact"]
    assert sorted(exact.resolution) == [8, 16]
    for _, r in exact.iterrows():
        assert r.true_S_marg > 0 and abs(r.S_marg - r.true_S_marg) < 0.01 * r.true_S_marg, (r.S_marg, r.true_S_marg)
        assert abs(r.S_cond - r.true_S_cond) < 0.01 * r.true_S_cond, (r.S_cond, r.true_S_cond)
        err = math.hypot(r.mi_minde_se, r.true_mi_se)
        assert abs(r.mi_minde - r.true_mi) < 4 * err + 0.05 * r.true_mi, (r.mi_minde, r.true_mi, err)
        assert r.mi_label_bound <= math.log(3) and r.mi_label_bound < r.true_mi + 4 * r.mi_label_bound_se
    assert exact.networks.isna().all() and exact.converged.isna().all()
    # S_NN grows with resolution; I(X;Y) <= log K stays put
    s = exact.sort_values("resolution").true_S_marg.tolist()
    assert s[1] > 3 * s[0]


def test_two_networks_give_cross_fitted_columns_and_a_convergence_record(texture_run):
    info = _info(texture_run)
    trained = info[info.model == "unet_pair"]
    assert len(trained) == 2 and (trained.networks == 2).all()
    assert trained.mi_minde_cross.notna().all() and (trained.mi_minde_cross_se > 0).all()
    assert trained.converged.notna().all() and trained.plateau_gain.notna().all()
    assert (trained.mi_label_bound <= math.log(3) + 1e-9).all()
    pc = tables.read(texture_run / "results/tables/per_class.parquet", "per_class")
    assert pc[pc.model == "unet_pair"].mi_minde_cross.notna().all()
    assert pc[pc.model == "exact"].mi_minde_cross.isna().all()
    tr = tables.read(texture_run / "results/tables/training.parquet", "training")
    assert set(tr.network) == {"m0.shared", "m1.shared"}
    assert tr.groupby(["resolution", "network"]).converged.nunique().max() == 1  # one value per network


def test_bounds_claims_and_report_use_the_new_columns(texture_run):
    b = tables.read(texture_run / "results/tables/bounds.parquet", "bounds")
    assert "mi_minde_cross" in set(b.estimator) and set(b.lower_source) <= {"classifier", "label_posterior"}
    c = tables.read(texture_run / "results/tables/claims.parquet", "claims")
    assert ((c.claim == 1) & (c.dataset == "tex") & (c.part == "all")).sum() == 1
    html = (texture_run / "results/report/index.html").read_text()
    assert "Neural vs exact at image scale" in html and "cross-fitted MINDE" in html
    assert (texture_run / "results/report/figures/exact_tex.png").exists()

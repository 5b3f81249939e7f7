"""The sanity interval H(Y) - CE <= I <= log K and its flags, on constructed cases."""

import math

import pandas as pd
import pytest

from diffsep import tables
from diffsep.bounds import CAUSES, ESTIMATORS, check, check_tables, holdout_rise
from diffsep.stages import bounds as bounds_stage

LOGK = math.log(10)


def _ests(minde, diff, mmse, se=0.05):
    return {"mi_minde": (minde, se), "mi_diff": (diff, se), "mi_mmse": (mmse, se)}


def test_inside_interval_is_ok():
    out = check(_ests(2.0, 2.1, 1.95), LOGK, lower=1.9, lower_se=0.02)
    assert {k: v[:2] for k, v in out.items()} == {e: (False, "ok") for e in ("mi_minde", "mi_diff", "mi_mmse")}


def test_just_inside_three_se_is_not_flagged():
    # 2.9 SE above log K and 2.9 combined SE below the bound: inside
    se = 0.1
    above = LOGK + 2.9 * se
    below = 1.5 - 2.9 * math.hypot(se, 0.0)
    out = check({"mi_minde": (above, se), "mi_diff": (below, se)}, LOGK, lower=1.5, lower_se=0.0)
    assert not out["mi_minde"][0] and not out["mi_diff"][0]
    assert out["mi_minde"][4] == pytest.approx(2.9) and out["mi_diff"][3] == pytest.approx(2.9)


@pytest.mark.parametrize("rise, converged, cause", [
    (0.10, None, "overfitting"), (0.0, None, "under_training"), (0.019, None, "under_training"),
    (None, None, "network_error"), (0.0, False, "under_training"), (0.0, True, "network_error"),
    (0.10, True, "overfitting")])
def test_all_estimators_above_log_k_cause_from_training_history(rise, converged, cause):
    out = check(_ests(3.5, 4.0, 3.0, se=0.1), LOGK, lower=2.0, lower_se=0.03, rise=rise, converged=converged)
    assert all(v[:2] == (True, cause) for v in out.values())
    assert "exceeds log K" in out["mi_minde"][2]
    if converged:  # a converged model is not told to train longer
        assert "train longer" not in out["mi_minde"][2]


@pytest.mark.parametrize("excess, cause, says", [
    ((1.4, 0.1), "null_branch", "accounts for"), ((0.6, 0.1), "null_branch", "leaves 0.597"),
    ((0.25, 0.1), "under_training", None), ((-1.0, 0.1), "under_training", None), (None, "under_training", None)])
def test_a_null_branch_behind_its_class_mixture_is_named_as_the_cause(excess, cause, says):
    """Rule 4 before the history: a null excess more than 3 SE above 0 names the null branch, and the
    reason says whether the excess covers the overshoot of the largest direct estimate (3.5 - log K = 1.2)."""
    out = check(_ests(3.5, 4.0, 3.0, se=0.1), LOGK, lower=2.0, lower_se=0.03, rise=0.0, converged=False,
                null_excess=excess)
    assert all(v[:2] == (True, cause) for v in out.values())
    if says:
        assert says in out["mi_minde"][2] and "null excess" in out["mi_minde"][2]
    # inside the interval the excess changes no cause; the direct estimators' reasons name it
    ok = check(_ests(2.0, 2.1, 1.95), LOGK, lower=1.9, lower_se=0.02, null_excess=(1.0, 0.1))
    assert {v[1] for v in ok.values()} == {"ok"}
    assert "null excess is 1 ± 0.1" in ok["mi_mmse"][2] and "null excess" not in ok["mi_diff"][2]
    quiet = check(_ests(2.0, 2.1, 1.95), LOGK, lower=1.9, lower_se=0.02, null_excess=(0.2, 0.1))
    assert "null excess" not in quiet["mi_mmse"][2]


def test_estimates_on_both_sides_blame_the_network():
    # MINDE far above log K, the difference of entropies far below the bound, none inside
    est = {"mi_minde": (70.0, 2.0), "mi_diff": (-17.0, 5.0), "mi_mmse": (50.0, 4.0)}
    out = check(est, LOGK, lower=1.8, lower_se=0.05, rise=0.0)
    assert all(v[:2] == (True, "under_training") for v in out.values())
    assert "above: mi_minde, mi_mmse; below: mi_diff" in out["mi_diff"][2]
    assert check(est, LOGK, lower=1.8, lower_se=0.05, rise=0.3)["mi_diff"][1] == "overfitting"


def test_holdout_rise_from_training_table():
    tr = pd.DataFrame({"dataset": "a", "resolution": 8, "model": "u", "seed": 0, "network": "shared",
                       "step": [100, 200, 300], "holdout": [1.0, 0.8, 0.88]})
    two = pd.DataFrame({"dataset": "b", "resolution": 8, "model": "u", "seed": 0, "network": ["cond"] * 2 + ["marg"] * 2,
                        "step": [1, 2, 1, 2], "holdout": [1.0, 0.9, 1.0, 1.05]})
    r = holdout_rise(pd.concat([tr, two]))
    assert r[("a", 8, "u", 0)] == pytest.approx(0.1) and r[("b", 8, "u", 0)] == pytest.approx(0.05)


def test_one_estimator_above_is_estimator_bias():
    out = check(_ests(2.2, 3.5, 2.1, se=0.1), LOGK, lower=2.0, lower_se=0.03)
    assert out["mi_diff"][:2] == (True, "estimator_bias")
    assert "mi_minde" in out["mi_diff"][2] and "mi_mmse" in out["mi_diff"][2]
    assert out["mi_minde"][:2] == (False, "ok") and out["mi_mmse"][:2] == (False, "ok")


def test_all_below_a_strong_classifier_is_under_training():
    out = check(_ests(1.0, 0.8, 0.9, se=0.05), LOGK, lower=2.1, lower_se=0.04)
    assert all(v[:2] == (True, "under_training") for v in out.values())
    zl = out["mi_minde"][3]
    assert zl == pytest.approx((2.1 - 1.0) / math.hypot(0.05, 0.04))


def test_one_estimator_below_is_estimator_bias():
    out = check(_ests(2.1, 0.5, 2.0, se=0.05), LOGK, lower=1.9, lower_se=0.04)
    assert out["mi_diff"][:2] == (True, "estimator_bias")
    assert out["mi_minde"][:2] == (False, "ok")


def test_difference_of_entropies_inside_does_not_clear_the_direct_estimators():
    # texture 16 px of a default run: MINDE and I-MMSE far below the bound, the difference of two
    # ~600-nat entropies happens to land inside: the model has not learnt the label
    out = check(_ests(0.10, 0.78, 0.14, se=0.01), math.log(4), lower=0.53, lower_se=0.02)
    assert out["mi_minde"][:2] == (True, "under_training") and out["mi_mmse"][:2] == (True, "under_training")
    assert "every direct estimator" in out["mi_minde"][2]
    assert not out["mi_diff"][0]
    # the cross-fitted MINDE is a direct estimator as well
    alone = check({"mi_diff": (0.78, 0.01), "mi_minde_cross": (0.1, 0.01)}, math.log(4), lower=0.53)
    assert alone["mi_minde_cross"][:2] == (True, "under_training")


def test_bound_se_widens_the_lower_side():
    # 4 SE below with the estimate's SE alone, but only 2 combined SE once the bound's SE counts
    e, se, lo = 1.6, 0.1, 2.0
    lo_se = math.sqrt((0.4 / 2) ** 2 - se ** 2)
    out = check({"mi_minde": (e, se)}, LOGK, lower=lo, lower_se=lo_se)
    assert not out["mi_minde"][0] and out["mi_minde"][3] == pytest.approx(2.0)


def test_weak_and_missing_classifier_and_invalid():
    weak = check(_ests(0.5, 0.6, 0.4), LOGK, lower=0.3, lower_se=0.05)
    assert all(v[:2] == (False, "weak_classifier") for v in weak.values())
    none = check(_ests(0.5, 0.6, 0.4), LOGK, lower=0.0, lower_se=0.0, has_classifier=False)
    assert all(v[:2] == (False, "no_classifier") for v in none.values())
    bad = check({"mi_minde": (float("nan"), 0.1), "mi_diff": (1.6, 0.1)}, LOGK, lower=1.5, lower_se=0.0)
    assert bad["mi_minde"][:2] == (True, "invalid") and bad["mi_diff"][:2] == (False, "ok")


def test_zero_se_flags_any_excess():
    out = check({"mi_minde": (LOGK + 1e-6, 0.0)}, LOGK, lower=1.0, lower_se=0.0, rise=0.5)
    assert out["mi_minde"][:2] == (True, "overfitting")
    assert math.isinf(out["mi_minde"][4])


def _info_row(dataset, res, seed, vals, se=0.05, model="unet", cond="label", log_k=LOGK):
    r = {"dataset": dataset, "resolution": res, "model": model, "seed": seed, "cond": cond, "log_k": log_k}
    for e, v in zip(ESTIMATORS, vals):
        r[e], r[e + "_se"] = v, se
    return r


def _clf_row(dataset, res, seed, bound, se=0.03, acc=0.9):
    return {"dataset": dataset, "resolution": res, "seed": seed, "mi_lower_bound": bound, "mi_lower_bound_se": se,
            "label_entropy": LOGK, "test_accuracy": acc}


def test_cross_fitted_minde_is_checked_where_present():
    assert "mi_minde_cross" in ESTIMATORS
    out = check({**_ests(2.0, 2.1, 1.95), "mi_minde_cross": (4.0, 0.05)}, LOGK, lower=1.9, lower_se=0.02)
    assert out["mi_minde_cross"][:2] == (True, "estimator_bias") and not out["mi_minde"][0]


def test_check_tables_matches_classifiers_and_skips_unlabelled():
    info = pd.DataFrame([_info_row("a", 8, 0, (2.0, 2.0, 2.0)), _info_row("a", 16, 0, (0.5, 0.4, 0.6)),
                         _info_row("b", 8, 1, (3.5, 3.6, 3.4)),  # classifier of another seed only
                         _info_row("v", 5, 0, (1.0, 1.0, 1.0), cond="vector", log_k=None)])
    clf = pd.DataFrame([_clf_row("a", 8, 0, 1.9), _clf_row("a", 16, 0, 2.0), _clf_row("b", 8, 0, 1.5)])
    tr = pd.DataFrame({"dataset": "b", "resolution": 8, "model": "unet", "seed": 1, "network": "shared",
                       "step": [1, 2], "holdout": [0.5, 0.6]})
    df = check_tables(info, clf, tr)
    assert len(df) == 9 and set(df["dataset"]) == {"a", "b"}
    by = df.groupby(["dataset", "resolution"])["cause"].agg(set).to_dict()
    assert by == {("a", 8): {"ok"}, ("a", 16): {"under_training"}, ("b", 8): {"overfitting"}}
    assert df.loc[df["dataset"] == "b", "holdout_rise"].tolist() == pytest.approx([0.2] * 3)
    assert check_tables(info, clf).query("dataset == 'b'")["cause"].eq("network_error").all()
    assert set(df["cause"]) <= set(CAUSES)
    b = df[df["dataset"] == "b"].iloc[0]
    assert b["lower"] == 1.5 and b["classifier_accuracy"] == 0.9


def test_bounds_job_writes_schema_valid_table(tmp_path):
    ident = tables.identity("x", 0, "m", 0)
    info = pd.DataFrame([{**_info_row("a", 8, 0, (2.0, 3.9, 0.1)), "modality": "image", "dim": 64,
                          "num_classes": 10, "n_eval": 100, "n_times": 8}])
    full = tables.empty("information")
    info = pd.concat([full, info.assign(git_rev=ident["git_rev"], created_at=ident["created_at"])], ignore_index=True)
    for c in ("S_marg", "S_marg_se", "S_cond", "S_cond_se", "S_per_dim", "mi_fraction", "measure_seconds"):
        info[c] = 1.0
    info["forward_passes"], info["device"], info["precision"], info["torch_version"] = 1, "cpu", "float32", "x"
    tables.write(info, "information", tmp_path / "information.parquet")
    tables.write(tables.empty("classifier"), "classifier", tmp_path / "classifier.parquet")
    bounds_stage.run({"information": tmp_path / "information.parquet", "classifier": tmp_path / "classifier.parquet"},
               {"table": tmp_path / "bounds.parquet"})
    df = tables.read(tmp_path / "bounds.parquet", "bounds")
    assert len(df) == 3 and df["lower"].eq(0).all() and df["label_entropy"].isna().all()
    flags = dict(zip(df["estimator"], zip(df["flag"], df["cause"])))
    assert flags["mi_minde"] == (False, "no_classifier")
    assert flags["mi_diff"] == (True, "estimator_bias")
    # an empty information table gives an empty bounds table
    tables.write(tables.empty("information"), "information", tmp_path / "i0.parquet")
    bounds_stage.run({"information": tmp_path / "i0.parquet", "classifier": tmp_path / "classifier.parquet"},
               {"table": tmp_path / "b0.parquet"})
    assert len(tables.read(tmp_path / "b0.parquet", "bounds")) == 0

"""The images report section: claim-1 verdict rules, published comparison, escaping, figures."""

import math
import re

import pandas as pd

from diffsep import claims, tables
from diffsep.claims import FAILS, HOLDS, UNDECIDED, claim1
from diffsep.report import render
from diffsep.report.images import published_comparison

LOGK = math.log(10)


def _pr(S, I, se=0.05, res=(7, 14, 28), log_k=LOGK, n_split=4000):
    rows = []
    for r, s, i in zip(res, S, I):
        rows.append({"dataset": "d", "model": "u", "resolution": r, "seeds": 1, "dim": r * r, "log_k": log_k,
                     "S_marg": s, "S_marg_se": 0.01 * s, "S_cond": s, "S_cond_se": 1.0,
                     **{e: i for e in ("mi_minde", "mi_diff", "mi_mmse")},
                     **{e + "_se": se for e in ("mi_minde", "mi_diff", "mi_mmse")},
                     "lower": 1.9, "lower_se": 0.03, "accuracy": 0.9, "train_seconds": 1.0, "clf_seconds": 1.0,
                     "train_steps": 100, "n_split": n_split, "fraction": i / s, "fraction_logk": log_k / s,
                     "primary": "mi_minde", "mi": i, "mi_se": se, "converged": True})
    return pd.DataFrame(rows)


def _claim1(pr, flags=None):
    """Verdict and reason of claim 1's overall row (diffsep.claims.claim1)."""
    top = pd.DataFrame(claim1(pr, flags)).set_index("part").loc["all"]
    return top["verdict"], top["reason"]


def test_claim1_holds_when_fraction_small_entropy_grows_and_info_bounded():
    v, text = _claim1(_pr([300, 900, 2500], [2.0, 2.1, 2.2]))
    assert v == HOLDS and "grows" in text and "disagree" not in text


def test_claim1_fails_on_few_pixels_and_says_so():
    # a lower bound on I (the classifier's 1.9 - 2 x 0.03 nats) is 3 % of S_NN = 60
    flags = pd.DataFrame({"resolution": [8], "lower": [1.9], "lower_se": [0.03], "flag": [False], "cause": ["ok"]})
    v, text = _claim1(_pr([60.0], [2.0], res=(8,)), flags)
    assert v == FAILS and "undecided: one resolution" in text
    assert "disagree with the paper" in text and "8 px" in text
    # without a lower bound the data cannot decide against the claim
    v, text = _claim1(_pr([60.0], [2.0], res=(8,)))
    assert v == UNDECIDED and "between 0 (no lower bound) and 3.5 %" in text


def test_claim1_is_undecided_when_only_estimates_exceed_log_k():
    flags = pd.DataFrame({"flag": [True], "cause": ["under_training"]})
    v, text = _claim1(_pr([300, 900, 2500], [8.0, 20.0, 60.0]), flags)
    assert v == UNDECIDED and "are not bounded" in text and "under_training" in text
    # (a) still decided by the ceiling log K: the true I cannot exceed it
    assert "I/S_NN < 1 %" in text


def test_claim1_fails_when_entropy_does_not_grow():
    v, text = _claim1(_pr([900, 905, 2500], [2.0, 2.0, 2.0]))
    assert v == FAILS and "does not grow significantly" in text


def test_published_comparison_only_for_comparable_data():
    pr = pd.concat([_pr([300, 900, 2500], [2, 2, 2]),
                    _pr([400], [2], res=(32,)).assign(dataset="c"), _pr([400], [2], res=(32,)).assign(dataset="s")])
    kinds = {"d": {"kind": "idx"}, "c": {"kind": "cifar10_binary"}, "s": {"kind": "synthetic_separable"}}
    comp = published_comparison(pr, kinds)
    assert list(zip(comp["dataset"], comp["resolution"])) == [("d", 28), ("c", 32)]
    mnist = comp.iloc[0]["published mnist S_NN at our N"]
    # published MNIST: 1,700 at N=1e3, 2,200 at 1e4; log-linear at 4,000
    want = 1700 + (2200 - 1700) * math.log(4) / math.log(10)
    assert mnist == f"~{want:,.0f}"


def _tables(tmp_path):
    """Constructed collected tables for two resolutions of one dataset with markup class names."""
    ident = lambda r, m="u": tables.identity("d", r, m, 0)  # noqa: E731
    info = []
    for r, s, i in ((7, 100.0, 1.5), (14, 400.0, 1.8)):
        row = {c: 0.5 for c in tables.schema("information").names}
        row.update(ident(r), modality="image", cond="label", dim=r * r, num_classes=10, n_eval=100, n_times=8,
                   S_marg=s, S_marg_se=1.0, S_cond=s + i, S_cond_se=1.0, mi_minde=i, mi_minde_se=0.05,
                   mi_diff=i, mi_diff_se=0.2, mi_mmse=i, mi_mmse_se=0.2, true_mi=None, true_mi_se=None,
                   log_k=LOGK, S_per_dim=s / (r * r), mi_fraction=i / s, train_seconds=3.0, train_steps=100,
                   measure_seconds=1.0, forward_passes=10, device="cpu", precision="float32", torch_version="x",
                   true_S_marg=None, true_S_marg_se=None, true_S_cond=None, mi_minde_cross=None,
                   mi_minde_cross_se=None, mi_mmse_cross=None, mi_mmse_cross_se=None, mi_label_bound=None,
                   mi_label_bound_se=None, networks=1, converged=True,
                   plateau_gain=0.001, label_gain_growth=0.0)
        info.append(row)
    info = pd.DataFrame(info)
    info["num_classes"] = info["num_classes"].astype("Int64")
    info["train_steps"] = info["train_steps"].astype("Int64")
    names = ["<b>b0</b>", "$x$ & <i>y</i>"]
    pc = pd.DataFrame([{**ident(r), "label": k, "class_name": names[k], "p": 0.5, "n": 50, "mi_minde": 1.0 + k,
                        "mi_minde_se": 0.1, "S_cond": 10.0, "S_cond_se": 1.0, "mi_minde_cross": None,
                        "mi_minde_cross_se": None, "mi_mmse_cross": None, "mi_mmse_cross_se": None}
                       for r in (7, 14) for k in (0, 1)])
    cut = pd.DataFrame([{**ident(r), "s_cutoff": c, "S_marg": 100.0 - 10 * j, "S_marg_se": 1.0}
                        for r in (7, 14) for j, c in enumerate((1e-5, 1e-3))])
    paths = {}
    for name, df in (("information", info), ("per_class", pc), ("cutoffs", cut)):
        paths[name] = tables.write(df, name, tmp_path / f"{name}.parquet")
    decided = tables.fit(claims.decide({"information": info}), "claims", git_rev="x", created_at=info["created_at"][0])
    paths["claims"] = tables.write(decided, "claims", tmp_path / "claims.parquet")
    return paths


def test_section_renders_with_escaped_markup_and_no_classifier(tmp_path):
    paths = _tables(tmp_path)
    out = render(paths, tmp_path / "report" / "index.html",
                 meta={"datasets": {"d": {"kind": "idx", "params": {}}}})
    html = out.read_text()
    assert 'id="images"' in html
    assert "&lt;b&gt;b0&lt;/b&gt;" in html and "<b>b0</b>" not in html
    assert "$x$ &amp; &lt;i&gt;y&lt;/i&gt;" in html
    figs = {p.name for p in (tmp_path / "report/figures").glob("images_*.png")}
    assert figs == {"images_entropy_vs_resolution.png", "images_cutoffs.png", "images_per_class.png"}
    assert "No dataset of this run is comparable" in html  # idx but not at 28 px
    assert 'id="bounds"' not in html  # no bounds table given
    # the verdict comes from table claims: 1.5 + 2 SE nats of label information at 7 px is >= 1 % of S_NN = 100,
    # but without a classifier (no lower bound on I) the data cannot decide against the claim
    assert re.search(r'<p class="verdict [a-z]+" id="claim1-all-d-0-u-s0"><b>undecided:</b> <b>d</b> \(u\): '
                     r'\(a\) I/S_NN is not &lt; 1 %', html)
    assert "no lower bound on I (no classifier)" in html
    assert "7 px: 1.9 % (I-MMSE point estimate 1.5 %)" in html  # the primary estimate: the MMSE gap (SE 0.2)

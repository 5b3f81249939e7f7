"""Report sections for image datasets: neural entropy vs label information per resolution (claim 1,
its verdicts read from table ``claims``), the classifier/log K sanity interval and its flags, and the
published neural-entropy values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from ..bounds import ESTIMATORS, RISE, SIGMAS, WEAK
from ..claims import EST_LABEL, image_rows, per_resolution, seed_mean
from .base import Context, Section, claim_rows, esc, fmt, html_table, mpl_text, plt, pm, verdicts
from .information import published

__all__ = ["images_section", "bounds_section", "published_comparison"]

#: dataset kind -> (published series, comparable resolution, what differs)
COMPARABLE = {"idx": ("mnist", 28, "MNIST-family IDX images (28x28 grey, 10 classes); the published curve is MNIST"),
              "cifar10_binary": ("cifar10", 32, "CIFAR-10 32x32 colour")}


def _per_resolution(info: pd.DataFrame, clf: pd.DataFrame) -> pd.DataFrame:
    """:func:`diffsep.claims.per_resolution` with what the report shows beside it: dimension,
    training cost and the classifier bound (seed means)."""
    rows = []
    for (ds, model, res), g in info.groupby(["dataset", "model", "resolution"]):
        r = {"dataset": ds, "model": model, "resolution": int(res), "dim": int(g["dim"].iloc[0]),
             "train_seconds": float(g["train_seconds"].mean()),
             "train_steps": int(g["train_steps"].max()) if g["train_steps"].notna().any() else None}
        c = clf[(clf["dataset"] == ds) & (clf["resolution"] == res)] if len(clf) else clf
        if len(c):
            r["lower"], r["lower_se"] = seed_mean(c, "mi_lower_bound")
            r["accuracy"] = float(c["test_accuracy"].mean())
            r["clf_seconds"] = float(c["train_seconds"].mean())
            r["n_split"] = int((c["n_train"] + c["n_holdout"]).iloc[0])
        else:
            r["lower"] = r["lower_se"] = r["accuracy"] = r["clf_seconds"] = math.nan
            r["n_split"] = None
        rows.append(r)
    return per_resolution(info).merge(pd.DataFrame(rows), on=["dataset", "model", "resolution"])


def _interp_published(series: list, ns: list, n: int) -> tuple[float, bool]:
    """Published S_NN at training-set size ``n`` (linear in log N); ``True`` when extrapolated."""
    ln = np.log(np.asarray(ns, float))
    x = math.log(max(n, 1))
    inside = ln[0] <= x <= ln[-1]
    return float(np.interp(x, ln, np.asarray(series, float))), not inside


def published_comparison(pr: pd.DataFrame, kinds: dict) -> pd.DataFrame:
    """Rows comparing our S_NN with the published neural entropy vs N where the data are comparable."""
    pub = published()["neural_entropy_vs_n"]
    rows = []
    for _, r in pr.iterrows():
        kind = (kinds.get(r["dataset"]) or {}).get("kind")
        if kind not in COMPARABLE:
            continue
        series, res, what = COMPARABLE[kind]
        if int(r["resolution"]) != res or r["n_split"] is None or pd.isna(r["n_split"]):
            continue
        val, extra = _interp_published(pub[series], pub["n"], int(r["n_split"]))
        rows.append({"dataset": r["dataset"], "resolution": int(r["resolution"]), "compared with": what,
                     "our N (train split)": int(r["n_split"]),
                     "our S_NN": pm(r["S_marg"], r["S_marg_se"]),
                     f"published {series} S_NN at our N": f"~{val:,.0f}" + (" (extrapolated)" if extra else ""),
                     "ratio ours / published": f"{r['S_marg'] / val:.3g}",
                     "our steps": r["train_steps"]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
def _main_table(pr: pd.DataFrame, flags: pd.DataFrame) -> str:
    t = pd.DataFrame({
        "dataset": pr["dataset"], "res [px]": pr["resolution"], "D": pr["dim"], "model": pr["model"],
        "seeds": pr["seeds"],
        "S_NN": [pm(v, s) for v, s in zip(pr["S_marg"], pr["S_marg_se"])],
        "S_NN / D": [fmt(v / d, 3) for v, d in zip(pr["S_marg"], pr["dim"])],
        **{f"I {EST_LABEL[e]}": [pm(v, s) for v, s in zip(pr[e], pr[e + "_se"])] for e in ESTIMATORS},
        "bound H(Y)-CE": [pm(v, s) + (f" (acc {100 * a:.1f} %)" if not math.isnan(a) else "")
                          for v, s, a in zip(pr["lower"], pr["lower_se"], pr["accuracy"])],
        "log K": [fmt(v) for v in pr["log_k"]],
        "I/S_NN": [f"{100 * f:.3g} %" for f in pr["fraction"]],
        "log K/S_NN": [f"{100 * f:.3g} %" for f in pr["fraction_logk"]],
    })
    fl = []
    for _, r in pr.iterrows():
        f = flags[(flags["dataset"] == r["dataset"]) & (flags["resolution"] == r["resolution"])
                  & (flags["model"] == r["model"])] if len(flags) else flags
        n = int(f["flag"].sum()) if len(f) else 0
        fl.append(f"{n}/{len(f)}" + (f" ({', '.join(sorted(set(f.loc[f['flag'], 'cause'])))})" if n else "")
                  if len(f) else "–")
    t["flagged"] = fl
    t["train s (score / classifier)"] = [f"{fmt(a, 3)} / {fmt(b, 3)}" for a, b in
                                         zip(pr["train_seconds"], pr["clf_seconds"])]
    t["steps"] = pr["train_steps"]
    return html_table(t, row_class=lambda r: "flag" if str(r["flagged"])[:1] not in ("0", "–") else "")


def _res_ticks(ax, res) -> None:
    ax.set_xticks([int(v) for v in res], [str(int(v)) for v in res])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _fig_resolution(ctx: Context, pr: pd.DataFrame) -> str:
    dss = sorted(pr["dataset"].unique())
    fig, axes = plt.subplots(2, len(dss), figsize=(4.2 * len(dss), 6.4), squeeze=False)
    marks = dict(zip(ESTIMATORS, "osD^v"))
    for j, ds in enumerate(dss):
        g = pr[pr["dataset"] == ds].sort_values("resolution")
        ax = axes[0, j]
        ax.errorbar(g["resolution"], g["S_marg"], yerr=2 * g["S_marg_se"], marker="o", capsize=2, label="S_NN(X)")
        ax.set(xscale="log", yscale="log" if len(g) > 1 else "linear", xlabel="resolution [px]",
               ylabel="S_NN [nats]", title=mpl_text(ds))
        if len(g) > 1:
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        _res_ticks(ax, g["resolution"])
        ax = axes[1, j]
        for e in ESTIMATORS:
            ax.errorbar(g["resolution"], g[e], yerr=2 * g[e + "_se"], marker=marks[e], capsize=2, label=EST_LABEL[e])
        ax.plot(g["resolution"], g["log_k"], "k--", marker="_", ms=22, lw=1, label="log K (upper)")
        if g["lower"].notna().any():
            ax.errorbar(g["resolution"], g["lower"], yerr=2 * g["lower_se"], fmt="_", ms=22, color="0.45",
                        label="H(Y) - CE (classifier, ±2 SE)")
            if len(g) > 1:
                ax.fill_between(g["resolution"], g["lower"] - 2 * g["lower_se"], g["lower"] + 2 * g["lower_se"],
                                color="0.6", alpha=0.3)
        ax.set(xscale="log", xlabel="resolution [px]", ylabel="I(X;Y) [nats]")
        _res_ticks(ax, g["resolution"])
        ax.legend(fontsize=6)
    fig.tight_layout()
    return ctx.save(fig, "images_entropy_vs_resolution", "S_NN and I(X;Y) vs resolution",
                    "Top: neural entropy S<sub>NN</sub>(X) per dataset against resolution (log-log, ±2 SE). Bottom: "
                    "I(X;Y) by the three estimators, with the upper bound log K and the classifier lower bound.")


def _fig_cutoffs(ctx: Context, cut: pd.DataFrame) -> str | None:
    if not len(cut):
        return None
    dss = sorted(cut["dataset"].unique())
    fig, axes = plt.subplots(1, len(dss), figsize=(4.2 * len(dss), 3.4), squeeze=False)
    for ax, ds in zip(axes[0], dss):
        g = cut[cut["dataset"] == ds]
        for (res, model), gr in g.groupby(["resolution", "model"]):
            gr = gr.groupby("s_cutoff", as_index=False).mean(numeric_only=True).sort_values("s_cutoff")
            ax.errorbar(gr["s_cutoff"], gr["S_marg"], yerr=2 * gr["S_marg_se"], marker=".", capsize=2,
                        label=f"{int(res)} px")
        ax.set(xscale="log", xlabel="lower time cutoff s", ylabel="S_NN over [cutoff, 1] [nats]", title=mpl_text(ds))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return ctx.save(fig, "images_cutoffs", "S_NN vs lower time cutoff",
                    "S<sub>NN</sub>(X) integrated from the lower cutoff to 1: growth as the cutoff goes to 0 is the "
                    "manifold divergence (data concentrated near a lower-dimensional set make r(s) blow up at small s).")


def _per_class(ctx: Context, pc: pd.DataFrame) -> list[str]:
    if not len(pc):
        return []
    out = []
    dss = sorted(pc["dataset"].unique())
    fig, axes = plt.subplots(len(dss), 1, figsize=(10, 2.8 * len(dss)), squeeze=False)
    for ax, ds in zip(axes[:, 0], dss):
        g = pc[pc["dataset"] == ds]
        labels = g.drop_duplicates("label").sort_values("label")
        reses = sorted(g["resolution"].unique())
        w = 0.8 / len(reses)
        for i, res in enumerate(reses):
            gr = g[g["resolution"] == res].groupby("label", as_index=False).mean(numeric_only=True)
            x = gr["label"].to_numpy() + (i - (len(reses) - 1) / 2) * w
            ax.bar(x, gr["mi_minde"], width=w, yerr=2 * gr["mi_minde_se"], capsize=1, label=f"{int(res)} px")
        ax.set_xticks(labels["label"].tolist(), [mpl_text(n)[:18] for n in labels["class_name"]], rotation=20,
                      fontsize=7)
        ax.set(ylabel="KL(p(x|y) || p(x)) [nats]", title=mpl_text(ds))
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.append(ctx.save(fig, "images_per_class", "per-class label information",
                        "Specific information per class (MINDE restricted to the class, ±2 SE); its p-weighted mean is "
                        "I(X;Y). Bounded by -log p(y)."))
    for ds in dss:
        g = pc[pc["dataset"] == ds].groupby(["label", "class_name", "resolution"], as_index=False).mean(numeric_only=True)
        piv = g.pivot_table(index=["label", "class_name"], columns="resolution", values="mi_minde").reset_index()
        piv.columns = [f"{c} px" if isinstance(c, (int, np.integer)) else str(c) for c in piv.columns]
        piv = piv.rename(columns={"class_name": "class"})
        out.append(f"<p>Per-class information of <b>{esc(ds)}</b> [nats]:</p>" + html_table(piv))
    return out


def images_section(ctx: Context) -> Section | None:
    info = image_rows(ctx.table("information"))
    if not len(info):
        return None
    clf = ctx.table("classifier")
    bounds = ctx.table("bounds")
    pr = _per_resolution(info, clf)
    parts = ["<p>Claim 1 (perceptual information dominates): for labelled images the label information I(X;Y) "
             "is at most log K nats while the neural entropy S<sub>NN</sub>(X) of a pixel-space model grows with "
             "the number of pixels, so I/S<sub>NN</sub> is of order 0.1 % for MNIST-like data. Measured here on the "
             "test split of each dataset at each resolution, with the trained conditional U-Net (null token for "
             "S<sub>NN</sub>(X)), I(X;Y) by three estimators, and a small CNN classifier giving the lower bound "
             "H(Y) - CE. Values are seed means (± SE).</p>", _main_table(pr, bounds)]
    for ds, model in pr[["dataset", "model"]].drop_duplicates().itertuples(index=False):
        parts.append(verdicts(claim_rows(ctx, 1, "all", dataset=ds, model=model),
                              lambda r: f"<b>{esc(r['dataset'])}</b> ({esc(r['model'])}): "))
    parts.append(_fig_resolution(ctx, pr))
    cut = ctx.table("cutoffs")
    if len(cut):
        cut = cut.merge(info[["dataset", "resolution", "model", "seed"]], on=["dataset", "resolution", "model", "seed"])
        f = _fig_cutoffs(ctx, cut)
        if f:
            parts.append(f)
            tab = cut.groupby(["dataset", "resolution", "s_cutoff"], as_index=False).mean(numeric_only=True)
            tab = tab.pivot_table(index=["dataset", "resolution"], columns="s_cutoff", values="S_marg").reset_index()
            tab.columns = [f"S_NN from s={c:g}" if isinstance(c, float) else str(c) for c in tab.columns]
            parts.append(html_table(tab))
    pc = ctx.table("per_class")
    if len(pc):
        pc = pc.merge(info[["dataset", "resolution", "model", "seed"]], on=["dataset", "resolution", "model", "seed"])
        parts += _per_class(ctx, pc)
    if ctx.meta.get("published", True):
        comp = published_comparison(pr, ctx.meta.get("datasets") or {})
        src = published()["neural_entropy_vs_n"]["source"]
        if len(comp):
            parts.append(f"<h3>Published neural entropy vs this run</h3><p class='note'>Published values: "
                         f"{esc(src)}, read off a plot, interpolated in log N at our training-split size. "
                         f"<b>Different data and N</b>: our images, subsampling and (much shorter) training differ, "
                         f"so this is an order-of-magnitude comparison, not a replication.</p>" + html_table(comp))
        else:
            parts.append("<p class='note'>No dataset of this run is comparable with the published neural entropies "
                         "(MNIST-family IDX at 28 px, CIFAR-10 at 32 px).</p>")
    return Section("Images: neural entropy vs label information", "\n".join(parts), "images")


def bounds_section(ctx: Context) -> Section | None:
    b = ctx.table("bounds")
    if not len(b):
        return None
    n, nf = len(b), int(b["flag"].sum())
    counts = b.loc[b["flag"], "cause"].value_counts()
    summary = (f"<p><b>{nf} of {n}</b> estimates lie outside [H(Y) - CE, log K] by more than {SIGMAS:g} SE"
               + (": " + ", ".join(f"{esc(k)} {int(v)}" for k, v in counts.items()) if nf else "") + ".</p>")
    rule = ("<p class='note'>Rule (diffsep/bounds.py): z<sub>high</sub> = (I - log K)/SE, z<sub>low</sub> = "
            "(L - I)/sqrt(SE² + SE<sub>L</sub>²) with L = H(Y) - CE of the classifier; flagged when either exceeds "
            f"{SIGMAS:g}. If another estimator of the same row lies inside: <i>estimator_bias</i>. If all lie "
            "below L: <i>under_training</i>. If none lies inside and some lie above log K, network error dominates "
            "the conditional - null score difference: <i>null_branch</i> when the model's null excess (its null branch "
            f"behind the mixture of its own conditionals) is more than {SIGMAS:g} SE above 0, else the model's "
            "held-out loss decides: <i>overfitting</i> when "
            f"it ended more than {100 * RISE:g} % above its minimum, else <i>under_training</i> when the model did "
            "not converge by the recorded criterion (still improving) and <i>network_error</i> when it did (more "
            "steps of the same recipe will not help) or there is no training history. Inside: "
            "<i>weak_classifier</i> when L &lt; "
            f"{WEAK:g} log K (the interval cannot "
            "detect under-training), <i>no_classifier</i> when there is none (L = 0), else <i>ok</i>.</p>")
    t = b.sort_values(["flag", "dataset", "resolution", "model", "seed", "estimator"],
                      ascending=[False, True, True, True, True, True])
    tab = pd.DataFrame({"dataset": t["dataset"], "res": t["resolution"], "model": t["model"], "seed": t["seed"],
                        "estimator": [EST_LABEL.get(e, e) for e in t["estimator"]],
                        "estimate": [pm(v, s) for v, s in zip(t["estimate"], t["se"])],
                        "interval": [f"[{fmt(lo)} ± {fmt(ls, 2)}, {fmt(hi)}]" for lo, ls, hi in
                                     zip(t["lower"], t["lower_se"], t["upper"])],
                        "z_low": [fmt(v, 3) for v in t["z_low"]], "z_high": [fmt(v, 3) for v in t["z_high"]],
                        "flag": ["yes" if f else "no" for f in t["flag"]], "cause": t["cause"],
                        "reason": t["reason"]})
    return Section("Label-information bounds and flags", summary + rule +
                   html_table(tab, row_class=lambda r: "flag" if r["flag"] == "yes" else ""), "bounds")

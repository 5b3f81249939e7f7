"""Report sections for the information measurements: run metadata, estimators vs truth, rate
curves on three time axes, published vs this run, training curves."""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from .base import Context, Section, esc, fmt, html_table, plt, pm, safe_name, series_colours, sns

ESTIMATORS = {"mi_minde": "MINDE (score difference)", "mi_diff": "difference of entropies",
              "mi_mmse": "MMSE gap (I-MMSE)", "mi_minde_cross": "cross-fitted MINDE",
              "mi_mmse_cross": "cross-fitted MMSE gap",
              "mi_label_bound": "label-posterior bound"}


def published() -> dict:
    return yaml.safe_load(resources.files("diffsep").joinpath("resources/published.yaml").read_text())


# ------------------------------------------------------------------------------------------------
def run_section(ctx: Context) -> Section:
    m = ctx.meta
    info = ctx.table("information")
    revs = sorted(set(info["git_rev"])) if len(info) else []
    rows = [("config hash", esc(m.get("config_hash", "?"))),
            ("git revision(s) of the rows", esc(", ".join(revs) or "–")),
            ("launcher", esc(m.get("launcher", "?"))),
            ("VP process", esc(", ".join(f"{k}={v}" for k, v in (m.get("process") or {}).items())))]
    rows += [(f"{k} version", esc(v)) for k, v in (m.get("versions") or {}).items()]
    if len(info):
        tr = info["train_seconds"].dropna()
        rows.append(("training wall time (sum over jobs)", f"{fmt(float(tr.sum()), 3)} s over {len(tr)} models"))
        rows.append(("measurement wall time (sum)", f"{fmt(float(info['measure_seconds'].sum()), 3)} s over {len(info)} jobs"))
        devs = sorted(set(info["device"]))
        rows.append(("devices", esc(", ".join(devs))))
    body = "<table class='tbl'>" + "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
    skipped = m.get("skipped") or {}
    if skipped:
        body += "<p class='note'>Datasets skipped in this run: " + "; ".join(
            f"<b>{esc(k)}</b> ({esc(v)})" for k, v in skipped.items()) + "</p>"
    links = m.get("table_links") or {}
    if links:  # named, not linked: the page is self-contained and may be read far from the run
        folders = sorted({str(p.parent) for p in links.values()})
        body += (f"<p>Tables, each as Parquet (typed, units in the schema) and CSV, in "
                 f"<code>{esc(', '.join(folders))}</code>: " + ", ".join(f"<code>{esc(k)}</code>" for k in links) + "</p>")
    return Section("Run", body, "run")


# ------------------------------------------------------------------------------------------------
def _truth_rows(info: pd.DataFrame) -> pd.DataFrame:
    return info[info["true_mi"].notna()].copy() if len(info) else info


def estimators_section(ctx: Context) -> Section | None:
    info = ctx.table("information")
    if not len(info):
        return None
    t = _truth_rows(info)
    parts = []
    if len(t):
        long = []
        for _, r in t.iterrows():
            for est, label in ESTIMATORS.items():
                if est not in r or pd.isna(r[est]):
                    continue
                long.append({"dataset": r["dataset"], "model": r["model"], "seed": r["seed"], "estimator": label,
                             "true": r["true_mi"], "estimate": r[est], "se": r[est + "_se"],
                             "rel_error": (r[est] - r["true_mi"]) / r["true_mi"] if r["true_mi"] else np.nan})
        lf = pd.DataFrame(long)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        ax = axes[0]
        markers = {m: mk for m, mk in zip(sorted(lf["model"].unique()), "osD^v")}
        pal = dict(zip(ESTIMATORS.values(), sns.color_palette("deep", len(ESTIMATORS))))
        for (est, model), g in lf.groupby(["estimator", "model"]):
            ax.errorbar(g["true"], g["estimate"], yerr=2 * g["se"], fmt=markers[model], color=pal[est],
                        label=f"{est} / {model}", alpha=0.85, capsize=2)
        lim = [0, max(lf["true"].max(), lf["estimate"].max()) * 1.08]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set(xlabel="true I(X;Y) [nats]", ylabel="estimate [nats] (±2 SE)", title="estimated vs true MI")
        ax.legend(fontsize=7)
        ax = axes[1]
        # exact-score rows (estimator alone) and trained rows (estimator + network) are separate bars,
        # never averaged into one; the axis is in % like the table
        lf["rows"] = np.where(lf["model"] == "exact", "exact scores", "trained")
        lf["unit"] = lf["dataset"].astype(str) + "\n" + lf["rows"]
        lf["rel_error_pct"] = 100 * lf["rel_error"]
        sns.barplot(data=lf.sort_values(["dataset", "rows"]), x="unit", y="rel_error_pct", hue="estimator",
                    palette=pal, ax=ax, errorbar=None)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xlabel="", ylabel="relative error [%]", title="relative error: exact-score vs trained rows")
        for lab in ax.get_xticklabels():
            lab.set_rotation(20)
        ax.legend(fontsize=7)
        parts.append(ctx.save(fig, "mi_vs_truth", "estimated vs true MI",
                              "Each point is one (dataset, model, seed); model 'exact' uses analytic scores, so its "
                              "error measures the time grid and Monte Carlo only."))
        tab = t[["dataset", "resolution", "model", "seed", "true_mi"]].copy()
        for est in [e for e in ESTIMATORS if e in t and t[e].notna().any()]:
            tab[est] = [pm(v, s) for v, s in zip(t[est], t[est + "_se"])]
            tab[est + " err"] = [f"{100 * (v - tr) / tr:+.2f} %" for v, tr in zip(t[est], t["true_mi"])]
        parts.append(html_table(tab))
    extra = [c for c in ("mi_minde_cross", "mi_mmse_cross", "mi_label_bound", "null_excess")
             if c in info and info[c].notna().any()]
    cols = ["dataset", "resolution", "model", "seed", "S_marg", "S_cond", "mi_minde", "mi_diff", "mi_mmse", *extra,
            "true_mi", "log_k", "S_per_dim", "mi_fraction"] + (["converged"] if "converged" in info else [])
    tab = info[cols].copy()
    for c in ("S_marg", "S_cond", "mi_minde", "mi_diff", "mi_mmse", *extra):
        tab[c] = [pm(v, s) for v, s in zip(info[c], info[c + "_se"])]
    if "converged" in tab:
        tab["converged"] = ["–" if v is None or v != v else ("yes" if v else "NO") for v in tab["converged"]]
    parts.append("<h3>All measurements</h3>" + html_table(tab.sort_values(["dataset", "resolution", "model", "seed"])))
    return Section("Mutual information: estimators vs truth", "\n".join(parts), "estimators")


# ------------------------------------------------------------------------------------------------
def rates_section(ctx: Context) -> Section | None:
    rates = ctx.table("rates")
    if not len(rates):
        return None
    parts = ["<p>Rates per unit diffusion time <i>s</i> (left), per unit log-SNR &lambda; (middle) and against the "
             "EDM noise level &sigma;/&mu; (right). Early in generation = large <i>s</i> = low &lambda; = large "
             "EDM sigma. Shaded: ±2 SE.</p>"]
    for (ds, res), g in rates.groupby(["dataset", "resolution"]):
        has_i = g["i_rate"].notna().any()
        nrow = 2 if has_i else 1
        fig, axes = plt.subplots(nrow, 3, figsize=(13, 3.4 * nrow), squeeze=False)
        models = sorted(g["model"].unique())
        colour = series_colours(models)  # one colour per model in every panel
        for model, gm in g.groupby("model"):
            gm = gm.groupby("s", as_index=False).mean(numeric_only=True).sort_values("s")
            for row, (col, lab) in enumerate([("r_marg", "r(s), null"), ("i_rate", "i(s)")][:nrow]):
                y, se = gm[col], gm[col + "_se"]
                ylam = gm[col + "_lam"] if col + "_lam" in gm else y * (gm["s"] * 0 + 1)
                for j, (x, yy, sc) in enumerate([(gm["s"], y, se), (gm["log_snr"], ylam, None),
                                                 (gm["edm_sigma"], ylam, None)]):
                    ax = axes[row, j]
                    ax.plot(x, yy, label=str(model), color=colour[model])
                    if sc is not None:
                        ax.fill_between(x, yy - 2 * sc, yy + 2 * sc, alpha=0.2, color=colour[model])
                if row == 0 and "r_cond" in gm and gm["r_cond"].notna().any():
                    axes[0, 0].plot(gm["s"], gm["r_cond"], ls=":", color=colour[model], label=f"{model} (label)")
        for row in range(nrow):
            name = ["r", "i"][row]
            axes[row, 0].set(xscale="log", yscale="log", xlabel="s", ylabel=f"{name}(s) [nats / unit s]")
            axes[row, 1].set(xlabel="log-SNR λ", ylabel=f"{name} [nats / unit λ]")
            axes[row, 2].set(xscale="log", xlabel="EDM σ = σ/μ", ylabel=f"{name} [nats / unit λ]")
            for ax in axes[row]:  # every panel has its legend (same colours throughout)
                ax.legend(fontsize=7)
        fig.suptitle(f"{ds} at resolution {res}", y=1.0)
        fig.tight_layout()
        parts.append(ctx.save(fig, f"rates_{safe_name(ds)}_{res}", f"rate curves {ds} {res}",
                              f"Entropy production r and MI rate i for <b>{esc(ds)}</b> at resolution {int(res)}."))
    return Section("Rate curves r(s) and i(s)", "\n".join(parts), "rates")


# ------------------------------------------------------------------------------------------------
def published_section(ctx: Context) -> Section | None:
    if not ctx.meta.get("published", True):
        return None
    pub = published()
    jg = pub["joint_gaussian"]
    info = ctx.table("information")
    specs = ctx.meta.get("datasets") or {}
    match = [n for n, s in specs.items() if s.get("kind") == "joint_gaussian"
             and all((s.get("params") or {}).get(k) == v for k, v in (("dx", 25), ("dy", 15), ("noise", 1.0)))]
    rows = []
    for e in jg["estimates"]:
        est, scores = e["estimator"], e["scores"]
        pub_err = (e["value"] - jg["true_mi"]) / jg["true_mi"]
        sel = info[info["dataset"].isin(match)] if len(info) else info
        if len(sel):
            sel = sel[(sel["model"] == "exact") if scores == "exact" else (sel["model"] != "exact")]
        if len(sel):
            errs = (sel[est] - sel["true_mi"]) / sel["true_mi"]
            ours = f"{100 * errs.mean():+.2f} % (n={len(sel)}; {fmt(sel[est].mean())} vs true {fmt(sel['true_mi'].mean())})"
        else:
            ours = "not run (no joint_gaussian dataset with dx=25, dy=15, noise=1.0 in this config)"
        rows.append({"quantity": f"{ESTIMATORS[est]}, {scores} scores", "published": f"{e['value']} (true {jg['true_mi']})",
                     "published rel. error": f"{100 * pub_err:+.2f} %", "this run rel. error": ours})
    setup = jg["setup"]
    setup = ", ".join(f"{k} = {v}" for k, v in setup.items()) if isinstance(setup, dict) else str(setup)
    body = [f"<p>Source: {esc(jg['source'])}; setup: {esc(setup)}. Our Gaussian has its own random A and "
            f"&Sigma;<sub>X</sub>, so relative errors are compared, not raw values.</p>", html_table(pd.DataFrame(rows))]
    lb = pub["label_bound"]
    body.append(f"<p>Label bound: log 10 = {lb['log_10']} nats, i.e. at most {100 * lb['fraction_mnist']:.2f} % of "
                f"S<sub>NN</sub> for MNIST (~2,500 nats, read off a plot) and {100 * lb['fraction_cifar10']:.3f} % for "
                f"CIFAR-10.</p>")
    return Section("Published vs this run", "\n".join(body), "published")


# ------------------------------------------------------------------------------------------------
def training_section(ctx: Context) -> Section | None:
    tr = ctx.table("training")
    if not len(tr) or tr["holdout"].isna().all():
        return None
    g = tr[tr["holdout"].notna()].copy()
    g["run"] = g["dataset"] + "@" + g["resolution"].astype(str) + " " + g["model"] + " s" + g["seed"].astype(str) + \
        np.where(g["network"] == "shared", "", " " + g["network"])
    n = g["dataset"].nunique()
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.2 * rows), squeeze=False)
    for ax, (ds, gd) in zip(axes.flat, g.groupby("dataset")):
        for run, gr in gd.groupby("run"):
            ax.plot(gr["step"], gr["holdout"], marker=".", label=run)
        ax.set(title=str(ds), xlabel="step", ylabel="held-out denoising loss")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return Section("Training", ctx.save(fig, "training", "training curves",
                                        "Held-out denoising loss (fixed draws) during training; checkpoints are "
                                        "selected on it where the model's train.select is best_holdout."), "training")


__all__ = ["run_section", "estimators_section", "rates_section", "published_section", "training_section",
           "published"]

"""Report section: neural vs exact at image scale (datasets whose law gives exact ``S_NN`` and
``I(X;Y)``, e.g. the Gaussian texture mixture): every estimator against the truth per resolution,
with each trained model's convergence state. The rate curves with the exact ones over them are in
the rate-curves section (model ``exact``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Context, Section, esc, fmt, html_table, mpl_text, plt, pm, safe_name

__all__ = ["exact_images_section", "ESTIMATES"]

#: information columns compared with the exact I(X;Y) (each with ``_se``), and their labels
ESTIMATES = {"mi_minde": "MINDE", "mi_minde_cross": "cross-fitted MINDE", "mi_diff": "diff. of entropies",
             "mi_mmse": "I-MMSE", "mi_mmse_cross": "cross-fitted I-MMSE", "mi_label_bound": "label-posterior bound"}


def _rel(v, truth) -> float:
    return (float(v) - float(truth)) / float(truth) if pd.notna(v) and truth else np.nan


def _pct(v) -> str:
    return "–" if not np.isfinite(v) else f"{100 * v:+.2f} %"


def _state(r) -> str:
    if r["model"] == "exact":
        return "exact scores"
    c = r.get("converged")
    gain, growth = r.get("plateau_gain"), r.get("label_gain_growth")
    g = (f" (last 20 %: loss -{100 * float(gain):.2g} %" if pd.notna(gain) else " (") + \
        (f", label gain +{100 * float(growth):.2g} %)" if pd.notna(growth) else ")")
    if c is None or (isinstance(c, float) and np.isnan(c)):
        return "undecidable" + g
    return ("converged" if bool(c) else "NOT converged") + g


def _table(t: pd.DataFrame) -> str:
    rows = []
    for _, r in t.sort_values(["dataset", "resolution", "model", "seed"]).iterrows():
        row = {"dataset": r["dataset"], "resolution": int(r["resolution"]), "model": r["model"], "seed": int(r["seed"]),
               "training": _state(r),
               "S_NN (exact)": f"{pm(r['S_marg'], r['S_marg_se'])} ({fmt(r['true_S_marg'])})",
               "S_NN err": _pct(_rel(r["S_marg"], r["true_S_marg"])),
               "I exact": pm(r["true_mi"], r["true_mi_se"], 3)}
        for col, lab in ESTIMATES.items():
            if col in r and pd.notna(r[col]):
                row[lab] = f"{pm(r[col], r[col + '_se'], 3)} ({_pct(_rel(r[col], r['true_mi']))})"
            else:
                row[lab] = "–"
        ex = r.get("null_excess")
        row["null excess"] = pm(ex, r["null_excess_se"], 3) if ex is not None and pd.notna(ex) else "–"
        rows.append(row)
    df = pd.DataFrame(rows)
    return html_table(df, row_class=lambda r: "flag" if str(r["training"]).startswith("NOT") else "")


def _figure(ctx: Context, t: pd.DataFrame, ds: str) -> str:
    g = t[t["dataset"] == ds]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for model, gm in g.groupby("model"):
        gm = gm.groupby("resolution", as_index=False).mean(numeric_only=True).sort_values("resolution")
        axes[0].plot(gm["resolution"], 100 * (gm["S_marg"] - gm["true_S_marg"]) / gm["true_S_marg"], "o-",
                     label=mpl_text(model))
        for col, lab in ESTIMATES.items():
            if col in gm and gm[col].notna().any():
                axes[1].plot(gm["resolution"], gm[col] - gm["true_mi"], "o-" if model != "exact" else "x--",
                             label=mpl_text(f"{lab} / {model}"))
    for ax in axes:
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(g["resolution"].unique()), [str(int(v)) for v in sorted(g["resolution"].unique())])
        ax.set_xlabel("resolution [px]")
    axes[0].set(ylabel="S_NN error [% of exact]", title="neural entropy vs exact")
    axes[1].set(ylabel="estimate - exact I(X;Y) [nats]", title="label information vs exact")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle(mpl_text(ds), y=1.02)
    fig.tight_layout()
    return ctx.save(fig, f"exact_{safe_name(ds)}", f"neural vs exact, {ds}",
                    f"<b>{esc(ds)}</b>: error of S<sub>NN</sub> (left, %) and of every I(X;Y) estimate (right, "
                    "nats) against the exact law, per resolution; crosses: exact scores (grid and Monte-Carlo "
                    "error only), dots: trained models.")


def exact_images_section(ctx: Context) -> Section | None:
    info = ctx.table("information")
    if not len(info) or "true_S_marg" not in info:
        return None
    t = info[(info["modality"] == "image") & info["true_S_marg"].notna()]
    if not len(t):
        return None
    parts = ["<p>Datasets whose law is known at image scale (the Gaussian texture mixture: exact scores, exact "
             "S<sub>NN</sub> from closed-form Gaussian KLs and a Monte-Carlo I(X<sub>s</sub>;Y), exact I(X;Y) by "
             "Monte Carlo over the exact class posterior). Rows of model <i>exact</i> run the same estimators on the "
             "analytic scores, so their error is the time grid and the Monte Carlo alone; trained rows add the "
             "network's error. The label-posterior bound is a lower bound: it should lie below the exact I. "
             "Null excess: the null branch's denoising loss minus that of the mixture of the model's own "
             "conditionals on the bound's draws, extrapolated to infinitely many draws per image; the MMSE gap "
             "is the bound plus about it, so it is how much of the MMSE gap is the null branch's lag behind the "
             "conditionals (about 0 with exact scores). "
             "Training: the convergence criterion of the training table (over the last 20 % of training the best "
             "held-out loss improved by less than 1 % and the best held-out label gain, null minus conditional "
             "error, grew by less than 5 %); rows of models that did not converge are shaded.</p>",
             _table(t)]
    for ds in sorted(t["dataset"].unique()):
        parts.append(_figure(ctx, t, ds))
    return Section("Neural vs exact at image scale", "\n".join(parts), "exact-images")

"""Report sections for the guidance-timing sweeps (claim 3): weight sweep, windows over i(s) on
three time axes, early/late verdicts with CIs, the accuracy-FD frontier of constant, interval and
information-scheduled guidance, and the joint Gaussian's exact vs neural MI. The verdicts are rows of
table ``claims`` (decided by :mod:`diffsep.claims`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..claims import GAUSSIAN_MEANS, GUIDANCE_MEANS, KEYS, ci_text, info_share_below, rate_curve, seed_means
from ..process import VPProcess
from .base import Context, Section, claim_rows, esc, fmt, html_table, plt, pm, safe_name, sns, time_axes, verdicts
from .information import published

__all__ = ["weights_section", "windows_section", "frontier_section", "gaussian_section", "SECTIONS"]


def _process(ctx: Context) -> VPProcess:
    return VPProcess(**(ctx.meta.get("process") or {}))


def _claim3(ctx: Context, part: str, ds, res, model) -> str:
    """The verdict line(s) of claim 3 ``part`` for one (dataset, resolution, model), from table ``claims``."""
    return verdicts(claim_rows(ctx, 3, part, dataset=ds, resolution=int(res), model=model))


# ------------------------------------------------------------------------------------------------
def weights_section(ctx: Context) -> Section | None:
    g = ctx.table("guidance")
    if not len(g):
        return None
    w = g[g["sweep"] == "weight"]
    a = seed_means(w, ["accuracy", "fd", "mi_bound", "diversity"], KEYS + ["w"]).sort_values(KEYS + ["w"])
    parts = ["<p>Constant classifier-free guidance <i>(1 + w) e(x, s, y) - w e(x, s, null)</i> over the whole "
             "trajectory. Accuracy and the bound H(Y) - CE use the classifier trained on real images; FD is the "
             "Fréchet distance between its penultimate features of generated and held-out real images (lower is "
             "closer to the data; the dotted line is FD of as many real images outside the reference set, the "
             "noise floor at this sample size: held-out images, or training images when the test split is small). "
             "Error bars ±2 SE.</p>"]
    groups = list(a.groupby(KEYS, sort=False))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    pal = sns.color_palette("deep", max(1, len(groups)))
    for c, ((ds, res, model), gg) in zip(pal, groups):
        lab = f"{ds}@{res} {model}"
        axes[0].errorbar(gg["w"], gg["accuracy"], yerr=2 * gg["accuracy_se"], marker="o", color=c, label=lab)
        axes[1].errorbar(gg["w"], gg["fd"], yerr=2 * gg.get("fd_se", 0 * gg["fd"]), marker="o", color=c, label=lab)
        floor = w[(w["dataset"] == ds) & (w["resolution"] == res)]["fd_real"].mean()
        if np.isfinite(floor):
            axes[1].axhline(floor, color=c, ls=":", lw=1)
        axes[2].errorbar(gg["w"], gg["mi_bound"], yerr=2 * gg["mi_bound_se"], marker="o", color=c, label=lab)
        axes[2].axhline(float(gg["label_entropy"].iloc[0]), color=c, ls="--", lw=0.8)
    axes[0].set(xlabel="guidance weight w", ylabel="label accuracy of generated images")
    axes[1].set(xlabel="guidance weight w", ylabel="FD (classifier features)")
    axes[2].set(xlabel="guidance weight w", ylabel="H(Y) - CE [nats] (dashed: log K)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    parts.append(ctx.save(fig, "guidance_weights", "accuracy, FD and MI bound vs guidance weight",
                          "Weight sweep: label accuracy, Fréchet distance and classifier MI bound of generated images."))
    tab = a[KEYS + ["w", "n_samples"]].copy()
    tab["accuracy"] = [pm(v, s, 3) for v, s in zip(a["accuracy"], a["accuracy_se"])]
    tab["H(Y) - CE"] = [pm(v, s, 3) for v, s in zip(a["mi_bound"], a["mi_bound_se"])]
    tab["FD"] = [fmt(v, 3) for v in a["fd"]]
    tab["FD of real images (split)"] = [f"{fmt(v, 3)} ({esc(s)})" for v, s in zip(a["fd_real"], a["fd_real_source"])]
    tab["diversity (real)"] = [f"{fmt(v, 3)} ({fmt(r, 3)})" for v, r in zip(a["diversity"], a["diversity_real"])]
    parts.append(html_table(tab))
    return Section("Guidance: weight sweep", "\n".join(parts), "guidance-weights")


# ------------------------------------------------------------------------------------------------
def windows_section(ctx: Context) -> Section | None:
    g = ctx.table("guidance")
    if not len(g):
        return None
    process = _process(ctx)
    parts = ["<p>Guidance at the reference weight switched on in one window at a time (windows of equal log-SNR "
             "width tiling the whole trajectory; window 1 is the highest noise, i.e. the start of generation), and "
             "only early / only late at several cut points. Bars: accuracy gain over w = 0 (paired on the same "
             "starting noise, ±2 SE); line: the same model's measured MI rate i per unit log-SNR. The x axis is "
             "log-SNR λ; EDM σ on top, diffusion time s below.</p>"]
    for (ds, res, model), gm in g.groupby(KEYS, sort=False):
        a = seed_means(gm, GUIDANCE_MEANS, ["sweep", "setting"])
        win = a[a["sweep"] == "window"].sort_values("position")
        sp = a[a["sweep"] == "split"]
        full = a[a["sweep"] == "reference"].sort_values("w").iloc[-1]
        rates = rate_curve(ctx.table("rates"), ds, res, model)
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
        ax = axes[0]
        for _, r in win.iterrows():
            lo, hi = float(r["log_snr_lo"]), float(r["log_snr_hi"])
            ax.bar(0.5 * (lo + hi), r["acc_gain"], width=0.92 * (hi - lo), color="#4c72b0", alpha=0.75)
            ax.errorbar(0.5 * (lo + hi), r["acc_gain"], yerr=2 * r["acc_gain_se"], color="k", capsize=3)
        ax.axhline(float(full["acc_gain"]), color="#c44e52", ls="--", lw=1, label=f"full guidance (w={fmt(full['w'], 3)})")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel("accuracy gain over w = 0")
        if len(rates):
            ax2 = ax.twinx()
            ax2.plot(rates["log_snr"], rates["i_rate_lam"], color="#55a868", lw=2, label="i per unit λ")
            ax2.set_ylabel("measured MI rate i [nats / unit λ]", color="#55a868")
            ax2.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="upper right")
        time_axes(ax, process)
        ax = axes[1]
        cuts, es, ls_, elo, ehi, llo, lhi, eb, lb = [], [], [], [], [], [], [], [], []
        for _, r in sp.sort_values("position").iterrows():
            if str(r["setting"]).startswith("early"):
                cuts.append(float(r["log_snr_hi"]))
                es.append(r["gain_share"]), elo.append(r["gain_share_lo"]), ehi.append(r["gain_share_hi"])
                eb.append(r["bound_share"])
            else:
                ls_.append(r["gain_share"]), llo.append(r["gain_share_lo"]), lhi.append(r["gain_share_hi"])
                lb.append(r["bound_share"])
        if cuts:
            cuts = np.array(cuts)
            ax.plot(cuts, eb, color="#4c72b0", ls="--", marker=".", label="early only, log-likelihood share")
            ax.plot(cuts, lb, color="#dd8452", ls="--", marker=".", label="late only, log-likelihood share")
            for ys, lo_, hi_, lab, c in ((es, elo, ehi, "early only (λ < cut)", "#4c72b0"),
                                         (ls_, llo, lhi, "late only (λ > cut)", "#dd8452")):
                ys, lo_, hi_ = (np.array(v, float) for v in (ys, lo_, hi_))
                ax.plot(cuts, ys, marker="o", color=c, label=lab)
                ax.fill_between(cuts, lo_, hi_, color=c, alpha=0.2)
            if len(rates):
                ax.plot(cuts, [info_share_below(rates, c) for c in cuts], color="#55a868", ls=":",
                        label="share of ∫ i dλ below the cut")
        ax.axhline(1, color="k", lw=0.6, ls="--")
        ax.axhline(0, color="k", lw=0.6)
        ax.set(ylabel="share of the full-guidance accuracy gain")
        ax.legend(fontsize=7)
        time_axes(ax, process)
        fig.suptitle(f"{ds} @ {res}, {model}")
        fig.tight_layout()
        parts.append(f"<h3>{esc(ds)} @ {int(res)} ({esc(model)})</h3>")
        parts.append(ctx.save(fig, f"guidance_windows_{safe_name(ds)}_{int(res)}_{safe_name(model)}",
                              f"accuracy gain per guidance window over i(s), {ds} {res}",
                              "Left: accuracy gain of guidance in one window at a time, over the measured MI rate. "
                              "Right: share of the full-guidance gain from guidance only early / only late "
                              "(shaded: 95 % bootstrap CI) and the share of the label information produced early."))
        parts.append(_claim3(ctx, "early_late", ds, res, model))
        parts.append(_claim3(ctx, "top_window", ds, res, model))
        tab = pd.concat([win, sp.sort_values(["position", "setting"])])
        t = pd.DataFrame({
            "setting": tab["setting"],
            "log-SNR": [f"[{fmt(lo, 3)}, {fmt(hi, 3)}]" for lo, hi in zip(tab["log_snr_lo"], tab["log_snr_hi"])],
            "EDM σ": [f"[{fmt(lo, 3)}, {fmt(hi, 3)}]" for lo, hi in zip(tab["edm_sigma_lo"], tab["edm_sigma_hi"])],
            "accuracy": [pm(v, s, 3) for v, s in zip(tab["accuracy"], tab["accuracy_se"])],
            "gain over w=0": [pm(v, s, 3) for v, s in zip(tab["acc_gain"], tab["acc_gain_se"])],
            "share of full gain": [ci_text(v, lo, hi, True) for v, lo, hi in
                                   zip(tab["gain_share"], tab["gain_share_lo"], tab["gain_share_hi"])],
            "share of full log-lik. gain": [ci_text(v, lo, hi, True) for v, lo, hi in
                                            zip(tab["bound_share"], tab["bound_share_lo"], tab["bound_share_hi"])],
            "ΔFD vs none": [ci_text(v, lo, hi) for v, lo, hi in
                            zip(tab["fd_delta_none"], tab["fd_delta_none_lo"], tab["fd_delta_none_hi"])],
            "ΔFD vs full": [ci_text(v, lo, hi) for v, lo, hi in
                            zip(tab["fd_delta_full"], tab["fd_delta_full_lo"], tab["fd_delta_full_hi"])]})
        parts.append(html_table(t))
    return Section("Guidance timing: windows and early/late splits", "\n".join(parts), "guidance-windows")


# ------------------------------------------------------------------------------------------------
def frontier_section(ctx: Context) -> Section | None:
    g = ctx.table("guidance")
    if not len(g):
        return None
    parts = ["<p>The accuracy–FD trade-off of three schedule families. Constant: the weight sweep. At the guidance "
             "budget (∫ w dλ, or ∫ w ds, see the budget column) of each constant weight in the budget sweep: the "
             "information-scheduled schedule (w ∝ the model's measured i per unit log-SNR) and the best window of "
             "the window sweep rescaled to the same budget. Up and to the left is better. The best window is "
             "selected on the window sweep's samples (same starting noise), a mild winner's-curse bias in its "
             "favour.</p>"]
    for (ds, res, model), gm in g.groupby(KEYS, sort=False):
        a = seed_means(gm, ["accuracy", "fd"], ["sweep", "setting"])
        const = a[a["sweep"] == "weight"].sort_values("w")
        bud = a[a["sweep"] == "budget"]
        fig, ax = plt.subplots(figsize=(6.2, 4.4))
        ax.errorbar(const["fd"], const["accuracy"], yerr=2 * const["accuracy_se"], marker="o", label="constant w")
        for x, y, w in zip(const["fd"], const["accuracy"], const["w"]):
            ax.annotate(f"w={w:g}", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        none = a[a["setting"] == "none (w=0)"]
        for fam, mk, lab in (("info", "s", "information-scheduled"), ("interval", "D", "best window")):
            f = bud[bud["family"] == fam].sort_values("budget_of_w")
            if len(f):
                f = pd.concat([none, f])
                ax.errorbar(f["fd"], f["accuracy"], yerr=2 * f["accuracy_se"], marker=mk, ls="--", label=lab)
        ax.set(xlabel="FD (classifier features; lower = closer to data)", ylabel="label accuracy",
               title=f"{ds} @ {res}, {model}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        parts.append(ctx.save(fig, f"guidance_frontier_{safe_name(ds)}_{int(res)}_{safe_name(model)}",
                              f"accuracy-FD frontier {ds} {res}",
                              f"Accuracy vs FD for constant, interval and information-scheduled guidance, "
                              f"<b>{esc(ds)}</b> @ {int(res)}."))
        rows, lines = [], []
        for wb, gb in bud.groupby("budget_of_w"):
            r = {"budget of w": fmt(wb, 3), "budget": fmt(float(gb["budget"].iloc[0]), 4)}
            fams = {}
            for _, x in gb.iterrows():
                fams[x["family"]] = x
                r[f"{x['family']}: accuracy"] = pm(x["accuracy"], x["accuracy_se"], 3)
                r[f"{x['family']}: FD"] = fmt(x["fd"], 3)
            rows.append(r)
            if "info" in fams and "constant" in fams:
                i, c = fams["info"], fams["constant"]
                d = float(i["accuracy"] - c["accuracy"])
                se = math.hypot(float(i["accuracy_se"]), float(c["accuracy_se"]))
                lines.append(f"budget of w = {fmt(wb, 3)}: information-scheduled minus constant accuracy "
                             f"{pm(d, se, 3)} (unpaired SE, conservative), FD {fmt(float(i['fd']), 3)} vs "
                             f"{fmt(float(c['fd']), 3)}")
        bw = bud[bud["family"] == "interval"]
        if len(bw):
            r0 = bw.iloc[0]
            parts.append(f"<p>Best window of the window sweep: log-SNR [{fmt(r0['log_snr_lo'], 3)}, "
                         f"{fmt(r0['log_snr_hi'], 3)}], EDM σ [{fmt(r0['edm_sigma_lo'], 3)}, "
                         f"{fmt(r0['edm_sigma_hi'], 3)}] (highest accuracy, then log-likelihood).</p>")
        if rows:
            parts.append(html_table(pd.DataFrame(rows)))
        if lines:
            parts.append("<ul>" + "".join(f"<li>{x}</li>" for x in lines) + "</ul>")
    return Section("Guidance schedules at equal budget: the accuracy–FD frontier", "\n".join(parts),
                   "guidance-frontier")


# ------------------------------------------------------------------------------------------------
def gaussian_section(ctx: Context) -> Section | None:
    g = ctx.table("guidance_gaussian")
    if not len(g):
        return None
    process = _process(ctx)
    pub = published().get("guided_gaussian", {})
    parts = ["<p>Joint Gaussian Y = A X + Z. Exact: the law of guided probability-flow samples started at the "
             "equilibrium N(0, I), computed by <code>JointGaussian.guided_law</code> (the guided ODE is linear). "
             "Exact-score samples: the configured sampler on exact scores (its discretisation error). Network "
             "samples: the trained model's guided samples, MI of a Gaussian fit. Neural: a freshly trained MINDE "
             "estimator (<code>diffsep.estimate_mi</code>) on draws from the exact guided law (the estimator's own "
             "error) and on the network's samples. Error bars ±2 SE.</p>"]
    for (ds, res, model), gm in g.groupby(KEYS, sort=False):
        a = seed_means(gm, GAUSSIAN_MEANS, ["sweep", "setting"])
        dense = a[(a["sweep"] == "exact_weight") & a["exact_mi"].notna()].sort_values("w")
        wts = a[a["sweep"] == "weight"].sort_values("w")
        # two rows at the page's width (13 in shows at about full size; the former 18 in row of three
        # shrank its text to unreadable): MI vs w and the MI-KL trade-off on top, the windows below
        fig = plt.figure(figsize=(13, 9.5))
        axes = [fig.add_subplot(2, 2, 1), fig.add_subplot(2, 1, 2), fig.add_subplot(2, 2, 2)]
        ax = axes[0]
        ax.plot(dense["w"], dense["exact_mi"], "k-", lw=2, label="exact guided law")
        for col, mk, lab in (("scores_fit_mi", "x", "exact scores + sampler (Gaussian fit)"),
                             ("model_fit_mi", "o", "trained network (Gaussian fit)"),
                             ("neural_mi_law", "s", "neural MINDE on exact-law draws"),
                             ("neural_mi_model", "D", "neural MINDE on network samples")):
            src = wts if col in ("scores_fit_mi", "model_fit_mi") else a[a[col].notna() & (a["sweep"] != "exact_weight")]
            src = src[src[col].notna()].drop_duplicates("w").sort_values("w")
            if len(src):
                ax.errorbar(src["w"], src[col], yerr=2 * src.get(col + "_se", 0 * src[col]), marker=mk, ls="",
                            label=lab)
        if pub and int(res) == 25:
            ax.plot([0, pub["setup"]["w"]], [pub["mi_unguided"], pub["mi_guided_neural"]], "r*", ms=11,
                    label="paper notebook (neural, its own Gaussian)")
        ax.axhline(float(a["true_mi"].iloc[0]), color="grey", ls=":", lw=1, label="I(X;Y) of the data")
        ax.set(xlabel="guidance weight w", ylabel="I(X_gen; Y) [nats]", title=f"{ds}: MI of guided samples")
        ax.legend(fontsize=9)
        ax = axes[1]
        win = a[a["sweep"] == "window"].sort_values("position")
        for _, r in win.iterrows():
            lo, hi = float(r["log_snr_lo"]), float(r["log_snr_hi"])
            ax.bar(0.5 * (lo + hi), r["exact_gain_share"], width=0.92 * (hi - lo), color="#4c72b0", alpha=0.75)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel("exact MI gain of the window / that of full guidance")
        rates = rate_curve(ctx.table("rates"), ds, res, "exact")
        if len(rates):
            ax2 = ax.twinx()
            ax2.plot(rates["log_snr"], rates["i_rate_lam"], color="#55a868", lw=2)
            ax2.set_ylabel("exact MI rate i [nats / unit λ]", color="#55a868")
            ax2.set_ylim(bottom=0)
        time_axes(ax, process)
        ax = axes[2]  # the exact MI-KL trade-off of the schedule families
        ax.plot(dense["exact_kl_joint"], dense["exact_mi"], "k-o", ms=3, label="constant w")
        bud = a[a["sweep"] == "budget"]
        for name, sel, mk in (("information-scheduled (exact rate)", bud["setting"].str.contains("exact rate"), "s"),
                              ("information-scheduled (network's rate)", (bud["family"] == "info")
                               & ~bud["setting"].str.contains("exact rate"), "^"),
                              ("best window", bud["family"] == "interval", "D")):
            f = bud[sel].sort_values("budget")
            if len(f):
                ax.plot(f["exact_kl_joint"], f["exact_mi"], marker=mk, ls="--", label=name)
        for df_, lab, mk in ((win, "single windows", "v"), (a[a["sweep"] == "split"], "early/late splits", "x")):
            if len(df_):
                ax.plot(df_["exact_kl_joint"], df_["exact_mi"], marker=mk, ls="", label=lab)
        ax.set(xlabel="exact KL(p_gen(x, y) || p_data(x, y)) [nats]", ylabel="exact I(X_gen; Y) [nats]",
               title="exact MI–KL trade-off")
        ax.legend(fontsize=9)
        fig.tight_layout()
        parts.append(f"<h3>{esc(ds)} (D_X = {int(res)}, {esc(model)})</h3>")
        parts.append(ctx.save(fig, f"guidance_gaussian_{safe_name(ds)}_{safe_name(model)}", f"guided MI vs w, {ds}",
                              "Top left: I(X_gen; Y) vs guidance weight, exact and estimated. Top right: exact MI "
                              "against exact KL to the data for every schedule (up and to the left is better). "
                              "Bottom: exact MI gain of guidance in one log-SNR window at a time, over the exact MI "
                              "rate."))
        # exact vs neural, as a function of w
        nn = a[a["neural_mi_law"].notna() | a["neural_mi_model"].notna()].copy()
        nn["_pref"] = (nn["sweep"] != "weight").astype(int)  # prefer weight-sweep rows (they carry the fits)
        nn = nn.sort_values(["w", "_pref"]).drop_duplicates("w")
        if len(nn):
            t = pd.DataFrame({"w": nn["w"], "exact": [fmt(v, 4) for v in nn["exact_mi"]],
                              "neural on exact-law draws": [pm(v, s, 4) for v, s in zip(nn["neural_mi_law"],
                                                                                        nn["neural_mi_law_se"])],
                              "gap (law)": [f"{100 * (v - e) / e:+.1f} %" if np.isfinite(v) else "–"
                                            for v, e in zip(nn["neural_mi_law"], nn["exact_mi"])],
                              "Gaussian fit of those draws": [fmt(v, 4) for v in nn["neural_fit_mi_law"]],
                              "neural on network samples": [pm(v, s, 4) for v, s in zip(nn["neural_mi_model"],
                                                                                        nn["neural_mi_model_se"])],
                              "network samples, Gaussian fit": [pm(v, s, 4) for v, s in zip(nn["model_fit_mi"],
                                                                                            nn["model_fit_mi_se"])],
                              "exact scores + sampler, fit": [pm(v, s, 4) for v, s in zip(nn["scores_fit_mi"],
                                                                                          nn["scores_fit_mi_se"])]})
            parts.append("<p>Neural vs exact MI of guided pairs (the neural-vs-exact gap as a function of w):</p>"
                         + html_table(t))
            if pub:
                parts.append(f"<p class='note'>Paper notebook ({esc(pub.get('source', ''))}): {pub['mi_unguided']} "
                             f"unguided, {pub['mi_guided_neural']} at w = {pub['setup']['w']} (neural, on its own "
                             f"Gaussian); {esc(pub.get('note', ''))}.</p>")
        if (a["sweep"] == "split").any():  # verdict: share of the exact MI gain from early guidance
            parts.append(_claim3(ctx, "gaussian_exact", ds, res, model))
        bud = a[a["sweep"] == "budget"]
        if len(bud):
            t = pd.DataFrame({"setting": bud["setting"], "budget": [fmt(v, 4) for v in bud["budget"]],
                              "exact MI": [fmt(v, 4) for v in bud["exact_mi"]],
                              "exact KL(joint)": [fmt(v, 4) for v in bud["exact_kl_joint"]],
                              "network fit MI": [pm(v, s, 4) for v, s in zip(bud["model_fit_mi"], bud["model_fit_mi_se"])],
                              "network fit KL": [fmt(v, 4) for v in bud["model_fit_kl"]],
                              "constant guidance's exact KL at the same exact MI": [
                                  fmt(float(np.interp(m, dense["exact_mi"], dense["exact_kl_joint"],
                                                      right=np.nan)), 4) for m in bud["exact_mi"]]})
            parts.append("<p>Equal-budget schedules (exact law; 'exact rate': w ∝ the exact i, sampled only with "
                         "exact scores):</p>" + html_table(t))
    return Section("Guidance on the joint Gaussian: exact vs neural", "\n".join(parts), "guidance-gaussian")


SECTIONS = [weights_section, windows_section, frontier_section, gaussian_section]

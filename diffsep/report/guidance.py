"""Report sections for the guidance-timing sweeps (claim 3): weight sweep, windows over i(s) on
three time axes, early/late verdicts with CIs, the accuracy-FD frontier of constant, interval and
information-scheduled guidance, and the joint Gaussian's exact vs neural MI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..process import VPProcess
from .base import Context, Section, esc, fmt, html_table, plt, pm, sns, verdict
from .information import _safe, published

__all__ = ["weights_section", "windows_section", "frontier_section", "gaussian_section", "SECTIONS"]

KEYS = ["dataset", "resolution", "model"]


def _process(ctx: Context) -> VPProcess:
    return VPProcess(**(ctx.meta.get("process") or {}))


def _agg(df: pd.DataFrame, cols: list[str], by: list[str]) -> pd.DataFrame:
    """Mean over seeds; standard errors combine the per-seed SEs with the spread across seeds."""
    rows = []
    for key, g in df.groupby(by, sort=False, dropna=False):
        r = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        r["n_seeds"] = g["seed"].nunique() if "seed" in g else 1
        for c in g.columns:
            if c in by or c in cols or c.endswith("_se"):
                continue
            v = g[c].iloc[0]
            r[c] = v
        for c in cols:
            v = g[c].astype(float)
            r[c] = float(v.mean())
            if c + "_se" in g:
                se = g[c + "_se"].astype(float)
                if se.isna().all() or v.isna().all():
                    r[c + "_se"] = float("nan")
                    continue
                within = math.sqrt(float((se**2).sum())) / len(g)
                between = float(v.std(ddof=1) / math.sqrt(len(g))) if len(g) > 1 else 0.0
                r[c + "_se"] = max(within, between)
        rows.append(r)
    return pd.DataFrame(rows)


def _ci_text(v, lo, hi, pct: bool = False) -> str:
    f = (lambda x: f"{100 * x:.0f} %") if pct else (lambda x: fmt(x, 3))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return f(v)
    return f"{f(v)} [{f(lo)}, {f(hi)}]"


def _time_axes(ax, process: VPProcess):
    """log-SNR on the x axis, with EDM sigma on top and s below (secondary axes)."""
    top = ax.secondary_xaxis("top", functions=(lambda lam: np.exp(-0.5 * np.asarray(lam)),
                                               lambda sig: -2.0 * np.log(np.clip(sig, 1e-12, None))))
    top.set_xlabel("EDM σ = σ/μ")
    top.set_xscale("log")
    lo, hi = process.log_snr_range

    def to_s(lam):
        return process.s_from_log_snr(np.clip(np.asarray(lam, float), lo - 5, hi + 5))

    def from_s(s):
        return process.log_snr(np.clip(np.asarray(s, float), 1e-9, 1.0))

    bottom = ax.secondary_xaxis(-0.28, functions=(to_s, from_s))
    ticks = [t for t in (1.0, 0.6, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4) if t >= process.s_min]
    bottom.set_xticks(ticks, [f"{t:g}" for t in ticks])
    bottom.set_xlabel("diffusion time s (1 = start of generation)")
    ax.set_xlabel("log-SNR λ (low = early in generation = high noise)")


def _rates_for(ctx: Context, ds, res, model) -> pd.DataFrame:
    r = ctx.table("rates")
    if not len(r):
        return r
    r = r[(r["dataset"] == ds) & (r["resolution"] == res) & (r["model"] == model) & r["i_rate_lam"].notna()]
    return r.groupby("log_snr", as_index=False)[["i_rate_lam", "s", "edm_sigma"]].mean().sort_values("log_snr")


def _info_share_below(rates: pd.DataFrame, cut: float) -> float:
    """Share of the measured ``int i dlambda`` produced at log-SNR below ``cut`` (early)."""
    if len(rates) < 2:
        return float("nan")
    lam, i = rates["log_snr"].to_numpy(float), np.clip(rates["i_rate_lam"].to_numpy(float), 0, None)
    fine = np.linspace(lam.min(), lam.max(), 4001)
    fi = np.interp(fine, lam, i)
    tot = np.trapezoid(fi, fine)
    sel = fine <= cut
    return float(np.trapezoid(fi[sel], fine[sel]) / tot) if tot > 0 and sel.sum() > 1 else float("nan")


# ------------------------------------------------------------------------------------------------
def weights_section(ctx: Context) -> Section | None:
    g = ctx.table("guidance")
    if not len(g):
        return None
    w = g[g["sweep"] == "weight"]
    a = _agg(w, ["accuracy", "fd", "mi_bound", "diversity"], KEYS + ["w"]).sort_values(KEYS + ["w"])
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
def _verdict_early_late(sp: pd.DataFrame, full: pd.Series, rates: pd.DataFrame) -> tuple[str, list]:
    """Verdict on 'early guidance does almost everything, late almost nothing' at the middle cut."""
    rows = []
    for pos, gp in sp.groupby("position"):
        e = gp[gp["setting"].str.startswith("early")].iloc[0]
        lt = gp[gp["setting"].str.startswith("late")].iloc[0]
        cut = float(e["log_snr_hi"])  # early only: s in (s_cut, 1], so its upper log-SNR edge is the cut
        rows.append({"cut": cut, "pos": int(pos), "early": e, "late": lt})
    if not rows:
        return verdict(None, "no split settings in this run"), rows
    mid = rows[(len(rows) - 1) // 2]
    g_full, g_full_se = float(full["acc_gain"]), float(full["acc_gain_se"])
    e, lt = mid["early"], mid["late"]
    share_i = _info_share_below(rates, mid["cut"])
    info_txt = (f" {100 * share_i:.0f} % of the measured label information (∫ i dλ) is produced at λ &lt; "
                f"{mid['cut']:.2f}." if np.isfinite(share_i) else "")
    txt = (f"full guidance (w = {fmt(full['w'], 3)}) raises accuracy by {pm(g_full, g_full_se, 3)}; guidance only "
           f"early (λ &lt; {mid['cut']:.2f}, EDM σ &gt; {fmt(math.exp(-mid['cut'] / 2), 3)}) delivers "
           f"{_ci_text(e['gain_share'], e['gain_share_lo'], e['gain_share_hi'], pct=True)} of that gain, only late "
           f"{_ci_text(lt['gain_share'], lt['gain_share_lo'], lt['gain_share_hi'], pct=True)} (95 % bootstrap CIs). "
           f"In mean classifier log-likelihood (gain of H(Y) - CE {pm(float(full['bound_gain']), float(full['bound_gain_se']), 3)} "
           f"nats at full guidance): early {_ci_text(e['bound_share'], e['bound_share_lo'], e['bound_share_hi'], pct=True)}, "
           f"late {_ci_text(lt['bound_share'], lt['bound_share_lo'], lt['bound_share_hi'], pct=True)}."
           + info_txt)
    if not g_full - 2 * g_full_se > 0:
        return verdict(None, "full guidance does not raise accuracy significantly here, so shares are undefined: "
                       + txt), rows
    e_lo, e_hi = float(e["gain_share_lo"]), float(e["gain_share_hi"])
    l_lo, l_hi = float(lt["gain_share_lo"]), float(lt["gain_share_hi"])
    if e_lo > 0.5 and l_hi < 0.5:
        ok = True
    elif e_hi < 0.5 or l_lo > 0.5:
        ok = False
    else:
        ok = None
    return verdict(ok, "early guidance delivers most of the accuracy gain, late guidance little: " + txt), rows


def _verdict_top_window(sp_rows: list, windows: pd.DataFrame) -> str:
    """Does guidance in the highest-noise window hurt FD? (full vs full-minus-window-1, paired)."""
    if not sp_rows or not len(windows):
        return verdict(None, "no window/split settings in this run")
    first = sp_rows[0]["late"]  # guidance everywhere except window 1 (late only at the first edge)
    w1 = windows[windows["position"] == 1].iloc[0]
    d, lo, hi = float(first["fd_delta_full"]), float(first["fd_delta_full_lo"]), float(first["fd_delta_full_hi"])
    d1, lo1, hi1 = float(w1["fd_delta_none"]), float(w1["fd_delta_none_lo"]), float(w1["fd_delta_none_hi"])
    txt = (f"switching guidance off in the highest-noise window (λ &lt; {float(first['log_snr_lo']):.2f}) changes FD by "
           f"{_ci_text(d, lo, hi)} relative to full guidance; guidance in that window alone changes FD by "
           f"{_ci_text(d1, lo1, hi1)} relative to none (95 % paired bootstrap CIs).")
    if hi < 0:
        return verdict(True, "the highest-noise window hurts FD (as the guidance-interval papers find): " + txt)
    if lo > 0:
        return verdict(False, "the highest-noise window does not hurt FD, it helps: " + txt)
    return verdict(None, "no significant FD effect of the highest-noise window at this sample size: " + txt)


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
        a = _agg(gm, ["accuracy", "acc_gain", "gain_share", "bound_gain", "bound_share", "fd", "fd_delta_none",
                      "fd_delta_full"], ["sweep", "setting"])
        win = a[a["sweep"] == "window"].sort_values("position")
        sp = a[a["sweep"] == "split"]
        full = a[a["sweep"] == "reference"].sort_values("w").iloc[-1]
        rates = _rates_for(ctx, ds, res, model)
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
        _time_axes(ax, process)
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
                ax.plot(cuts, [_info_share_below(rates, c) for c in cuts], color="#55a868", ls=":",
                        label="share of ∫ i dλ below the cut")
        ax.axhline(1, color="k", lw=0.6, ls="--")
        ax.axhline(0, color="k", lw=0.6)
        ax.set(ylabel="share of the full-guidance accuracy gain")
        ax.legend(fontsize=7)
        _time_axes(ax, process)
        fig.suptitle(f"{ds} @ {res}, {model}")
        fig.tight_layout()
        parts.append(f"<h3>{esc(ds)} @ {int(res)} ({esc(model)})</h3>")
        parts.append(ctx.save(fig, f"guidance_windows_{_safe(ds)}_{int(res)}_{_safe(model)}",
                              f"accuracy gain per guidance window over i(s), {ds} {res}",
                              "Left: accuracy gain of guidance in one window at a time, over the measured MI rate. "
                              "Right: share of the full-guidance gain from guidance only early / only late "
                              "(shaded: 95 % bootstrap CI) and the share of the label information produced early."))
        v1, sp_rows = _verdict_early_late(sp, full, rates)
        parts.append(v1)
        parts.append(_verdict_top_window(sp_rows, win))
        tab = pd.concat([win, sp.sort_values(["position", "setting"])])
        t = pd.DataFrame({
            "setting": tab["setting"],
            "log-SNR": [f"[{fmt(lo, 3)}, {fmt(hi, 3)}]" for lo, hi in zip(tab["log_snr_lo"], tab["log_snr_hi"])],
            "EDM σ": [f"[{fmt(lo, 3)}, {fmt(hi, 3)}]" for lo, hi in zip(tab["edm_sigma_lo"], tab["edm_sigma_hi"])],
            "accuracy": [pm(v, s, 3) for v, s in zip(tab["accuracy"], tab["accuracy_se"])],
            "gain over w=0": [pm(v, s, 3) for v, s in zip(tab["acc_gain"], tab["acc_gain_se"])],
            "share of full gain": [_ci_text(v, lo, hi, True) for v, lo, hi in
                                   zip(tab["gain_share"], tab["gain_share_lo"], tab["gain_share_hi"])],
            "share of full log-lik. gain": [_ci_text(v, lo, hi, True) for v, lo, hi in
                                            zip(tab["bound_share"], tab["bound_share_lo"], tab["bound_share_hi"])],
            "ΔFD vs none": [_ci_text(v, lo, hi) for v, lo, hi in
                            zip(tab["fd_delta_none"], tab["fd_delta_none_lo"], tab["fd_delta_none_hi"])],
            "ΔFD vs full": [_ci_text(v, lo, hi) for v, lo, hi in
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
        a = _agg(gm, ["accuracy", "fd"], ["sweep", "setting"])
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
        parts.append(ctx.save(fig, f"guidance_frontier_{_safe(ds)}_{int(res)}_{_safe(model)}",
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
        a = _agg(gm, ["exact_mi", "exact_kl_joint", "scores_fit_mi", "model_fit_mi", "model_fit_kl", "neural_mi_law",
                      "neural_mi_model", "neural_fit_mi_law", "neural_fit_mi_model", "exact_gain_share"],
                 ["sweep", "setting"])
        dense = a[(a["sweep"] == "exact_weight") & a["exact_mi"].notna()].sort_values("w")
        wts = a[a["sweep"] == "weight"].sort_values("w")
        fig, axes = plt.subplots(1, 3, figsize=(18, 4.6))
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
        ax.legend(fontsize=7)
        ax = axes[1]
        win = a[a["sweep"] == "window"].sort_values("position")
        for _, r in win.iterrows():
            lo, hi = float(r["log_snr_lo"]), float(r["log_snr_hi"])
            ax.bar(0.5 * (lo + hi), r["exact_gain_share"], width=0.92 * (hi - lo), color="#4c72b0", alpha=0.75)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel("exact MI gain of the window / that of full guidance")
        rates = _rates_for(ctx, ds, res, "exact")
        if len(rates):
            ax2 = ax.twinx()
            ax2.plot(rates["log_snr"], rates["i_rate_lam"], color="#55a868", lw=2)
            ax2.set_ylabel("exact MI rate i [nats / unit λ]", color="#55a868")
            ax2.set_ylim(bottom=0)
        _time_axes(ax, process)
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
        ax.legend(fontsize=7)
        fig.tight_layout()
        parts.append(f"<h3>{esc(ds)} (D_X = {int(res)}, {esc(model)})</h3>")
        parts.append(ctx.save(fig, f"guidance_gaussian_{_safe(ds)}_{_safe(model)}", f"guided MI vs w, {ds}",
                              "Left: I(X_gen; Y) vs guidance weight, exact and estimated. Middle: exact MI gain of "
                              "guidance in one log-SNR window at a time, over the exact MI rate. Right: exact MI "
                              "against exact KL to the data for every schedule (up and to the left is better)."))
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
        # verdict: share of the exact MI gain from early guidance (middle cut)
        sp = a[a["sweep"] == "split"].sort_values("position")
        if len(sp):
            poss = sorted(sp["position"].unique())
            mid = poss[(len(poss) - 1) // 2]
            e = sp[(sp["position"] == mid) & sp["setting"].str.startswith("early")].iloc[0]
            lt = sp[(sp["position"] == mid) & sp["setting"].str.startswith("late")].iloc[0]
            cut = float(e["log_snr_hi"])
            es, ls_ = float(e["exact_gain_share"]), float(lt["exact_gain_share"])
            ms = ""
            base = wts[wts["w"] == 0]
            fullr = a[a["sweep"] == "reference"].sort_values("w").iloc[-1]
            if len(base) and np.isfinite(e.get("model_fit_mi", np.nan)):
                m0, mf = float(base["model_fit_mi"].iloc[0]), float(fullr["model_fit_mi"])
                if mf != m0:
                    ms = (f" With the trained network (Gaussian fit): early {100 * (e['model_fit_mi'] - m0) / (mf - m0):.0f} %, "
                          f"late {100 * (lt['model_fit_mi'] - m0) / (mf - m0):.0f} %.")
            txt = (f"exact law: guidance only at λ &lt; {cut:.2f} delivers {100 * es:.0f} % of the MI gain of full "
                   f"guidance (w = {fmt(fullr['w'], 3)}: {fmt(fullr['exact_mi'], 4)} vs {fmt(float(base['exact_mi'].iloc[0]) if len(base) else float('nan'), 4)} "
                   f"nats unguided), only at λ &gt; {cut:.2f} {100 * ls_:.0f} %." + ms)
            ok = True if es > 0.5 and ls_ < 0.5 else (False if es < 0.5 else None)
            parts.append(verdict(ok, "early guidance produces most of the extra label information: " + txt))
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

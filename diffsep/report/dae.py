"""Report section for claim 2 (semantics is separable from perceptual detail): diffusion
autoencoders with a semantic and a perceptual latent and a ladder split time ``s*``.

Reads tables ``dae`` (one row per trained DAE), ``dae_latents`` (per latent), ``dae_rates``
(decoder rate curves), ``dae_samples`` (images) and ``dae_training``; the verdicts per dataset,
resolution and seed (at the main split time) come from table ``claims``, decided by the rule stated
in :data:`diffsep.claims.RULE2`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import RULE2, as_float, main_arms, reference_mi
from ..dae.codec import decode_images
from ..dae.sweep import COLLAPSE, KL_FLOOR, READ_SHARE, sweep_table
from ..process import VPProcess
from .base import (Context, Section, claim_rows, esc, fmt, html_table, mpl_text, plt, pm, safe_name, time_axes,
                   verdicts)

__all__ = ["dae_section"]


def _show(ax, img: np.ndarray, title: str = "", color: str = "black") -> None:
    c = img.shape[0]
    ax.imshow(img[0] if c == 1 else np.transpose(img, (1, 2, 0)), cmap="gray" if c == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(mpl_text(title), fontsize=7, color=color, pad=2)


def _images(g: pd.DataFrame) -> np.ndarray:
    r = g.iloc[0]
    return decode_images(g["pixels"], int(r["channels"]), int(r["height"]), int(r["width"]))


def _name(i) -> str:
    return "?" if i is None or pd.isna(i) else str(int(i))


def _fig_swaps(ctx: Context, s: pd.DataFrame, title: str, fname: str) -> str | None:
    """Grid: originals of B on top, originals of A on the left; cell (i, j) = z_sem(A_i) + z_per(B_j)."""
    sw = s[s["kind"] == "swap"]
    if not len(sw):
        return None
    g = int(max(sw["row"].max(), sw["col"].max()) + 1)
    fig, axes = plt.subplots(g + 1, g + 2, figsize=(1.05 * (g + 2), 1.15 * (g + 1)))
    for ax in axes.ravel():
        ax.axis("off")
    oa = s[s["kind"] == "original_a"].sort_values("row")
    ob = s[s["kind"] == "original_b"].sort_values("col")
    ra = s[s["kind"] == "recon_a"].sort_values("row")
    for (_, r), img in zip(ob.iterrows(), _images(ob) if len(ob) else []):
        ax = axes[0, int(r["col"]) + 2]
        ax.axis("on")
        _show(ax, img, f"B: {_name(r['label_b'])}")
    for (_, r), img in zip(oa.iterrows(), _images(oa) if len(oa) else []):
        ax = axes[int(r["row"]) + 1, 0]
        ax.axis("on")
        _show(ax, img, f"A: {_name(r['label_a'])}")
    for (_, r), img in zip(ra.iterrows(), _images(ra) if len(ra) else []):
        ax = axes[int(r["row"]) + 1, 1]
        ax.axis("on")
        _show(ax, img, f"rec → {_name(r['predicted'])}")
    for (_, r), img in zip(sw.iterrows(), _images(sw)):
        ax = axes[int(r["row"]) + 1, int(r["col"]) + 2]
        ax.axis("on")
        p = r["predicted"]
        col = "black" if pd.isna(p) else ("tab:green" if int(p) == int(r["label_a"]) else
                                          "tab:red" if int(p) == int(r["label_b"]) else "tab:orange")
        _show(ax, img, f"→ {_name(p)}", col)
    fig.suptitle(mpl_text(title), fontsize=9)
    fig.tight_layout()
    cap = (f"Latent swaps, {esc(title)}. Left: image A and its reconstruction (with the classifier's label); top: "
           f"image B. Cell (A, B) decodes z<sub>sem</sub> of A with z<sub>per</sub> of B (same noise along a row). "
           f"Titles give the classifier's label: green = A's class (semantics follow z<sub>sem</sub>), red = B's, "
           f"orange = neither.")
    return ctx.save(fig, fname, f"latent swap grid {title}", cap)


def _fig_recon(ctx: Context, samples: pd.DataFrame) -> str | None:
    keys = [k for k, g in samples.groupby(["dataset", "resolution", "variant", "s_star"], dropna=False)
            if (g["kind"] == "recon_a").any()]
    if not keys:
        return None
    fig, axes = plt.subplots(2 * len(keys), 1, figsize=(9, 1.25 * 2 * len(keys)), squeeze=False)
    for k, key in enumerate(keys):
        ds, res, variant, s_star = key
        g = samples[(samples["dataset"] == ds) & (samples["resolution"] == res) & (samples["variant"] == variant)
                    & ((samples["s_star"] == s_star) if not pd.isna(s_star) else samples["s_star"].isna())]
        g = g.drop_duplicates(["kind", "row", "col"], keep="last")
        orig = pd.concat([g[g["kind"] == "original_a"].sort_values("row"), g[g["kind"] == "original_b"].sort_values("col")])
        rec = pd.concat([g[g["kind"] == "recon_a"].sort_values("row"), g[g["kind"] == "recon_b"].sort_values("col")])
        tag = f"{ds} @ {res}, {variant}" + ("" if pd.isna(s_star) else f" s*={s_star:g}")
        for row, frame, lab in ((2 * k, orig, "original"), (2 * k + 1, rec, "reconstruction")):
            imgs = _images(frame)
            strip = np.concatenate([np.pad(im, ((0, 0), (1, 1), (1, 1)), constant_values=1.0) for im in imgs], axis=2)
            _show(axes[row, 0], strip)
            axes[row, 0].axis("off")
            axes[row, 0].text(-0.01, 0.5, mpl_text(lab), fontsize=7, ha="right", va="center",
                              transform=axes[row, 0].transAxes)
            if row == 2 * k:
                axes[row, 0].set_title(mpl_text(tag), fontsize=8)
    fig.tight_layout()
    return ctx.save(fig, "dae_reconstructions", "DAE reconstructions",
                    "Test images (top of each pair) and their reconstructions from the encoded latents with fresh "
                    "noise (probability-flow ODE), for every trained DAE arm that has a figure set.")


def _fig_rates(ctx: Context, rates: pd.DataFrame, main: pd.DataFrame, process: VPProcess,
               label_rates: pd.DataFrame | None = None) -> str | None:
    if not len(rates) or not len(main):
        return None
    keys = list(main[["dataset", "resolution"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.3), squeeze=False)
    colors = {"sem": "tab:blue", "per": "tab:orange", "z": "tab:gray"}
    labels = {"sem": "i_sem(s): reads z_sem", "per": "i_per(s): reads z_per", "z": "plain DAE: one latent"}
    for ax, (ds, res) in zip(axes[0], keys):
        m = main[(main["dataset"] == ds) & (main["resolution"] == res)].iloc[0]
        sel = rates[(rates["dataset"] == ds) & (rates["resolution"] == res)]
        lad = sel[(sel["variant"] == "ladder") & np.isclose(sel["s_star"].astype(float), float(m["s_star"]))]
        lad = lad.groupby(["latent", "log_snr"], as_index=False).mean(numeric_only=True)
        for lat, gl in lad.groupby("latent"):
            gl = gl.sort_values("log_snr")
            ax.plot(gl["log_snr"], gl["i_rate_lam"], "o-", ms=3, color=colors.get(lat), label=labels.get(lat, lat))
            ax.fill_between(gl["log_snr"], gl["i_rate_lam"] - 2 * gl["i_rate_lam_se"],
                            gl["i_rate_lam"] + 2 * gl["i_rate_lam_se"], color=colors.get(lat), alpha=0.2)
        if label_rates is not None and len(label_rates) and "i_rate_lam" in label_rates:
            own = label_rates[(label_rates["dataset"] == ds) & (label_rates["resolution"] == res)
                              & label_rates["i_rate_lam"].notna()]
            for model, go in own.groupby("model"):
                go = go.groupby("log_snr", as_index=False)["i_rate_lam"].mean().sort_values("log_snr")
                ax.plot(go["log_snr"], go["i_rate_lam"].clip(lower=1e-6), "-", lw=1.2, color="tab:green",
                        alpha=0.9 if model == "exact" else 0.6, ls="-" if model == "exact" else "-.",
                        label=f"i(s) of Y, {model} (information stage)")
        pl = sel[sel["variant"] == "plain"].groupby("log_snr", as_index=False).mean(numeric_only=True)
        if len(pl):
            ax.plot(pl["log_snr"], pl["i_rate_lam"], ls="--", color=colors["z"], label=labels["z"])
        ax.axvline(float(process.log_snr(float(m["s_star"]))) if 0 < float(m["s_star"]) <= 1 else np.nan,
                   color="k", ls=":", lw=1, label=f"s* = {float(m['s_star']):g}")
        ax.set_yscale("log")
        ax.set_ylabel("MI rate between image and latent [nats / unit λ]")
        ax.set_title(mpl_text(f"{ds} @ {res}"), fontsize=9)
        time_axes(ax, process)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return ctx.save(fig, "dae_rates", "DAE MI rate between image and latents",
                    "The decoder's MI rate i(s) = β/2 E‖e(x<sub>s</sub>, s, z) − e(x<sub>s</sub>, s, null)‖² per unit "
                    "log-SNR, at the main split time: blue where it reads z<sub>sem</sub> (s &ge; s*), orange where "
                    "it reads z<sub>per</sub>; dashed: a plain one-latent DAE, where trained. Shaded ±2 SE. Green: the "
                    "label MI rate i(s) of the conditional diffusion model (information stage; exact where the data "
                    "have an exact law): the label information the image holds above s* is the area left of the "
                    "dotted line.")


def _fig_sweep(ctx: Context, lat: pd.DataFrame, dae: pd.DataFrame) -> str | None:
    lad = lat[lat["variant"] == "ladder"]
    if not len(lad):
        return None
    keys = list(lad[["dataset", "resolution"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.8 * len(keys), 3.8), squeeze=False)
    for ax, (ds, res) in zip(axes[0], keys):
        g = lad[(lad["dataset"] == ds) & (lad["resolution"] == res)]
        for latent, col, lab in (("sem", "tab:blue", "I(Z_sem;Y)"), ("per", "tab:orange", "I(Z_per;Y)")):
            gl = g[g["latent"] == latent].groupby("s_star", as_index=False).agg(
                mi_y=("mi_y", "mean"), mi_y_se=("mi_y_se", "mean"), probe_bound=("probe_bound", "mean"))
            ax.errorbar(gl["s_star"], gl["mi_y"], yerr=2 * gl["mi_y_se"], fmt="o-", color=col, capsize=3, label=lab)
            ax.plot(gl["s_star"], gl["probe_bound"], "x--", color=col, alpha=0.7, label=f"probe bound, {latent}")
        d = dae[(dae["dataset"] == ds) & (dae["resolution"] == res)]
        if len(d):
            ax.axhline(float(d["log_k"].iloc[0]), color="k", lw=1, ls=":", label="log K")
            ref = d["mi_xy_classifier"].dropna()
            if len(ref):
                ax.axhline(float(ref.mean()), color="tab:green", lw=1, ls="-.", label="classifier bound on I(X;Y)")
            exact = d["mi_xy_exact"].dropna() if "mi_xy_exact" in d else []
            if len(exact):
                ax.axhline(float(exact.mean()), color="k", lw=1, ls="-", label="exact I(X;Y)")
        for latent, col in (("sem", "tab:blue"), ("per", "tab:orange")):
            lim = g.loc[g["latent"] == latent, "mi_y_view_exact"].dropna() if "mi_y_view_exact" in g else []
            if len(lim):
                ax.axhline(float(lim.mean()), color=col, lw=1, ls="--", label=f"exact limit of the {latent} view")
        ax.set(xlabel="split time s* (z_sem read for s ≥ s*)", ylabel="nats", xlim=(-0.03, 1.03))
        ax.set_title(mpl_text(f"{ds} @ {res}"), fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return ctx.save(fig, "dae_sweep", "label information of each latent vs split time",
                    "Label information of the semantic and perceptual latents against the ladder split time s* "
                    "(MINDE with ±2 SE; crosses: linear-probe bound H(Y) − CE). s* = 0: only z<sub>sem</sub> is "
                    "read; s* = 1: only z<sub>per</sub>.")


def _fig_training(ctx: Context, tr: pd.DataFrame) -> str | None:
    if not len(tr):
        return None
    keys = list(tr[["dataset", "resolution"]].drop_duplicates().itertuples(index=False, name=None))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
    for ax, (ds, res) in zip(axes[0], keys):
        g = tr[(tr["dataset"] == ds) & (tr["resolution"] == res)]
        for key, gg in g.groupby(["variant", "s_star"], dropna=False):
            lab = "plain" if key[0] == "plain" else f"s*={key[1]:g}"
            gg = gg.groupby("step", as_index=False).mean(numeric_only=True)
            ax.plot(gg["step"], gg["loss"], label=lab)
        ax.set(xlabel="step", ylabel="loss (denoising + KL term)", yscale="log")
        ax.set_title(mpl_text(f"{ds} @ {res}"), fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return ctx.save(fig, "dae_training", "DAE training curves", "Training loss of every DAE arm.")


def _texture_note(main: pd.DataFrame) -> str:
    t = main["swap_texture_b"].astype(float)
    if not t.notna().any():
        return ""
    items = ", ".join(f"{esc(r['dataset'])} {fmt(100 * r['swap_texture_b'], 3)} %" for _, r in main.iterrows()
                      if pd.notna(r["swap_texture_b"]))
    return ("<p>Texture: the share of swaps whose fine detail (image minus its low-pass view) is closer to B's than "
            f"to A's is {items} (50 % = no preference). Where it stays near 50 %, the perceptual latent does not "
            "carry the detail: the decoder draws it from the noise (compare the perceptual latent's KL, an upper "
            "bound on I(X;Z<sub>per</sub>)).</p>")


KL_REASON = ("the decoder's MI-rate integral counts every difference between its conditional output e(x, s, z) "
             "and its null output e(x, s, null); the null is a learned embedding seen on p_uncond (10 %) of the "
             "training steps, not the marginal over latents, so its own error adds to the integral. A latent that the "
             "decoder ignores (KL near 0) then still shows a large integral. Read the KL, an upper bound on I(X;Z), "
             "as the limit and the integral as biased up")


def _caveats(lat: pd.DataFrame) -> str:
    """Estimates that break a bound they must respect, named with the bound (and why)."""
    notes = []
    for _, r in lat.iterrows():
        arm = "plain" if r["variant"] == "plain" else f"s*={float(r['s_star']):g}"
        tag = f"{esc(r['dataset'])} @ {int(r['resolution'])}, {arm}, z<sub>{esc(r['latent'])}</sub>"
        if as_float(r["mi_y"]) > as_float(r["label_entropy"]) + 2 * as_float(r["mi_y_se"]):
            notes.append(f"{tag}: I(Z;Y) = {fmt(r['mi_y'], 3)} exceeds H(Y) = {fmt(r['label_entropy'], 3)} (the "
                         f"latent MI estimator is biased up, e.g. under-trained)")
        lim = as_float(r.get("mi_y_view_exact"))
        if np.isfinite(lim) and as_float(r["mi_y"]) - 1.96 * as_float(r["mi_y_se"]) > lim + 0.02:
            notes.append(f"{tag}: I(Z;Y) = {fmt(r['mi_y'], 3)} exceeds the exact label information of its encoder's "
                         f"view, {fmt(lim, 3)} nats (data processing forbids it: the latent MI estimate is biased up)")
        flag = r.get("decoder_mi_over_kl")
        over = bool(flag) if flag is not None and not pd.isna(flag) else (
            as_float(r["decoder_mi"]) > as_float(r["kl"]) + 2 * as_float(r["decoder_mi_se"]))
        if over:
            notes.append(f"{tag}: the decoder's MI-rate integral {fmt(r['decoder_mi'], 3)} exceeds the encoder KL "
                         f"{fmt(r['kl'], 3)}, an upper bound on I(X;Z)")
    if not notes:
        return ("<p class='note'>Every I(Z;Y) is below H(Y) (and the exact limit of its view, where known) and every "
                "decoder MI integral below its latent's KL.</p>")
    why = (f"<p class='note'>Why the decoder's integral can exceed the KL: {esc(KL_REASON)}.</p>"
           if any("exceeds the encoder KL" in n for n in notes) else "")
    return ("<p class='note'>Estimates that break a bound (read them as biased):</p><ul class='note'>"
            + "".join(f"<li>{n}</li>" for n in notes) + "</ul>" + why)


def _sweep_diagnosis(sw: pd.DataFrame) -> str:
    """The split-time sweep: where the semantic latent collapses and why (diffsep.dae.sweep)."""
    if not len(sw):
        return ""
    causes = {"kl": f"its KL is below {KL_FLOOR:g} nats: the KL term pushed it onto the prior",
              "decoder_ignores": f"it carries information (KL) but the decoder reads less than {100 * READ_SHARE:g} % "
                                 "of it",
              "no_label_left": "the image at s* holds little label information (the model's own i(s) above s*), so "
                               "reading the label from z_sem barely lowers the denoising loss",
              "unexplained": "none of the causes we test (KL, decoder reading, label left at s*) explains it"}
    rows = []
    for _, r in sw.sort_values(["dataset", "resolution", "seed", "s_star"]).iterrows():
        rows.append({"dataset": r["dataset"], "resolution": int(r["resolution"]), "seed": int(r["seed"]),
                     "s*": fmt(r["s_star"], 3) + (" (main)" if r["main"] else ""),
                     "I(Z_sem;Y) / I(X;Y)": fmt(r["mi_sem"] / r["reference"], 3) if r["reference"] > 0 else "–",
                     "I(Z_sem;Y)": pm(r["mi_sem"], r["mi_sem_se"], 3), "I(Z_per;Y)": fmt(r["mi_per"], 3),
                     "KL sem [nats]": fmt(r["kl_sem"], 3), "∫ i_sem (decoder reads z_sem)": fmt(r["read_sem"], 3),
                     "∫ i_per (decoder reads z_per)": fmt(r["read_per"], 3),
                     "I(X_s*;Y) (model's own i(s))": fmt(r["label_left"], 3),
                     "collapsed": "yes: " + causes[r["cause"]] if r["collapsed"] else "no"})
    return ("<h3>Split time s*: where the semantic latent collapses, and why</h3>"
            f"<p>The semantic latent counts as collapsed when I(Z_sem;Y) &lt; {COLLAPSE:g} × I(X;Y). ∫ i_sem and "
            "∫ i_per are the decoder's MI-rate integrals over the times it reads each latent (biased up, see the "
            "note on bounds); I(X<sub>s*</sub>;Y) is the label information the image still holds at the split, "
            "from the label MI rate i(s) of the conditional diffusion model of the information stage.</p>"
            + html_table(pd.DataFrame(rows)))


def _arm_prefix(r) -> str:
    return (f"<b>{esc(r['dataset'])}</b> @ {int(r['resolution'])} px (seed {int(r['seed'])}, "
            f"s* = {float(r['s_star']):g}): ")


def _arm_row(m, sem, per) -> dict:
    """The table row of one main arm ``m`` with its latents ``sem`` and ``per``."""
    ref, ref_txt = reference_mi(m)
    ref_se = {"exact": m.get("mi_xy_exact_se"), "classifier bound": m.get("mi_xy_classifier_se")}.get(ref_txt)
    conv = m.get("converged")
    return {"dataset": m["dataset"], "resolution": int(m["resolution"]), "seed": int(m["seed"]),
            "s*": float(m["s_star"]),
            "converged": "–" if conv is None or pd.isna(conv) else ("yes" if conv else "no"),
            f"I(X;Y) ({ref_txt})": pm(ref, ref_se, 3),
            "exact limit of view sem / per": (f"{fmt(sem.get('mi_y_view_exact'), 3)} / "
                                              f"{fmt(per.get('mi_y_view_exact'), 3)}"),
            "I(Z_sem;Y)": pm(sem["mi_y"], sem["mi_y_se"], 3), "I(Z_per;Y)": pm(per["mi_y"], per["mi_y_se"], 3),
            "probe acc sem / per": f"{fmt(sem['probe_accuracy'], 3)} / {fmt(per['probe_accuracy'], 3)}",
            "probe bound sem / per": f"{fmt(sem['probe_bound'], 3)} / {fmt(per['probe_bound'], 3)}",
            "chance acc": fmt(sem["chance_accuracy"], 3),
            "swap → A / → B": f"{fmt(m['swap_follows_a'], 3)} / {fmt(m['swap_follows_b'], 3)}",
            "texture → B": fmt(m["swap_texture_b"], 3),
            "recon acc / real acc": f"{fmt(m['recon_accuracy'], 3)} / {fmt(m['classifier_accuracy'], 3)}",
            "recon MSE": pm(m["recon_mse"], m["recon_mse_se"], 3),
            "KL sem / per [nats]": f"{fmt(sem['kl'], 3)} / {fmt(per['kl'], 3)}",
            "γ sem / per": f"{fmt(sem['gamma'], 2)} / {fmt(per['gamma'], 2)}",
            "decoder reads sem / per [nats]": f"{fmt(sem['decoder_mi'], 3)} / {fmt(per['decoder_mi'], 3)}"}


def dae_section(ctx: Context) -> Section | None:
    dae = ctx.table("dae")
    lat = ctx.table("dae_latents")
    if not len(dae) or not len(lat):
        return None
    samples, rates, tr = ctx.table("dae_samples"), ctx.table("dae_rates"), ctx.table("dae_training")
    process = VPProcess(**(ctx.meta.get("process") or {}))
    parts = ["<p>Claim 2: a diffusion autoencoder whose decoder reads a <b>semantic</b> latent (encoder sees a "
             "coarse low-pass view) at high noise, s &ge; s*, and a <b>perceptual</b> latent (encoder sees the full "
             "image) at low noise, s &lt; s*, should put the label information in the semantic latent. Measured per "
             "latent: I(Z;Y) by MINDE (diffsep.estimate_mi on posterior samples of train + test images), a linear "
             "probe's bound H(Y) − CE and accuracy, and what the decoder reads from it (the MI rate between image and "
             "latent integrated over the times it is read). Reconstructions and latent swaps are judged by the "
             "image classifier trained on real images.</p>",
             f"<p class='note'>{esc(RULE2)}</p>"]

    main = main_arms(dae)
    boxes, rows = [], []
    for _, m in main.iterrows():
        key = (m["dataset"], m["resolution"], m["model"], m["seed"])
        ll = lat[(lat["dataset"] == key[0]) & (lat["resolution"] == key[1]) & (lat["model"] == key[2])
                 & (lat["seed"] == key[3]) & (lat["variant"] == "ladder")
                 & np.isclose(lat["s_star"].astype(float), float(m["s_star"]))].set_index("latent")
        if not {"sem", "per"} <= set(ll.index):
            continue
        rows.append(_arm_row(m, ll.loc["sem"], ll.loc["per"]))
        boxes.append(verdicts(claim_rows(ctx, 2, "all", dataset=key[0], resolution=int(key[1]), model=key[2],
                                         seed=int(key[3])), _arm_prefix))
    if rows:
        parts.append("<h3>Verdicts at the main split time</h3>" + "".join(boxes))
        parts.append(html_table(pd.DataFrame(rows)))
        parts.append(_texture_note(main))
    parts.append(_caveats(lat))
    parts.append(_sweep_diagnosis(sweep_table(dae, lat, ctx.table("rates"), ctx.meta.get("process"))))

    # the sweep over s*
    sweep = []
    for _, r in dae.sort_values(["dataset", "resolution", "variant", "s_star"]).iterrows():
        ll = lat[(lat["dataset"] == r["dataset"]) & (lat["resolution"] == r["resolution"]) & (lat["seed"] == r["seed"])
                 & (lat["model"] == r["model"]) & (lat["variant"] == r["variant"])]
        ll = ll[ll["s_star"].isna()] if pd.isna(r["s_star"]) else ll[np.isclose(ll["s_star"].astype(float), float(r["s_star"]))]
        ll = ll.set_index("latent")
        row = {"dataset": r["dataset"], "resolution": int(r["resolution"]), "seed": int(r["seed"]),
               "arm": "plain" if r["variant"] == "plain" else f"ladder s*={float(r['s_star']):g}"}
        for n in ("sem", "per", "z"):
            if n in ll.index:
                row[f"I(Z_{n};Y)"] = pm(ll.loc[n, "mi_y"], ll.loc[n, "mi_y_se"], 3)
                row[f"KL {n}"] = fmt(ll.loc[n, "kl"], 3)
                row[f"probe acc {n}"] = fmt(ll.loc[n, "probe_accuracy"], 3)
        row.update({"I(X;Z) decoder": pm(r["mi_xz"], r["mi_xz_se"], 3), "S_NN(X|Z)": fmt(r["S_cond"], 4),
                    "swap → A": fmt(r["swap_follows_a"], 3), "train s": fmt(r["train_seconds"], 3),
                    "measure s": fmt(r["measure_seconds"], 3)})
        sweep.append(row)
    parts.append("<h3>All arms (split-time sweep)</h3>" + html_table(pd.DataFrame(sweep).fillna("–")))

    figs = [_fig_sweep(ctx, lat, dae), _fig_rates(ctx, rates, main, process, ctx.table("rates"))]
    for _, m in main.iterrows():
        s = samples[(samples["dataset"] == m["dataset"]) & (samples["resolution"] == m["resolution"])
                    & (samples["seed"] == m["seed"]) & (samples["variant"] == "ladder")
                    & np.isclose(samples["s_star"].astype(float), float(m["s_star"]))]
        title = f"{m['dataset']} @ {int(m['resolution'])} px, s* = {float(m['s_star']):g}, seed {int(m['seed'])}"
        figs.append(_fig_swaps(ctx, s, title, f"dae_swaps_{safe_name(m['dataset'])}_{int(m['resolution'])}_s{int(m['seed'])}"))
    figs += [_fig_recon(ctx, samples), _fig_training(ctx, tr)]
    parts += [f for f in figs if f]
    return Section("Semantic vs perceptual latents (diffusion autoencoders)", "\n".join(parts), "dae")

"""Report section for claim 2 (semantics is separable from perceptual detail): diffusion
autoencoders with a semantic and a perceptual latent and a ladder split time ``s*``.

Reads tables ``dae`` (one row per trained DAE), ``dae_latents`` (per latent), ``dae_rates``
(decoder rate curves), ``dae_samples`` (images) and ``dae_training``. The verdict per dataset and
resolution is decided at the main split time (the ``s*`` with a swap grid; the first ladder arm
otherwise) by the rule stated in :data:`RULE`, from the measured numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..dae import decode_images
from ..process import VPProcess
from .base import Context, Section, esc, fmt, html_table, plt, pm, verdict

__all__ = ["dae_section", "judge", "CARRY", "LEAK", "SWAP", "RULE"]

CARRY = 0.8  # I(Z_sem;Y) must reach this share of the reference I(X;Y)
LEAK = 0.1  # I(Z_per;Y) must stay below this share of the reference
SWAP = 0.8  # swaps must get A's label at least this share as often as reconstructions of A do
DECIDABLE = 1.5  # ... which is decidable only where reconstructions beat chance by this factor
RULE = (f"The claim holds on a dataset when (1) I(Z<sub>sem</sub>;Y) &ge; {CARRY:g} &times; I(X;Y), "
        f"(2) I(Z<sub>per</sub>;Y) &le; {LEAK:g} &times; I(X;Y), and (3) in latent swaps (z<sub>sem</sub> of "
        f"A, z<sub>per</sub> of B, different labels) the classifier gives A's label at least {SWAP:g} times "
        f"as often as it gives it to reconstructions of A, and more often than B's label (the class follows "
        f"z<sub>sem</sub>; (3) is undecided where reconstructions are classified correctly less than "
        f"{DECIDABLE:g} times as often as chance: the decoder then does not render classes at all). "
        f"I(X;Y) is the classifier's lower bound H(Y) - CE on real test images (H(Y) where no classifier "
        f"ran); I(Z;Y) is the MINDE estimate (diffsep.estimate_mi) on posterior samples of the latents. "
        f"Decided from point estimates, at the main split time s*.")


def _mpl(s) -> str:
    return str(s).replace("$", r"\$")


def _safe(name) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in str(name))


def _f(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _main_arms(dae: pd.DataFrame) -> pd.DataFrame:
    """The ladder rows at the main split time (column ``main``), one per (dataset, resolution, model, seed)."""
    m = dae[(dae["variant"] == "ladder") & dae["main"].astype(bool)]
    return m.sort_values(["dataset", "resolution", "model", "seed"]).drop_duplicates(
        ["dataset", "resolution", "model", "seed"], keep="last")


def judge(ref: float, mi_sem: float, mi_per: float, follows_a: float, follows_b: float, recon_acc: float,
          chance: float) -> tuple[bool | None, list]:
    """Apply :data:`RULE`; returns ``(ok, [(criterion text, ok or None)])``."""
    parts = []
    ok1 = mi_sem >= CARRY * ref if math.isfinite(mi_sem) and ref > 0 else None
    parts.append((f"I(Z<sub>sem</sub>;Y) = {fmt(mi_sem, 3)} nats is {fmt(100 * mi_sem / ref, 3)} % of "
                  f"I(X;Y) &ge; {fmt(ref, 3)}" if ref > 0 else "no reference I(X;Y)", ok1))
    ok2 = mi_per <= LEAK * ref if math.isfinite(mi_per) and ref > 0 else None
    parts.append((f"I(Z<sub>per</sub>;Y) = {fmt(mi_per, 3)} nats is {fmt(100 * mi_per / ref, 3)} % of it"
                  if ref > 0 else "no reference I(X;Y)", ok2))
    if not all(math.isfinite(v) for v in (follows_a, follows_b, recon_acc)):
        parts.append(("no classifier judged the swaps", None))
    else:
        txt = (f"swaps get A's label {fmt(100 * follows_a, 3)} % and B's {fmt(100 * follows_b, 3)} % of the time; "
               f"reconstructions of A get A's label {fmt(100 * recon_acc, 3)} % (chance {fmt(100 * chance, 3)} %)")
        if recon_acc < DECIDABLE * chance:
            parts.append((txt + ": the decoder does not render classes, so the swap test cannot decide", None))
        else:
            parts.append((txt, follows_a >= SWAP * recon_acc and follows_a > follows_b))
    oks = [p[1] for p in parts]
    if any(o is False for o in oks):
        return False, parts
    if any(o is None for o in oks):
        return None, parts
    return True, parts


def _time_axes(ax, process: VPProcess) -> None:
    """log-SNR on the x axis; EDM sigma on top, diffusion time s below."""
    top = ax.secondary_xaxis("top", functions=(lambda lam: np.exp(-0.5 * np.asarray(lam)),
                                               lambda sig: -2.0 * np.log(np.clip(sig, 1e-12, None))))
    top.set_xscale("log")
    top.set_xlabel("EDM σ = σ/μ")
    lo, hi = process.log_snr_range
    bottom = ax.secondary_xaxis(-0.3, functions=(
        lambda lam: process.s_from_log_snr(np.clip(np.asarray(lam, float), lo - 5, hi + 5)),
        lambda s: process.log_snr(np.clip(np.asarray(s, float), 1e-9, 1.0))))
    ticks = [t for t in (1.0, 0.6, 0.3, 0.15, 0.05, 0.01, 1e-3) if t >= process.s_min]
    bottom.set_xticks(ticks, [f"{t:g}" for t in ticks])
    bottom.set_xlabel("diffusion time s (1 = start of generation)")
    ax.set_xlabel("log-SNR λ (low = high noise = early in generation)")


def _show(ax, img: np.ndarray, title: str = "", color: str = "black") -> None:
    c = img.shape[0]
    ax.imshow(img[0] if c == 1 else np.transpose(img, (1, 2, 0)), cmap="gray" if c == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(_mpl(title), fontsize=7, color=color, pad=2)


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
    fig.suptitle(_mpl(title), fontsize=9)
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
            axes[row, 0].text(-0.01, 0.5, _mpl(lab), fontsize=7, ha="right", va="center",
                              transform=axes[row, 0].transAxes)
            if row == 2 * k:
                axes[row, 0].set_title(_mpl(tag), fontsize=8)
    fig.tight_layout()
    return ctx.save(fig, "dae_reconstructions", "DAE reconstructions",
                    "Test images (top of each pair) and their reconstructions from the encoded latents with fresh "
                    "noise (probability-flow ODE), for every trained DAE arm that has a figure set.")


def _fig_rates(ctx: Context, rates: pd.DataFrame, main: pd.DataFrame, process: VPProcess) -> str | None:
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
        pl = sel[sel["variant"] == "plain"].groupby("log_snr", as_index=False).mean(numeric_only=True)
        if len(pl):
            ax.plot(pl["log_snr"], pl["i_rate_lam"], ls="--", color=colors["z"], label=labels["z"])
        ax.axvline(float(process.log_snr(float(m["s_star"]))) if 0 < float(m["s_star"]) <= 1 else np.nan,
                   color="k", ls=":", lw=1, label=f"s* = {float(m['s_star']):g}")
        ax.set_yscale("log")
        ax.set_ylabel("MI rate between image and latent [nats / unit λ]")
        ax.set_title(_mpl(f"{ds} @ {res}"), fontsize=9)
        _time_axes(ax, process)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return ctx.save(fig, "dae_rates", "DAE MI rate between image and latents",
                    "The decoder's MI rate i(s) = β/2 E‖e(x<sub>s</sub>, s, z) − e(x<sub>s</sub>, s, null)‖² per unit "
                    "log-SNR, at the main split time: blue where it reads z<sub>sem</sub> (s &ge; s*), orange where "
                    "it reads z<sub>per</sub>; dashed: a plain one-latent DAE, where trained. Shaded ±2 SE.")


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
        ax.set(xlabel="split time s* (z_sem read for s ≥ s*)", ylabel="nats", xlim=(-0.03, 1.03))
        ax.set_title(_mpl(f"{ds} @ {res}"), fontsize=9)
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
        ax.set_title(_mpl(f"{ds} @ {res}"), fontsize=9)
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


def _caveats(lat: pd.DataFrame) -> str:
    """Estimates that break a bound they must respect, named with the bound."""
    notes = []
    for _, r in lat.iterrows():
        arm = "plain" if r["variant"] == "plain" else f"s*={float(r['s_star']):g}"
        tag = f"{esc(r['dataset'])} @ {int(r['resolution'])}, {arm}, z<sub>{esc(r['latent'])}</sub>"
        if _f(r["mi_y"]) > _f(r["label_entropy"]) + 2 * _f(r["mi_y_se"]):
            notes.append(f"{tag}: I(Z;Y) = {fmt(r['mi_y'], 3)} exceeds H(Y) = {fmt(r['label_entropy'], 3)} (the "
                         f"latent MI estimator is biased up, e.g. under-trained)")
        if _f(r["decoder_mi"]) > _f(r["kl"]) + 2 * _f(r["decoder_mi_se"]):
            notes.append(f"{tag}: the decoder's MI-rate integral {fmt(r['decoder_mi'], 3)} exceeds the encoder KL "
                         f"{fmt(r['kl'], 3)}, an upper bound on I(X;Z): any difference between the conditional and "
                         f"null branches counts, so it is biased up")
    if not notes:
        return "<p class='note'>Every I(Z;Y) is below H(Y) and every decoder MI integral below its latent's KL.</p>"
    return ("<p class='note'>Estimates that break a bound (read them as biased):</p><ul class='note'>"
            + "".join(f"<li>{n}</li>" for n in notes) + "</ul>")


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
             f"<p class='note'>{RULE}</p>"]

    main = _main_arms(dae)
    verdicts, rows = [], []
    for _, m in main.iterrows():
        key = (m["dataset"], m["resolution"], m["model"], m["seed"])
        ll = lat[(lat["dataset"] == key[0]) & (lat["resolution"] == key[1]) & (lat["model"] == key[2])
                 & (lat["seed"] == key[3]) & (lat["variant"] == "ladder")
                 & np.isclose(lat["s_star"].astype(float), float(m["s_star"]))].set_index("latent")
        if not {"sem", "per"} <= set(ll.index):
            continue
        sem, per = ll.loc["sem"], ll.loc["per"]
        ref = _f(m["mi_xy_classifier"])
        ref_txt = "classifier bound"
        if not math.isfinite(ref):
            ref, ref_txt = _f(m["label_entropy"]), "H(Y)"
        ok, crit = judge(ref, _f(sem["mi_y"]), _f(per["mi_y"]), _f(m["swap_follows_a"]), _f(m["swap_follows_b"]),
                         _f(m["recon_accuracy"]), _f(sem["chance_accuracy"]))
        rows.append({"dataset": key[0], "resolution": int(key[1]), "seed": int(key[3]), "s*": float(m["s_star"]),
                     f"I(X;Y) ({ref_txt})": pm(ref, m["mi_xy_classifier_se"] if ref_txt != "H(Y)" else None, 3),
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
                     "decoder reads sem / per [nats]": f"{fmt(sem['decoder_mi'], 3)} / {fmt(per['decoder_mi'], 3)}"})
        text = (f"<b>{esc(key[0])}</b> @ {int(key[1])} px (seed {int(key[3])}, s* = {float(m['s_star']):g}): "
                + "; ".join(f"{t} ({'ok' if o else 'fails' if o is False else 'n/a'})" for t, o in crit) + ".")
        verdicts.append(verdict(ok, text))
    if rows:
        parts.append("<h3>Verdicts at the main split time</h3>" + "".join(verdicts))
        parts.append(html_table(pd.DataFrame(rows)))
        parts.append(_texture_note(main))
    parts.append(_caveats(lat))

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

    figs = [_fig_sweep(ctx, lat, dae), _fig_rates(ctx, rates, main, process)]
    for _, m in main.iterrows():
        s = samples[(samples["dataset"] == m["dataset"]) & (samples["resolution"] == m["resolution"])
                    & (samples["seed"] == m["seed"]) & (samples["variant"] == "ladder")
                    & np.isclose(samples["s_star"].astype(float), float(m["s_star"]))]
        title = f"{m['dataset']} @ {int(m['resolution'])} px, s* = {float(m['s_star']):g}, seed {int(m['seed'])}"
        figs.append(_fig_swaps(ctx, s, title, f"dae_swaps_{_safe(m['dataset'])}_{int(m['resolution'])}_s{int(m['seed'])}"))
    figs += [_fig_recon(ctx, samples), _fig_training(ctx, tr)]
    parts += [f for f in figs if f]
    return Section("Semantic vs perceptual latents (diffusion autoencoders)", "\n".join(parts), "dae")

"""The split-time sweep of claim 2 read from the tables (pandas only, no torch): where the semantic
latent collapses, and why.

For each ladder arm (dataset, resolution, model, seed, ``s*``) :func:`sweep_table` gives the
semantic latent's label information ``I(Z_sem;Y)``, its KL (an upper bound on ``I(X;Z_sem)``), what
the decoder reads from it (``int_{s*}^1 i_sem ds``, the decoder's MI-rate integral) and from the
perceptual latent, and the label information the image still holds at the split,
``I(X_{s*};Y) = int_{s >= s*} i(s) ds`` from the conditional diffusion model's own label MI rate
(table ``rates`` of the information stage, where it measured that dataset and resolution).

The semantic latent has *collapsed* when ``I(Z_sem;Y) < COLLAPSE x I(X;Y)``. The cause named:

* ``kl``: its KL is below :data:`KL_FLOOR` nats: the KL term pushed the posterior onto the prior;
* ``decoder_ignores``: the latent carries information (KL above the floor) but the decoder reads
  less than :data:`READ_SHARE` of it (``int i_sem < READ_SHARE x KL``);
* ``no_label_left``: the image at ``s*`` holds less than ``COLLAPSE x I(X;Y)`` of label
  information (the model's own ``i(s)``), so reading the label from ``z_sem`` above ``s*`` barely
  lowers the denoising loss: nothing trains the semantic latent to carry it;
* ``unexplained`` otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["COLLAPSE", "KL_FLOOR", "READ_SHARE", "label_info_above", "sweep_table"]

COLLAPSE = 0.1  # I(Z_sem;Y) below this share of I(X;Y): collapsed (claim 2b's leak threshold)
KL_FLOOR = 0.5  # nats: a posterior this close to the prior carries (almost) nothing
READ_SHARE = 0.1  # the decoder reads less than this share of the latent's KL: it ignores the latent


def label_info_above(rates: pd.DataFrame | None, ds, res, cut_log_snr: float) -> float:
    """``int i dlambda`` over log-SNR below ``cut_log_snr`` (noise above the split) from the label
    MI rate of table ``rates`` (seed- and model-averaged rows of one dataset and resolution;
    negative rates clipped to 0, trapezoid rule on the linear interpolant); nan without rows."""
    if rates is None or not len(rates) or "i_rate_lam" not in rates:
        return float("nan")
    r = rates[(rates["dataset"] == ds) & (rates["resolution"] == res) & rates["i_rate_lam"].notna()]
    if "model" in r and (r["model"] == "exact").any():  # exact scores where the data have them
        r = r[r["model"] == "exact"]
    if len(r) < 2:
        return float("nan")
    c = r.groupby("log_snr", as_index=False)["i_rate_lam"].mean().sort_values("log_snr")
    lam, i = c["log_snr"].to_numpy(float), np.clip(c["i_rate_lam"].to_numpy(float), 0, None)
    fine = np.linspace(lam.min(), lam.max(), 4001)
    sel = fine <= cut_log_snr
    if sel.sum() < 2:
        return 0.0
    return float(np.trapezoid(np.interp(fine[sel], lam, i), fine[sel]))


def _log_snr(s: float, process: dict | None) -> float:
    from ..process import VPProcess

    return float(VPProcess(**(process or {})).log_snr(float(s)))


def _cause(mi_sem: float, ref: float, kl: float, read: float, left: float) -> str | None:
    if not (ref > 0 and math.isfinite(mi_sem)) or mi_sem >= COLLAPSE * ref:
        return None
    if kl < KL_FLOOR:
        return "kl"
    if math.isfinite(read) and read < READ_SHARE * kl:
        return "decoder_ignores"
    if math.isfinite(left) and left < COLLAPSE * ref:
        return "no_label_left"
    return "unexplained"


def sweep_table(dae: pd.DataFrame, latents: pd.DataFrame, rates: pd.DataFrame | None = None,
                process: dict | None = None) -> pd.DataFrame:
    """One row per ladder arm: ``s_star``, ``mi_sem`` (+ ``_se``), ``mi_per``, ``reference`` (exact
    ``I(X;Y)``, else the classifier bound, else ``H(Y)``), ``kl_sem``, ``kl_per``, ``read_sem`` and
    ``read_per`` (the decoder's MI-rate integrals), ``label_left`` (``I(X_{s*};Y)`` from the
    model's own ``i(s)``), ``collapsed`` and ``cause`` (module docstring)."""
    from ..claims import as_float, reference_mi

    rows = []
    lad = dae[dae["variant"] == "ladder"]
    for _, m in lad.iterrows():
        ll = latents[(latents["dataset"] == m["dataset"]) & (latents["resolution"] == m["resolution"])
                     & (latents["model"] == m["model"]) & (latents["seed"] == m["seed"])
                     & (latents["variant"] == "ladder")
                     & np.isclose(latents["s_star"].astype(float), float(m["s_star"]))].set_index("latent")
        if not {"sem", "per"} <= set(ll.index):
            continue
        sem, per = ll.loc["sem"], ll.loc["per"]
        ref = reference_mi(m)[0]
        s_star = float(m["s_star"])
        left = label_info_above(rates, m["dataset"], m["resolution"], _log_snr(s_star, process)) \
            if 0 < s_star < 1 else (0.0 if s_star >= 1 else float("nan"))
        row = {"dataset": m["dataset"], "resolution": int(m["resolution"]), "model": m["model"],
               "seed": int(m["seed"]), "s_star": s_star, "main": bool(m.get("main", False)),
               "mi_sem": as_float(sem["mi_y"]), "mi_sem_se": as_float(sem["mi_y_se"]),
               "mi_per": as_float(per["mi_y"]), "reference": ref, "kl_sem": as_float(sem["kl"]),
               "kl_per": as_float(per["kl"]), "read_sem": as_float(sem["decoder_mi"]),
               "read_per": as_float(per["decoder_mi"]), "label_left": left}
        row["cause"] = _cause(row["mi_sem"], ref, row["kl_sem"], row["read_sem"], left)
        row["collapsed"] = row["cause"] is not None
        rows.append(row)
    return pd.DataFrame(rows)

"""Verdicts on the paper's three claims, decided from the collected tables (table ``claims``).

One row per (claim, part, dataset, resolution, model, seed). ``verdict`` is ``holds``,
``does_not_hold`` or ``undecided``; ``value`` (``value_lo``, ``value_hi``) and ``value2`` are the
deciding statistics, compared with ``threshold`` by the rule in ``rule`` (:data:`RULES`);
``cause`` names our own limit where it decides (null where the data decide); ``reason`` is the
plain-text explanation the report shows. Claims 1 and 3 are decided on means over seeds (``seed``
0, ``n_seeds`` of them); rows that span resolutions have ``resolution`` 0.

Claim 1, perceptual information dominates (table ``information``: image rows of trained models;
seed means, SE of the mean from the per-seed SEs; causes quoted from table ``bounds``). Per
(dataset, model):

* ``1a`` (per resolution): holds when ``I_hi / S_NN < 1 %`` with ``I_hi = min(I + 2 SE, log K)``,
  ``I`` the primary estimate (:data:`PRIMARY`: the cross-fitted MMSE gap where present, else the MMSE
  gap), the largest ``I`` consistent with our estimate and with ``I <= log K`` (the paper's own
  argument). Where table ``bounds`` flags the primary estimate *below* its lower bound (the model
  has not learnt the label), the estimate cannot cap ``I`` and ``I_hi = log K``. Does not hold when
  ``I_lo / S_NN >= 1 %`` with ``I_lo = lower - 2 lower_se`` from table ``bounds`` (the larger of the
  classifier's ``H(Y) - CE`` and the model's own label-posterior bound: lower bounds on ``I`` for any
  classifier or model, so the data, not an estimator, decide); else undecided (cause
  ``interval_straddles``; also without a lower bound).
* ``1b`` (across resolutions): ``S_NN`` rises from each resolution to the next by more than 2
  combined SE; undecided with one resolution (cause ``one_resolution``).
* ``1c`` (per resolution): every *direct* estimator (:data:`diffsep.bounds.DIRECT`: MINDE, I-MMSE and
  their cross-fitted forms, which read the conditional-minus-null score difference on the same draws)
  stays below ``log K + 3 SE``. The true ``I`` cannot break it, so a failure is a limit of our networks
  and estimators: cause = the causes of the flagged ``bounds`` rows (``unflagged`` where none is
  flagged). The difference of entropies is reported beside it (``value2``, and named in the reason
  when it is above ``log K + 3 SE``) but does not decide: it subtracts two ``S_NN``-sized integrals,
  so its network error scales with ``S_NN`` rather than with ``I`` (on the Gaussian texture law, whose
  exact ``I`` is known, a trained U-Net's difference of entropies is off by tens of per cent where the
  direct estimators of the same network are within a few; docs/equations.md, claim 1).
* ``all``: does not hold when 1a or 1b does not hold (the data); else undecided when 1c does not
  hold (cause: the causes of the flagged ``bounds`` rows: an estimate above ``log K`` says nothing
  about the data) or 1a is undecided (``interval_straddles``); else holds (1b, undecided with one
  resolution, does not decide).
  A failure is undecided (cause ``not_converged``) when a model of the dataset did not converge
  (:func:`diffsep.train.plateau`, column ``converged`` of ``information``).

Claim 2, diffusion autoencoders separate semantics (tables ``dae``, ``dae_latents``: the ladder arm
at the main split time, per seed), on 95 % intervals (:data:`RULE2`). With ``ref`` the exact
``I(X;Y)`` where the data have an exact law, else the classifier bound ``H(Y) - CE`` (``H(Y)``
without a classifier): ``2a`` ``I(Z_sem;Y) >= 0.8 ref``; ``2b`` ``I(Z_per;Y) <= 0.1 ref``; ``2c``
swaps (``z_sem`` of A, ``z_per`` of B) get A's label at least 0.8 times as often as
reconstructions of A do, and more often than B's label; ``2d`` reconstructions get the input's
label at >= 0.9 times the classifier's own accuracy; ``2x`` (exact law only) each latent's
``I(Z;Y)`` within 0.02 nats of the exact ``I(V X;Y)`` of its encoder's view. ``all``: undecided
when the autoencoder did not converge, 2d does not hold or 2x does not hold (our limits, not the
data's); else does not hold when 2a, 2b or 2c does not hold, else undecided when one straddles
its threshold, else holds.

Claim 3, label information is produced early (seed means of table ``guidance`` per dataset,
resolution, model, at the middle early/late cut):

* ``early_late``: undecided unless full guidance raises accuracy by more than 2 SE; holds when
  the 95 % CI of the early-only share of that gain lies above 1/2 and the late-only one below;
  does not hold when the early CI lies below 1/2 or the late one above; else undecided.
* ``top_window``: guidance in the highest-noise window hurts FD when switching it off lowers FD
  (95 % paired CI of the change below 0); does not hold when the CI lies above 0.
* ``gaussian_exact`` (table ``guidance_gaussian``, exact guided law): holds when the early-only
  share of the exact MI gain is above 1/2 and the late-only share below; does not hold when the
  early share is below 1/2.

The share of the measured ``int i dlambda`` produced before the cut (:func:`info_share_below`) is
reported beside the early/late verdict; it does not decide it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .bounds import DIRECT, ESTIMATORS, SIGMAS

__all__ = ["HOLDS", "FAILS", "UNDECIDED", "VERDICTS", "FRACTION_LIMIT", "UPPER_SE", "LOWER_SE", "GROWTH_SE", "CARRY", "LEAK",
           "SWAP", "DECIDABLE", "RECON", "EXACT_TOL", "Z95", "SHARE", "GAIN_SE", "RULE2", "RULES", "STATISTICS", "COLUMNS", "INPUTS",
           "EST_LABEL", "PRIMARY", "KEYS", "GUIDANCE_MEANS", "GAUSSIAN_MEANS", "fmt", "pm", "ci_text", "as_float", "image_rows",
           "seed_mean", "per_resolution", "claim1", "claim1_rows", "main_arms", "reference_mi", "reference_se", "wilson", "ratio_ci", "judge", "blockers", "claim2_rows",
           "seed_means", "rate_curve", "info_share_below", "split_pairs", "early_late", "top_window", "claim3_rows",
           "gaussian_exact", "claim3_gaussian_rows", "decide"]

HOLDS, FAILS, UNDECIDED = "holds", "does_not_hold", "undecided"
VERDICTS = (HOLDS, FAILS, UNDECIDED)

FRACTION_LIMIT = 0.01  # claim 1a: I / S_NN below 1 %
UPPER_SE_LOGK = 3.0  # claim 2a/2b: a latent's I(Z;Y) above log K + this many SE decides nothing
UPPER_SE = 2.0  # claim 1a: I_hi = min(I + UPPER_SE SE, log K)
LOWER_SE = 2.0  # claim 1a: I_lo = lower bound - LOWER_SE SE (table bounds)
GROWTH_SE = 2.0  # claim 1b: each rise of S_NN beyond this many combined SE
CARRY = 0.8  # claim 2a: I(Z_sem;Y) must reach this share of the reference I(X;Y)
LEAK = 0.1  # claim 2b: I(Z_per;Y) must stay below this share of the reference
SWAP = 0.8  # claim 2c: swaps get A's label at least this share as often as reconstructions of A do
DECIDABLE = 1.5  # claim 2d without the classifier's own accuracy: reconstructions beat chance by this factor
RECON = 0.9  # claim 2d: reconstructions get the input's label at >= this share of the classifier's own accuracy
EXACT_TOL = 0.02  # claim 2x: I(Z;Y) may exceed the exact limit of its encoder's view by this (nats) + Z95 SE
Z95 = 1.96  # claim 2: 95 % intervals (normal for MI ratios, Wilson for shares of images)
SHARE = 0.5  # claim 3: "most of the gain"
GAIN_SE = 2.0  # claim 3: full guidance must raise accuracy by more than this many SE

RULE2 = (f"Claim 2 holds on a dataset when (a) I(Z_sem;Y) ≥ {CARRY:g} × I(X;Y), (b) I(Z_per;Y) ≤ {LEAK:g} × I(X;Y) "
         f"and (c) latent swaps (z_sem of A, z_per of B, different labels) get A's label at least {SWAP:g} times as "
         f"often as reconstructions of A do, and more often than B's label; each decided on its 95 % interval "
         f"(normal, ±{Z95:g} SE, for the MI ratios; Wilson for the shares of images): holds when the whole interval "
         f"passes, does not hold when the whole interval fails, undecided when it straddles the threshold. The "
         f"verdict is drawn only from a diffusion autoencoder that (d) reconstructs (the image classifier gives "
         f"reconstructions the input's label at ≥ {100 * RECON:g} % of its own accuracy on the originals), converged "
         f"(diffsep.train.plateau on its held-out loss) and, on data with an exact law (Gaussian texture "
         f"mixture), (x) whose latent estimates respect the exact label information of what each encoder sees "
         f"(I(Z;Y) ≤ I(V X;Y) + {EXACT_TOL:g} nats + {Z95:g} SE); otherwise undecided. I(X;Y) is exact where the "
         f"data have an exact law, else the classifier's lower bound H(Y) − CE (H(Y) without a classifier); "
         f"I(Z;Y) is the MINDE estimate (diffsep.estimate_mi) on posterior samples of the latents; at the main "
         f"split time s*.")

#: (claim, part) -> how value, value2 and threshold decide the verdict
RULES = {
    (1, "1a"): (f"holds if value < threshold ({100 * FRACTION_LIMIT:g} %); does_not_hold if value_lo >= threshold; "
                f"else undecided"),
    (1, "1b"): f"holds if value > threshold ({GROWTH_SE:g} SE) at every step; undecided with one resolution",
    (1, "1c"): f"holds if value <= threshold ({SIGMAS:g} SE); value2 (every estimator) is reported, not deciding",
    (1, "all"): "does not hold if 1a or 1b does not hold; else undecided if 1c does not hold (our estimates, not "
                "the data) or 1a is undecided; else holds (1b undecided with one resolution does not decide)",
    (2, "2a"): "holds if value_lo >= threshold; does_not_hold if value_hi < threshold; else undecided (also without "
               "a reference I(X;Y) or a finite estimate, or with I(Z_sem;Y) above log K + 3 SE)",
    (2, "2b"): "holds if value_hi <= threshold; does_not_hold if value_lo > threshold; else undecided (also with "
               "I(Z_per;Y) above log K + 3 SE)",
    (2, "2c"): "undecided unless 2d holds; holds if value_lo >= threshold and value_lo > value2_hi; does_not_hold "
               "if value_hi < threshold or value_hi < value2_lo; else undecided",
    (2, "2d"): (f"holds if value_lo >= threshold; does_not_hold if value_hi < threshold; else undecided (without "
                f"the classifier's own accuracy: holds if value >= {DECIDABLE:g} x chance_accuracy)"),
    (2, "2x"): "holds if every latent's I(Z;Y) - 1.96 SE stays within threshold (nats) of the exact I(V X;Y) of its "
               "encoder's view; else does_not_hold (the measurement is biased)",
    (2, "all"): "undecided if the autoencoder did not converge or 2d (or 2x, where exact) does not hold; else "
                "does_not_hold if a part (2a, 2b, 2c) does not hold; else undecided if one is undecided; else holds",
    (3, "early_late"): (f"undecided unless gain - {GAIN_SE:g} gain_se > 0; holds if value_lo > threshold and "
                        f"value2_hi < threshold; does_not_hold if value_hi < threshold or value2_lo > threshold; "
                        f"else undecided"),
    (3, "top_window"): "holds if value_hi < threshold (the window hurts FD); does_not_hold if value_lo > threshold; "
                       "else undecided",
    (3, "gaussian_exact"): "holds if value > threshold and value2 < threshold; does_not_hold if value < threshold; "
                           "else undecided",
}

#: (claim, part) -> what value and value2 are
STATISTICS = {
    (1, "1a"): "value: I_hi / S_NN with I_hi = min(I + 2 SE, log K), I the primary estimate (cross-fitted I-MMSE "
               "where the model has >= 2 networks, else I-MMSE), or log K where the estimate is flagged below its "
               "lower bound; value_lo: I_lo / S_NN with I_lo = lower - 2 lower_se of table bounds (the larger of "
               "the classifier's H(Y) - CE and the model's own label-posterior bound; null without one), value_hi = "
               "value; value2: I / S_NN (point estimate)",
    (1, "1b"): "value: smallest rise of S_NN from one resolution to the next, in combined SE; value2: S_NN at the "
               "highest over the lowest resolution",
    (1, "1c"): "value: largest (I - log K) / SE over the direct estimators (MINDE, I-MMSE, cross-fitted MINDE "
               "and I-MMSE where present); value2: the same over every estimator (with the difference of "
               "entropies, whose network error scales with S_NN)",
    (1, "all"): "see parts 1a, 1b, 1c",
    (2, "2a"): "value: I(Z_sem;Y) / reference I(X;Y) (value_lo, value_hi: 95 % interval, (I -+ 1.96 SE) / "
               "(ref +- 1.96 SE))",
    (2, "2b"): "value: I(Z_per;Y) / reference I(X;Y) (95 % interval as in 2a)",
    (2, "2c"): "value: share of swaps given A's label; value2: share given B's label (95 % Wilson intervals); "
               f"threshold: {SWAP:g} x recon_accuracy",
    (2, "2d"): "value: recon_accuracy / the classifier's accuracy on the originals (value2; 95 % Wilson interval "
               "of recon_accuracy divided by it)",
    (2, "2x"): "value: I(Z_per;Y) minus the exact I(V_per X;Y) of its view [nats]; value2: I(Z_sem;Y) / exact "
               "I(V_sem X;Y) of its view",
    (2, "all"): "see parts 2a, 2b, 2c, 2d (and 2x on data with an exact law)",
    (3, "early_late"): "value: early-only share of the full-guidance accuracy gain at the middle cut; value2: "
                       "late-only share (value_lo/hi, value2_lo/hi: 95 % bootstrap CIs); gain: that full-guidance "
                       "accuracy gain",
    (3, "top_window"): "value: FD with guidance everywhere but the highest-noise window minus FD of full guidance; "
                       "value2: FD with guidance only in that window minus FD without guidance (95 % paired "
                       "bootstrap CIs)",
    (3, "gaussian_exact"): "value: early-only share of the exact MI gain of full guidance at the middle cut; "
                           "value2: late-only share (exact law, no CI); gain: that exact MI gain [nats]",
}

NUMBERS = ["value", "value_lo", "value_hi", "threshold", "value2", "value2_lo", "value2_hi", "mi", "mi_se", "log_k",
           "s_nn", "s_nn_se", "reference", "recon_accuracy", "chance_accuracy", "s_star", "gain", "gain_se",
           "cut_log_snr", "cut_edm_sigma", "info_share"]
COLUMNS = (["dataset", "resolution", "model", "seed", "claim", "part", "verdict", "n_seeds", "statistic", "rule"]
           + NUMBERS + ["cause", "reason"])
#: the collected tables :func:`decide` reads (each may be absent)
INPUTS = ("information", "bounds", "dae", "dae_latents", "guidance", "guidance_gaussian", "rates")

EST_LABEL = {"mi_minde": "MINDE", "mi_diff": "diff. of entropies", "mi_mmse": "I-MMSE",
             "mi_minde_cross": "cross-fitted MINDE", "mi_mmse_cross": "cross-fitted I-MMSE"}
#: the estimate of I(X;Y) that claim 1 uses: the first of these a row has
#: (the MMSE gap is first-order insensitive to a network's error of the score difference, MINDE is not:
#: docs/equations.md section 6.4b; on the exact Gaussian texture mixture and the joint Gaussian it is the
#: closer of the two for one network and for two)
PRIMARY = ("mi_mmse_cross", "mi_mmse")
GUIDANCE_MEANS = ["accuracy", "acc_gain", "gain_share", "bound_gain", "bound_share", "fd", "fd_delta_none",
                  "fd_delta_full"]
GAUSSIAN_MEANS = ["exact_mi", "exact_kl_joint", "scores_fit_mi", "model_fit_mi", "model_fit_kl", "neural_mi_law",
                  "neural_mi_model", "neural_fit_mi_law", "neural_fit_mi_model", "exact_gain_share"]


# ---- plain-text numbers (the report's formatting; it escapes them) ------------------------------
def fmt(v, digits: int = 4) -> str:
    """A number compactly (significant digits); None/NaN as an en dash; anything else as ``str``."""
    if v is None:
        return "–"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits or abs(x) < 10 ** -3:
        return f"{x:.{digits - 1}e}"
    return f"{x:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))}f}"


def pm(v, se, digits: int = 4) -> str:
    """``value ± se``."""
    if se is None or (isinstance(se, float) and math.isnan(se)):
        return fmt(v, digits)
    return f"{fmt(v, digits)} ± {fmt(se, 2)}"


def ci_text(v, lo, hi, pct: bool = False) -> str:
    """``value [lo, hi]`` (percentages with ``pct``)."""
    f = (lambda x: f"{100 * x:.0f} %") if pct else (lambda x: fmt(x, 3))
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return f(v)
    return f"{f(v)} [{f(lo)}, {f(hi)}]"


def as_float(v) -> float:
    """``float(v)``, NaN for None or a non-number."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _row(claim: int, part: str, key: tuple, verdict: str, reason: str, cause: str | None = None,
         **numbers) -> dict:
    ds, res, model, seed = key
    return {"dataset": str(ds), "resolution": int(res), "model": str(model), "seed": int(seed), "claim": claim,
            "part": part, "verdict": verdict, "statistic": STATISTICS[(claim, part)], "rule": RULES[(claim, part)],
            "cause": cause, "reason": reason, **numbers}


def _empty(df) -> bool:
    return df is None or not len(df)


# ---- claim 1 ------------------------------------------------------------------------------------
def image_rows(information: pd.DataFrame | None) -> pd.DataFrame:
    """The ``information`` rows of image data with trained models (claim 1 is about them)."""
    if _empty(information):
        return pd.DataFrame()
    return information[(information["modality"] == "image") & (information["model"] != "exact")].copy()


def seed_mean(g: pd.DataFrame, col: str) -> tuple[float, float]:
    """Mean over seeds and the standard error of that mean (from the per-seed SEs)."""
    v, se = g[col].astype(float), g[col + "_se"].astype(float)
    return float(v.mean()), float(np.sqrt((se ** 2).sum()) / len(se))


def per_resolution(info: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model, resolution) of :func:`image_rows`: seed means with SEs of
    ``S_marg``, ``S_cond`` and the estimators, ``log_k``, ``fraction = I / S_NN`` (``I`` the primary estimate) and
    ``fraction_logk = log K / S_NN``."""
    rows = []
    for (ds, model, res), g in info.groupby(["dataset", "model", "resolution"]):
        r = {"dataset": ds, "model": model, "resolution": int(res), "seeds": len(g),
             "log_k": float(g["log_k"].iloc[0]) if g["log_k"].notna().any() else math.nan}
        for c in ("S_marg", "S_cond") + ESTIMATORS:
            r[c], r[c + "_se"] = seed_mean(g, c) if c in g else (math.nan, math.nan)
        conv = g["converged"] if "converged" in g else pd.Series(dtype=object)
        r["converged"] = None if conv.isna().all() else bool(conv.fillna(True).astype(bool).all())
        r["primary"] = next(e for e in PRIMARY if e == PRIMARY[-1] or (e in g and g[e].notna().all()))
        r["mi"], r["mi_se"] = r[r["primary"]], r[r["primary"] + "_se"]
        r["fraction"] = r["mi"] / r["S_marg"] if r["S_marg"] else math.nan
        r["fraction_logk"] = r["log_k"] / r["S_marg"] if r["S_marg"] else math.nan
        rows.append(r)
    return pd.DataFrame(rows)


def _flag_causes(flags: pd.DataFrame | None) -> str:
    """The causes of the flagged ``bounds`` rows, joined (``unflagged`` where none is flagged)."""
    causes = []
    if flags is not None and len(flags) and flags["flag"].any():
        causes = sorted(set(flags.loc[flags["flag"], "cause"]))
    return ", ".join(causes) or "unflagged"


def _claim1_numbers(r) -> dict:
    return {"n_seeds": int(r["seeds"]), "mi": float(r["mi"]), "mi_se": float(r["mi_se"]),
            "log_k": float(r["log_k"]), "s_nn": float(r["S_marg"]), "s_nn_se": float(r["S_marg_se"])}


def _below_bound(pr: pd.DataFrame, flags: pd.DataFrame | None) -> pd.Series:
    """Per resolution of ``pr``: is the primary estimate flagged *below* the lower bound of table
    ``bounds`` (for any seed)? Such an estimate says the model has not learnt the label; it cannot
    cap ``I``."""
    need = {"resolution", "estimator", "estimate", "lower", "flag"}
    if flags is None or not len(flags) or not need <= set(flags.columns):
        return pd.Series(False, index=pr.index)
    low = flags[flags["flag"].astype(bool) & (flags["estimate"] < flags["lower"])]
    hit = set(zip(low["resolution"].astype(int), low["estimator"]))
    return pd.Series([(int(r), e) in hit for r, e in zip(pr["resolution"], pr["primary"])], index=pr.index)


def _i_lower(pr: pd.DataFrame, flags: pd.DataFrame | None) -> pd.DataFrame:
    """Per resolution of ``pr``: the lower bound of table ``bounds`` (mean over seeds), its SE (from
    the per-seed SEs; 0 where the table has none) and ``I_lo = max(lower - 2 SE, 0)``; NaN without a
    bound. Every estimator's row of one seed carries the same bound."""
    out = pd.DataFrame({"lower": math.nan, "lower_se": math.nan, "i_lo": math.nan}, index=pr.index)
    need = {"resolution", "lower"}
    if flags is None or not len(flags) or not need <= set(flags.columns):
        return out
    f = flags.assign(lower_se=flags["lower_se"] if "lower_se" in flags else 0.0)
    keys = [k for k in ("resolution", "seed") if k in f]
    per_seed = f.dropna(subset=["lower"]).groupby(keys, sort=False)[["lower", "lower_se"]].first().reset_index()
    for i, res in zip(pr.index, pr["resolution"]):
        g = per_seed[per_seed["resolution"].astype(int) == int(res)]
        if not len(g):
            continue
        lo = float(g["lower"].mean())
        se = float(np.sqrt((g["lower_se"].fillna(0.0).astype(float) ** 2).sum()) / len(g))
        out.loc[i] = [lo, se, max(lo - LOWER_SE * se, 0.0)]
    return out


def _i_upper(pr: pd.DataFrame, below: pd.Series | None = None) -> pd.Series:
    """``I_hi = min(I + 2 SE, log K)`` per resolution (``I`` the primary estimate); ``log K`` where
    the estimate lies below the lower bound (``below``), since then only ``I <= log K`` is known."""
    i_hi = np.minimum(pr["mi"] + UPPER_SE * pr["mi_se"], pr["log_k"])
    return i_hi if below is None else i_hi.where(~below, pr["log_k"])


def _verdict_1a(f_hi: float, f_lo: float) -> str:
    if f_hi < FRACTION_LIMIT:
        return HOLDS
    return FAILS if f_lo >= FRACTION_LIMIT else UNDECIDED  # NaN (no lower bound): undecided


def _lower_text(lo) -> str:
    return (f"I ≥ lower bound - 2 SE = {fmt(lo['lower'])} - 2 × {fmt(lo['lower_se'], 2)} = {fmt(lo['i_lo'])} nats "
            f"(bounds table: H(Y) - CE or the model's own label bound, whichever is larger)")


def _part_1a(r, i_hi: float, below: bool = False, lo=None) -> dict:
    f_hi = i_hi / r["S_marg"]
    i_lo = math.nan if lo is None else float(lo["i_lo"])
    f_lo = i_lo / r["S_marg"]
    verdict = _verdict_1a(f_hi, f_lo)
    res = int(r["resolution"])
    est = EST_LABEL[r["primary"]]
    how = (f"log K (the {est} estimate lies below the lower bound, so it cannot cap I)" if below
           else f"min({est} + 2 SE, log K)")
    reason = (f"{res} px: I/S_NN {'<' if verdict == HOLDS else 'is not <'} 1 %, with I = {how} = {fmt(i_hi)} "
              f"nats: {100 * f_hi:.3g} % ({est} point estimate {100 * r['fraction']:.3g} %)")
    if verdict == FAILS:
        reason += f"; and ≥ 1 % at the lower end: {_lower_text(lo)}, {100 * f_lo:.3g} % of S_NN"
    elif verdict == UNDECIDED:
        reason += ("; undecided: " + (f"at the lower end, {_lower_text(lo)}, it is {100 * f_lo:.3g} %, below 1 %"
                                      if math.isfinite(f_lo) else "no lower bound on I (no classifier)"))
    return _row(1, "1a", (r["dataset"], res, r["model"], 0), verdict, reason,
                "interval_straddles" if verdict == UNDECIDED else None, value=float(f_hi),
                value_lo=float(f_lo), value_hi=float(f_hi), threshold=FRACTION_LIMIT, value2=float(r["fraction"]),
                **_claim1_numbers(r))


def _s_text(pr: pd.DataFrame) -> str:
    return " → ".join(f"{fmt(s, 4)} ± {fmt(e, 2)}" for s, e in zip(pr["S_marg"], pr["S_marg_se"]))


def _growth(pr: pd.DataFrame) -> tuple[bool | None, float]:
    """(every rise of S_NN beyond 2 combined SE, or None with one resolution; the smallest rise in SE)."""
    if len(pr) < 2:
        return None, math.nan
    d = np.diff(pr["S_marg"].to_numpy(float))
    se = np.hypot(pr["S_marg_se"].to_numpy(float)[1:], pr["S_marg_se"].to_numpy(float)[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = float(np.min(d / se))
    return bool((d > GROWTH_SE * se).all()), z


def _growth_text(pr: pd.DataFrame, ok: bool | None) -> str:
    if ok is None:
        return f"growth with resolution undecided: one resolution only (S_NN = {_s_text(pr)} nats)"
    ratio = float(pr["S_marg"].iloc[-1] / pr["S_marg"].iloc[0])
    res = ", ".join(str(int(r)) for r in pr["resolution"])
    return (f"S_NN {'grows' if ok else 'does not grow significantly'} with resolution: {_s_text(pr)} nats at "
            f"{res} px (×{ratio:.3g})")


def _part_1b(pr: pd.DataFrame, key: tuple) -> dict:
    ok, z = _growth(pr)
    verdict = UNDECIDED if ok is None else HOLDS if ok else FAILS
    ratio = float(pr["S_marg"].iloc[-1] / pr["S_marg"].iloc[0]) if ok is not None else math.nan
    return _row(1, "1b", key, verdict, _growth_text(pr, ok), "one_resolution" if ok is None else None, value=z,
                threshold=GROWTH_SE, value2=ratio, n_seeds=int(pr["seeds"].max()),
                log_k=float(pr["log_k"].iloc[0]))


def _over_log_k(r, sigmas: float, estimators=DIRECT) -> tuple[list, float]:
    """Estimates of one resolution by ``estimators`` above ``log K + sigmas SE`` (labelled), and the
    largest z."""
    over, zs = [], []
    for e in estimators:
        if e not in r or pd.isna(r[e]):  # an estimator this model does not have (cross-fitted: one network)
            continue
        se = max(float(r[e + "_se"]), 1e-300)
        zs.append((r[e] - r["log_k"]) / se)
        if r[e] - r["log_k"] > sigmas * se:
            over.append(f"{EST_LABEL[e]} {fmt(r[e])} at {int(r['resolution'])} px")
    zs = [z for z in zs if not math.isnan(z)]
    return over, (max(zs) if zs else math.nan)


def _indirect_over(r, sigmas: float) -> list:
    """The estimates that do not decide 1c (the difference of entropies) above ``log K + sigmas SE``."""
    return _over_log_k(r, sigmas, tuple(e for e in ESTIMATORS if e not in DIRECT))[0]


def _indirect_text(over: list) -> str:
    return (f"; {', '.join(over)} is above it but does not decide (the difference of entropies subtracts two "
            f"S_NN-sized integrals, so its network error scales with S_NN)" if over else "")


def _part_1c(r, causes: str, sigmas: float) -> dict:
    over, z = _over_log_k(r, sigmas)
    z_all = _over_log_k(r, sigmas, ESTIMATORS)[1]
    res, logk = int(r["resolution"]), fmt(r["log_k"])
    if over:
        reason = (f"{res} px: our estimates of I are not bounded by log K = {logk}: {', '.join(over)}; the bounds "
                  f"table attributes this to: {causes}")
    else:
        reason = (f"{res} px: every direct estimate (MINDE, I-MMSE) ≤ log K = {logk} (+{sigmas:g} SE)"
                  + _indirect_text(_indirect_over(r, sigmas)))
    return _row(1, "1c", (r["dataset"], res, r["model"], 0), FAILS if over else HOLDS, reason,
                causes if over else None, value=z, threshold=sigmas, value2=z_all, **_claim1_numbers(r))


def _claim1_text(pr: pd.DataFrame, i_hi, lows: pd.DataFrame, parts_a: list, grow: bool | None, over: list,
                 causes: str, sigmas: float) -> str:
    """The ``all`` row's reason; ``parts_a``: the 1a rows of ``pr``'s resolutions, in its order."""
    res = [int(r) for r in pr["resolution"]]
    f_hi = i_hi / pr["S_marg"]
    frac_ok = bool((f_hi < FRACTION_LIMIT).all())
    est = " / ".join(dict.fromkeys(EST_LABEL[e] for e in pr["primary"]))
    fr = "; ".join(f"{r} px: {100 * a:.3g} % ({EST_LABEL[e]} point estimate {100 * b:.3g} %)"
                   for r, a, b, e in zip(res, f_hi, pr["fraction"], pr["primary"]))
    capped = [int(r) for r, i, k in zip(res, i_hi, pr["log_k"]) if i == k]
    note = (f" (log K at {', '.join(map(str, capped))} px)" if capped else "")
    parts = [f"(a) I/S_NN {'<' if frac_ok else 'is not <'} 1 % at every resolution, with I = "
             f"min({est} + 2 SE, log K){note}: {fr}",
             f"(b) {_growth_text(pr, grow)}"]
    i_txt = " → ".join(fmt(v) for v in pr["mi"])
    logk = fmt(pr["log_k"].iloc[0])
    if not over:
        indirect = [o for _, r in pr.iterrows() for o in _indirect_over(r, sigmas)]
        parts.append(f"(c) I stays bounded: every direct estimate ≤ log K = {logk} (+{sigmas:g} SE); {est} {i_txt} "
                     f"nats" + _indirect_text(indirect))
    else:
        parts.append(f"(c) our estimates of I are not bounded by log K = {logk}: {', '.join(over)}")
    text = "; ".join(parts) + "."
    fails = [(p["resolution"], i, p["value_lo"]) for p, i in zip(parts_a, lows["i_lo"]) if p["verdict"] == FAILS]
    straddle = [(p["resolution"], p["value_lo"], p["value_hi"]) for p in parts_a if p["verdict"] == UNDECIDED]
    if fails:
        text += (" Our data disagree with the paper's claim 1 here: "
                 + "; ".join(f"at {r} px even the lower bound I ≥ {fmt(i)} nats is {100 * a:.3g} % of S_NN"
                             for r, i, a in fails)
                 + " (a lower bound on I for any model: the classifier's H(Y) - CE or the model's own label "
                   "bound; few pixels, and an under-trained model may also underestimate S_NN).")
    if straddle:
        text += (" At " + "; ".join(f"{r} px I/S_NN lies between "
                                    + (f"{100 * a:.3g} %" if math.isfinite(a) else "0 (no lower bound)")
                                    + f" and {100 * b:.3g} %" for r, a, b in straddle)
                 + ": across the 1 % line, so (a) is undecided there.")
    if over:
        text += (" Our estimates disagree with the paper's claim 1 (c), which the true I cannot violate "
                 f"(I ≤ log K); the bounds table attributes this to: {causes} — a limitation of this run's "
                 "networks and estimators, not evidence about the data.")
    if frac_ok and grow is False:
        text += " Our data disagree with the paper's claim 1 (b) here."
    return text


def claim1(pr: pd.DataFrame, flags: pd.DataFrame | None = None, sigmas: float = SIGMAS) -> list[dict]:
    """Rows of claim 1 for ONE (dataset, model): ``pr`` its rows of :func:`per_resolution`, ``flags``
    its rows of table ``bounds`` (whose causes are quoted where 1c fails). The ``all`` row first."""
    pr = pr.sort_values("resolution").reset_index(drop=True)
    if not len(pr):
        return []
    key = (pr["dataset"].iloc[0], 0, pr["model"].iloc[0], 0)
    causes = _flag_causes(flags)
    below = _below_bound(pr, flags)
    i_hi = _i_upper(pr, below)
    lows = _i_lower(pr, flags)
    parts_a = [_part_1a(r, float(i), bool(b), lows.loc[k]) for (k, r), i, b in zip(pr.iterrows(), i_hi, below)]
    parts = parts_a + [_part_1b(pr, key)]
    parts += [_part_1c(r, causes, sigmas) for _, r in pr.iterrows()]
    over = [o for _, r in pr.iterrows() for o in _over_log_k(r, sigmas)[0]]
    grow = _growth(pr)[0]
    data_fails = any(p["verdict"] == FAILS for p in parts if p["part"] in ("1a", "1b"))
    straddles = any(p["verdict"] == UNDECIDED for p in parts_a)
    text = _claim1_text(pr, i_hi, lows, parts_a, grow, over, causes, sigmas)
    if data_fails:  # the data decide against the claim (1a: a lower bound on I, not an estimate, is >= 1 %)
        verdict, cause = FAILS, None
    elif over:  # only our estimates break a bound the true I keeps: that decides nothing about the data
        verdict, cause = UNDECIDED, causes
        text += (" Undecided: " + ("part (c) fails (and (a) is undecided)" if straddles else "only part (c) fails")
                 + ", and the true I cannot fail it.")
    elif straddles:
        verdict, cause = UNDECIDED, "interval_straddles"
        text += " Undecided: part (a) is undecided."
    else:
        verdict, cause = HOLDS, None
    stale = [int(r) for r, c in zip(pr["resolution"], pr["converged"]) if c is False or c == 0.0]
    if verdict == FAILS and stale:  # a model that is still improving does not decide against the claim
        verdict, cause = UNDECIDED, "not_converged"
        text += (f" Undecided: the model did not converge at {', '.join(map(str, stale))} px (its held-out loss "
                 f"still improved over the last part of training), so the failure may be ours.")
    elif stale:
        text += (f" The model did not converge at {', '.join(map(str, stale))} px (its held-out loss still improved "
                 f"over the last part of training): its S_NN may still grow.")
    overall = _row(1, "all", key, verdict, text, cause, n_seeds=int(pr["seeds"].max()),
                   log_k=float(pr["log_k"].iloc[0]))
    return [overall] + parts


def claim1_rows(information: pd.DataFrame | None, bounds: pd.DataFrame | None = None,
                sigmas: float = SIGMAS) -> list[dict]:
    """Claim 1 for every (dataset, model) of image data in ``information``."""
    info = image_rows(information)
    if not len(info):
        return []
    rows = []
    for (ds, model), g in per_resolution(info).groupby(["dataset", "model"]):
        fl = bounds[(bounds["dataset"] == ds) & (bounds["model"] == model)] if not _empty(bounds) else None
        rows += claim1(g, fl, sigmas)
    return rows


# ---- claim 2 ------------------------------------------------------------------------------------
def main_arms(dae: pd.DataFrame) -> pd.DataFrame:
    """The ladder rows at the main split time (column ``main``), one per (dataset, resolution, model, seed)."""
    m = dae[(dae["variant"] == "ladder") & dae["main"].astype(bool)]
    return m.sort_values(["dataset", "resolution", "model", "seed"]).drop_duplicates(
        ["dataset", "resolution", "model", "seed"], keep="last")


def reference_mi(m) -> tuple[float, str]:
    """The reference ``I(X;Y)`` of a ``dae`` row and its name: the exact value where the data have an
    exact law, else the classifier bound, else ``H(Y)``."""
    ref = as_float(m.get("mi_xy_exact"))
    if math.isfinite(ref):
        return ref, "exact"
    ref = as_float(m.get("mi_xy_classifier"))
    if math.isfinite(ref):
        return ref, "classifier bound"
    return as_float(m["label_entropy"]), "H(Y)"


def reference_se(m) -> float:
    """Standard error of :func:`reference_mi` (0 for ``H(Y)``)."""
    name = reference_mi(m)[1]
    se = as_float(m.get({"exact": "mi_xy_exact_se", "classifier bound": "mi_xy_classifier_se"}.get(name, "")))
    return se if math.isfinite(se) else 0.0


def wilson(p: float, n, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``p`` observed on ``n`` trials (``(p, p)``
    without a count)."""
    n = as_float(n)
    if not math.isfinite(p) or not n > 0:
        return p, p
    c = p + z * z / (2 * n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    d = 1 + z * z / n
    return max(0.0, (c - h) / d), min(1.0, (c + h) / d)


def ratio_ci(mi: float, se: float, ref: float, ref_se: float = 0.0, z: float = Z95) -> tuple[float, float, float]:
    """``mi / ref`` and a conservative 95 % interval: ``(mi -+ z se) / (ref +- z ref_se)``."""
    se, ref_se = (v if math.isfinite(v) else 0.0 for v in (se, ref_se))
    lo_ref, hi_ref = ref - z * ref_se, ref + z * ref_se
    hi = (mi + z * se) / lo_ref if lo_ref > 0 else math.inf
    return mi / ref, (mi - z * se) / hi_ref, hi


def _p(part: str, verdict: str, text: str, cause: str | None = None, **numbers) -> dict:
    return {"part": part, "verdict": verdict, "text": text, "cause": cause, "numbers": numbers}


def _share_part(part: str, mi: float, se: float, ref: float, ref_se: float, carry: bool,
                log_k: float = math.nan) -> dict:
    """2a (``carry``: the share must reach CARRY) or 2b (it must stay below LEAK), on the 95 % CI.
    An estimate above ``log K + 3 SE`` (which no true ``I(Z;Y) <= H(Y)`` can reach) decides nothing:
    undecided, cause ``estimate_above_log_k``."""
    name, thr = ("I(Z_sem;Y)", CARRY) if carry else ("I(Z_per;Y)", LEAK)
    if not ref > 0:
        return _p(part, UNDECIDED, "no reference I(X;Y)", "no_reference", threshold=thr)
    if not math.isfinite(mi):
        return _p(part, UNDECIDED, f"{name}: no finite estimate", "invalid_estimate", threshold=thr)
    v, lo, hi = ratio_ci(mi, se, ref, ref_se)
    if math.isfinite(log_k) and mi - log_k > UPPER_SE_LOGK * (se if se > 0 else 0.0):
        return _p(part, UNDECIDED, f"{name} = {pm(mi, se, 3)} nats exceeds log K = {fmt(log_k)}: the latent-MI "
                                   f"estimate over-states, so it decides nothing", "estimate_above_log_k",
                  value=v, value_lo=lo, value_hi=hi, threshold=thr)
    text = (f"{name} = {pm(mi, se, 3)} nats is {ci_text(v, lo, hi, pct=True)} of I(X;Y) = {pm(ref, ref_se or None, 3)} "
            f"(threshold {'≥' if carry else '≤'} {100 * thr:g} %)")
    numbers = {"value": v, "value_lo": lo, "value_hi": hi, "threshold": thr}
    if carry:
        verdict = HOLDS if lo >= thr else FAILS if hi < thr else UNDECIDED
    else:
        verdict = HOLDS if hi <= thr else FAILS if lo > thr else UNDECIDED
    return _p(part, verdict, text, "interval_straddles" if verdict == UNDECIDED else None, **numbers)


def _recon_part(rec: float, n_recon, clf_acc: float, chance: float) -> dict:
    """2d: reconstructions are classified as the input's class at >= RECON x the classifier's own accuracy."""
    if not math.isfinite(rec):
        return _p("2d", UNDECIDED, "no classifier judged the reconstructions", "no_classifier", threshold=RECON)
    if not clf_acc > 0:  # no accuracy of the classifier on real images: only "better than chance" can be asked
        ok = rec >= DECIDABLE * chance
        text = (f"reconstructions get the input's label {fmt(100 * rec, 3)} % of the time (chance "
                f"{fmt(100 * chance, 3)} %; the classifier's own accuracy is unknown)")
        return _p("2d", HOLDS if ok else FAILS, text, None if ok else "reconstructions_at_chance", value=rec,
                  threshold=DECIDABLE * chance)
    lo, hi = wilson(rec, n_recon)
    v, lo, hi = rec / clf_acc, lo / clf_acc, hi / clf_acc
    text = (f"reconstructions get the input's label {ci_text(rec, lo * clf_acc, hi * clf_acc, pct=True)} of the "
            f"time, {ci_text(v, lo, hi, pct=True)} of the classifier's own accuracy {fmt(100 * clf_acc, 3)} % "
            f"(threshold {100 * RECON:g} %; chance {fmt(100 * chance, 3)} %)")
    verdict = HOLDS if lo >= RECON else FAILS if hi < RECON else UNDECIDED
    cause = (None if verdict == HOLDS else "reconstructions_at_chance" if rec < DECIDABLE * chance
             else "poor_reconstructions" if verdict == FAILS else "interval_straddles")
    return _p("2d", verdict, text, cause, value=v, value_lo=lo, value_hi=hi, threshold=RECON, value2=clf_acc)


def _swap_part(fa: float, fb: float, n_swap, rec: float, recon: dict) -> dict:
    """2c: the swap's class follows ``z_sem`` (A), on Wilson intervals; needs working reconstructions (2d)."""
    if not all(math.isfinite(v) for v in (fa, fb, rec)):
        return _p("2c", UNDECIDED, "no classifier judged the swaps", "no_classifier")
    (alo, ahi), (blo, bhi) = wilson(fa, n_swap), wilson(fb, n_swap)
    thr = SWAP * rec
    numbers = {"value": fa, "value_lo": alo, "value_hi": ahi, "value2": fb, "value2_lo": blo, "value2_hi": bhi,
               "threshold": thr}
    text = (f"swaps (z_sem of A, z_per of B) get A's label {ci_text(fa, alo, ahi, pct=True)} and B's "
            f"{ci_text(fb, blo, bhi, pct=True)} of the time (threshold {fmt(100 * thr, 3)} % = {SWAP:g} × the "
            f"reconstructions' {fmt(100 * rec, 3)} %)")
    if recon["verdict"] != HOLDS:
        return _p("2c", UNDECIDED, text + ": the decoder does not reconstruct the class reliably (2d), so the swap "
                  "test cannot decide", recon["cause"] or "poor_reconstructions", **numbers)
    verdict = (HOLDS if alo >= thr and alo > bhi else FAILS if ahi < thr or ahi < blo else UNDECIDED)
    return _p("2c", verdict, text, "interval_straddles" if verdict == UNDECIDED else None, **numbers)


def _exact_part(exact: dict, ref: float) -> dict:
    """2x: on data with an exact law, each latent's I(Z;Y) against the exact I(V X; Y) of its view."""
    (ms, ss, ls), (mp, sp, lp) = exact["sem"], exact["per"]
    over = {n: m - Z95 * s - lim for n, (m, s, lim) in exact.items()}
    ok = all(v <= EXACT_TOL for v in over.values()) and all(math.isfinite(v) for v in over.values())
    text = (f"exact check: I(Z_per;Y) = {pm(mp, sp, 3)} nats against the exact {fmt(lp, 3)} of its view, "
            f"I(Z_sem;Y) = {pm(ms, ss, 3)} against the exact {fmt(ls, 3)} of its view "
            f"({fmt(100 * ms / ls, 3) if ls > 0 else '–'} % of it; exact I(X;Y) = {fmt(ref, 3)})")
    if not ok:
        text += (f"; an estimate exceeds the exact limit of what its encoder sees by more than {EXACT_TOL:g} nats + "
                 f"{Z95:g} SE (data processing forbids it): the latent MI estimate is biased up")
    return _p("2x", HOLDS if ok else FAILS, text, None if ok else "breaks_exact_limit", value=mp - lp,
              threshold=EXACT_TOL, value2=ms / ls if ls > 0 else math.nan)


def _strict(verdicts: list) -> str:
    """Any part that does not hold decides; else any undecided part; else holds."""
    if FAILS in verdicts:
        return FAILS
    return UNDECIDED if UNDECIDED in verdicts else HOLDS


def judge(ref: float, mi_sem: float, mi_per: float, follows_a: float, follows_b: float, recon_acc: float,
          chance: float, *, ref_se: float = 0.0, sem_se: float = 0.0, per_se: float = 0.0, n_swap=None,
          n_recon=None, classifier_accuracy: float = math.nan, converged: bool | None = None,
          exact: dict | None = None, log_k: float = math.nan) -> tuple[str, list[dict]]:
    """Claim 2 on one arm: ``(verdict, parts)``, parts ``{part, verdict, text, cause, numbers}`` for 2a,
    2b, 2c, 2d and, with ``exact`` (``{'sem'|'per': (I(Z;Y), se, exact limit of the view)}``), 2x.

    Preconditions before the data decide: the autoencoder converged (``converged`` not False), it
    reconstructs (2d holds) and, where exact, no latent breaks its exact limit (2x holds); else the
    verdict is undecided with those causes. Then 2a, 2b, 2c decide strictly (:func:`_strict`)."""
    recon = _recon_part(recon_acc, n_recon, classifier_accuracy, chance)
    parts = [_share_part("2a", mi_sem, sem_se, ref, ref_se, True, log_k),
             _share_part("2b", mi_per, per_se, ref, ref_se, False, log_k),
             _swap_part(follows_a, follows_b, n_swap, recon_acc, recon), recon]
    if exact is not None:
        parts.append(_exact_part(exact, ref))
    if blockers(parts, converged):
        return UNDECIDED, parts
    return _strict([p["verdict"] for p in parts[:3]]), parts


def blockers(parts: list[dict], converged: bool | None) -> list[str]:
    """Why the verdict of :func:`judge` is not drawn from the data: ``not_converged`` and the causes
    of parts 2d and 2x that do not hold (our autoencoder or measurement falls short)."""
    out = ["not_converged"] if converged is False else []
    out += [p["cause"] or "not_significant" for p in parts if p["part"] in ("2d", "2x") and p["verdict"] != HOLDS]
    return list(dict.fromkeys(out))


def _mark(verdict: str) -> str:
    return {HOLDS: "ok", FAILS: "fails", UNDECIDED: "n/a"}[verdict]


def _exact_inputs(m, sem, per) -> dict | None:
    lims = {n: as_float(r.get("mi_y_view_exact")) for n, r in (("sem", sem), ("per", per))}
    if not all(math.isfinite(v) for v in lims.values()):
        return None
    return {n: (as_float(r["mi_y"]), as_float(r["mi_y_se"]), lims[n]) for n, r in (("sem", sem), ("per", per))}


def _claim2(m, sem, per) -> list[dict]:
    """Rows of claim 2 for one main arm ``m`` (a ``dae`` row) and its latents ``sem``, ``per``."""
    key = (m["dataset"], int(m["resolution"]), m["model"], int(m["seed"]))
    ref, ref_name = reference_mi(m)
    fa, fb, rec = as_float(m["swap_follows_a"]), as_float(m["swap_follows_b"]), as_float(m["recon_accuracy"])
    chance = as_float(sem["chance_accuracy"])
    conv = m.get("converged")
    conv = None if conv is None or (isinstance(conv, float) and math.isnan(conv)) or pd.isna(conv) else bool(conv)
    verdict, parts = judge(ref, as_float(sem["mi_y"]), as_float(per["mi_y"]), fa, fb, rec, chance,
                           ref_se=reference_se(m), sem_se=as_float(sem["mi_y_se"]), per_se=as_float(per["mi_y_se"]),
                           n_swap=m.get("n_swap"), n_recon=m.get("n_recon"),
                           classifier_accuracy=as_float(m.get("classifier_accuracy")), converged=conv,
                           exact=_exact_inputs(m, sem, per), log_k=as_float(m.get("log_k")))
    blocked = blockers(parts, conv)
    common = {"n_seeds": 1, "reference": ref, "recon_accuracy": rec, "chance_accuracy": chance,
              "s_star": float(m["s_star"])}
    text = (f"I(X;Y) from the {ref_name}. " + "; ".join(f"{p['text']} ({_mark(p['verdict'])})" for p in parts)
            + ".")
    if conv is False:
        text += (" The autoencoder did not converge (its held-out loss still improved by more than 1 % over the "
                 "last 20 % of training), so the verdict is not drawn from it.")
    elif conv is None:
        text += " Convergence was not checked (no held-out evaluations; set holdout_fraction)."
    if blocked:
        text += f" Undecided: {', '.join(blocked)}."
    cause = ", ".join(blocked) if verdict == UNDECIDED else None
    if verdict == UNDECIDED and not blocked:
        cause = ", ".join(dict.fromkeys(p["cause"] for p in parts[:3] if p["verdict"] == UNDECIDED and p["cause"]))
    rows = [_row(2, "all", key, verdict, text, cause or None, **common)]
    for p in parts:
        rows.append(_row(2, p["part"], key, p["verdict"], p["text"], p["cause"], **{**common, **p["numbers"]}))
    return rows


def claim2_rows(dae: pd.DataFrame | None, latents: pd.DataFrame | None) -> list[dict]:
    """Claim 2 for every main DAE arm with both latents measured."""
    if _empty(dae) or _empty(latents):
        return []
    rows = []
    for _, m in main_arms(dae).iterrows():
        ll = latents[(latents["dataset"] == m["dataset"]) & (latents["resolution"] == m["resolution"])
                     & (latents["model"] == m["model"]) & (latents["seed"] == m["seed"])
                     & (latents["variant"] == "ladder")
                     & np.isclose(latents["s_star"].astype(float), float(m["s_star"]))].set_index("latent")
        if {"sem", "per"} <= set(ll.index):
            rows += _claim2(m, ll.loc["sem"], ll.loc["per"])
    return rows


# ---- claim 3 ------------------------------------------------------------------------------------
KEYS = ["dataset", "resolution", "model"]


def seed_means(df: pd.DataFrame, cols: list[str], by: list[str]) -> pd.DataFrame:
    """Mean over seeds of ``cols`` per ``by`` group (other columns: the first row's value); standard
    errors combine the per-seed SEs with the spread across seeds."""
    rows = []
    for key, g in df.groupby(by, sort=False, dropna=False):
        r = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        r["n_seeds"] = g["seed"].nunique() if "seed" in g else 1
        for c in g.columns:
            if c in by or c in cols or c.endswith("_se"):
                continue
            r[c] = g[c].iloc[0]
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


def rate_curve(rates: pd.DataFrame | None, ds, res, model) -> pd.DataFrame:
    """The measured MI rate per unit log-SNR of one (dataset, resolution, model), seed-averaged:
    columns ``log_snr``, ``i_rate_lam``, ``s``, ``edm_sigma`` (ascending log-SNR)."""
    if _empty(rates):
        return pd.DataFrame()
    r = rates[(rates["dataset"] == ds) & (rates["resolution"] == res) & (rates["model"] == model)
              & rates["i_rate_lam"].notna()]
    return r.groupby("log_snr", as_index=False)[["i_rate_lam", "s", "edm_sigma"]].mean().sort_values("log_snr")


def info_share_below(curve: pd.DataFrame, cut: float) -> float:
    """Share of the measured ``int i dlambda`` (:func:`rate_curve`, negative rates clipped to 0)
    produced at log-SNR below ``cut`` (early in generation): trapezoid rule on the linear
    interpolant over 4001 points."""
    if len(curve) < 2:
        return float("nan")
    lam, i = curve["log_snr"].to_numpy(float), np.clip(curve["i_rate_lam"].to_numpy(float), 0, None)
    fine = np.linspace(lam.min(), lam.max(), 4001)
    fi = np.interp(fine, lam, i)
    tot = np.trapezoid(fi, fine)
    sel = fine <= cut
    return float(np.trapezoid(fi[sel], fine[sel]) / tot) if tot > 0 and sel.sum() > 1 else float("nan")


def split_pairs(sp: pd.DataFrame) -> list[dict]:
    """The early-only / late-only settings of a split sweep, per cut (ascending position):
    ``{cut, pos, early, late}`` with ``cut`` the log-SNR edge between them."""
    rows = []
    for pos, gp in sp.groupby("position"):
        e = gp[gp["setting"].str.startswith("early")].iloc[0]
        lt = gp[gp["setting"].str.startswith("late")].iloc[0]
        rows.append({"cut": float(e["log_snr_hi"]), "pos": int(pos), "early": e, "late": lt})
    return rows


def _early_late_text(full, e, lt, cut: float, share_i: float) -> str:
    info_txt = (f" {100 * share_i:.0f} % of the measured label information (∫ i dλ) is produced at λ < "
                f"{cut:.2f}." if np.isfinite(share_i) else "")
    return (f"full guidance (w = {fmt(full['w'], 3)}) raises accuracy by "
            f"{pm(float(full['acc_gain']), float(full['acc_gain_se']), 3)}; guidance only early (λ < {cut:.2f}, "
            f"EDM σ > {fmt(e['edm_sigma_lo'], 3)}) delivers "
            f"{ci_text(e['gain_share'], e['gain_share_lo'], e['gain_share_hi'], pct=True)} of that gain, only late "
            f"{ci_text(lt['gain_share'], lt['gain_share_lo'], lt['gain_share_hi'], pct=True)} (95 % bootstrap "
            f"CIs). In mean classifier log-likelihood (gain of H(Y) - CE "
            f"{pm(float(full['bound_gain']), float(full['bound_gain_se']), 3)} nats at full guidance): early "
            f"{ci_text(e['bound_share'], e['bound_share_lo'], e['bound_share_hi'], pct=True)}, late "
            f"{ci_text(lt['bound_share'], lt['bound_share_lo'], lt['bound_share_hi'], pct=True)}." + info_txt)


def _ci_verdict(e_lo: float, e_hi: float, l_lo: float, l_hi: float) -> str:
    if e_lo > SHARE and l_hi < SHARE:
        return HOLDS
    if e_hi < SHARE or l_lo > SHARE:
        return FAILS
    return UNDECIDED


def early_late(key: tuple, pairs: list[dict], full, curve: pd.DataFrame, n_seeds: int = 1) -> dict:
    """Claim 3 'early_late' at the middle cut of ``pairs`` (:func:`split_pairs`); ``full`` the
    seed-averaged reference row (full guidance), ``curve`` the model's :func:`rate_curve`."""
    if not pairs:
        return _row(3, "early_late", key, UNDECIDED, "no split settings in this run", "no_settings", n_seeds=n_seeds)
    if full is None:
        return _row(3, "early_late", key, UNDECIDED, "no full-guidance (reference) setting in this run",
                    "no_settings", n_seeds=n_seeds)
    mid = pairs[(len(pairs) - 1) // 2]
    e, lt, cut = mid["early"], mid["late"], mid["cut"]
    g_full, g_full_se = float(full["acc_gain"]), float(full["acc_gain_se"])
    share_i = info_share_below(curve, cut)
    txt = _early_late_text(full, e, lt, cut, share_i)
    numbers = {"value": as_float(e["gain_share"]), "value_lo": as_float(e["gain_share_lo"]),
               "value_hi": as_float(e["gain_share_hi"]), "value2": as_float(lt["gain_share"]),
               "value2_lo": as_float(lt["gain_share_lo"]), "value2_hi": as_float(lt["gain_share_hi"]),
               "threshold": SHARE, "gain": g_full, "gain_se": g_full_se, "cut_log_snr": cut,
               "cut_edm_sigma": as_float(e["edm_sigma_lo"]), "info_share": share_i, "n_seeds": n_seeds}
    if not g_full - GAIN_SE * g_full_se > 0:
        return _row(3, "early_late", key, UNDECIDED, "full guidance does not raise accuracy significantly here, so "
                    "shares are undefined: " + txt, "full_gain_not_significant", **numbers)
    verdict = _ci_verdict(numbers["value_lo"], numbers["value_hi"], numbers["value2_lo"], numbers["value2_hi"])
    return _row(3, "early_late", key, verdict, "early guidance delivers most of the accuracy gain, late guidance "
                "little: " + txt, "not_significant" if verdict == UNDECIDED else None, **numbers)


def top_window(key: tuple, pairs: list[dict], windows: pd.DataFrame, n_seeds: int = 1) -> dict:
    """Claim 3 'top_window': does guidance in the highest-noise window hurt FD? (full guidance vs
    guidance everywhere but there: the late-only setting at the first cut; paired CIs)."""
    w1 = windows[windows["position"] == 1] if len(windows) else windows
    if not pairs or not len(w1):
        return _row(3, "top_window", key, UNDECIDED, "no window/split settings in this run", "no_settings",
                    n_seeds=n_seeds)
    first, w1 = pairs[0]["late"], w1.iloc[0]
    d, lo, hi = (as_float(first[c]) for c in ("fd_delta_full", "fd_delta_full_lo", "fd_delta_full_hi"))
    d1, lo1, hi1 = (as_float(w1[c]) for c in ("fd_delta_none", "fd_delta_none_lo", "fd_delta_none_hi"))
    txt = (f"switching guidance off in the highest-noise window (λ < {float(first['log_snr_lo']):.2f}) changes FD "
           f"by {ci_text(d, lo, hi)} relative to full guidance; guidance in that window alone changes FD by "
           f"{ci_text(d1, lo1, hi1)} relative to none (95 % paired bootstrap CIs).")
    numbers = {"value": d, "value_lo": lo, "value_hi": hi, "value2": d1, "value2_lo": lo1, "value2_hi": hi1,
               "threshold": 0.0, "cut_log_snr": float(first["log_snr_lo"]),
               "cut_edm_sigma": as_float(first["edm_sigma_hi"]), "n_seeds": n_seeds}
    if hi < 0:
        return _row(3, "top_window", key, HOLDS, "the highest-noise window hurts FD (as the guidance-interval papers "
                    "find): " + txt, **numbers)
    if lo > 0:
        return _row(3, "top_window", key, FAILS, "the highest-noise window does not hurt FD, it helps: " + txt,
                    **numbers)
    return _row(3, "top_window", key, UNDECIDED, "no significant FD effect of the highest-noise window at this "
                "sample size: " + txt, "not_significant", **numbers)


def _reference(a: pd.DataFrame):
    """The seed-averaged full-guidance row (largest reference weight), or None."""
    ref = a[a["sweep"] == "reference"].sort_values("w")
    return ref.iloc[-1] if len(ref) else None


def claim3_rows(guidance: pd.DataFrame | None, rates: pd.DataFrame | None = None) -> list[dict]:
    """Claim 3 'early_late' and 'top_window' for every (dataset, resolution, model) of ``guidance``."""
    if _empty(guidance):
        return []
    rows = []
    for (ds, res, model), gm in guidance.groupby(KEYS, sort=False):
        key, n = (ds, int(res), model, 0), int(gm["seed"].nunique())
        a = seed_means(gm, GUIDANCE_MEANS, ["sweep", "setting"])
        pairs = split_pairs(a[a["sweep"] == "split"])
        windows = a[a["sweep"] == "window"].sort_values("position")
        rows.append(early_late(key, pairs, _reference(a), rate_curve(rates, ds, res, model), n))
        rows.append(top_window(key, pairs, windows, n))
    return rows


def _unguided(a: pd.DataFrame) -> pd.DataFrame:
    """The seed-averaged w = 0 rows of the weight sweep."""
    wts = a[a["sweep"] == "weight"].sort_values("w")
    return wts[wts["w"] == 0]


def _network_shares(a: pd.DataFrame, e, lt, full) -> str:
    """The early/late shares of the trained network's Gaussian-fit MI gain, as a sentence (or '')."""
    base = _unguided(a)
    if not len(base) or full is None or not np.isfinite(e.get("model_fit_mi", np.nan)):
        return ""
    m0, mf = float(base["model_fit_mi"].iloc[0]), float(full["model_fit_mi"])
    if mf == m0:
        return ""
    return (f" With the trained network (Gaussian fit): early {100 * (e['model_fit_mi'] - m0) / (mf - m0):.0f} %, "
            f"late {100 * (lt['model_fit_mi'] - m0) / (mf - m0):.0f} %.")


def gaussian_exact(key: tuple, a: pd.DataFrame, n_seeds: int = 1) -> dict | None:
    """Claim 3 'gaussian_exact' on the seed-averaged ``guidance_gaussian`` rows ``a`` of one
    (dataset, resolution, model); None without split settings."""
    sp = a[a["sweep"] == "split"].sort_values("position")
    if not len(sp):
        return None
    poss = sorted(sp["position"].unique())
    mid = poss[(len(poss) - 1) // 2]
    e = sp[(sp["position"] == mid) & sp["setting"].str.startswith("early")].iloc[0]
    lt = sp[(sp["position"] == mid) & sp["setting"].str.startswith("late")].iloc[0]
    cut = float(e["log_snr_hi"])
    es, ls_ = float(e["exact_gain_share"]), float(lt["exact_gain_share"])
    full = _reference(a)
    base = _unguided(a)
    m_full = float(full["exact_mi"]) if full is not None else math.nan
    m0 = float(base["exact_mi"].iloc[0]) if len(base) else float("nan")
    txt = (f"exact law: guidance only at λ < {cut:.2f} delivers {100 * es:.0f} % of the MI gain of full guidance "
           f"(w = {fmt(full['w'] if full is not None else None, 3)}: {fmt(m_full, 4)} vs {fmt(m0, 4)} nats "
           f"unguided), only at λ > {cut:.2f} {100 * ls_:.0f} %." + _network_shares(a, e, lt, full))
    verdict = HOLDS if es > SHARE and ls_ < SHARE else (FAILS if es < SHARE else UNDECIDED)
    return _row(3, "gaussian_exact", key, verdict, "early guidance produces most of the extra label information: "
                + txt, "ambiguous" if verdict == UNDECIDED else None, value=es, value2=ls_, threshold=SHARE,
                gain=m_full - m0, cut_log_snr=cut, cut_edm_sigma=as_float(e["edm_sigma_lo"]), n_seeds=n_seeds)


def claim3_gaussian_rows(guidance_gaussian: pd.DataFrame | None) -> list[dict]:
    """Claim 3 'gaussian_exact' for every (dataset, resolution, model) of ``guidance_gaussian``."""
    if _empty(guidance_gaussian):
        return []
    rows = []
    for (ds, res, model), gm in guidance_gaussian.groupby(KEYS, sort=False):
        a = seed_means(gm, GAUSSIAN_MEANS, ["sweep", "setting"])
        row = gaussian_exact((ds, int(res), model, 0), a, int(gm["seed"].nunique()))
        if row is not None:
            rows.append(row)
    return rows


# ---- all claims ---------------------------------------------------------------------------------
def decide(frames: dict) -> pd.DataFrame:
    """Table ``claims`` (without ``git_rev``/``created_at``) from the collected tables in ``frames``
    (name -> DataFrame; any of :data:`INPUTS` may be absent)."""
    t = frames.get
    rows = claim1_rows(t("information"), t("bounds"))
    rows += claim2_rows(t("dae"), t("dae_latents"))
    rows += claim3_rows(t("guidance"), t("rates"))
    rows += claim3_gaussian_rows(t("guidance_gaussian"))
    df = pd.DataFrame(rows, columns=COLUMNS)
    for c in NUMBERS:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in ("resolution", "seed", "claim", "n_seeds"):
        df[c] = df[c].astype("int64")
    df["cause"] = df["cause"].astype(object).where(df["cause"].notna(), None)
    return df

"""Sanity interval for label information: ``H(Y) - CE <= I(X;Y) <= log K``, and flags with causes.

For a labelled dataset with ``K`` classes the true ``I(X;Y)`` lies in ``[L, U]`` with ``U = log K``
(``I <= H(Y) <= log K``) and ``L`` the larger of two lower bounds of the Barber–Agakov form
``H(Y) + E log q(y|x)``: the held-out cross-entropy bound ``H(Y) - CE`` of an image classifier
(:mod:`diffsep.classifier`) and the model's own label posterior (``mi_label_bound``,
:func:`diffsep.measure.label_posterior_bound`); ``L = 0`` where neither exists. Every estimate of every
estimator (:data:`ESTIMATORS`) of every labelled ``information`` row is checked against it:

* ``z_high = (estimate - U) / se`` (``U`` is exact);
* ``z_low = (L - estimate) / sqrt(se^2 + se_L^2)`` (the classifier bound is itself an estimate);
* the row is **flagged** when ``z_high > k`` or ``z_low > k`` (``k = 3``: "more than 3 SE").

The likely cause is decided from the numbers by this stated rule (never by tuning an estimator):

1. ``estimate`` not finite: cause ``invalid``.
2. Some estimator of the same row lies inside the interval: ``estimator_bias`` (the network's
   scores can give an estimate inside, so this estimator's bias or noise model is to blame). Only
   the *direct* estimators count here (:data:`DIRECT`: MINDE, I-MMSE, cross-fitted MINDE, which read
   the conditional - null difference of the scores on the same draws) when the row has one: the
   difference of entropies subtracts two ``S_NN``-sized integrals, so at image scale its network
   error scales with ``S_NN``, not with ``I``, and it can land inside the interval by chance.
3. Every (direct) estimator of the row is below ``L``: ``under_training`` (a classifier extracts
   more label information from the same images than the score model stores: train longer or
   larger).
4. Otherwise (all outside, at least one above ``log K``; the rest above or below ``L``): the
   conditional and null scores themselves differ more than any labelling allows, i.e. network
   error dominates their difference. The model's training history (table ``training``, held-out
   denoising loss) tells which kind: ``overfitting`` when the held-out loss at the end of training
   is more than ``r = 2 %`` above its minimum (it rose after the best step); ``under_training``
   when it is not and the model did not converge by the recorded criterion (``converged`` of table
   ``information``: still improving); ``network_error`` when it converged (more steps of the same
   recipe will not remove the error: capacity, data or the null branch's share of the training do)
   or there is no history (analytic scores, missing table). Before that history check:
   ``null_branch`` when the row's null excess (``null_excess`` of table ``information``,
   :func:`diffsep.measure.label_posterior_bound`) is more than ``k`` SE above 0 and some estimate
   is above ``log K``: the null branch is a worse model of ``p(x)`` than the mixture of the same
   network's conditionals, and the MMSE-gap estimate exceeds the model's own label bound by about
   that excess (exactly, on the bound's draws, by the raw excess, which adds the bound's noise), so
   the excess is the part of the overshoot the null branch makes (the reason says how much of it
   that explains).
5. Inside the interval (not flagged): ``weak_classifier`` when ``L < w * log K`` (``w = 0.5``):
   the lower bound is too loose to detect under-training, so "inside" says little; ``no_classifier``
   when there is no classifier row (``L = 0``); else ``ok``. The reason of a direct estimator inside
   the interval adds the row's null excess when it is more than ``k`` SE above 0: the estimate is
   then partly the null branch's error, inside the interval or not.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["ESTIMATORS", "DIRECT", "SIGMAS", "WEAK", "RISE", "CAUSES", "check", "check_tables", "holdout_rise"]

# columns of `information` (each with `_se`)
ESTIMATORS = ("mi_minde", "mi_diff", "mi_mmse", "mi_minde_cross", "mi_mmse_cross")
# read the conditional - null score difference directly
DIRECT = ("mi_minde", "mi_mmse", "mi_minde_cross", "mi_mmse_cross")
SIGMAS = 3.0  # flag beyond this many standard errors
WEAK = 0.5  # a classifier bound below WEAK * log K is "weak"
RISE = 0.02  # held-out loss this far (relative) above its minimum at the end of training: overfitting
CAUSES = ("ok", "weak_classifier", "no_classifier", "overfitting", "under_training", "network_error",
          "null_branch", "estimator_bias", "invalid")


def _z_high(e: float, se: float, upper: float) -> float:
    """Standard errors by which ``e`` exceeds ``upper`` (an SE of 0 or NaN: +-inf by sign)."""
    d = e - upper
    if not (se > 0):  # NaN or 0
        return math.inf if d > 0 else (-math.inf if d < 0 else 0.0)
    return d / se


def _z_low(e: float, se: float, lower: float, lower_se: float) -> float:
    s = math.hypot(se if se > 0 else 0.0, lower_se if lower_se > 0 else 0.0)
    d = lower - e
    if not (s > 0):
        return math.inf if d > 0 else (-math.inf if d < 0 else 0.0)
    return d / s


def check(estimates: dict, upper: float, lower: float = 0.0, lower_se: float = 0.0, has_classifier: bool = True,
          sigmas: float = SIGMAS, weak: float = WEAK, rise: float | None = None, rise_limit: float = RISE,
          converged: bool | None = None, null_excess: tuple[float, float] | None = None) -> dict:
    """Flag each estimator of ONE information row: ``{estimator: (flag, cause, reason, z_low, z_high)}``.

    ``estimates``: ``{estimator: (value, se)}`` (all estimators of the row, for the cross-estimator
    part of the rule); ``upper = log K``; ``lower``/``lower_se``: the classifier bound; ``rise``:
    the model's held-out loss at the end of training relative to its minimum, minus 1
    (:func:`holdout_rise`; None without a history); ``converged``: the model's recorded convergence
    criterion (None: unknown, judged by ``rise`` alone); ``null_excess``: ``(value, se)`` of the row's
    null excess (None: not measured).
    """
    ex, ex_se = (float(v) if v is not None else math.nan for v in (null_excess or (None, None)))
    behind = math.isfinite(ex) and _z_high(ex, ex_se, 0.0) > sigmas  # the null branch is behind its mixture
    z = {}
    for est, (e, se) in estimates.items():
        e, se = float(e), float(se) if se is not None else float("nan")
        z[est] = (_z_low(e, se, lower, lower_se), _z_high(e, se, upper)) if math.isfinite(e) else (math.nan, math.nan)
    finite = [k for k in z if not math.isnan(z[k][0])]
    above = [k for k in finite if z[k][1] > sigmas]
    below = [k for k in finite if z[k][0] > sigmas]
    inside = [k for k in finite if k not in above and k not in below]
    direct = [k for k in finite if k in DIRECT]
    if direct:  # a difference of two entropies inside the interval does not clear the network
        inside = [k for k in inside if k in DIRECT]
    if inside:  # the network's scores give an estimate inside the interval: blame the estimator
        blame = ("estimator_bias", f"{', '.join(inside)} of the same network lie(s) inside the interval: a bias or "
                                   f"underestimated SE of this estimator with this network"
                 + (f" (its held-out loss was still improving at the end of training, {100 * rise:.1f} % above its "
                    f"minimum: longer training should shrink the network error behind the bias)"
                    if rise is not None and math.isfinite(rise) and rise <= rise_limit else ""))
    elif not above:
        blame = ("under_training", f"every {'direct ' if len(direct) < len(finite) else ''}estimator of this row is "
                                   "below it: a classifier extracts more label information from these images than "
                                   "the score model stores (train longer or larger)")
    else:
        why = ("no estimator of this row lies inside the interval (" + "; ".join(
            f"{w}: {', '.join(v)}" for w, v in (("above", above), ("below", below)) if v)
            + "): network error dominates the conditional - null score difference")
        if behind:
            top = max(float(estimates[k][0]) for k in ([k for k in above if k in DIRECT] or above))
            part = "accounts for" if top - ex <= upper else f"leaves {top - ex - upper:.3g} nats of"
            blame = ("null_branch", why + f"; the null branch is {ex:.3g} ± {ex_se:.2g} nats behind the mixture of "
                                          f"the same network's conditionals (null excess): the MMSE-gap estimate is "
                                          f"the model's own label bound plus about that, which {part} the largest "
                                          f"overshoot of a direct estimator ({top:.4g} vs log K = {upper:.4g}); "
                                          "train the null branch more (its share of the condition dropout)")
        elif rise is None or not math.isfinite(rise):
            blame = ("network_error", why + " (no training history to tell overfitting from under-training)")
        elif rise > rise_limit:
            blame = ("overfitting", why + f"; the held-out loss ended {100 * rise:.1f} % above its minimum "
                                          f"(> {100 * rise_limit:g} %): overfitting")
        elif converged:
            blame = ("network_error", why + "; the model converged by the recorded criterion (its held-out loss "
                                            "is flat), so more steps of this recipe will not remove the error: it "
                                            "is the recipe's (network size, training data, the null branch's share "
                                            "of the training)")
        else:
            blame = ("under_training", why + f"; the held-out loss ended within {100 * rise_limit:g} % of its minimum "
                                             f"({100 * rise:.1f} %) and the model did not converge by the recorded "
                                             f"criterion: still improving (train longer)")
    note = (f"; the null excess is {ex:.3g} ± {ex_se:.2g} nats (the MMSE gap is the model's own label bound plus "
            "about it): part of this estimate is the null branch's error") if behind else ""
    out = {}
    for est, (zl, zh) in z.items():
        e, se = estimates[est]
        if math.isnan(zl):
            out[est] = (True, "invalid", f"{est} is not finite ({e})", zl, zh)
        elif zh > sigmas:
            head = f"{est} = {e:.4g} ± {se:.2g} exceeds log K = {upper:.4g} by {zh:.1f} SE"
            out[est] = (True, blame[0], f"{head}; {blame[1]}", zl, zh)
        elif zl > sigmas:
            head = (f"{est} = {e:.4g} ± {se:.2g} is below the classifier bound H(Y) - CE = {lower:.4g} ± "
                    f"{lower_se:.2g} by {zl:.1f} combined SE")
            out[est] = (True, blame[0], f"{head}; {blame[1]}", zl, zh)
        elif not has_classifier:
            out[est] = (False, "no_classifier", f"inside [0, log K = {upper:.4g}]; no classifier bound for this "
                                                f"dataset, so under-training cannot be detected", zl, zh)
        elif lower < weak * upper:
            out[est] = (False, "weak_classifier",
                        f"inside [{lower:.4g}, {upper:.4g}], but the classifier bound is only "
                        f"{100 * max(lower, 0) / upper:.0f} % of log K (< {100 * weak:.0f} %): too loose to detect "
                        f"under-training" + (note if est in DIRECT else ""), zl, zh)
        else:
            out[est] = (False, "ok", f"inside [{lower:.4g}, {upper:.4g}] within {sigmas:g} SE"
                                     + (note if est in DIRECT else ""), zl, zh)
    return out


def holdout_rise(training: pd.DataFrame) -> dict:
    """``{(dataset, resolution, model, seed): rise}`` from table ``training``: the held-out loss at the
    last evaluation over its minimum, minus 1 (the largest over the networks of a two-net model)."""
    out = {}
    if training is None or not len(training) or training["holdout"].isna().all():
        return out
    h = training[training["holdout"].notna()]
    for key, g in h.groupby(["dataset", "resolution", "model", "seed"]):
        rises = []
        for _, gn in g.groupby("network"):
            gn = gn.sort_values("step")
            lo = float(gn["holdout"].min())
            rises.append(float(gn["holdout"].iloc[-1]) / lo - 1 if lo > 0 else math.nan)
        out[(key[0], int(key[1]), key[2], int(key[3]))] = max(rises)
    return out


def _lower(row, clf) -> tuple[float, float, str]:
    """The lower end ``L`` of the interval for one information row: the larger of the image
    classifier's bound ``H(Y) - CE`` and the model's own label-posterior bound (``mi_label_bound``),
    with its SE and source (``classifier``, ``label_posterior``, or ``none``: ``L = 0``)."""
    cands = []
    if clf is not None:
        cands.append((float(clf["mi_lower_bound"]), float(clf["mi_lower_bound_se"]), "classifier"))
    lb = row.get("mi_label_bound") if hasattr(row, "get") else None
    if lb is not None and pd.notna(lb):
        se = row.get("mi_label_bound_se")
        cands.append((float(lb), float(se) if pd.notna(se) else 0.0, "label_posterior"))
    return max(cands, key=lambda t: t[0]) if cands else (0.0, 0.0, "none")


def check_tables(information: pd.DataFrame, classifier: pd.DataFrame, training: pd.DataFrame | None = None,
                 sigmas: float = SIGMAS, weak: float = WEAK, rise_limit: float = RISE) -> pd.DataFrame:
    """Rows of table ``bounds`` (without git_rev/created_at/sigmas) for every labelled ``information``
    row x estimator; the classifier is matched on (dataset, resolution, seed), the training history
    on (dataset, resolution, model, seed)."""
    cols = ["dataset", "resolution", "model", "seed", "estimator", "estimate", "se", "lower", "lower_se",
            "lower_source", "upper",
            "label_entropy", "classifier_accuracy", "holdout_rise", "z_low", "z_high", "flag", "cause", "reason"]
    if not len(information):
        return pd.DataFrame(columns=cols)
    lab = information[(information["cond"] == "label") & information["log_k"].notna()]
    clf = {}
    if classifier is not None and len(classifier):
        for _, c in classifier.iterrows():
            clf[(c["dataset"], int(c["resolution"]), int(c["seed"]))] = c
    rises = holdout_rise(training)
    rows = []
    for _, r in lab.iterrows():
        c = clf.get((r["dataset"], int(r["resolution"]), int(r["seed"])))
        if c is None:  # another seed's classifier bounds the same data just as well
            same = [v for (d, res, _), v in clf.items() if d == r["dataset"] and res == int(r["resolution"])]
            c = same[0] if same else None
        lower, lower_se, source = _lower(r, c)
        upper = float(r["log_k"])
        rise = rises.get((r["dataset"], int(r["resolution"]), r["model"], int(r["seed"])))
        ests = {e: (r[e], r[e + "_se"]) for e in ESTIMATORS if e in r.index and pd.notna(r[e])}
        conv = r.get("converged")
        conv = bool(conv) if conv is not None and pd.notna(conv) else None
        ex = r.get("null_excess")
        ex = (float(ex), float(r.get("null_excess_se"))) if ex is not None and pd.notna(ex) else None
        res = check(ests, upper, lower, lower_se, source != "none", sigmas, weak, rise, rise_limit, conv, ex)
        for est, (flag, cause, reason, zl, zh) in res.items():
            rows.append({"dataset": r["dataset"], "resolution": int(r["resolution"]), "model": r["model"],
                         "seed": int(r["seed"]), "estimator": est, "estimate": float(ests[est][0]),
                         "se": float(ests[est][1]) if pd.notna(ests[est][1]) else float("nan"),
                         "lower": lower, "lower_se": lower_se, "lower_source": source, "upper": upper,
                         "label_entropy": float(c["label_entropy"]) if c is not None else None,
                         "classifier_accuracy": float(c["test_accuracy"]) if c is not None else None,
                         "holdout_rise": rise, "z_low": float(zl), "z_high": float(zh), "flag": bool(flag),
                         "cause": cause, "reason": reason})
    return pd.DataFrame(rows, columns=cols)

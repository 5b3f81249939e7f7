"""Small statistics with one home each: mean and standard error, plug-in label entropies, the
classifier lower bound ``I(X;Y) >= H(Y) - CE``, and held-out splits.

Works on numpy arrays (torch tensors are converted); no torch import.
"""

from __future__ import annotations

import math

import numpy as np

from .rng import np_generator

__all__ = ["mean_se", "neg_log_plugin", "plugin_entropy", "label_bound", "holdout_split"]


def _np(v) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach().cpu().double().numpy()
    return np.asarray(v, dtype=float)


def mean_se(v) -> tuple[float, float]:
    """Mean and its standard error ``std / sqrt(n)`` (ddof 1); ``(nan, nan)`` for no values, SE
    ``nan`` for one."""
    v = _np(v).ravel()
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan"))


def neg_log_plugin(labels, num_classes: int) -> np.ndarray:
    """``-log p(y)`` per sample under the plug-in label distribution of ``labels`` (its mean is the
    plug-in ``H(Y)``)."""
    labels = np.asarray(labels, dtype=np.int64)
    p = np.bincount(labels, minlength=num_classes).astype(float)
    p /= p.sum()
    return -np.log(p[labels])


def plugin_entropy(labels, num_classes: int) -> float:
    """Plug-in ``H(Y)`` (nats) of ``labels``."""
    p = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


def label_bound(log_q, labels, num_classes: int) -> dict:
    """The classifier (Barber–Agakov) bound from per-sample ``log q(y|x)`` of the true labels.

    ``bound = mean(log q(y|x) - log p(y)) = H(Y) - CE`` with ``p`` the plug-in label distribution of
    ``labels`` (so ``H(Y)`` is the plug-in entropy), ``bound_se`` the standard error of those
    per-sample terms; also ``cross_entropy`` (+ ``_se``) and ``label_entropy``.
    """
    log_q = _np(log_q).ravel()
    terms = log_q + neg_log_plugin(labels, num_classes)
    ce, ce_se = mean_se(-log_q)
    bound, bound_se = mean_se(terms)
    return {"bound": bound, "bound_se": bound_se, "cross_entropy": ce, "cross_entropy_se": ce_se,
            "label_entropy": plugin_entropy(labels, num_classes), "terms": terms}


def holdout_split(n: int, fraction: float, *tags) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, held)`` index arrays: a permutation of ``range(n)`` drawn from ``tags`` (a seed and
    names, :func:`diffsep.rng.np_generator`), the first ``round(fraction * n)`` indices held out (at
    least one when ``fraction > 0``, never all). Orders are the permutation's, not sorted."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout fraction must lie in [0, 1), got {fraction}")
    perm = np_generator(*tags).permutation(n)
    k = int(round(fraction * n))
    k = min(max(k, 1 if fraction > 0 else 0), max(n - 1, 0))
    return perm[k:], perm[:k]

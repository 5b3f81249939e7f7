"""Metrics of generated samples: label fidelity, classifier MI bound, Fréchet distance, diversity,
and Gaussian fits of generated pairs (for the joint-Gaussian ground truth).

Per-sample quantities come back as arrays so that a caller can pair them across settings that
share their starting noise (common random numbers) and bootstrap any statistic jointly.

* label accuracy and the classifier bound ``I(X_gen; Y) >= H(Y) - CE`` (``H(Y)`` of the
  requested labels, ``CE`` the classifier's cross-entropy on the generated images);
* Fréchet distance between Gaussian fits of classifier features (FID-style, on our own
  classifier's penultimate features), ``|m1 - m2|^2 + tr(C1 + C2 - 2 (C2^1/2 C1 C2^1/2)^1/2)``;
* within-class diversity: mean pairwise Euclidean feature distance among samples of a class;
* Gaussian-fit MI ``1/2 log(|C_x| |C_y| / |C_xy|)`` and the KL of the fitted joint law to a
  joint Gaussian's true law.
"""

from __future__ import annotations

import numpy as np

from .stats import neg_log_plugin

__all__ = ["label_scores", "FrechetReference", "frechet_distance", "class_diversity", "bootstrap_indices",
           "gaussian_fit_mi", "gaussian_fit_law", "gaussian_fit_kl"]


def label_scores(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """Per-sample ``correct`` (0/1), ``logq`` = log q(y|x), and ``bound`` = log q(y|x) - log p(y).

    The mean of ``bound`` is ``H(Y) - CE``, the classifier lower bound on ``I(X; Y)``
    (:func:`diffsep.stats.label_bound` from the same terms).
    """
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels, dtype=np.int64)
    logq = np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-300, None))
    return {"correct": (probs.argmax(1) == labels).astype(float), "logq": logq,
            "bound": logq + neg_log_plugin(labels, num_classes)}


def _sqrtm_psd(c: np.ndarray) -> np.ndarray:
    lam, u = np.linalg.eigh(0.5 * (c + c.T))
    return (u * np.sqrt(np.clip(lam, 0, None))) @ u.T


class FrechetReference:
    """Fréchet distances to one fixed reference feature set (its square-root covariance cached)."""

    def __init__(self, feats: np.ndarray):
        f = np.asarray(feats, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] < 2:
            raise ValueError(f"Fréchet reference needs >= 2 feature rows, got shape {f.shape}")
        self.mean, self.cov = f.mean(0), np.cov(f, rowvar=False)
        self.sqrt_cov = _sqrtm_psd(self.cov)
        self.tr = float(np.trace(self.cov))

    def distance(self, feats: np.ndarray) -> float:
        f = np.asarray(feats, dtype=np.float64)
        m, c = f.mean(0), np.cov(f, rowvar=False)
        inner = self.sqrt_cov @ c @ self.sqrt_cov
        tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (inner + inner.T)), 0, None)).sum())
        return float(((m - self.mean) ** 2).sum() + np.trace(c) + self.tr - 2.0 * tr_sqrt)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (rows = samples)."""
    return FrechetReference(f2).distance(f1)


def class_diversity(feats: np.ndarray, labels: np.ndarray) -> dict:
    """``{label: mean pairwise Euclidean distance}`` among the features of each class (>= 2 samples)."""
    f = np.asarray(feats, dtype=np.float64)
    out = {}
    for c in np.unique(labels):
        g = f[labels == c]
        if len(g) < 2:
            continue
        sq = (g * g).sum(1)
        d2 = np.clip(sq[:, None] + sq[None, :] - 2 * g @ g.T, 0, None)
        iu = np.triu_indices(len(g), 1)
        out[int(c)] = float(np.sqrt(d2[iu]).mean())
    return out


def bootstrap_indices(n: int, reps: int, seed: int) -> np.ndarray:
    """``(reps, n)`` resampling indices, deterministic in ``seed``."""
    return np.random.default_rng([int(seed) % 2**32, 17]).integers(0, n, size=(int(reps), int(n)))


# ------------------------------------------------------------------------------------------------
# Gaussian fits of generated pairs (joint-Gaussian ground truth)
# ------------------------------------------------------------------------------------------------
def _logdet(m) -> float:
    sign, ld = np.linalg.slogdet(m)
    return float(ld) if sign > 0 else float("nan")


def gaussian_fit_mi(x: np.ndarray, y: np.ndarray) -> float:
    """MI of the Gaussian fitted to the pairs: ``1/2 (log|C_x| + log|C_y| - log|C_xy|)``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = x.shape[1]
    c = np.cov(np.hstack([x, y]), rowvar=False)
    return 0.5 * (_logdet(c[:d, :d]) + _logdet(c[d:, d:]) - _logdet(c))


def gaussian_fit_law(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit ``x = M y + r`` (zero-mean model, as for the joint Gaussian): ``(M, Cov r)``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    m = np.linalg.lstsq(y, x, rcond=None)[0].T
    r = x - y @ m.T
    return m, r.T @ r / max(1, len(x) - y.shape[1])


def gaussian_fit_kl(x: np.ndarray, y: np.ndarray, jg) -> float:
    """``E_y KL(N(M y, C) || p(x | y))`` for the fitted law, with ``y ~ p(y)`` of the joint Gaussian
    ``jg`` (``JointGaussian``: conditional mean ``K y``, covariance ``sc``, ``Cov y = sy``)."""
    from .gaussian import _gaussian_kl  # one home for the Gaussian KL

    m, c = gaussian_fit_law(x, y)
    dx = jg.dx

    def joint(mm, cc):
        top = np.hstack([cc + mm @ jg.sy @ mm.T, mm @ jg.sy])
        return np.vstack([top, np.hstack([jg.sy @ mm.T, jg.sy])])

    fit, true = joint(m, c), joint(jg.k, jg.sc)
    z = np.zeros(dx + jg.dy)
    return float(_gaussian_kl(z, fit, z, true))

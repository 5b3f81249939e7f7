"""Vector kinds with analytic ground truth, from :mod:`diffsep.gaussian`.

``joint_gaussian``
    ``Y = A X + Z`` (:class:`diffsep.gaussian.JointGaussian` built from ``params.seed``); ``x`` is
    ``(N, dx)``, the condition ``y`` is continuous ``(N, dy)`` (``cond == 'vector'``). The exact
    ``I(X;Y)`` goes to ``meta['true_mi']``.
``gaussian_mixture``
    :meth:`diffsep.gaussian.GaussianMixture.make` (``k`` components in ``d`` dimensions, built
    from ``params.seed``); the label is the component. ``meta['true_mi']`` and
    ``meta['true_mi_se']`` are a Monte-Carlo estimate with exact densities
    (:meth:`GaussianMixture.mi`, ``params.mi_samples`` draws).

The "resolution" of a vector dataset is its dimension (``dx`` or ``d``); the spec needs no
``resolutions`` key. No standardisation: the data are already of order one. ``params.seed``
fixes the distribution; the dataset-level ``seed`` picks the samples, with different sample
seeds for train and test (so several seeds give independent draws of one distribution).
"""

from __future__ import annotations

import numpy as np

from ..gaussian import GaussianMixture, JointGaussian
from ..rng import derive_seed
from .base import Ctx, DataError, Kind, Raw, is_int, is_num

__all__ = ["JOINT_GAUSSIAN", "GAUSSIAN_MIXTURE"]


def _pos_int(ctx: Ctx, n: str, lo: int = 1) -> int:
    v = ctx.params[n]
    if not is_int(v) or v < lo:
        raise DataError(f"{ctx.pkey(n)}: must be an integer >= {lo}, got {v!r}")
    return int(v)


def _pos_num(ctx: Ctx, n: str) -> float:
    v = ctx.params[n]
    if not is_num(v) or v <= 0:
        raise DataError(f"{ctx.pkey(n)}: must be a number > 0, got {v!r}")
    return float(v)


def _sample_seed(kind: str, ctx: Ctx, split: str) -> int:
    return derive_seed(kind, int(ctx.seed), split)


# ------------------------------------------------------------------------------------------------
def _jg_native(ctx: Ctx) -> int:
    return _pos_int(ctx, "dx")


def _jg_check(ctx: Ctx) -> None:
    for n in ("dx", "dy", "n_train", "n_test"):
        _pos_int(ctx, n)
    _pos_int(ctx, "seed", 0)
    _pos_num(ctx, "noise")


def _jg_load(ctx: Ctx) -> Raw:
    dx, dy = _pos_int(ctx, "dx"), _pos_int(ctx, "dy")
    noise = _pos_num(ctx, "noise")
    ntr, nte = _pos_int(ctx, "n_train"), _pos_int(ctx, "n_test")
    gseed = _pos_int(ctx, "seed", 0)
    jg = JointGaussian(dx, dy, noise, gseed)
    xtr, ytr = jg.sample(ntr, seed=_sample_seed("joint_gaussian", ctx, "train"))
    xte, yte = jg.sample(nte, seed=_sample_seed("joint_gaussian", ctx, "test"))
    meta = {"true_mi": float(jg.mi()), "true_mi_exact": True, "dy": dy,
            "params": {"dx": dx, "dy": dy, "noise": noise, "seed": gseed}}
    return Raw(xtr.astype(np.float32), ytr.astype(np.float32), xte.astype(np.float32),
               yte.astype(np.float32), [], native=dx, meta=meta)


JOINT_GAUSSIAN = Kind(
    name="joint_gaussian", modality="vector", cond="vector",
    params={
        "dx": (int, 25, "dimension of x (the dataset's 'resolution')"),
        "dy": (int, 15, "dimension of the continuous condition y"),
        "noise": (float, 1.0, "standard deviation of Z in Y = A X + Z (> 0)"),
        "n_train": (int, 20000, "training pairs"),
        "n_test": (int, 10000, "test pairs"),
        "seed": (int, 0, "seed of the distribution (A and Sigma_X)"),
    },
    load=_jg_load, native=_jg_native, exact=True, check=_jg_check,
    # float64 samples of both splits and the d x d matrices of the law (a few copies each)
    footprint=lambda ctx: 8 * (ctx.params["n_train"] + ctx.params["n_test"]) * (ctx.params["dx"] + ctx.params["dy"]) * 3
    + 8 * 8 * (ctx.params["dx"] + ctx.params["dy"]) ** 2,
    doc="joint Gaussian Y = A X + Z with exact I(X;Y)",
)


# ------------------------------------------------------------------------------------------------
def _gm_native(ctx: Ctx) -> int:
    return _pos_int(ctx, "d")


def _gm_check(ctx: Ctx) -> None:
    _pos_int(ctx, "k", 2)
    for n in ("d", "n_train", "n_test"):
        _pos_int(ctx, n)
    _pos_int(ctx, "seed", 0)
    _pos_int(ctx, "mi_samples", 100)
    _pos_num(ctx, "spread")
    _pos_num(ctx, "scale")


def _gm_load(ctx: Ctx) -> Raw:
    k, d = _pos_int(ctx, "k", 2), _pos_int(ctx, "d")
    spread, scale = _pos_num(ctx, "spread"), _pos_num(ctx, "scale")
    ntr, nte = _pos_int(ctx, "n_train"), _pos_int(ctx, "n_test")
    gseed = _pos_int(ctx, "seed", 0)
    nmc = _pos_int(ctx, "mi_samples", 100)
    gm = GaussianMixture.make(k=k, d=d, spread=spread, scale=scale, seed=gseed)
    xtr, ytr = gm.sample(ntr, seed=_sample_seed("gaussian_mixture", ctx, "train"))
    xte, yte = gm.sample(nte, seed=_sample_seed("gaussian_mixture", ctx, "test"))
    mi, se = gm.mi(n=nmc, seed=derive_seed("gaussian_mixture", int(ctx.seed), "mi", bits=31))
    meta = {"true_mi": float(mi), "true_mi_se": float(se), "true_mi_exact": False,
            "params": {"k": k, "d": d, "spread": spread, "scale": scale, "seed": gseed,
                       "mi_samples": nmc},
            "means": gm.means.tolist(), "weights": gm.weights.tolist()}
    return Raw(xtr.astype(np.float32), ytr.astype(np.int64), xte.astype(np.float32),
               yte.astype(np.int64), [str(i) for i in range(k)], native=d, meta=meta)


GAUSSIAN_MIXTURE = Kind(
    name="gaussian_mixture", modality="vector", cond="label",
    params={
        "k": (int, 4, "number of components = classes (>= 2)"),
        "d": (int, 2, "dimension (the dataset's 'resolution')"),
        "spread": (float, 2.0, "standard deviation scale of the component means"),
        "scale": (float, 0.3, "typical component standard deviation"),
        "n_train": (int, 10000, "training samples"),
        "n_test": (int, 5000, "test samples"),
        "seed": (int, 0, "seed of the distribution (means and covariances)"),
        "mi_samples": (int, 200000, "Monte-Carlo draws for the true I(X;Y)"),
    },
    load=_gm_load, native=_gm_native, exact=True, check=_gm_check,
    footprint=lambda ctx: 8 * (ctx.params["n_train"] + ctx.params["n_test"]) * ctx.params["d"] * 3
    + 8 * ctx.params["mi_samples"] * ctx.params["k"] * (ctx.params["d"] + 2) * 2,
    doc="labelled Gaussian mixture with exact densities (Monte-Carlo true I(X;Y))",
)

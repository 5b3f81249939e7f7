"""``gaussian_texture``: a labelled Gaussian texture mixture with exact ground truth at image scale.

The law is :class:`diffsep.texture.GaussianTextureMixture` (label in smooth low-frequency class
means, label-independent stationary texture with a steep power spectrum and a floor). Images are
drawn at ``native`` resolution; coarser resolutions come from the prepare step's area
downsampling, which maps the law to the exact coarse law (:meth:`~diffsep.texture.
GaussianTextureMixture.downsample`), so every resolution that divides ``native`` has exact truth.
The prepared data keep the Gaussian values (no clipping): the kind refuses parameters for which a
draw leaves ``[-1, 1]``. ``true_mi`` (``I(X;Y)`` of the data at that resolution, Monte Carlo with the
exact posterior) is written to the prepared file's meta; the measure stage adds the exact ``S_NN``.
"""

from __future__ import annotations

import numpy as np

from .base import Ctx, DataError, Kind, Raw, is_int, is_num

__all__ = ["GAUSSIAN_TEXTURE"]


def _check(ctx: Ctx) -> dict:
    p = ctx.params
    for n in ("n_train", "n_test", "mi_samples"):
        if not is_int(p[n]) or p[n] < 1:
            raise DataError(f"{ctx.pkey(n)}: must be a positive integer, got {p[n]!r}")
    if not is_int(p["num_classes"]) or not 2 <= p["num_classes"] <= 10:
        raise DataError(f"{ctx.pkey('num_classes')}: must be an integer in 2..10, got {p['num_classes']!r}")
    if not is_int(p["channels"]) or p["channels"] not in (1, 3):
        raise DataError(f"{ctx.pkey('channels')}: must be 1 or 3, got {p['channels']!r}")
    if not is_int(p["native"]) or not 8 <= p["native"] <= 64:
        raise DataError(f"{ctx.pkey('native')}: must be an integer in 8..64, got {p['native']!r}")
    for n in ("pixel_std", "alpha", "width"):
        if not is_num(p[n]) or not p[n] > 0:
            raise DataError(f"{ctx.pkey(n)}: must be a number > 0, got {p[n]!r}")
    if not is_num(p["amplitude"]) or p["amplitude"] < 0:
        raise DataError(f"{ctx.pkey('amplitude')}: must be a number >= 0, got {p['amplitude']!r}")
    if not is_int(p["mean_grid"]) or p["mean_grid"] < 0 or (p["mean_grid"] and p["native"] % p["mean_grid"]):
        raise DataError(f"{ctx.pkey('mean_grid')}: must be 0 (smooth class means) or an integer that divides "
                        f"native ({p['native']!r}), got {p['mean_grid']!r}")
    if not is_num(p["floor"]) or not 0 < p["floor"] <= 1:
        raise DataError(f"{ctx.pkey('floor')}: the spectrum's floor (a share of the pixel variance) must lie "
                        f"in (0, 1] so that the spectrum is positive, got {p['floor']!r}")
    return p


def _law(ctx: Ctx, resolution: int | None = None):
    from ..texture import texture_law

    p = _check(ctx)
    return texture_law(p, resolution or int(p["native"]))


def _load(ctx: Ctx) -> Raw:
    p = _check(ctx)
    law = _law(ctx)
    xtr, ytr = law.sample(int(p["n_train"]), [int(ctx.seed), 0x7E8, 0])
    xte, yte = law.sample(int(p["n_test"]), [int(ctx.seed), 0x7E8, 1])
    worst = max(float(np.abs(xtr).max()), float(np.abs(xte).max()))
    if worst > 1.0:
        raise DataError(f"{ctx.pkey('pixel_std')}: a draw reaches |x| = {worst:.3g} > 1 (images live in [-1, 1]); "
                        f"lower pixel_std or amplitude")
    names = [f"class{i}" for i in range(int(p["num_classes"]))]
    meta = {"construction": "Gaussian texture mixture: label in low-frequency class means, stationary "
                            "label-independent texture (see diffsep.texture)",
            "params": {k: p[k] for k in sorted(p)}}
    return Raw(xtr.astype(np.float32), ytr, xte.astype(np.float32), yte, names, native=int(p["native"]), meta=meta)


def _truth(ctx: Ctx, resolution: int) -> dict:
    """Exact ``I(X;Y)`` of the data at ``resolution`` (Monte Carlo over the exact posterior)."""
    p = _check(ctx)
    law = _law(ctx, resolution)
    xs, y = law.sample(int(p["mi_samples"]), [int(ctx.seed), 0x7E8, 2])
    logw = law.log_posterior(xs, 1.0, 0.0)[np.arange(len(y)), y]
    terms = logw - np.log(law.weights)[y]
    return {"true_mi": float(terms.mean()), "true_mi_se": float(terms.std(ddof=1) / np.sqrt(terms.size)),
            "true_mi_exact": False, "exact_truth": "gaussian_texture"}


def _native(ctx: Ctx) -> int:
    return int(_check(ctx)["native"])


def _resolution_ok(ctx: Ctx, resolution: int) -> str | None:
    """Only integer downsampling factors keep the law exact."""
    native = _native(ctx)
    if resolution > native or native % int(resolution):
        return f"must divide the native resolution {native} (each resolution has its exact law only for integer " \
               f"downsampling factors)"
    return None


GAUSSIAN_TEXTURE = Kind(
    name="gaussian_texture", modality="image", cond="label",
    params={
        "n_train": (int, 4000, "training images"),
        "n_test": (int, 2000, "test images"),
        "num_classes": (int, 4, "number of classes (2..10)"),
        "channels": (int, 1, "1 (grey) or 3 (RGB)"),
        "native": (int, 32, "resolution the images are drawn at (8..64); resolutions must divide it"),
        "amplitude": (float, 0.12, "amplitude of the class-mean bumps (>= 0; sets I(X;Y): 0.65, 0.75, 0.98 nats at 8, 16, 32 px by default)"),
        "width": (float, 0.35, "width (std, image coordinates in [-1, 1]) of the class-mean bumps"),
        "pixel_std": (float, 0.1, "standard deviation of the texture per pixel (> 0)"),
        "alpha": (float, 3.0, "power-law exponent of the texture spectrum (> 0; steeper: lower-dimensional)"),
        "floor": (float, 0.01, "floor of the spectrum, as a share of the pixel variance (0 < floor <= 1)"),
        "mi_samples": (int, 20000, "Monte-Carlo draws for the exact I(X;Y)"),
        "mean_grid": (int, 0, "0: smooth class means; g > 0: means constant on a g x g grid of cells, so the image "
                              "minus its g x g block average is label-free (the DAE's exact separability check)"),
    },
    load=_load, native=_native, truth=_truth, resolution_ok=_resolution_ok, exact=True, check=_check,
    # float64 draws of both splits and of the Monte-Carlo sample, three working copies each
    footprint=lambda ctx: 3 * 8 * (ctx.params["n_train"] + ctx.params["n_test"] + ctx.params["mi_samples"])
    * ctx.params["channels"] * ctx.params["native"] ** 2,
    doc="Gaussian texture mixture: exact scores, I(X;Y) and S_NN at image scale",
)

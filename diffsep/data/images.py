"""Image helpers (scaling, resampling) and the ``sklearn_digits`` kind.

Resampling (:func:`resample`) works on float images in ``[-1, 1]``:

* downsampling uses *area* interpolation (``torch.nn.functional.interpolate(mode='area')``,
  i.e. adaptive average pooling). For an integer factor this is the exact box filter (each
  output pixel is the mean of an ``f x f`` block), which is an antialiasing low-pass; for a
  non-integer factor the averaging windows overlap slightly, still a box low-pass.
* upsampling (only with ``allow_upsample: true``) is bilinear, ``align_corners=False``.

Both are convex combinations of input pixels, so the output stays in ``[-1, 1]``.

:func:`dequantize` (the ``dequantize: <levels>`` key of a dataset entry) turns images stored with a
finite number of grey levels into a continuous law: each pixel is rounded to the nearest of
``levels`` equally spaced values in ``[-1, 1]`` (level ``k``) and replaced by a uniform draw on its
cell ``[-1 + 2k/L, -1 + 2(k+1)/L)`` (``L = levels``), the usual ``(k + u) / L`` of likelihood models.
Without it, pixel values on a lattice (digits: 17 levels) or at an exact value (a black background)
are atoms of the data law: a denoiser can predict the noise exactly below the lattice spacing,
so the neural entropy grows with the lowest noise level ``s_min`` instead of converging and the
held-out loss keeps falling as training sharpens the atoms (docs/equations.md, section 13).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import Ctx, Kind, Raw

__all__ = ["to_unit_range", "resample", "dequantize", "SKLEARN_DIGITS"]

#: largest number of grey levels of ``dequantize`` (16-bit images)
MAX_LEVELS = 65536


def to_unit_range(x: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 [-1, 1]; float input is assumed already in [-1, 1]."""
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)
    return np.asarray(x, dtype=np.float32)


def resample(x: np.ndarray, resolution: int, chunk: int = 4096) -> tuple[np.ndarray, str]:
    """Resample float images ``(N, C, R, R)`` to ``resolution``; returns (images, method)."""
    r = x.shape[-1]
    if resolution == r:
        return np.ascontiguousarray(x, dtype=np.float32), "none"
    if resolution < r:
        method = "area" if r % resolution == 0 else "area (non-integer factor)"
        kw = {"mode": "area"}
    else:
        method, kw = "bilinear upsampling", {"mode": "bilinear", "align_corners": False}
    out = np.empty((x.shape[0], x.shape[1], resolution, resolution), dtype=np.float32)
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            t = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk], dtype=np.float32))
            out[i:i + chunk] = F.interpolate(t, size=(resolution, resolution), **kw).numpy()
    np.clip(out, -1.0, 1.0, out=out)
    return out, method


def dequantize(x: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """Images in ``[-1, 1]`` -> the uniformly dequantized images of ``levels`` grey levels (module
    doc): level ``k = round((x + 1) / 2 * (levels - 1))``, value ``-1 + 2 (k + u) / levels`` with
    ``u ~ U[0, 1)`` drawn from ``rng``; the result stays in ``[-1, 1)``."""
    levels = int(levels)
    if not 2 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must lie in [2, {MAX_LEVELS}], got {levels}")
    k = np.rint((np.asarray(x, dtype=np.float64) + 1.0) * 0.5 * (levels - 1))
    np.clip(k, 0, levels - 1, out=k)
    u = rng.random(k.shape)
    return (-1.0 + 2.0 * (k + u) / levels).astype(np.float32)


def _digits_load(ctx: Ctx) -> Raw:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / np.float32(8.0) - np.float32(1.0))[:, None]  # 0..16 -> [-1, 1]
    y = d.target.astype(np.int64)
    names = [str(n) for n in d.target_names]
    return Raw(x, y, None, None, names, native=8, sources=[],
               meta={"source": "sklearn.datasets.load_digits"})


SKLEARN_DIGITS = Kind(
    name="sklearn_digits", modality="image", cond="label", params={},
    load=_digits_load, native=lambda ctx: 8,
    doc="scikit-learn's bundled 8x8 handwritten digits (1797 images, values 0..16)",
)

"""``synthetic_separable``: procedural images whose semantics and texture are separable by design.

Each image (side ``native``, default 32, values clipped to ``[-1, 1]``) is the sum of two parts:

* **Semantic part (low frequency, depends on the label).** One smooth elongated Gaussian bar.
  For class ``k`` of ``K`` its centre sits at angle ``2 pi k / K`` on a circle of radius 0.4
  (image coordinates in ``[-1, 1]``) and it is oriented at angle ``pi k / K``. Per image the
  centre is jittered by ``N(0, 0.06^2)`` per coordinate, the orientation by ``N(0, 0.12^2)`` rad,
  the length and width (Gaussian std 0.45 and 0.2) by a factor ``U(0.85, 1.15)``, the amplitude
  is ``U(0.8, 1)``. Pixel value ``-0.7 + 1.3 * bar``. The class is determined by where the bar
  is and how it is oriented, so it is recoverable from a low-pass (heavily downsampled, e.g.
  8x8) view; the jitter makes the within-class distribution continuous. At ``native >= 32``
  the bar is effectively band-limited below the texture band (its width is >= 3 pixels, so its
  spectrum above 0.25 cycles/pixel is below 1e-5 of its peak).
* **Perceptual part (high frequency, independent of the label).** Per image and channel,
  ``0.25 * texture * (grating + noise) / sqrt(2)``: ``grating`` is a unit-variance sinusoid with
  random frequency ``U(0.3, 0.45)`` cycles/pixel, random orientation and random phase; ``noise``
  is white Gaussian noise high-pass filtered in Fourier space (frequencies below 0.25
  cycles/pixel removed) and normalised to unit variance. All texture draws come from the random
  stream without looking at the label, so the texture is independent of the label; with
  ``channels: 3`` the bar is grey (same in every channel) and the texture is drawn per channel.

Only the final clip to ``[-1, 1]`` couples the two parts, and it is rare for ``texture <= 1``
(the bar peaks at 0.6, the texture has standard deviation ``0.25 * texture``). Labels are
balanced (``n // K`` or ``n // K + 1`` per class, in random order). Everything is a deterministic
function of the dataset ``seed``; the train and test splits use different random streams.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Ctx, DataError, Kind, Raw, is_int, is_num

__all__ = ["SYNTHETIC_SEPARABLE", "generate_separable"]

_RADIUS, _LEN, _WID = 0.4, 0.45, 0.2
_JIT_POS, _JIT_ANG = 0.06, 0.12
_F_LO, _F_HI, _HP = 0.3, 0.45, 0.25


def generate_separable(n: int, num_classes: int, texture: float, channels: int, native: int,
                       seed) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``float32 (n, channels, native, native)`` in [-1, 1] and int64 labels."""
    rng = np.random.default_rng(seed)
    k = num_classes
    y = rng.permutation(np.arange(n) % k).astype(np.int64)
    r = native
    u = ((np.arange(r) + 0.5) / r * 2 - 1).astype(np.float64)
    gy, gx = np.meshgrid(u, u, indexing="ij")  # gy: rows (vertical), gx: columns
    pix = np.arange(r, dtype=np.float64)
    py, px = np.meshgrid(pix, pix, indexing="ij")
    fy = np.fft.fftfreq(r)[:, None]
    fx = np.fft.fftfreq(r)[None, :]
    highpass = (np.sqrt(fy**2 + fx**2) >= _HP).astype(np.float64)
    out = np.empty((n, channels, r, r), dtype=np.float32)
    chunk = 1024
    for i0 in range(0, n, chunk):
        yy = y[i0:i0 + chunk]
        m = yy.shape[0]
        # semantic part (label-dependent)
        phi = 2 * math.pi * yy / k
        cx = _RADIUS * np.cos(phi) + _JIT_POS * rng.standard_normal(m)
        cy = _RADIUS * np.sin(phi) + _JIT_POS * rng.standard_normal(m)
        th = math.pi * yy / k + _JIT_ANG * rng.standard_normal(m)
        sl = _LEN * rng.uniform(0.85, 1.15, m)
        sw = _WID * rng.uniform(0.85, 1.15, m)
        amp = rng.uniform(0.8, 1.0, m)
        dx = gx[None] - cx[:, None, None]
        dy = gy[None] - cy[:, None, None]
        c, s = np.cos(th)[:, None, None], np.sin(th)[:, None, None]
        p = dx * c + dy * s
        q = -dx * s + dy * c
        bar = amp[:, None, None] * np.exp(-0.5 * (p**2 / sl[:, None, None]**2 + q**2 / sw[:, None, None]**2))
        img = (-0.7 + 1.3 * bar)[:, None]  # (m, 1, r, r)
        # perceptual part (label-independent: drawn without reference to yy)
        f = rng.uniform(_F_LO, _F_HI, (m, channels, 1, 1))
        o = rng.uniform(0, math.pi, (m, channels, 1, 1))
        ph = rng.uniform(0, 2 * math.pi, (m, channels, 1, 1))
        grating = math.sqrt(2) * np.cos(2 * math.pi * f * (px * np.cos(o) + py * np.sin(o)) + ph)
        wn = rng.standard_normal((m, channels, r, r))
        hp = np.fft.ifft2(np.fft.fft2(wn) * highpass).real
        hp /= hp.std(axis=(2, 3), keepdims=True) + 1e-12
        tex = (grating + hp) / math.sqrt(2)
        out[i0:i0 + m] = np.clip(img + 0.25 * texture * tex, -1.0, 1.0)
    return out, y


def _check(ctx: Ctx) -> dict:
    p = ctx.params
    for n in ("n_train", "n_test"):
        if not is_int(p[n]) or p[n] < 1:
            raise DataError(f"{ctx.pkey(n)}: must be a positive integer, got {p[n]!r}")
    if not is_int(p["num_classes"]) or not 2 <= p["num_classes"] <= 10:
        raise DataError(f"{ctx.pkey('num_classes')}: must be an integer in 2..10, got {p['num_classes']!r}")
    if not is_num(p["texture"]) or p["texture"] < 0:
        raise DataError(f"{ctx.pkey('texture')}: must be a number >= 0, got {p['texture']!r}")
    if p["channels"] not in (1, 3) or not is_int(p["channels"]):
        raise DataError(f"{ctx.pkey('channels')}: must be 1 or 3, got {p['channels']!r}")
    if not is_int(p["native"]) or not 8 <= p["native"] <= 512:
        raise DataError(f"{ctx.pkey('native')}: must be an integer in 8..512, got {p['native']!r}")
    return p


def _load(ctx: Ctx) -> Raw:
    p = _check(ctx)
    args = (int(p["num_classes"]), float(p["texture"]), int(p["channels"]), int(p["native"]))
    xtr, ytr = generate_separable(int(p["n_train"]), *args, seed=[int(ctx.seed), 0x5E9, 0])
    xte, yte = generate_separable(int(p["n_test"]), *args, seed=[int(ctx.seed), 0x5E9, 1])
    names = [f"class{i}" for i in range(args[0])]
    meta = {"construction": "class-dependent low-frequency bar + class-independent high-frequency "
                            "texture (see diffsep.data.synthetic)",
            "texture": float(p["texture"])}
    return Raw(xtr, ytr, xte, yte, names, native=int(p["native"]), meta=meta)


SYNTHETIC_SEPARABLE = Kind(
    name="synthetic_separable", modality="image", cond="label",
    params={
        "n_train": (int, 4000, "training images"),
        "n_test": (int, 1000, "test images"),
        "num_classes": (int, 4, "number of classes (2..10)"),
        "texture": (float, 0.5, "strength of the label-independent high-frequency texture (>= 0)"),
        "channels": (int, 1, "1 (grey) or 3 (RGB)"),
        "native": (int, 32, "resolution the images are generated at (8..512)"),
    },
    load=_load, native=lambda ctx: int(_check(ctx)["native"]), check=_check,
    # float32 output + float64 generation buffers of one 1024-image chunk
    footprint=lambda ctx: 4 * (ctx.params["n_train"] + ctx.params["n_test"]) * ctx.params["channels"]
    * ctx.params["native"] ** 2 + 8 * 8 * 1024 * ctx.params["channels"] * ctx.params["native"] ** 2,
    doc="procedural images: label in a low-frequency bar, label-independent high-frequency texture",
)

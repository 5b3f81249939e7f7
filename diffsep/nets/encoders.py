"""Convolutional Gaussian encoders for diffusion autoencoders, each with its own field of view.

An encoder maps an image ``(B, C, H, W)`` to the mean and log-variance of a diagonal Gaussian
posterior ``q(z | x)`` over a latent of ``latent_dim`` dimensions. What it sees is its *view*:

* ``"full"``: the image itself (a perceptual encoder);
* ``"lowpass"``: the image average-pooled to ``view_size x view_size`` pixels (a semantic
  encoder that sees only a coarse, low-frequency view);
* ``"highpass"``: the image minus its low-pass view upsampled back (only fine detail).

Like the score networks, encoders know nothing about the diffusion process and use no batch
statistics (GroupNorm), so an encoding does not depend on the rest of the batch.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ConvEncoder", "VIEWS", "image_view"]

VIEWS = ("full", "lowpass", "highpass")


def image_view(x: torch.Tensor, view: str, view_size: int | None) -> torch.Tensor:
    """The part of ``x`` an encoder sees: full, low-pass (average-pooled) or high-pass."""
    if view == "full":
        return x
    low = F.adaptive_avg_pool2d(x, int(view_size))
    if view == "lowpass":
        return low
    return x - F.interpolate(low, size=x.shape[-2:], mode="nearest")


def _block(cin: int, cout: int, groups: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
                         nn.GroupNorm(math.gcd(groups, cout), cout), nn.SiLU())


class ConvEncoder(nn.Module):
    """``enc(x) -> (mean, logvar)``, each ``(B, latent_dim)``: a Gaussian posterior ``q(z | x)``.

    A conv block at the view's resolution, then stride-2 conv blocks (doubling the width) until
    the feature map is at most ``4 x 4``, a ``2 x 2`` adaptive average pool, one hidden linear
    layer and a linear head for mean and log-variance (clamped to ``logvar_range``). The head
    starts at zero (mean 0, log-variance ``init_logvar``), so an untrained encoder ignores its input;
    a negative ``init_logvar`` (narrow posteriors) lets the decoder read the latent early in training.
    """

    def __init__(self, channels: int,                 # image channels C
                 resolution: int,                      # image side H = W in pixels
                 latent_dim: int,                      # latent dimensions d
                 view: str = "full",                   # 'full' | 'lowpass' | 'highpass'
                 view_size: int | None = None,         # side of the low-pass view in px ('lowpass'/'highpass')
                 base: int = 16,                       # channels of the first conv block
                 hidden: int = 64,                     # width of the hidden linear layer
                 groups: int = 8,                      # GroupNorm groups (reduced to divide widths)
                 init_logvar: float = 0.0,             # log-variance of q(z|x) at initialisation
                 logvar_range: tuple = (-12.0, 4.0)):  # clamp of the log-variance
        super().__init__()
        if view not in VIEWS:
            raise ValueError(f"unknown encoder view {view!r}; known: {list(VIEWS)}")
        if channels < 1 or resolution < 1 or latent_dim < 1 or base < 1 or hidden < 1:
            raise ValueError(f"ConvEncoder needs channels, resolution, latent_dim, base, hidden >= 1; got "
                             f"{channels}, {resolution}, {latent_dim}, {base}, {hidden}")
        if view != "full" and (view_size is None or not 1 <= int(view_size) <= resolution):
            raise ValueError(f"encoder view {view!r} needs view_size in 1..{resolution} (the image side), "
                             f"got {view_size}")
        self.kwargs = {"channels": int(channels), "resolution": int(resolution), "latent_dim": int(latent_dim),
                       "view": view, "view_size": None if view_size is None else int(view_size),
                       "base": int(base), "hidden": int(hidden), "groups": int(groups),
                       "init_logvar": float(init_logvar), "logvar_range": [float(v) for v in logvar_range]}
        self.channels, self.latent_dim, self.view = channels, latent_dim, view
        self.view_size = None if view_size is None else int(view_size)
        self.logvar_range = tuple(float(v) for v in logvar_range)
        size = self.view_size if view == "lowpass" else resolution
        layers, ch = [_block(channels, base, groups)], base
        while size > 4:
            layers.append(_block(ch, 2 * ch, groups, stride=2))
            ch, size = 2 * ch, (size + 1) // 2
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                  nn.Linear(4 * ch, hidden), nn.SiLU())
        self.head = nn.Linear(hidden, 2 * latent_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        nn.init.constant_(self.head.bias[latent_dim:], float(init_logvar))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ConvEncoder expects images (B, {self.channels}, H, W), got {tuple(x.shape)}")
        mean, logvar = self.head(self.body(image_view(x, self.view, self.view_size))).chunk(2, dim=1)
        return mean, logvar.clamp(*self.logvar_range)

"""Small CNN image classifier (for the classifier lower bound ``I(X;Y) >= H(Y) - CE``)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SmallCNN"]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(math.gcd(8, cout), cout), nn.SiLU())


class SmallCNN(nn.Module):
    """``forward(x) -> logits (B, K)``; ``features(x) -> penultimate features (B, 4 * width)``.

    Two stages of two conv blocks (conv, GroupNorm, SiLU) with 2x max-pooling (ceil mode, so odd
    sizes such as 7 px work), a 2x2 adaptive average pool and one hidden linear layer. No batch
    statistics: outputs do not depend on the batch. ``kwargs`` holds the constructor arguments.
    """

    def __init__(self, channels: int,       # image channels C
                 resolution: int,           # image side in pixels (any size >= 1 works)
                 num_classes: int,          # K
                 width: int = 32):          # channels of the first stage (second: 2x)
        super().__init__()
        if channels < 1 or resolution < 1 or num_classes < 2 or width < 1:
            raise ValueError(f"SmallCNN needs channels, resolution, width >= 1 and num_classes >= 2; got "
                             f"{channels}, {resolution}, {num_classes}, {width}")
        self.kwargs = {"channels": int(channels), "resolution": int(resolution),
                       "num_classes": int(num_classes), "width": int(width)}
        self.channels, self.num_classes, self.feature_dim = channels, num_classes, 4 * width
        self.body = nn.Sequential(
            _block(channels, width), _block(width, width), nn.MaxPool2d(2, ceil_mode=True),
            _block(width, 2 * width), _block(2 * width, 2 * width), nn.MaxPool2d(2, ceil_mode=True),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(8 * width, 4 * width), nn.SiLU())
        self.head = nn.Linear(4 * width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SmallCNN expects images (B, {self.channels}, H, W), got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

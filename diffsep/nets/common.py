"""Building blocks shared by the score networks: time features and condition embeddings.

Networks know nothing about the diffusion process: they receive a scalar noise-conditioning
input ``t`` per sample (the model wrapper in :mod:`diffsep.models` decides what it is) and an
optional condition with a per-sample ``null`` mask selecting the learned null token.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FourierFeatures", "CondEmbedding", "ACTIVATIONS", "activation", "null_label_index"]

ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


def check_arg(name: str, value, kind: str) -> None:
    """Refuse a bad constructor argument with one line naming it (``'<name>: must be ...'``).

    ``kind``: ``pos_int`` (an integer >= 1), ``nonneg_int``, ``even_int`` (>= 2, even), ``dropout``
    (a number in [0, 1)), ``pos_num`` (a finite number > 0), ``num`` (finite), ``bool``."""
    import math
    import numbers

    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    is_num = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    ok = {"pos_int": is_int and value >= 1, "nonneg_int": is_int and value >= 0,
          "even_int": is_int and value >= 2 and value % 2 == 0, "dropout": is_num and 0 <= value < 1,
          "pos_num": is_num and value > 0, "num": is_num, "bool": isinstance(value, bool)}[kind]
    if not ok:
        want = {"pos_int": "an integer >= 1", "nonneg_int": "an integer >= 0", "even_int": "an even integer >= 2",
                "dropout": "a number in [0, 1)", "pos_num": "a finite number > 0", "num": "a finite number",
                "bool": "true or false"}[kind]
        raise ValueError(f"{name}: must be {want}, got {value!r}")


def activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}") from None


class FourierFeatures(nn.Module):
    """Deterministic sinusoidal features of a scalar: ``[sin(2 pi f t), cos(2 pi f t)]``."""

    def __init__(self, dim: int = 64, max_freq: float = 16.0):  # dim: even feature count
        super().__init__()
        if dim % 2:
            raise ValueError(f"FourierFeatures dim must be even, got {dim}")
        freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = 2 * math.pi * t.to(self.freqs.dtype)[:, None] * self.freqs[None, :]
        return torch.cat([arg.sin(), arg.cos()], dim=1)


def null_label_index(batch: int, cond, null, null_index: int, device) -> torch.Tensor:
    """Row indices of a label table: ``cond`` where given and not masked by ``null``, else ``null_index``."""
    idx = torch.full((batch,), int(null_index), dtype=torch.long, device=device)
    if cond is None:
        return idx
    if null is None:
        return cond.long().to(device)
    return torch.where(null.to(device), idx, cond.long().to(device))


class CondEmbedding(nn.Module):
    """Embeds a condition into ``dim`` features, with a learned null token.

    ``kind``: ``"label"`` (integer classes ``0..num_classes-1``; index ``num_classes`` is the null
    token; all rows start at zero), ``"vector"`` (continuous vectors of size ``cond_dim``; a learned null embedding), or
    ``"none"`` (unconditional; always returns zeros).
    """

    def __init__(self, kind: str, dim: int, num_classes: int | None = None, cond_dim: int | None = None):
        super().__init__()
        self.kind, self.dim = kind, dim
        if kind == "label":
            if not num_classes or num_classes < 1:
                raise ValueError("a label-conditioned network needs num_classes >= 1")
            self.num_classes = int(num_classes)
            self.table = nn.Embedding(self.num_classes + 1, dim)
            # Every class starts at the null token: the conditional model starts as the
            # unconditional one and e(x,s,y) - e(x,s,null) grows only where the data ask for it.
            # With the default N(0, 1) rows, the label path memorises training pairs and the MI
            # estimates run far above log K (digits, U-Net, 3000 steps: MINDE 10.8 nats with
            # N(0, 1) rows vs 2.16 +- 0.12 with zero rows; log 10 = 2.30, classifier bound 2.23).
            nn.init.zeros_(self.table.weight)
        elif kind == "vector":
            if not cond_dim or cond_dim < 1:
                raise ValueError("a vector-conditioned network needs cond_dim >= 1")
            self.cond_dim = int(cond_dim)
            self.proj = nn.Sequential(nn.Linear(self.cond_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
            self.null = nn.Parameter(torch.zeros(dim))
        elif kind != "none":
            raise ValueError(f"unknown condition kind {kind!r}; known: 'label', 'vector', 'none'")

    def forward(self, batch: int, cond: torch.Tensor | None, null: torch.Tensor | None,
                device=None, dtype=None) -> torch.Tensor:
        if self.kind == "none":
            return torch.zeros(batch, self.dim, device=device, dtype=dtype)
        if cond is None:
            null = torch.ones(batch, dtype=torch.bool, device=device)
        elif null is None:
            null = torch.zeros(batch, dtype=torch.bool, device=cond.device)
        if self.kind == "label":
            return self.table(null_label_index(batch, cond, null, self.num_classes, null.device)).to(dtype)
        nul = self.null.to(dtype)[None, :].expand(batch, -1)
        if cond is None:
            return nul
        return torch.where(null[:, None], nul, self.proj(cond.to(dtype)))

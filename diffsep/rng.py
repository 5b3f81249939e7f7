"""Deterministic random streams: every random draw derives from a seed and a few tags."""

from __future__ import annotations

import hashlib
import json

import torch

__all__ = ["derive_seed", "generator"]


def derive_seed(*parts) -> int:
    """A 63-bit seed derived from any tuple of ints/strings (stable across runs and machines)."""
    h = hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def generator(*parts) -> torch.Generator:
    """A CPU generator seeded by :func:`derive_seed` (draw on CPU, then move: same on any device)."""
    return torch.Generator().manual_seed(derive_seed(*parts))

"""Deterministic random streams: every random draw derives from a seed and a few tags."""

from __future__ import annotations

import hashlib
import json

import numpy as np

__all__ = ["derive_seed", "generator", "np_generator", "seed_torch"]


def derive_seed(*parts, bits: int = 63) -> int:
    """A ``bits``-bit seed (63 by default) derived from any tuple of ints/strings, stable across runs
    and machines. ``bits=32`` or ``31`` fit APIs that take smaller seeds; they are the low bits of
    the 63-bit seed."""
    if not 1 <= bits <= 63:
        raise ValueError(f"derive_seed: bits must lie in [1, 63], got {bits}")
    h = hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << bits) - 1)


def generator(*parts):
    """A torch CPU generator seeded by :func:`derive_seed` (draw on CPU, then move: same on any device)."""
    import torch

    return torch.Generator().manual_seed(derive_seed(*parts))


def np_generator(*parts) -> np.random.Generator:
    """A numpy generator seeded by the 32 low bits of :func:`derive_seed`."""
    return np.random.default_rng(derive_seed(*parts, bits=32))


def seed_torch(seed: int, device=None) -> None:
    """Seed torch's global CPU generator, and the CUDA one when ``device`` is a CUDA device: what
    ``torch.manual_seed`` does for the devices in use, the CPU stream bit for bit. ``torch.manual_seed``
    also queues a lazy seeding of every CUDA device with a captured stack trace on a CPU-only build:
    called every step it cost 6 % of a small MLP's training (estimate_mi, 2 x 2,000 steps: 85.7 ->
    80.5 s)."""
    import torch

    torch.default_generator.manual_seed(int(seed))
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.manual_seed(int(seed))

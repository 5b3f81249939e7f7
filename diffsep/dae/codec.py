"""Images as text for Parquet tables: uint8 bytes in base64 (numpy only, so the report that
decodes them needs no torch)."""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["encode_images", "decode_images"]


def encode_images(x) -> list[str]:
    """Images in ``[-1, 1]`` (array or tensor ``(N, C, H, W)``) as base64 strings of uint8 bytes
    (row-major ``C, H, W``)."""
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    u8 = np.round((np.clip(x, -1, 1) + 1) * np.asarray(127.5, dtype=x.dtype)).astype(np.uint8)
    return [base64.b64encode(a.tobytes()).decode("ascii") for a in u8]


def decode_images(strings, channels: int, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`encode_images`: float array ``(N, C, H, W)`` in ``[0, 1]``."""
    arr = [np.frombuffer(base64.b64decode(s), dtype=np.uint8).reshape(channels, height, width) for s in strings]
    return np.stack(arr).astype(np.float64) / 255.0

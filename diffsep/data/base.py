"""Shared pieces of the dataset package: the error type, the result type, kinds and helpers.

A *kind* is a loader for one data format or generator. It declares its ``params`` (name ->
``(type, default or REQUIRED, description)``), its modality (``image`` or ``vector``), the kind
of condition it yields (``label`` or ``vector``), and three functions of a :class:`Ctx`:
``native`` (native resolution, cheap), ``sources`` (files it reads; used by ``available``) and
``load`` (returns a :class:`Raw`: the arrays at native resolution, before subsetting, capping,
resampling and scaling, which :func:`diffsep.data.prepare` does the same way for every kind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["DataError", "Prepared", "REQUIRED", "Kind", "Ctx", "Raw", "file_entry", "key"]


class DataError(ValueError):
    """A data problem a user can cause (bad file, bad config value); the message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class _Required:
    """Sentinel for a param with no default."""

    _inst = None

    def __new__(cls):
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self):
        return (_Required, ())


REQUIRED = _Required()


@dataclass
class Prepared:
    """A prepared dataset at one resolution, ready for training and measurement.

    ``x_*``: float32; images ``(N, C, H, W)`` in ``[-1, 1]``, vectors ``(N, D)``.
    ``y_*``: int64 labels ``(N,)`` (``cond == 'label'``) or float32 ``(N, Dy)`` (``'vector'``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    modality: str  # 'image' | 'vector'
    cond: str  # 'label' | 'vector'
    meta: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"Prepared({self.meta.get('name', '?')!s} {self.modality}/{self.cond}: "
                f"x_train {tuple(self.x_train.shape)}, x_test {tuple(self.x_test.shape)}, "
                f"classes {len(self.class_names)})")


def key(name: str, *parts: str) -> str:
    """The config key ``datasets.<name>.<parts...>`` used in error messages."""
    return ".".join(["datasets", str(name), *parts])


@dataclass
class Ctx:
    """What a kind's functions see: the dataset name, validated params and the common keys."""

    name: str
    params: dict
    seed: int = 0
    spec: dict = field(default_factory=dict)

    def key(self, *parts: str) -> str:
        return key(self.name, *parts)

    def pkey(self, param: str) -> str:
        return key(self.name, "params", param)


@dataclass
class Raw:
    """A kind's output at native resolution.

    Images: ``uint8`` (0..255) or float32 already in ``[-1, 1]``, shape ``(N, C, R, R)``.
    Vectors: float ``(N, D)``. ``x_test is None`` asks :func:`prepare` for a seeded split.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: list[str]
    native: int
    sources: list[Path] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    name: str
    modality: str  # 'image' | 'vector'
    cond: str  # 'label' | 'vector'
    params: dict  # name -> (type, default | REQUIRED, description)
    load: Callable[[Ctx], Raw]
    native: Callable[[Ctx], int]
    sources: Callable[[Ctx], list[Path]] = lambda ctx: []
    doc: str = ""
    #: the law is known: analytic scores (``diffsep.gaussian.exact_score_model``), model 'exact' rows
    exact: bool = False
    #: exact truth at a prepared resolution (e.g. ``true_mi``), merged into the prepared meta
    truth: Callable[[Ctx, int], dict] | None = None
    #: None if a resolution is allowed, else why not (beyond the common native/upsampling rule)
    resolution_ok: Callable[[Ctx, int], str | None] | None = None
    #: the kind's own parameter checks (raise DataError naming the key); run by validate_spec, so by
    #: ``diffsep validate`` and by the prepare job alike
    check: Callable[[Ctx], None] | None = None
    #: bytes the prepare job holds at its peak (generated kinds; None: unknown without reading files)
    footprint: Callable[[Ctx], int] | None = None

    def check_sources(self, ctx: Ctx) -> tuple[bool, str]:
        """``(True, '')`` when every file the kind reads exists, else ``(False, reason)``."""
        for p in self.sources(ctx):
            if not Path(p).exists():
                return False, f"{p}: file not found"
        return True, ""


def file_entry(path) -> dict:
    """JSON-able provenance of one source file."""
    p = Path(path)
    return {"path": str(p), "bytes": int(p.stat().st_size)}


def is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_num(v) -> bool:
    return (is_int(v) or isinstance(v, (float, np.floating))) and math.isfinite(float(v))

"""Guidance schedules ``w(s)``: constant, interval, information-scheduled (docs/equations.md, claim 3).

A schedule is a callable ``w(s)`` on floats, numpy arrays or torch tensors (same kind back),
with

* ``breakpoints``: the times where ``w`` jumps (interval edges); samplers put grid points
  there and :func:`law_breakpoints` turns them into the ``breakpoints=`` argument of
  :meth:`diffsep.gaussian.JointGaussian.guided_law`, so the exact law is integrated exactly;
* ``budget(process, measure)``: the guidance budget ``int w(s) dmu`` over ``[s_min, 1]``, with
  ``dmu = |d lambda|`` (``measure="log_snr"``, lambda the log-SNR) or ``ds`` (``measure="s"``);
* ``describe(process)``: plain data for tables (kind, weight, window edges on all three axes).

"Early in generation" is large ``s`` = low log-SNR = large EDM sigma. Intervals can be given
on any of the three axes (:meth:`Interval.from_log_snr`, :meth:`Interval.from_edm_sigma`);
conversions go through :class:`~diffsep.process.VPProcess`.

The information-scheduled schedule :class:`InfoScheduled` is proportional to a measured MI rate
``i`` (per unit log-SNR by default; the rates table of the measure stage, or the exact rate of
a joint Gaussian), linear in log-SNR between the measurement nodes, scaled so that its budget
equals a target budget (typically that of a constant or interval schedule).
"""

from __future__ import annotations

import abc
import math

import numpy as np
import torch

from .process import VPProcess

__all__ = ["Schedule", "Constant", "Interval", "InfoScheduled", "SCHEDULES", "build_schedule",
           "law_breakpoints", "window_edges", "BUDGET_MEASURES", "as_schedule"]

BUDGET_MEASURES = ("log_snr", "s")
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)  # Gauss-Legendre nodes for budgets


def _like(s, values: np.ndarray):
    """``values`` (float64 numpy, same shape as ``s``) returned as the kind of ``s``."""
    if isinstance(s, torch.Tensor):
        return torch.as_tensor(values, dtype=s.dtype if s.is_floating_point() else torch.float64, device=s.device)
    if np.ndim(s) == 0:
        return float(values)
    return values


def _np(s) -> np.ndarray:
    if isinstance(s, torch.Tensor):
        return s.detach().double().cpu().numpy()
    return np.asarray(s, dtype=float)


class Schedule(abc.ABC):
    """Base class: ``w(s)`` with jumps at ``breakpoints``; subclasses implement :meth:`values`."""

    kind = "base"
    breakpoints: tuple = ()

    @abc.abstractmethod
    def values(self, s: np.ndarray) -> np.ndarray:
        """``w`` at the times ``s`` (a float64 array)."""

    def __call__(self, s):
        return _like(s, self.values(_np(s)))

    @abc.abstractmethod
    def scaled(self, factor: float) -> "Schedule":
        """The same schedule with ``w`` multiplied by ``factor``."""

    def budget(self, process: VPProcess, measure: str = "log_snr", s_min: float | None = None) -> float:
        """``int_{s_min}^{1} w(s) dmu`` with ``dmu = |d log-SNR|`` or ``ds`` (Gauss-Legendre per piece)."""
        if measure not in BUDGET_MEASURES:
            raise ValueError(f"unknown budget measure {measure!r}; known: {list(BUDGET_MEASURES)}")
        lo = process.s_min if s_min is None else float(s_min)
        knots = sorted({lo, 1.0, *(float(b) for b in self._knots() if lo < b < 1.0)})
        total = 0.0
        for a, b in zip(knots[:-1], knots[1:]):
            if measure == "s":
                x = 0.5 * (b - a) * _GL_X + 0.5 * (a + b)
                total += 0.5 * (b - a) * float(np.dot(_GL_W, self.values(x)))
            else:  # integrate in lambda over the same piece (lambda decreasing in s)
                la, lb = float(process.log_snr(b)), float(process.log_snr(a))
                lam = 0.5 * (lb - la) * _GL_X + 0.5 * (la + lb)
                x = np.clip(process.s_from_log_snr(lam), lo, 1.0)
                total += 0.5 * (lb - la) * float(np.dot(_GL_W, self.values(x)))
        return total

    def _knots(self) -> tuple:
        """Times where ``w`` is not smooth (jumps and kinks): the pieces of :meth:`budget`."""
        return tuple(self.breakpoints)

    def describe(self, process: VPProcess) -> dict:
        return {"kind": self.kind}


def _edges(process: VPProcess, s_lo: float, s_hi: float) -> dict:
    lam_lo, lam_hi = float(process.log_snr(s_hi)), float(process.log_snr(s_lo))
    return {"s_lo": float(s_lo), "s_hi": float(s_hi), "log_snr_lo": lam_lo, "log_snr_hi": lam_hi,
            "edm_sigma_lo": float(process.edm_sigma(s_lo)), "edm_sigma_hi": float(process.edm_sigma(s_hi))}


class Constant(Schedule):
    """``w(s) = w`` everywhere."""

    kind = "constant"

    def __init__(self, w: float = 0.0):  # guidance weight (0: plain conditional sampling)
        self.w = float(w)
        self.breakpoints = ()

    def values(self, s):
        return np.full(np.shape(s), self.w, dtype=float)

    def scaled(self, factor):
        return Constant(self.w * factor)

    def describe(self, process):
        return {"kind": self.kind, "w": self.w, **_edges(process, process.s_min, 1.0)}

    def __repr__(self):
        return f"Constant(w={self.w:g})"


class Interval(Schedule):
    """``w`` for ``s_lo < s <= s_hi``, 0 elsewhere (guidance on in one window of diffusion time)."""

    kind = "interval"

    def __init__(self, w: float,      # guidance weight inside the window
                 s_lo: float,         # lower edge (later in generation, less noise)
                 s_hi: float):        # upper edge (earlier in generation, more noise)
        self.w, self.s_lo, self.s_hi = float(w), float(s_lo), float(s_hi)
        if not (math.isfinite(self.s_lo) and math.isfinite(self.s_hi)):
            raise ValueError(f"interval edges must be finite, got [{s_lo}, {s_hi}]")
        # an empty window is w = 0 everywhere, without breakpoints (so it samples exactly as w = 0)
        self.empty = self.s_hi <= self.s_lo or self.w == 0.0
        self.breakpoints = () if self.empty else tuple(b for b in (self.s_hi, self.s_lo) if 0.0 < b < 1.0)

    @classmethod
    def from_log_snr(cls, w: float, lam_lo: float, lam_hi: float, process: VPProcess) -> "Interval":
        """Window ``lam_lo <= log-SNR < lam_hi`` (clipped to ``[s_min, 1]``)."""
        s_hi = float(np.clip(process.s_from_log_snr(float(lam_lo)), process.s_min, 1.0))
        s_lo = float(np.clip(process.s_from_log_snr(float(lam_hi)), process.s_min, 1.0))
        return cls(w, s_lo, s_hi)

    @classmethod
    def from_edm_sigma(cls, w: float, sig_lo: float, sig_hi: float, process: VPProcess) -> "Interval":
        """Window ``sig_lo < sigma_EDM <= sig_hi`` (the guidance-interval papers' convention)."""
        if not (sig_lo > 0 and sig_hi > 0):
            raise ValueError(f"EDM sigma edges must be > 0, got [{sig_lo}, {sig_hi}]")
        return cls.from_log_snr(w, -2.0 * math.log(sig_hi), -2.0 * math.log(sig_lo), process)

    def values(self, s):
        if self.empty:
            return np.zeros(np.shape(s), dtype=float)
        return np.where((s > self.s_lo) & (s <= self.s_hi), self.w, 0.0).astype(float)

    def scaled(self, factor):
        return Interval(self.w * factor, self.s_lo, self.s_hi)

    def describe(self, process):
        return {"kind": self.kind, "w": self.w, **_edges(process, self.s_lo, self.s_hi)}

    def __repr__(self):
        return f"Interval(w={self.w:g}, s=({self.s_lo:.4g}, {self.s_hi:.4g}])"


class InfoScheduled(Schedule):
    """``w(s) = c * i(lambda(s))``: proportional to a measured MI rate, linear in log-SNR between nodes.

    ``log_snr``/``rate``: the rate curve on its nodes (any order; negative values clipped to 0,
    constant beyond the end nodes). ``scale`` is ``c``; :meth:`matching` picks ``c`` so that the
    budget equals a target.
    """

    kind = "info"

    def __init__(self, process: VPProcess,  # maps s to log-SNR
                 log_snr, rate,             # rate curve: nodes in log-SNR and i at the nodes
                 scale: float = 1.0):       # c: w = c * i
        lam = np.asarray(log_snr, dtype=float).ravel()
        r = np.asarray(rate, dtype=float).ravel()
        if lam.shape != r.shape or lam.size < 2:
            raise ValueError(f"information schedule needs >= 2 matching nodes, got {lam.shape} and {r.shape}")
        if not (np.isfinite(lam).all() and np.isfinite(r).all()):
            raise ValueError("information schedule: the rate curve has NaN or inf")
        order = np.argsort(lam)
        self.lam, self.rate = lam[order], np.clip(r[order], 0.0, None)
        if not (np.diff(self.lam) > 0).all():
            raise ValueError("information schedule: log-SNR nodes must be distinct")
        if not self.rate.max() > 0:
            raise ValueError("information schedule: the MI rate is zero everywhere (nothing to schedule on)")
        self.process, self.scale = process, float(scale)
        self.breakpoints = ()  # continuous in s

    def values(self, s):
        lam = self.process.log_snr(np.clip(np.asarray(s, dtype=float), 1e-12, None))
        return self.scale * np.interp(lam, self.lam, self.rate)

    def _knots(self):
        return tuple(float(x) for x in np.atleast_1d(self.process.s_from_log_snr(self.lam)))

    def scaled(self, factor):
        return InfoScheduled(self.process, self.lam, self.rate, self.scale * factor)

    @classmethod
    def matching(cls, process: VPProcess, log_snr, rate, target_budget: float,
                 measure: str = "log_snr") -> "InfoScheduled":
        """The schedule ``c * i`` whose budget (against ``measure``) equals ``target_budget``."""
        base = cls(process, log_snr, rate, 1.0)
        b = base.budget(process, measure)
        if not b > 0:
            raise ValueError("information schedule: the rate has no mass on [s_min, 1]")
        return base.scaled(float(target_budget) / b)

    def describe(self, process):
        lo, hi = process.log_snr_range
        lam = np.linspace(lo, hi, 513)
        v = self.values(process.s_from_log_snr(lam))
        k = int(np.argmax(v))
        return {"kind": self.kind, "w": float(v.max()), "w_scale": self.scale,
                **_edges(process, process.s_min, 1.0), "peak_log_snr": float(lam[k])}

    def __repr__(self):
        return f"InfoScheduled(scale={self.scale:.4g}, nodes={self.lam.size})"


SCHEDULES = {"constant": Constant, "interval": Interval, "info": InfoScheduled}


def as_schedule(schedule) -> Schedule:
    """A float becomes :class:`Constant`; schedules pass through."""
    if isinstance(schedule, Schedule):
        return schedule
    if callable(schedule):
        raise TypeError("as_schedule: a bare callable has no breakpoints; wrap it in a Schedule")
    return Constant(float(schedule))


def build_schedule(spec: dict, process: VPProcess, rate: tuple | None = None) -> Schedule:
    """Build a schedule from plain data.

    ``{"kind": "constant", "w": 2}``; ``{"kind": "interval", "w": 2, "s": [lo, hi]}`` (or
    ``"log_snr": [lo, hi]`` or ``"edm_sigma": [lo, hi]``); ``{"kind": "info", "budget": B}`` or
    ``{"kind": "info", "match": {<a constant or interval spec>}, "measure": "log_snr"}`` with
    ``rate=(log_snr nodes, i at nodes)``.
    """
    kind = spec.get("kind")
    if kind not in SCHEDULES:
        raise ValueError(f"unknown guidance schedule {kind!r}; known: {sorted(SCHEDULES)}")
    if kind == "constant":
        return Constant(spec.get("w", 0.0))
    if kind == "interval":
        axes = [k for k in ("s", "log_snr", "edm_sigma") if k in spec]
        if len(axes) != 1:
            raise ValueError(f"an interval schedule needs exactly one of 's', 'log_snr', 'edm_sigma'; got {axes}")
        lo, hi = (float(v) for v in spec[axes[0]])
        w = spec.get("w", 1.0)
        if axes[0] == "s":
            return Interval(w, lo, hi)
        if axes[0] == "log_snr":
            return Interval.from_log_snr(w, lo, hi, process)
        return Interval.from_edm_sigma(w, lo, hi, process)
    if rate is None:
        raise ValueError("an information schedule needs a measured MI rate (rate=(log_snr, i))")
    measure = spec.get("measure", "log_snr")
    if "budget" in spec:
        target = float(spec["budget"])
    elif "match" in spec:
        target = build_schedule(spec["match"], process).budget(process, measure)
    else:
        raise ValueError("an information schedule needs 'budget' or 'match'")
    return InfoScheduled.matching(process, rate[0], rate[1], target, measure)


def law_breakpoints(schedule, rel: float = 1e-7) -> tuple:
    """``breakpoints=`` for :meth:`JointGaussian.guided_law`: each jump ``b`` becomes ``b(1 +- rel)``,
    so that no ODE stage evaluates ``w`` exactly at a jump from the wrong side."""
    bps = getattr(schedule, "breakpoints", ()) or ()
    out = []
    for b in bps:
        out += [b * (1 + rel), b * (1 - rel)]
    return tuple(out)


def window_edges(process: VPProcess, n: int, s_min: float | None = None) -> np.ndarray:
    """``n + 1`` edges in ``s`` of ``n`` windows of equal log-SNR width tiling ``[s_min, 1]``,
    from ``s = 1`` (highest noise) down."""
    if n < 1:
        raise ValueError(f"need at least one window, got {n}")
    return process.grid(n + 1, "log_snr", s_min=s_min)

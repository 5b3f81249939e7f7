"""Adaptive ODE solves that cannot stall: a bound on right-hand-side evaluations and on wall time,
and a refusal of non-finite states or derivatives (with them an adaptive solver shrinks its step
forever). One home for :func:`scipy.integrate.solve_ivp` calls."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["SolverLimitError", "solve_bounded", "MAX_EVALS", "MAX_SECONDS"]

MAX_EVALS = 200_000  # right-hand-side evaluations per solve
MAX_SECONDS = 1800.0  # wall time per solve


class SolverLimitError(RuntimeError):
    """An ODE solve stopped by its step or time limit, or by a non-finite value (one line)."""


def solve_bounded(rhs, span: tuple[float, float], z0, *, what: str, method: str = "RK45", rtol: float = 1e-6,
                  atol: float = 1e-8, max_evals: int = MAX_EVALS, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """The state at ``span[1]`` of ``dz/ds = rhs(s, z)`` from ``z0`` at ``span[0]``; raises
    :class:`SolverLimitError` naming ``what`` when a limit is hit or a value is not finite."""
    from scipy.integrate import solve_ivp

    a, b = span
    z0 = np.asarray(z0, dtype=np.float64)
    if not np.isfinite(z0).all():
        raise SolverLimitError(f"{what}: the initial state on s in [{b:.4g}, {a:.4g}] is not finite")
    count, t0 = 0, time.monotonic()

    def f(s, z):
        nonlocal count
        count += 1
        if count > max_evals:
            raise SolverLimitError(f"{what}: more than {max_evals:,} derivative evaluations on s in [{b:.4g}, {a:.4g}] "
                                   f"(stopped near s = {s:.4g}); the ODE is too stiff for rtol={rtol:g}")
        if time.monotonic() - t0 > max_seconds:
            raise SolverLimitError(f"{what}: ran past its {max_seconds:g} s limit on s in [{b:.4g}, {a:.4g}] "
                                   f"(stopped near s = {s:.4g}, {count:,} evaluations)")
        d = np.asarray(rhs(s, z), dtype=np.float64)
        if not np.isfinite(d).all():
            raise SolverLimitError(f"{what}: the derivative is not finite at s = {s:.4g} (NaN or inf in its inputs, "
                                   f"e.g. the guidance weight?)")
        return d

    sol = solve_ivp(f, (a, b), z0, method=method, rtol=rtol, atol=atol)
    if not sol.success:
        raise SolverLimitError(f"{what}: failed on s in [{b:.4g}, {a:.4g}]: {sol.message}")
    return sol.y[:, -1]

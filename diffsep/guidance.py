"""Guided samplers (classifier-free guidance) and guidance schedules.

All samplers share one signature::

    sampler(model, x_init, cond, *, schedule, steps, spacing, s_min, generator, progress) -> x

``model`` offers ``excess_pair`` (see :mod:`diffsep.models`); guidance goes through
:func:`diffsep.models.guided_excess`, which evaluates the conditional and null branches in one
batched forward pass. ``schedule`` is a float (constant ``w``) or a callable ``w(s)`` mapping a
tensor of times to a tensor of weights. Sampling runs from ``s = 1`` down to ``s_min`` and
starts from ``x_init`` (typically ``N(0, I)``, the equilibrium).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .models import guided_excess
from .process import VPProcess

__all__ = ["heun_pf_ode", "time_steps"]


def time_steps(process: VPProcess, steps: int, spacing: str = "log_snr", s_min: float | None = None):
    """``steps + 1`` times from 1 down to ``s_min`` (float64 tensor)."""
    return torch.from_numpy(process.grid(steps + 1, spacing, s_min=s_min).copy())


def _weights(schedule, s: torch.Tensor):
    if callable(schedule):
        return schedule(s)
    return float(schedule)


def _pf_drift(model, x, s: float, cond, schedule):
    """Guided probability-flow ODE velocity ``dx/ds = -beta/2 (x + score_w) = -beta/2 e_w``."""
    p: VPProcess = model.process
    st = torch.full((x.shape[0],), s, dtype=x.dtype, device=x.device)
    w = _weights(schedule, st.double())
    e = guided_excess(model, x, st, cond, w) if cond is not None else model.excess(x, st, None)
    return -0.5 * float(p.beta(s)) * e


@torch.no_grad()
def heun_pf_ode(model, x_init: torch.Tensor, cond, *, schedule=0.0, steps: int = 64,
                spacing: str = "log_snr", s_min: float | None = None, generator=None,
                progress: bool = False) -> torch.Tensor:
    """Probability-flow ODE, Heun's second-order method (EDM Algorithm 1) on a fixed time grid."""
    ts = time_steps(model.process, steps, spacing, s_min)
    x = x_init.clone()
    for i in tqdm(range(steps), desc="heun", disable=not progress, leave=False):
        s0, s1 = float(ts[i]), float(ts[i + 1])
        h = s1 - s0
        d0 = _pf_drift(model, x, s0, cond, schedule)
        x_euler = x + h * d0  # Euler step
        d1 = _pf_drift(model, x_euler, s1, cond, schedule)
        x = x + h * 0.5 * (d0 + d1)  # second-order correction
    return x

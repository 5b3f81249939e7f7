"""Guided samplers (classifier-free guidance) from ``s = 1`` down to ``s_min``.

All samplers share one signature::

    sampler(model, x_init, cond, *, schedule, steps, spacing, s_min, generator, progress) -> x

``model`` offers ``excess_pair`` (see :mod:`diffsep.models`); guidance goes through
:func:`diffsep.models.guided_excess`, which evaluates the conditional and null branches in one
batched forward pass. ``schedule`` is a float (constant ``w``), a
:class:`~diffsep.schedules.Schedule` (constant, interval, information-scheduled; its jumps
become grid points), or a bare callable ``w(s)`` on tensors. Each fixed step uses the weight
at its midpoint, so a step never straddles a jump of ``w``. Sampling starts from ``x_init``
(``N(0, I)``, the equilibrium: :func:`draw_init`).

Samplers (registry :data:`SAMPLERS`):

* ``heun``: probability-flow ODE, Heun's second-order method (EDM Algorithm 1), fixed grid
  uniform in log-SNR or in ``s``;
* ``rk45``: probability-flow ODE, adaptive Dormand-Prince RK45 (scipy ``solve_ivp``) on the
  whole batch, split at the schedule's jumps; a reference for the fixed-step samplers;
* ``euler_maruyama``: reverse SDE ``dx = [-beta/2 x - beta score_w] ds + sqrt(beta) dW``.

:func:`heun_shared` runs many schedules at once from the same ``x_init``, computing each
shared prefix of their trajectories once (schedules that agree on ``w`` over the first steps
follow the same path until they differ); :func:`sample` batches, seeds and dispatches.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from .progress import progress as tqdm  # a bar on a terminal, plain lines in log files

from .models import guided_excess
from .process import VPProcess
from .rng import generator as make_generator
from .schedules import Schedule, as_schedule

__all__ = ["heun_pf_ode", "rk45_pf_ode", "euler_maruyama_sde", "heun_shared", "time_steps", "SAMPLERS",
           "get_sampler", "sample", "draw_init", "CountingModel"]


def time_steps(process: VPProcess, steps: int, spacing: str = "log_snr", s_min: float | None = None,
               breakpoints=()) -> torch.Tensor:
    """``steps + 1`` times from 1 down to ``s_min`` (float64 tensor), plus any ``breakpoints``
    inside ``(s_min, 1)`` that do not already coincide with a grid point."""
    if steps < 1:
        raise ValueError(f"a sampler needs at least one step, got {steps}")
    grid = process.grid(steps + 1, spacing, s_min=s_min)
    lo = float(grid[-1])
    extra = [float(b) for b in breakpoints if lo < float(b) < 1.0
             and not np.any(np.isclose(grid, float(b), rtol=1e-9, atol=0.0))]
    if extra:
        grid = np.sort(np.concatenate([grid, extra]))[::-1]
    return torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float64))


def _breakpoints(schedule) -> tuple:
    return tuple(getattr(schedule, "breakpoints", ()) or ())


def _w_at(schedule, s: float, b: int, x: torch.Tensor):
    """The guidance weight at time ``s``: a float, or a per-sample tensor for a bare callable."""
    if isinstance(schedule, Schedule):
        return float(schedule(float(s)))
    if callable(schedule):
        return schedule(torch.full((b,), float(s), dtype=torch.float64, device=x.device))
    return float(schedule)


def _excess_w(model, x, s: float, cond, w):
    """Guided excess score ``(1 + w) e(x, s, y) - w e(x, s, null)`` (conditional only if ``cond`` is None)."""
    st = torch.full((x.shape[0],), s, dtype=x.dtype, device=x.device)
    if cond is None:
        return model.excess(x, st, None)
    return guided_excess(model, x, st, cond, w)


def _pf_drift(model, x, s: float, cond, w):
    """Guided probability-flow ODE velocity ``dx/ds = -beta/2 (x + score_w) = -beta/2 e_w``."""
    return -0.5 * float(model.process.beta(s)) * _excess_w(model, x, s, cond, w)


def _heun_step(model, x, s0: float, s1: float, cond, w):
    h = s1 - s0
    d0 = _pf_drift(model, x, s0, cond, w)
    x_euler = x + h * d0  # Euler step
    d1 = _pf_drift(model, x_euler, s1, cond, w)
    return x + h * 0.5 * (d0 + d1)  # second-order correction


@torch.no_grad()
def heun_pf_ode(model, x_init: torch.Tensor, cond, *, schedule=0.0, steps: int = 64,
                spacing: str = "log_snr", s_min: float | None = None, generator=None,
                progress: bool = False) -> torch.Tensor:
    """Probability-flow ODE, Heun's second-order method (EDM Algorithm 1) on a fixed time grid."""
    ts = time_steps(model.process, steps, spacing, s_min, _breakpoints(schedule))
    x = x_init.clone()
    for i in tqdm(range(len(ts) - 1), desc="heun", disable=not progress, leave=False):
        s0, s1 = float(ts[i]), float(ts[i + 1])
        w = _w_at(schedule, 0.5 * (s0 + s1), x.shape[0], x)
        x = _heun_step(model, x, s0, s1, cond, w)
    return x


@torch.no_grad()
def rk45_pf_ode(model, x_init: torch.Tensor, cond, *, schedule=0.0, steps: int | None = None,
                spacing: str = "log_snr", s_min: float | None = None, generator=None,
                progress: bool = False, rtol: float = 1e-5, atol: float = 1e-5, max_evals: int = 20_000,
                max_seconds: float = 3600.0) -> torch.Tensor:
    """Probability-flow ODE, adaptive Dormand-Prince RK45 (scipy) on the whole batch; ``steps``
    and ``spacing`` are unused (the step size adapts to ``rtol``/``atol``). At most ``max_evals``
    network evaluations and ``max_seconds`` per piece (:class:`diffsep.odesolve.SolverLimitError`)."""
    from .odesolve import solve_bounded

    p: VPProcess = model.process
    lo = p.s_min if s_min is None else float(s_min)
    knots = [1.0] + sorted({float(b) for b in _breakpoints(schedule) if lo < b < 1.0}, reverse=True) + [lo]
    shape, dtype, dev = x_init.shape, x_init.dtype, x_init.device
    z = x_init.detach().double().cpu().numpy().ravel()
    bar = tqdm(desc="rk45", disable=not progress, leave=False, unit="eval")
    for a, b in zip(knots[:-1], knots[1:]):

        def rhs(s, y, a=a, b=b):
            x = torch.from_numpy(y).reshape(shape).to(dev, dtype)
            # inside one piece the weight is smooth; evaluate it just inside the piece at its ends
            se = min(max(float(s), b + 1e-12 * (a - b)), a - 1e-12 * (a - b))
            w = _w_at(schedule, se, shape[0], x)
            bar.update(1)
            return _pf_drift(model, x, float(s), cond, w).double().cpu().numpy().ravel()

        z = solve_bounded(rhs, (a, b), z, what="rk45 sampler", method="RK45", rtol=rtol, atol=atol,
                          max_evals=max_evals, max_seconds=max_seconds)
    bar.close()
    return torch.from_numpy(z).reshape(shape).to(dev, dtype)


@torch.no_grad()
def euler_maruyama_sde(model, x_init: torch.Tensor, cond, *, schedule=0.0, steps: int = 256,
                       spacing: str = "log_snr", s_min: float | None = None, generator=None,
                       progress: bool = False) -> torch.Tensor:
    """Reverse SDE, Euler-Maruyama: ``x <- x + h (-beta/2 x - beta score_w) + sqrt(beta |h|) z``."""
    p: VPProcess = model.process
    ts = time_steps(p, steps, spacing, s_min, _breakpoints(schedule))
    g = generator if generator is not None else make_generator(0, "euler_maruyama")
    x = x_init.clone()
    for i in tqdm(range(len(ts) - 1), desc="sde", disable=not progress, leave=False):
        s0, s1 = float(ts[i]), float(ts[i + 1])
        h = s1 - s0  # negative: generation runs backwards in s
        w = _w_at(schedule, 0.5 * (s0 + s1), x.shape[0], x)
        beta = float(p.beta(s0))
        e = _excess_w(model, x, s0, cond, w)
        drift = 0.5 * beta * x - beta * e  # -beta/2 x - beta (-x + e)
        z = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
        x = x + h * drift + math.sqrt(beta * -h) * z  # Euler-Maruyama step
    return x


SAMPLERS = {"heun": heun_pf_ode, "rk45": rk45_pf_ode, "euler_maruyama": euler_maruyama_sde}


def get_sampler(name: str):
    """A sampler by registry name; unknown names fail with the known ones."""
    try:
        return SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampler {name!r}; known: {sorted(SAMPLERS)}") from None


# ------------------------------------------------------------------------------------------------
# many schedules at once
# ------------------------------------------------------------------------------------------------
def _step_weights(schedule, ts: torch.Tensor) -> tuple:
    sch = as_schedule(schedule)
    return tuple(float(sch(0.5 * (float(ts[i]) + float(ts[i + 1])))) for i in range(len(ts) - 1))


@torch.no_grad()
def heun_shared(model, x_init: torch.Tensor, cond, schedules: list, *, steps: int = 64,
                spacing: str = "log_snr", s_min: float | None = None, progress: bool = False,
                desc: str = "heun") -> list:
    """:func:`heun_pf_ode` for every schedule in ``schedules`` (same ``x_init``), computing shared
    trajectory prefixes once; results equal separate :func:`heun_pf_ode` calls bit for bit."""
    out = [None] * len(schedules)
    groups: dict = {}
    for j, sch in enumerate(schedules):
        ts = time_steps(model.process, steps, spacing, s_min, _breakpoints(sch))
        groups.setdefault(tuple(ts.tolist()), []).append(j)
    plans = []
    nodes = 0
    for key, members in groups.items():
        ts = torch.tensor(key, dtype=torch.float64)
        ws = {j: _step_weights(schedules[j], ts) for j in members}
        nodes += len({ws[j][:i + 1] for j in members for i in range(len(ts) - 1)})
        plans.append((ts, members, ws))
    bar = tqdm(total=nodes, desc=desc, disable=not progress, leave=False, mininterval=2.0)
    for ts, members, ws in plans:
        stack = [(0, x_init, members)]
        n_steps = len(ts) - 1
        while stack:
            i, x, mem = stack.pop()
            if i == n_steps:
                for j in mem:
                    out[j] = x
                continue
            by_w: dict = {}
            for j in mem:
                by_w.setdefault(ws[j][i], []).append(j)
            for w, sub in by_w.items():
                stack.append((i + 1, _heun_step(model, x, float(ts[i]), float(ts[i + 1]), cond, w), sub))
                bar.update(1)
    bar.close()
    return out


# ------------------------------------------------------------------------------------------------
# seeded, batched sampling
# ------------------------------------------------------------------------------------------------
def draw_init(n: int, shape: tuple, seed: int, *tags, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """``n`` draws from the equilibrium ``N(0, I)`` (CPU generator: same numbers on any device)."""
    g = make_generator(seed, "guidance-init", *tags)
    return torch.randn((n, *shape), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


class CountingModel(torch.nn.Module):
    """Wraps a score model and counts network evaluations per sample (a cond+null pair counts 2)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.process, self.evals = model, model.process, 0

    def excess(self, x, s, cond=None, null=None):
        self.evals += x.shape[0]
        return self.model.excess(x, s, cond, null)

    def excess_pair(self, x, s, cond):
        self.evals += 2 * x.shape[0]
        return self.model.excess_pair(x, s, cond)


@torch.no_grad()
def sample(model, cond: torch.Tensor, schedules: dict, *, shape: tuple, sampler: str = "heun", steps: int = 32,
           spacing: str = "log_snr", seed: int = 0, batch_size: int = 512, progress: bool = False,
           desc: str = "sample", dtype=None, **sampler_kw) -> dict:
    """Generate one sample per row of ``cond`` for every schedule (``{name: schedule}``).

    All schedules start from the same equilibrium draws (common random numbers, seeded by
    ``seed``; the same for any ``batch_size``), so ODE samples do not depend on the batching (up to
    rounding); the SDE's noise is drawn per batch. Returns ``{name: tensor (n, *shape)}``.
    ``sampler_kw`` go to the sampler (e.g. ``rtol`` for ``rk45``).
    """
    fn = get_sampler(sampler)
    n = cond.shape[0]
    names = list(schedules)
    dev = cond.device
    if dtype is None:  # the model's float type (float64 for exact scores)
        ts = [t for t in (list(model.parameters()) + list(model.buffers()) if isinstance(model, torch.nn.Module) else [])
              if t.is_floating_point()]
        dtype = ts[0].dtype if ts else torch.float64
    chunks = {k: [] for k in names}
    x_all = draw_init(n, tuple(shape), seed, dtype=dtype, device=dev)  # independent of the batching
    nb = max(1, math.ceil(n / batch_size))
    for bi in range(nb):
        sl = slice(bi * batch_size, min(n, (bi + 1) * batch_size))
        cb, x0 = cond[sl], x_all[sl]
        label = f"{desc} [{bi + 1}/{nb}]"
        if sampler == "heun" and not sampler_kw:
            res = heun_shared(model, x0, cb, [schedules[k] for k in names], steps=steps, spacing=spacing,
                              progress=progress, desc=label)
        else:
            res = []
            for k in tqdm(names, desc=label, disable=not progress, leave=False):
                res.append(fn(model, x0, cb, schedule=schedules[k], steps=steps, spacing=spacing,
                              generator=make_generator(seed, "guidance-sde", bi, k), **sampler_kw))
        for k, x in zip(names, res):
            chunks[k].append(x)
    return {k: torch.cat(v) for k, v in chunks.items()}

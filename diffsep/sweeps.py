"""Guidance-timing sweeps (claim 3): which guidance schedules to compare, and their samples.

Settings (built by :func:`phase_one` and :func:`phase_two` from ``experiments.guidance``):

* ``reference``/``weight``: constant ``w`` over the weight list (``w = 0`` is the unguided
  reference "none", ``w = reference_weight`` the reference "full");
* ``window``: guidance ``reference_weight`` on in one window at a time, ``windows`` windows of
  equal log-SNR width tiling ``[s_min, 1]`` (window 1 = highest noise = earliest);
* ``split``: "early only" (``log-SNR < cut``) and "late only" (``log-SNR > cut``) at each cut;
* ``budget``: at the budget of constant ``w`` for each ``budget_weights`` entry: constant,
  information-scheduled (``w ∝ i``, the model's measured MI rate) and the best window of the
  window sweep, rescaled to the same budget.

Every setting starts from the same equilibrium draws and labels (common random numbers), so
differences between settings are paired; settings with the same schedule share their samples
(:func:`generate`). The DAG job that scores them is :mod:`diffsep.stages.guidance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .guidance import sample, time_steps
from .process import VPProcess
from .schedules import Constant, InfoScheduled, Interval, Schedule, window_edges

__all__ = ["check_settings", "Setting", "phase_one", "phase_two", "schedule_key", "describe", "n_steps", "generate"]


@dataclass
class Setting:
    sweep: str  # reference | weight | window | split | budget | exact_weight
    name: str  # human-readable label, unique within a job
    schedule: Schedule
    family: str  # constant | interval | info
    position: int | None = None  # window index from the highest noise (1..K), or cut index
    budget_of_w: float | None = None  # budget sweep: the constant weight whose budget it matches
    extra: dict = field(default_factory=dict)


def schedule_key(s: Schedule) -> tuple:
    """Identity of a schedule (settings with the same key share their samples)."""
    if isinstance(s, Constant):
        return ("constant", round(s.w, 12))
    if isinstance(s, Interval):
        return ("constant", 0.0) if s.empty else ("interval", round(s.w, 12), round(s.s_lo, 12), round(s.s_hi, 12))
    if isinstance(s, InfoScheduled):
        return ("info", round(s.scale, 12), tuple(np.round(s.lam, 10)), tuple(np.round(s.rate, 12)))
    return ("object", id(s))


def check_settings(cfg: dict, process: VPProcess, key: str = "experiments.guidance") -> None:
    """The guidance job's own checks of its settings (``diffsep validate`` runs them too)."""
    lo, hi = process.log_snr_range
    for c in cfg.get("cuts") or ():
        if not lo < float(c) < hi:
            raise ValueError(f"config key '{key}.cuts': log-SNR cut {c} lies outside the process's range "
                             f"({lo:.3g}, {hi:.3g}); it would be dropped silently")
    if int(cfg["n_samples"]) > 10_000_000 or int(cfg.get("n_samples_vector", 0)) > 10_000_000:
        raise ValueError(f"config key '{key}.n_samples': more than 10,000,000 generated samples per setting")


def _cut_points(cfg: dict, process: VPProcess) -> list[float]:
    if cfg.get("cuts"):
        lo, hi = process.log_snr_range
        return sorted(float(c) for c in cfg["cuts"] if lo < float(c) < hi)
    edges = window_edges(process, int(cfg["windows"]))
    return [float(process.log_snr(e)) for e in edges[1:-1]]


def phase_one(cfg: dict, process: VPProcess) -> list[Setting]:
    """Weight, window and split settings (plus the two references)."""
    wref = float(cfg["reference_weight"])
    out = [Setting("reference", "none (w=0)", Constant(0.0), "constant"),
           Setting("reference", f"full (w={wref:g})", Constant(wref), "constant")]
    for w in cfg["weights"]:
        out.append(Setting("weight", f"w={float(w):g}", Constant(float(w)), "constant"))
    edges = window_edges(process, int(cfg["windows"]))
    k = len(edges) - 1
    for i in range(k):
        out.append(Setting("window", f"window {i + 1}/{k}", Interval(wref, float(edges[i + 1]), float(edges[i])),
                           "interval", position=i + 1))
    for j, lam in enumerate(_cut_points(cfg, process)):
        s_cut = float(np.clip(process.s_from_log_snr(lam), process.s_min, 1.0))
        out.append(Setting("split", f"early only (log-SNR < {lam:.2f})", Interval(wref, s_cut, 1.0), "interval",
                           position=j + 1, extra={"cut_log_snr": lam, "part": "early"}))
        out.append(Setting("split", f"late only (log-SNR > {lam:.2f})", Interval(wref, process.s_min, s_cut), "interval",
                           position=j + 1, extra={"cut_log_snr": lam, "part": "late"}))
    return out


def phase_two(cfg: dict, process: VPProcess, rate: tuple | None, best_window: Interval | None) -> list[Setting]:
    """Constant, information-scheduled and best-window schedules at equal guidance budgets."""
    measure = cfg["budget_measure"]
    out = []
    for wb in cfg["budget_weights"]:
        wb = float(wb)
        target = Constant(wb).budget(process, measure)
        out.append(Setting("budget", f"constant @ budget of w={wb:g}", Constant(wb), "constant", budget_of_w=wb))
        if rate is not None:
            info = InfoScheduled.matching(process, rate[0], rate[1], target, measure)
            out.append(Setting("budget", f"info-scheduled @ budget of w={wb:g}", info, "info", budget_of_w=wb))
        if best_window is not None and not best_window.empty:
            unit = Interval(1.0, best_window.s_lo, best_window.s_hi).budget(process, measure)
            out.append(Setting("budget", f"best window @ budget of w={wb:g}",
                               Interval(target / unit, best_window.s_lo, best_window.s_hi), "interval", budget_of_w=wb))
    return out


def describe(st: Setting, process: VPProcess, measure: str) -> dict:
    d = st.schedule.describe(process)
    return {"sweep": st.sweep, "setting": st.name, "family": st.family,
            "position": st.position, "budget_of_w": st.budget_of_w, "w": float(d.get("w", 0.0)),
            "s_lo": d["s_lo"], "s_hi": d["s_hi"], "log_snr_lo": d["log_snr_lo"], "log_snr_hi": d["log_snr_hi"],
            "edm_sigma_lo": d["edm_sigma_lo"], "edm_sigma_hi": d["edm_sigma_hi"],
            "budget": float(st.schedule.budget(process, measure)), "budget_measure": measure}


def n_steps(cfg_steps: int, sch: Schedule, process: VPProcess, spacing: str) -> int:
    return len(time_steps(process, cfg_steps, spacing, None, sch.breakpoints)) - 1


def generate(model, cond, settings: list[Setting], done: dict, *, shape, cfg, steps, seed, progress, desc):
    """Samples for the settings whose schedules are not in ``done`` yet (keyed by schedule)."""
    todo = {}
    for st in settings:
        k = schedule_key(st.schedule)
        if k not in done and k not in todo:
            todo[k] = st.schedule
    if not todo:
        return
    keys = list(todo)
    res = sample(model, cond, {i: todo[k] for i, k in enumerate(keys)}, shape=shape, sampler=cfg["sampler"],
                 steps=steps, spacing=cfg["spacing"], seed=seed, batch_size=int(cfg["batch_size"]),
                 progress=progress, desc=desc)
    for i, k in enumerate(keys):
        done[k] = res[i]

"""Training loop: deterministic, checkpointed, resumable, with held-out model selection.

All randomness of step ``k`` (batch order, times, noise, label dropout, dropout layers) is
derived from ``(seed, k)``, so a run resumed from a checkpoint at step ``k`` continues exactly as
an uninterrupted one: the final weights are bit-identical on CPU. Checkpoints are written
atomically (temp file + rename) and hold the model, optimizer, EMA, best-so-far weights, RNG
state, step, history and a fingerprint of the run; a checkpoint whose fingerprint does not match
the current run is ignored (and reported), never silently mixed in.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import numbers
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from .progress import progress as tqdm  # a bar on a terminal, plain lines in log files

from .io import load_torch, save_torch
from .losses import DenoisingLoss, denoising_error
from .rng import derive_seed, generator, seed_torch

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "train", "holdout_loss", "default_checkpoint_every",
           "plateau", "plateau_table", "PLATEAU_WINDOW", "PLATEAU_TOL", "LABEL_GAIN_TOL", "holdout_losses"]

log = logging.getLogger(__name__)
CKPT_FORMAT = "diffsep-train-ckpt-1"
LR_SCHEDULES = ("constant", "cosine", "linear")
SELECTIONS = ("last", "best_holdout")


class TrainingDiverged(RuntimeError):
    """A non-finite loss: training stopped; the last good checkpoint is untouched."""


@dataclass
class TrainConfig:
    steps: int = 2000  # optimizer steps
    batch_size: int = 256  # samples per step (before noise_draws replication)
    lr: float = 1e-3  # Adam learning rate (peak)
    lr_schedule: str = "cosine"  # 'constant' | 'cosine' | 'linear' (decay to lr_final)
    lr_final: float = 0.0  # final learning rate as a fraction of lr
    warmup_steps: int = 0  # linear warm-up steps
    weight_decay: float = 0.0  # AdamW weight decay
    grad_clip: float | None = 1.0  # max gradient norm (None: off)
    ema: float | None = None  # EMA decay of the weights (None: off)
    weighting: str = "none"  # loss weighting: 'none' | 'ml'
    time_sampling: str = "log_snr"  # 'log_snr' | 's'
    p_uncond: float = 0.1  # label/condition dropout
    noise_draws: int = 1  # noise draws per sample per step
    eval_every: int = 0  # held-out denoising loss every N steps (0: only at the end)
    holdout_draws: int = 4  # fixed noise/time draws per held-out sample
    select: str = "last"  # final weights: 'last' or 'best_holdout'
    checkpoint_every: int = 0  # write the resume checkpoint every N steps (0: never)
    seed: int = 0  # everything random derives from this
    threads: int | None = None  # torch CPU threads (None: leave as is)
    fault_nan_step: int | None = None  # fault-injection hook: make the loss NaN at this step

    def __post_init__(self):
        for key in ("steps", "batch_size", "warmup_steps", "noise_draws", "eval_every", "holdout_draws",
                    "checkpoint_every", "seed"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ValueError(f"train.{key} must be an integer, got {v!r}")
        for key in ("lr", "lr_final", "weight_decay", "grad_clip", "ema", "p_uncond"):
            v = getattr(self, key)
            if v is None and key in ("grad_clip", "ema"):
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
                raise ValueError(f"train.{key} must be a finite number, got {v!r}")
        if self.weight_decay < 0 or self.lr_final < 0:
            raise ValueError(f"train.weight_decay and train.lr_final must be >= 0, got {self.weight_decay}, "
                             f"{self.lr_final}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"train.grad_clip must be > 0 or null, got {self.grad_clip}")
        for key in ("steps", "batch_size", "noise_draws", "holdout_draws"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"train.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("eval_every", "checkpoint_every", "warmup_steps"):
            if int(getattr(self, key)) < 0:
                raise ValueError(f"train.{key} must be >= 0, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"train.lr_schedule {self.lr_schedule!r} unknown; known: {list(LR_SCHEDULES)}")
        if self.select not in SELECTIONS:
            raise ValueError(f"train.select {self.select!r} unknown; known: {list(SELECTIONS)}")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError(f"train.ema must lie in (0, 1) or be null, got {self.ema}")
        self.loss()  # validates weighting, time_sampling, p_uncond

    def loss(self) -> DenoisingLoss:
        return DenoisingLoss(self.weighting, self.time_sampling, self.p_uncond, self.noise_draws)

    def lr_at(self, step: int) -> float:
        if self.warmup_steps and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        frac = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        end = self.lr * self.lr_final
        if self.lr_schedule == "cosine":
            return end + (self.lr - end) * 0.5 * (1 + math.cos(math.pi * frac))
        if self.lr_schedule == "linear":
            return end + (self.lr - end) * (1 - frac)
        return self.lr

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown train key(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


#: convergence criterion: the best held-out loss improved by less than PLATEAU_TOL (relative) over the
#: last PLATEAU_WINDOW of the training steps
PLATEAU_WINDOW = 0.2
PLATEAU_TOL = 0.01
#: ... and the best held-out label gain (null minus conditional error) grew by less than this
LABEL_GAIN_TOL = 0.05


def plateau(steps, holdout, label_gain=None, window: float = PLATEAU_WINDOW, tol: float = PLATEAU_TOL,
            label_tol: float = LABEL_GAIN_TOL) -> tuple[float, float, bool | None]:
    """``(gain, label_growth, converged)`` of one network's held-out history.

    ``gain = 1 - best / best_before``: ``best`` the lowest held-out loss of the run, ``best_before``
    the lowest at steps up to ``(1 - window)`` of the last step. ``label_growth = 1 - g_before / g``
    with ``g`` the largest held-out label gain (:func:`holdout_losses`) of the run and ``g_before``
    the largest before the window (nan without label gains). Converged when ``gain < tol`` and
    ``label_growth < label_tol``: the label information is a small part of the loss, so the loss can
    plateau while the label gain still grows. ``converged`` is None (undecidable) when no held-out
    evaluation precedes the window (too few evaluations: set ``eval_every``)."""
    import numpy as np

    steps, holdout = np.asarray(steps, float), np.asarray(holdout, float)
    lg = np.full_like(holdout, np.nan) if label_gain is None else np.asarray(label_gain, float)
    ok = np.isfinite(holdout)
    steps, holdout, lg = steps[ok], holdout[ok], lg[ok]
    if not len(steps):
        return float("nan"), float("nan"), None
    early = steps <= (1 - window) * steps.max()
    if not early.any() or not holdout[early].min() > 0:
        return float("nan"), float("nan"), None
    gain = float(1.0 - holdout.min() / holdout[early].min())
    growth = float("nan")
    if np.isfinite(lg).any() and np.isfinite(lg[early]).any():
        top = float(np.nanmax(lg))
        growth = float(1.0 - np.nanmax(lg[early]) / top) if top > 0 else 0.0
    converged = gain < tol and not (growth >= label_tol)
    return gain, growth, bool(converged)


def plateau_table(history):
    """Per network of a training-history frame (columns ``step``, ``holdout``, ``network``, optionally
    ``holdout_label_gain``): a frame indexed by network with ``plateau_gain``, ``label_gain_growth``
    and ``converged`` (:func:`plateau`)."""
    import pandas as pd

    rows = {}
    for net, g in history.groupby("network", sort=False):
        h = g["holdout"] if "holdout" in g else pd.Series(float("nan"), index=g.index)
        lg = g["holdout_label_gain"] if "holdout_label_gain" in g else None
        gain, growth, conv = plateau(g["step"], h, lg)
        rows[net] = {"plateau_gain": gain, "label_gain_growth": growth, "converged": conv}
    return pd.DataFrame.from_dict(rows, orient="index")


def default_checkpoint_every(train_cfg: dict | None) -> int:
    """Resume checkpoints every ~5 % of the steps (50 to 500) unless ``checkpoint_every`` is set:
    a requeued or preempted training job redoes at most that many steps (0 in the config: off).
    A multiple of ``eval_every``, so a resumed run's history equals an uninterrupted one's.
    ``train_cfg``: the config's ``train`` mapping of a model."""
    tc = train_cfg or {}
    target = min(500, max(50, math.ceil(int(tc.get("steps", TrainConfig.steps)) / 20)))
    ev = int(tc.get("eval_every", TrainConfig.eval_every))
    return ev * max(1, round(target / ev)) if ev else target


@dataclass
class TrainResult:
    model: torch.nn.Module  # the selected weights (best held-out, EMA, or last)
    steps: int
    seconds: float  # wall time of the optimisation, summed over resumed runs
    best_step: int | None
    best_holdout: float | None
    history: list = field(default_factory=list)  # dicts: step, loss, holdout, lr, seconds
    resumed_from: int = 0

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)


def _fingerprint(model, cfg: TrainConfig, x, cond, extra=None) -> str:
    h = hashlib.sha256()
    d = asdict(cfg)
    d.pop("threads", None)
    d.pop("fault_nan_step", None)
    h.update(json.dumps(d, sort_keys=True).encode())
    if extra is not None:  # settings of a custom loss (e.g. the KL weights of a diffusion autoencoder)
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    h.update(json.dumps(getattr(model, "spec", None), sort_keys=True, default=str).encode())
    h.update(repr(getattr(model, "process", None)).encode())  # None: a model without a diffusion (classifier)
    for t in (x, cond):
        if t is not None:
            a = t.detach().cpu().contiguous()
            h.update(str((tuple(a.shape), str(a.dtype))).encode())
            h.update(a.numpy().tobytes())
    return h.hexdigest()


def holdout_loss(model, x, cond, draws: int, seed: int, batch: int = 4096, with_null: bool = True) -> float:
    """The held-out loss of :func:`holdout_losses` (selection criterion)."""
    return holdout_losses(model, x, cond, draws, seed, batch, with_null)["holdout"]


@torch.no_grad()
def holdout_losses(model, x, cond, draws: int, seed: int, batch: int = 4096, with_null: bool = True) -> dict:
    """Unweighted denoising loss on held-out data with fixed draws (comparable across calls).

    With a condition and ``with_null`` (a model trained with condition dropout), the mean of the
    conditional and the null-branch errors: both enter every MI estimate. Without ``with_null``
    (a conditional network trained without dropout, e.g. the conditional half of the two-network
    setup) only the conditional error: its null branch is untrained, and judging checkpoints on it
    selects arbitrary ones (it halved the two-network MI estimates of the Gaussian benchmark).

    Returns ``holdout`` (that loss) and, with both branches, ``holdout_label_gain``: the null-branch
    minus the conditional error (same draws). It is what the label adds to the denoiser, the
    integrand of the MMSE-gap estimate of ``I(X;Y)``, and it is a small part of the loss: a loss
    that has stopped improving can hide a label gain that is still growing.
    """
    g = generator(seed, "holdout")
    total, gain, n = 0.0, 0.0, 0
    both = cond is not None and with_null
    p = model.process
    for start in range(0, x.shape[0], batch):
        xb = x[start:start + batch]
        cb = None if cond is None else cond[start:start + batch]
        for _ in range(draws):
            s = p.sample_time(xb.shape[0], "log_snr", generator=g, dtype=xb.dtype).to(xb.device)
            eps = torch.randn(xb.shape, generator=g, dtype=xb.dtype).to(xb.device)
            err = denoising_error(model, xb, s, eps, cb)
            if both:
                err_null = denoising_error(model, xb, s, eps, None)
                gain += float((err_null - err).sum())
                err = 0.5 * (err + err_null)
            total += float(err.sum())
            n += xb.shape[0]
    return {"holdout": total / n, **({"holdout_label_gain": gain / n} if both else {})}


def train(model, x, cond, cfg: TrainConfig, **kw) -> TrainResult:
    """Train ``model``; see :func:`_train`. ``cfg.threads`` applies for the call only."""
    if not cfg.threads:
        return _train(model, x, cond, cfg, **kw)
    before = torch.get_num_threads()
    torch.set_num_threads(int(cfg.threads))
    try:
        return _train(model, x, cond, cfg, **kw)
    finally:
        torch.set_num_threads(before)


def _train(model, x: torch.Tensor, cond: torch.Tensor | None, cfg: TrainConfig, *,
          holdout: tuple[torch.Tensor, torch.Tensor | None] | None = None,
          checkpoint: str | Path | None = None, progress: bool = True,
          callback: Callable[[dict, torch.nn.Module], None] | None = None,
          desc: str = "train", loss_fn: Callable | None = None,
          holdout_fn: Callable[[torch.nn.Module], float] | None = None,
          fingerprint_extra=None) -> TrainResult:
    """Train ``model`` (a :class:`~diffsep.models.ScoreModel`) on ``x`` with optional ``cond``.

    ``holdout`` enables held-out evaluation (``eval_every``) and ``select='best_holdout'``.
    ``checkpoint`` is the resume file: read if present and matching, rewritten every
    ``checkpoint_every`` steps and at the end. ``callback(record, eval_model)`` runs after each
    evaluation (used by benchmarks to snapshot accuracy vs time).

    Other models train through the same loop: ``loss_fn(model, x, cond, generator=g)`` replaces
    the denoising loss of ``cfg`` and may return ``(loss, {part: value})`` (the parts' running
    means join the history records), ``holdout_fn(model)`` replaces :func:`holdout_loss`, and
    ``fingerprint_extra`` (JSON-able) enters the checkpoint fingerprint (diffsep.dae uses all three).
    """
    if cfg.select == "best_holdout" and holdout is None:
        raise ValueError("train.select='best_holdout' needs a held-out split (holdout fraction > 0)")
    if cond is not None and cond.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} samples but {cond.shape[0]} conditions")
    device = next(model.parameters()).device
    n = x.shape[0]
    bs = min(cfg.batch_size, n)
    steps_per_epoch = max(1, n // bs)
    loss_fn = loss_fn or cfg.loss()
    # the fused kernel: one call per step instead of a dozen small ops per parameter tensor (a tenth of
    # a small MLP's step on CPU; benchmarks/train_step.py)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            fused=True if device.type in ("cpu", "cuda") else None)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema)) if cfg.ema else None
    fp = _fingerprint(model, cfg, x, cond, fingerprint_extra)

    step, elapsed, history = 0, 0.0, []
    best_state, best_loss, best_step = None, math.inf, None
    ckpt_path = Path(checkpoint) if checkpoint else None
    resumed_from = 0
    if ckpt_path is not None and ckpt_path.exists():
        ck = load_torch(ckpt_path)
        if ck.get("format") == CKPT_FORMAT and ck.get("fingerprint") == fp:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            if ema is not None:
                ema.load_state_dict(ck["ema"])
            step, elapsed = int(ck["step"]), float(ck["elapsed"])
            history = json.loads(ck["history"])
            best_state, best_step = ck.get("best"), ck.get("best_step")
            best_loss = float(ck.get("best_loss", math.inf))
            torch.set_rng_state(ck["rng"])
            resumed_from = step
            log.info("resumed %s from step %d", ckpt_path, step)
        else:
            log.warning("%s belongs to a different run (config/data changed); starting afresh", ckpt_path)

    def eval_model():
        return ema.module if ema is not None else model

    saved_step = step if resumed_from else None

    def save_ckpt():
        nonlocal saved_step
        if ckpt_path is None:
            return
        save_torch({"format": CKPT_FORMAT, "fingerprint": fp, "step": step, "elapsed": elapsed,
                    "model": model.state_dict(), "opt": opt.state_dict(),
                    "ema": ema.state_dict() if ema is not None else None,
                    "best": best_state, "best_step": best_step,
                    "best_loss": best_loss if math.isfinite(best_loss) else float("inf"),
                    "history": json.dumps(history), "rng": torch.get_rng_state()}, ckpt_path)
        saved_step = step

    def evaluate(train_loss: float, parts: dict):
        nonlocal best_state, best_loss, best_step
        rec = {"step": step, "loss": train_loss, **parts, "lr": cfg.lr_at(max(0, step - 1)), "seconds": elapsed}
        m = eval_model()
        if holdout is not None:
            was = m.training
            m.eval()
            if holdout_fn is not None:
                hl = holdout_fn(m)
            else:
                parts_h = holdout_losses(m, holdout[0], holdout[1], cfg.holdout_draws, cfg.seed,
                                         with_null=cfg.p_uncond > 0)
                hl = parts_h.pop("holdout")
                rec.update(parts_h)
            m.train(was)
            rec["holdout"] = hl
            if not math.isfinite(hl):
                raise TrainingDiverged(f"non-finite held-out loss at step {step}; last good checkpoint: "
                                       f"{ckpt_path or 'none'}")
            if hl < best_loss:
                best_loss, best_step = hl, step
                best_state = {k: v.detach().clone() for k, v in m.state_dict().items()}
        history.append(rec)
        if callback is not None:
            callback(rec, m)

    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc=desc, disable=not progress, mininterval=2.0,
               dynamic_ncols=True, leave=False)
    run_loss, run_n, run_parts = 0.0, 0, {}
    t0 = time.perf_counter()
    perm, perm_epoch = None, -1
    while step < cfg.steps:
        epoch, pos = divmod(step, steps_per_epoch)
        if epoch != perm_epoch:
            perm, perm_epoch = torch.randperm(n, generator=generator(cfg.seed, "epoch", epoch)), epoch
        idx = perm[pos * bs:(pos + 1) * bs].to(device)
        seed_torch(derive_seed(cfg.seed, "step", step), device)  # dropout layers etc.
        g = generator(cfg.seed, "noise", step)
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(step)
        loss = loss_fn(model, x[idx], None if cond is None else cond[idx], generator=g)
        loss, parts = loss if isinstance(loss, tuple) else (loss, {})
        if cfg.fault_nan_step is not None and step == cfg.fault_nan_step:
            loss = loss * float("nan")
        if not torch.isfinite(loss):
            bar.close()
            good = (f"{ckpt_path} (step {saved_step})" if saved_step is not None
                    else "none (no checkpoint written yet)" if ckpt_path else "none (checkpointing off)")
            raise TrainingDiverged(f"non-finite training loss ({loss.item()}) at step {step}; "
                                   f"last good checkpoint: {good}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        run_loss += loss.item()
        for k, v in parts.items():
            run_parts[k] = run_parts.get(k, 0.0) + float(v)
        run_n += 1
        bar.update(1)
        if run_n and (step % 50 == 0):
            bar.set_postfix(loss=f"{run_loss / run_n:.4f}", refresh=False)
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
            elapsed += time.perf_counter() - t0
            evaluate(run_loss / max(run_n, 1), {k: v / max(run_n, 1) for k, v in run_parts.items()})
            run_loss, run_n, run_parts = 0.0, 0, {}
            t0 = time.perf_counter()
        if cfg.checkpoint_every and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            elapsed += time.perf_counter() - t0
            t0 = time.perf_counter()
            save_ckpt()
    bar.close()
    elapsed += time.perf_counter() - t0
    if resumed_from < cfg.steps and ckpt_path is not None:
        save_ckpt()

    final = eval_model()
    if cfg.select == "best_holdout" and best_state is not None:
        final = copy.deepcopy(final)
        final.load_state_dict(best_state)
    final = copy.deepcopy(final) if final is model else final
    final.eval()
    return TrainResult(model=final, steps=step, seconds=elapsed, best_step=best_step,
                       best_holdout=None if not math.isfinite(best_loss) else best_loss,
                       history=history, resumed_from=resumed_from)

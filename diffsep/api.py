"""``estimate_mi``: the public one-call API for a mutual-information estimate from paired samples.

Trains one conditional score network with condition dropout on a training split (model
selection on a held-out split by denoising loss), then integrates the MI rate on a separate
test split. With ``networks >= 2`` it trains that many networks (own initialisation and batch
order each) and reports the cross-fitted MINDE (:mod:`diffsep.measure`), which is free of the
upward bias that each network's own error puts into plain MINDE. MI is invariant under
invertible maps of ``x`` and ``y``, so both are standardised per dimension first
(``standardize=True``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .measure import measure_information
from .models import EnsembleScoreModel, build_score_model
from .rng import derive_seed
from .process import VPProcess
from .train import TrainConfig, train

__all__ = ["estimate_mi", "MIEstimate", "MIN_SAMPLES"]

MIN_SAMPLES = 100


@dataclass
class MIEstimate:
    """``I(X;Y)`` in nats with its standard error, the other estimators, and the rate curve."""

    mi: float  # MINDE estimate (integral of the MI rate; cross-fitted when networks >= 2)
    se: float
    mi_diff: float  # difference of entropies E_y S(X|y) - S(X)
    mi_diff_se: float
    mi_mmse: float  # MMSE-gap (I-MMSE) estimate
    mi_mmse_se: float
    entropy_marginal: float  # S_NN(X), nats
    entropy_conditional: float  # E_y S_NN(X|y), nats
    discrete: bool
    networks: int  # independently trained networks (>= 2: ``mi`` is the cross-fitted MINDE)
    mi_minde_plain: float  # plain MINDE of the (mean) score, for comparison
    n_train: int
    n_test: int
    train_seconds: float
    eval_seconds: float
    curve: pd.DataFrame = field(repr=False)  # s, log_snr, edm_sigma, i_rate, i_rate_se, r_marg, r_cond, ...
    per_class: pd.DataFrame | None = field(default=None, repr=False)
    model: torch.nn.Module | None = field(default=None, repr=False)

    def __float__(self) -> float:
        return float(self.mi)


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples x features), got shape {a.shape}")
    if a.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {a.shape})")
    return a


def _validate(x, y, discrete):
    x = _as_2d(x, "x").astype(np.float64)
    y_raw = np.asarray(y)
    if y_raw.ndim == 0:
        raise ValueError("y must be an array of samples, got a scalar")
    if x.shape[0] != y_raw.shape[0]:
        raise ValueError(f"x and y have different lengths: {x.shape[0]} vs {y_raw.shape[0]}")
    if x.shape[0] < MIN_SAMPLES:
        raise ValueError(f"need at least {MIN_SAMPLES} samples, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf")
    if discrete is None:
        discrete = y_raw.ndim == 1 and (np.issubdtype(y_raw.dtype, np.integer) or y_raw.dtype == bool)
    if discrete:
        if y_raw.ndim != 1 and not (y_raw.ndim == 2 and y_raw.shape[1] == 1):
            raise ValueError(f"discrete y must be 1-D labels, got shape {y_raw.shape}")
        y_raw = y_raw.reshape(-1)
        if y_raw.dtype.kind == "f" and not np.isfinite(y_raw).all():
            raise ValueError("y contains NaN or inf")
        classes, y_idx = np.unique(y_raw, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"discrete y has a single class ({classes[0]!r}): I(X;Y) = 0 trivially")
        return x, y_idx.astype(np.int64), True, classes
    y2 = _as_2d(y_raw, "y").astype(np.float64)
    if not np.isfinite(y2).all():
        raise ValueError("y contains NaN or inf")
    return x, y2, False, None


def _standardize(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    m, s = ref.mean(0), ref.std(0)
    s = np.where(s > 0, s, 1.0)
    return (a - m) / s


def estimate_mi(x, y, *, discrete: bool | None = None, steps: int = 4000, batch_size: int = 256,
                lr: float = 1e-3, width: int = 256, depth: int = 3, test_fraction: float = 0.3,
                holdout_fraction: float = 0.1, n_times: int = 32, p_uncond: float = 0.1,
                dropout: float = 0.0, networks: int = 1,
                standardize: bool = True, seed: int = 0, device: str | None = None,
                progress: bool = False, keep_model: bool = False) -> MIEstimate:
    """Estimate ``I(X;Y)`` (nats) from paired samples with a diffusion model (MINDE).

    ``x``: array ``(n, d_x)`` (or ``(n,)``); ``y``: labels ``(n,)`` (discrete) or ``(n, d_y)``.
    ``discrete=None`` treats a 1-D integer/bool ``y`` as labels. The data are split into
    train / held-out (checkpoint selection) / test (estimation) parts by ``seed``.
    ``networks >= 2`` trains that many networks and returns the cross-fitted MINDE (about
    ``networks`` times the training time); ``dropout`` regularises the MLP blocks.
    Returns an :class:`MIEstimate`; ``float(result)`` is the MINDE estimate.
    """
    x, y, disc, classes = _validate(x, y, discrete)
    if int(networks) != networks or networks < 1:
        raise ValueError(f"networks must be a positive integer, got {networks!r}")
    if not 0 < test_fraction < 1 or not 0 <= holdout_fraction < 1 or test_fraction + holdout_fraction >= 1:
        raise ValueError("test_fraction and holdout_fraction must be in [0, 1) and sum to less than 1")
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    n_hold = int(round(holdout_fraction * n))
    te, ho, tr = perm[:n_test], perm[n_test:n_test + n_hold], perm[n_test + n_hold:]
    if standardize:
        x = _standardize(x, x[tr])
        if not disc:
            y = _standardize(y, y[tr])
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tx = torch.tensor(x, dtype=torch.float32, device=dev)
    ty = torch.tensor(y, device=dev) if disc else torch.tensor(y, dtype=torch.float32, device=dev)
    kw = {"dim": x.shape[1], "width": width, "depth": depth, "dropout": dropout}
    kw.update({"cond": "label", "num_classes": int(len(classes))} if disc else
              {"cond": "vector", "cond_dim": int(y.shape[1])})
    process = VPProcess()
    members = []
    t0 = time.perf_counter()
    for k in range(int(networks)):
        mseed = seed if k == 0 else derive_seed(seed, "estimate_mi", "member", k, bits=31)
        torch.manual_seed(mseed)
        model = build_score_model({"net": "mlp", "kwargs": kw}, process).to(dev)
        cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, p_uncond=p_uncond, seed=mseed,
                          eval_every=max(1, steps // 10) if n_hold else 0,
                          select="best_holdout" if n_hold else "last")
        res = train(model, tx[tr], ty[tr], cfg, holdout=(tx[ho], ty[ho]) if n_hold else None,
                    progress=progress, desc="estimate_mi" + (f" {k + 1}/{networks}" if networks > 1 else ""))
        members.append(res.model)
    t_train = time.perf_counter() - t0
    final = members[0] if networks == 1 else EnsembleScoreModel(members)
    info = measure_information(final, tx[te], ty[te], n_times=n_times, seed=seed, discrete=disc)
    mi, se = (info.mi_minde, info.mi_minde_se) if networks == 1 else (info.mi_minde_cross, info.mi_minde_cross_se)
    per_class = info.per_class
    if per_class is not None:
        per_class = per_class.assign(label=[classes[i] for i in per_class["label"]])
    return MIEstimate(mi=mi, se=se, mi_diff=info.mi_diff, mi_diff_se=info.mi_diff_se,
                      mi_mmse=info.mi_mmse, mi_mmse_se=info.mi_mmse_se, entropy_marginal=info.S_marg,
                      entropy_conditional=info.S_cond, discrete=disc, networks=int(networks),
                      mi_minde_plain=info.mi_minde, n_train=len(tr), n_test=len(te),
                      train_seconds=t_train, eval_seconds=info.seconds, curve=info.curves,
                      per_class=per_class, model=final if keep_model else None)

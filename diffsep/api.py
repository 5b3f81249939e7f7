"""``estimate_mi``: the public one-call API for a mutual-information estimate from paired samples.

Trains conditional score networks with condition dropout on a training split (model selection
on a held-out split by denoising loss), then integrates the MI rate on a separate test split.
By default (``networks=2``) it trains two networks (own initialisation and batch order each)
and reports the cross-fitted MINDE (:mod:`diffsep.measure`), which is free of the upward bias
that each network's own error puts into plain MINDE; ``networks=1`` gives plain MINDE. The
network's width follows the data's dimensions (:func:`auto_width`) and the training length the
sample count (:func:`auto_steps`); the result's ``settings`` say what was used. MI is invariant under
invertible maps of ``x`` and ``y``, so both are standardised per dimension first
(``standardize=True``).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .measure import measure_information, shrinkage_corrected
from .models import EnsembleScoreModel, build_score_model
from .rng import derive_seed
from .process import VPProcess
from .train import TrainConfig, train

__all__ = ["estimate_mi", "MIEstimate", "MINDEEstimator", "MIN_SAMPLES", "MIN_TEST", "MAX_CLASS_SHARE",
           "auto_width", "auto_steps", "choose_estimate", "ESTIMATORS", "SHRINK_SE", "SHRINK_C_MIN", "WIDTH_PER_DIM",
           "WIDTH_MIN", "WIDTH_MAX", "EPOCHS", "STEPS_MIN", "STEPS_MAX"]

MIN_SAMPLES = 100
MIN_TEST = 10  # test samples at least (the estimate's standard error needs some)
#: an integer ``y`` is taken as labels automatically only with at most this many classes per sample
#: (5 per hundred) and every class seen twice; beyond it ``discrete`` must be given explicitly
MAX_CLASS_SHARE = 0.05
MAX_SEED = 2**32 - 1

#: default network width (``width=None``): WIDTH_PER_DIM per input dimension ``d_x + d_y`` (a label
#: counts as one), rounded up to a multiple of 32 and clipped to [WIDTH_MIN, WIDTH_MAX]
WIDTH_PER_DIM, WIDTH_MIN, WIDTH_MAX = 16, 64, 256
#: default training length (``steps=None``): EPOCHS passes over the training split, clipped to
#: [STEPS_MIN, STEPS_MAX] optimizer steps
EPOCHS, STEPS_MIN, STEPS_MAX = 70, 500, 4000


#: what ``estimate_mi(estimator=...)`` may report
ESTIMATORS = ("mmse", "minde", "shrinkage")

#: the shrinkage correction replaces the cross-fitted MINDE when the MMSE gap exceeds it by more than
#: SHRINK_SE of the MMSE gap's standard errors and the implied shrinkage factor c = 2M / (M + G) is at
#: least SHRINK_C_MIN (below it the networks have not learnt the same difference: no model holds)
SHRINK_SE, SHRINK_C_MIN = 1.0, 0.8


def choose_estimate(minde: float, minde_se: float, mmse: float, mmse_se: float) -> tuple[float, float, str]:
    """``(mi, se, name)`` reported by :func:`estimate_mi` from its cross-fitted MINDE ``M`` and MMSE
    gap ``G``: ``M`` (``'minde_cross'``) unless ``G > M + SHRINK_SE * se(G)``, the signature of a
    score difference shrunk alike in every network (``M = c^2 I``, ``G = (2c - c^2) I``, ``c < 1``),
    then :func:`diffsep.measure.shrinkage_corrected` ``(M + G)^2 / (4M)`` (``'shrinkage_corrected'``)
    with its delta-method standard error, provided the implied ``c = 2M / (M + G)`` is at least
    ``SHRINK_C_MIN`` (a barely trained pair, ``M`` near 0, would otherwise be divided by ``M``).
    When ``G <= M`` there is no shrinkage to correct and ``M``, the less noisy of the two, stays."""
    m, g = float(minde), float(mmse)
    if not (m > 0 and g - m > SHRINK_SE * float(mmse_se) and 2 * m / (m + g) >= SHRINK_C_MIN):
        return m, float(minde_se), "minde_cross"
    a = (m + g) / (2 * m)  # d/dG; d/dM = a (m - g) / (2 m)
    se = math.hypot(a * float(mmse_se), a * (m - g) / (2 * m) * float(minde_se))
    return shrinkage_corrected(m, g), se, "shrinkage_corrected"


def auto_width(d_x: int, d_y: int) -> int:
    """The default MLP width for ``d_x``-dimensional data and a ``d_y``-dimensional condition (a label
    counts as ``d_y = 1``): ``WIDTH_PER_DIM (d_x + d_y)`` rounded up to a multiple of 32, clipped to
    ``[WIDTH_MIN, WIDTH_MAX]``. A step costs about ``width^2``: 256 wide for 1-D data spends 16 times
    the FLOPs of 64 wide for no accuracy."""
    w = 32 * math.ceil(WIDTH_PER_DIM * (int(d_x) + int(d_y)) / 32)
    return int(min(WIDTH_MAX, max(WIDTH_MIN, w)))


def auto_steps(n_train: int, batch_size: int) -> int:
    """The default number of optimizer steps: ``EPOCHS`` passes over ``n_train`` training samples at
    ``batch_size`` per step, clipped to ``[STEPS_MIN, STEPS_MAX]``."""
    return int(min(STEPS_MAX, max(STEPS_MIN, round(EPOCHS * int(n_train) / int(batch_size)))))


@dataclass
class MIEstimate:
    """``I(X;Y)`` in nats with its standard error, the other estimators, and the rate curve."""

    mi: float  # the estimate chosen by ``estimator`` (settings['estimator'] names it): by default the MMSE gap,
    # cross-fitted when networks >= 2
    se: float
    mi_diff: float  # difference of entropies E_y S(X|y) - S(X)
    mi_diff_se: float
    mi_mmse: float  # MMSE-gap (I-MMSE) estimate
    mi_mmse_se: float
    entropy_marginal: float  # S_NN(X), nats
    entropy_conditional: float  # E_y S_NN(X|y), nats
    discrete: bool
    networks: int  # independently trained networks (>= 2: the estimates are cross-fitted)
    mi_minde_plain: float  # plain MINDE of the (mean) score, for comparison
    mi_minde: float  # MINDE: cross-fitted when networks >= 2
    mi_minde_se: float
    n_train: int
    n_test: int
    train_seconds: float
    eval_seconds: float
    curve: pd.DataFrame = field(repr=False)  # s, log_snr, edm_sigma, i_rate, i_rate_se, r_marg, r_cond, ...
    per_class: pd.DataFrame | None = field(default=None, repr=False)
    model: torch.nn.Module | None = field(default=None, repr=False)
    mi_mmse_cross: float | None = None  # cross-fitted MMSE gap (networks >= 2), else None
    mi_mmse_cross_se: float | None = None
    #: what was used, defaults resolved: estimator ('mmse_cross' | 'mmse' | 'minde_cross' | 'minde' |
    #: 'shrinkage_corrected'), networks, width, depth,
    #: steps, batch_size, lr, n_times, p_uncond, dropout, n_hold, best_steps (selected step per network)
    settings: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.mi)


def _as_2d(a, name: str) -> np.ndarray:
    try:
        a = np.asarray(a)
    except (TypeError, ValueError) as exc:  # ragged lists, ...
        raise ValueError(f"{name} must be an array of numbers ({' '.join(str(exc).split())})") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise ValueError(f"{name} is complex ({a.dtype}); pass real and imaginary parts as separate features")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples x features), got shape {a.shape}")
    if a.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {a.shape})")
    return a


def _validate(x, y, discrete):
    x = _as_2d(x, "x").astype(np.float64)
    try:
        y_raw = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y must be an array ({' '.join(str(exc).split())})") from None
    if y_raw.ndim == 0:
        raise ValueError("y must be an array of samples, got a scalar")
    if y_raw.dtype == object:
        raise ValueError("y must be numeric or string labels, got dtype object")
    if np.iscomplexobj(y_raw):
        raise ValueError(f"y is complex ({y_raw.dtype}); pass real and imaginary parts as separate features")
    if x.shape[0] != y_raw.shape[0]:
        raise ValueError(f"x and y have different lengths: {x.shape[0]} vs {y_raw.shape[0]}")
    if x.shape[0] < MIN_SAMPLES:
        raise ValueError(f"need at least {MIN_SAMPLES} samples, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or inf")
    if discrete is None:
        discrete = _guess_discrete(y_raw)
    if discrete:
        if y_raw.ndim != 1 and not (y_raw.ndim == 2 and y_raw.shape[1] == 1):
            raise ValueError(f"discrete y must be 1-D labels, got shape {y_raw.shape}")
        y_raw = y_raw.reshape(-1)
        if y_raw.dtype.kind == "f" and not np.isfinite(y_raw).all():
            raise ValueError("y contains NaN or inf")
        classes, y_idx, counts = np.unique(y_raw, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise ValueError(f"discrete y has a single class ({classes[0]!r}): I(X;Y) = 0 trivially")
        if counts.max() < 2:
            raise ValueError(f"discrete y: no label repeats ({len(classes)} classes for {len(y_raw)} samples); "
                             f"I(X;Y) is not estimable from it (pass discrete=False for a continuous y)")
        if len(classes) > MAX_CLASS_SHARE * len(y_raw):
            warnings.warn(f"discrete y has {len(classes)} classes for {len(y_raw)} samples ({100 * len(classes) / len(y_raw):.0f} "
                          f"per hundred): most classes are seen a few times only and the estimate is unreliable",
                          UserWarning, stacklevel=3)
        _check_spread(x, "x")
        return x, y_idx.reshape(-1).astype(np.int64), True, classes
    if y_raw.dtype.kind in "USb":
        raise ValueError(f"y holds strings ({y_raw.dtype}): pass discrete=True to treat them as labels")
    y2 = _as_2d(y_raw, "y").astype(np.float64)
    if not np.isfinite(y2).all():
        raise ValueError("y contains NaN or inf")
    _check_spread(x, "x")
    _check_spread(y2, "y")
    return x, y2, False, None


def _guess_discrete(y: np.ndarray) -> bool:
    """The automatic choice, made only when unambiguous: floats are continuous; a 1-D bool, string or
    integer ``y`` with few classes (at most MAX_CLASS_SHARE per sample, each seen twice) is labels;
    any other integer ``y`` is refused (pass ``discrete``)."""
    if y.ndim != 1 or y.dtype.kind in "fc":
        return False
    if y.dtype == bool or y.dtype.kind in "USb":
        return True
    if not np.issubdtype(y.dtype, np.integer):
        return False
    _, counts = np.unique(y, return_counts=True)
    if len(counts) <= max(2, MAX_CLASS_SHARE * len(y)) and counts.min() >= 2:
        return True
    raise ValueError(f"y is integer with {len(counts)} distinct values for {len(y)} samples: labels or a "
                     f"continuous quantity? pass discrete=True (labels) or discrete=False")


def _check_spread(a: np.ndarray, name: str) -> None:
    """Refuse a constant array and values whose standardisation overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        sd = a.std(0)
    if not np.isfinite(sd).all() or not np.isfinite(a.mean(0)).all():
        raise ValueError(f"{name} overflows float64 when standardised (values up to {np.abs(a).max():.3g}); rescale it")
    if not (sd > 0).any():
        raise ValueError(f"{name} is constant (every sample equal): I(X;Y) = 0 trivially")


def _check_args(a: dict) -> None:
    """Types and ranges of estimate_mi's settings, refused before any work; one line naming the argument."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    def is_num(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))

    rules = {  # name: (test, what it must be)
        "steps": (lambda v: v is None or (is_int(v) and 1 <= v <= 10**8),
                  "None (from the sample count) or an integer in 1..1e8"),
        "batch_size": (lambda v: is_int(v) and 1 <= v <= 2**24, "an integer in 1..2**24"),
        "lr": (lambda v: is_num(v) and v > 0, "a finite number > 0"),
        "width": (lambda v: v is None or (is_int(v) and 1 <= v <= 2**16),
                  "None (from the dimensions) or an integer in 1..65536"),
        "depth": (lambda v: is_int(v) and 1 <= v <= 256, "an integer in 1..256"),
        "test_fraction": (lambda v: is_num(v) and 0 < v < 1, "a number in (0, 1)"),
        "holdout_fraction": (lambda v: is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
        "n_times": (lambda v: is_int(v) and 2 <= v <= 10**5, "an integer in 2..1e5 (quadrature nodes)"),
        "p_uncond": (lambda v: is_num(v) and 0 < v < 1, "a number in (0, 1) (condition dropout: 0 never trains "
                                                         "the unconditional score, 1 never the conditional one)"),
        "dropout": (lambda v: is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
        "networks": (lambda v: is_int(v) and 1 <= v <= 64, "a positive integer (at most 64)"),
        "standardize": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
        "estimator": (lambda v: isinstance(v, str) and v in ESTIMATORS, f"one of {', '.join(map(repr, ESTIMATORS))}"),
        "cond_input": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
        "seed": (lambda v: is_int(v) and 0 <= v <= MAX_SEED, f"an integer in 0..{MAX_SEED}"),
        "device": (lambda v: v is None or isinstance(v, str), "None or a device name such as 'cpu'"),
        "discrete": (lambda v: v is None or isinstance(v, (bool, np.bool_)), "None (guess), True or False"),
        "progress": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
        "keep_model": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    }
    for name, (ok, want) in rules.items():
        v = a[name]
        if not ok(v):
            if name == "networks":
                raise ValueError(f"networks must be a positive integer, got {v!r}")
            raise ValueError(f"estimate_mi: {name} must be {want}, got {v!r}")
    if a["test_fraction"] + a["holdout_fraction"] >= 1:
        raise ValueError("estimate_mi: test_fraction and holdout_fraction must sum to less than 1, got "
                         f"{a['test_fraction']} + {a['holdout_fraction']}")


def _standardize(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    m, s = ref.mean(0), ref.std(0)
    s = np.where(s > 0, s, 1.0)
    return (a - m) / s


def estimate_mi(x, y, *, discrete: bool | None = None, steps: int | None = None, batch_size: int = 256,
                lr: float = 2e-3, width: int | None = None, depth: int = 3, cond_input: bool = True,
                test_fraction: float = 0.3,
                holdout_fraction: float = 0.1, n_times: int = 32, p_uncond: float = 0.3,
                dropout: float = 0.0, networks: int = 2, estimator: str = "mmse",
                standardize: bool = True, seed: int | None = None, device: str | None = None,
                progress: bool = False, keep_model: bool = False, random_state: int | None = None) -> MIEstimate:
    """Estimate ``I(X;Y)`` (nats) from paired samples with a diffusion model (MINDE).

    ``x``: array ``(n, d_x)`` (or ``(n,)``); ``y``: labels ``(n,)`` (discrete) or ``(n, d_y)``.
    ``discrete``: ``True`` (labels), ``False`` (continuous) or ``None``: guess only when unambiguous
    (floats are continuous; bool or string labels, or an integer ``y`` with few classes, are labels;
    an integer ``y`` with many distinct values is refused). ``random_state`` is another name of
    ``seed`` (default 0). Every argument is checked before any training: a bad one raises a one-line
    ``ValueError`` naming it. The data are split into
    train / held-out (checkpoint selection) / test (estimation) parts by ``seed``.
    ``networks >= 2`` (default 2) trains that many networks and returns the cross-fitted MINDE
    (about ``networks`` times the training time of one); ``networks=1`` plain MINDE.
    ``width=None`` sizes the MLP from the dimensions (:func:`auto_width`), ``steps=None`` the
    training from the sample count (:func:`auto_steps`). ``dropout`` regularises the MLP blocks;
    ``p_uncond`` is the condition dropout (0.3: the null branch must be learnt as well as the
    conditional one, or its error enters every network's score difference alike).
    ``estimator``: what ``mi`` reports. ``"mmse"`` (default): the MMSE gap (I-MMSE), cross-fitted
    when ``networks >= 2`` (docs/equations.md 6.4b: first-order insensitive to the networks' error of
    the score difference); ``"minde"``: MINDE, cross-fitted when ``networks >= 2``;
    ``"shrinkage"`` (``networks >= 2``): the cross-fitted MINDE or its shrinkage correction
    (:func:`choose_estimate`). Every estimate is in the result either way.
    Returns an :class:`MIEstimate`; ``float(result)`` is its ``mi``.
    """
    if seed is not None and random_state is not None and seed != random_state:
        raise ValueError(f"estimate_mi: seed ({seed!r}) and random_state ({random_state!r}) are the same setting; "
                         f"give one")
    seed = next((v for v in (seed, random_state) if v is not None), 0)
    _check_args(dict(steps=steps, batch_size=batch_size, lr=lr, width=width, depth=depth,
                     test_fraction=test_fraction, holdout_fraction=holdout_fraction, n_times=n_times,
                     p_uncond=p_uncond, dropout=dropout, networks=networks, estimator=estimator,
                     cond_input=cond_input,
                     standardize=standardize, seed=seed,
                     device=device, discrete=discrete, progress=progress, keep_model=keep_model))
    x, y, disc, classes = _validate(x, y, discrete)
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_test = max(1, int(round(test_fraction * n)))
    n_hold = int(round(holdout_fraction * n))
    if n_test < MIN_TEST:
        raise ValueError(f"estimate_mi: test_fraction {test_fraction} leaves {n_test} test sample(s) of {n}; "
                         f"need at least {MIN_TEST}")
    if n - n_test - n_hold < 2 or (n_hold and n_hold < 2):
        raise ValueError(f"estimate_mi: test_fraction {test_fraction} and holdout_fraction {holdout_fraction} leave "
                         f"{n - n_test - n_hold} training and {n_hold} held-out samples of {n}")
    te, ho, tr = perm[:n_test], perm[n_test:n_test + n_hold], perm[n_test + n_hold:]
    if disc:
        absent = np.setdiff1d(np.unique(y), np.unique(y[tr]))
        if absent.size:
            warnings.warn(f"discrete y: {absent.size} of {len(classes)} classes (e.g. {classes[absent[0]]!r}) have no "
                          f"training samples; their conditional scores are untrained", UserWarning, stacklevel=2)
    try:
        dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    except RuntimeError as exc:
        raise ValueError(f"estimate_mi: device {device!r} is not a device ({' '.join(str(exc).split())})") from None
    if standardize:
        x = _standardize(x, x[tr])
        if not disc:
            y = _standardize(y, y[tr])
    tx = torch.tensor(x, dtype=torch.float32, device=dev)
    ty = torch.tensor(y, device=dev) if disc else torch.tensor(y, dtype=torch.float32, device=dev)
    d_y = 1 if disc else int(y.shape[1])
    width = auto_width(x.shape[1], d_y) if width is None else int(width)
    steps = auto_steps(len(tr), batch_size) if steps is None else int(steps)
    kw = {"dim": x.shape[1], "width": width, "depth": depth, "dropout": dropout, "cond_input": bool(cond_input)}
    kw.update({"cond": "label", "num_classes": int(len(classes))} if disc else
              {"cond": "vector", "cond_dim": int(y.shape[1])})
    process = VPProcess()
    members, best_steps = [], []
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
        best_steps.append(res.best_step)
    t_train = time.perf_counter() - t0
    final = members[0] if networks == 1 else EnsembleScoreModel(members)
    info = measure_information(final, tx[te], ty[te], n_times=n_times, seed=seed, discrete=disc)
    if estimator == "mmse":
        mi, se, name = ((info.mi_mmse, info.mi_mmse_se, "mmse") if networks == 1 else
                        (info.mi_mmse_cross, info.mi_mmse_cross_se, "mmse_cross"))
    elif estimator == "minde" or networks == 1:
        mi, se, name = ((info.mi_minde, info.mi_minde_se, "minde") if networks == 1 else
                        (info.mi_minde_cross, info.mi_minde_cross_se, "minde_cross"))
    else:
        mi, se, name = choose_estimate(info.mi_minde_cross, info.mi_minde_cross_se, info.mi_mmse, info.mi_mmse_se)
    per_class = info.per_class
    if per_class is not None:
        per_class = per_class.assign(label=[classes[i] for i in per_class["label"]])
    return MIEstimate(mi=mi, se=se, mi_diff=info.mi_diff, mi_diff_se=info.mi_diff_se,
                      mi_mmse=info.mi_mmse, mi_mmse_se=info.mi_mmse_se, entropy_marginal=info.S_marg,
                      entropy_conditional=info.S_cond, discrete=disc, networks=int(networks),
                      mi_minde_plain=info.mi_minde, n_train=len(tr), n_test=len(te),
                      train_seconds=t_train, eval_seconds=info.seconds,
                      mi_minde=info.mi_minde if networks == 1 else info.mi_minde_cross,
                      mi_minde_se=info.mi_minde_se if networks == 1 else info.mi_minde_cross_se,
                      settings={"estimator": name, "networks": int(networks),
                                "width": width, "depth": int(depth), "steps": steps, "batch_size": int(batch_size),
                                "lr": float(lr), "cond_input": bool(cond_input), "n_times": int(n_times),
                                "p_uncond": float(p_uncond),
                                "dropout": float(dropout), "n_hold": len(ho),
                                "best_steps": best_steps},
                      curve=info.curves,
                      per_class=per_class, model=final if keep_model else None,
                      mi_mmse_cross=info.mi_mmse_cross, mi_mmse_cross_se=info.mi_mmse_cross_se)


class MINDEEstimator:
    """The estimator object MI-benchmark harnesses call: settings once, then ``estimate(x, y)`` ->
    nats (a float) or ``estimate_with_info(x, y)`` -> the full :class:`MIEstimate`. Settings are
    :func:`estimate_mi`'s keywords (``random_state`` or ``seed``), checked at construction."""

    def __init__(self, **settings):
        import inspect

        known = [k for k in inspect.signature(estimate_mi).parameters if k not in ("x", "y")]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ValueError(f"MINDEEstimator: unknown setting {unknown[0]!r}; known: {', '.join(known)}")
        defaults = {k: p.default for k, p in inspect.signature(estimate_mi).parameters.items() if k in known}
        full = {**defaults, **settings}
        if full["seed"] is not None and full["random_state"] is not None and full["seed"] != full["random_state"]:
            raise ValueError("MINDEEstimator: seed and random_state are the same setting; give one")
        full["seed"] = next((v for v in (full["seed"], full["random_state"]) if v is not None), 0)
        full["random_state"] = None
        _check_args({k: full[k] for k in ("steps", "batch_size", "lr", "width", "depth", "test_fraction",
                                          "holdout_fraction", "n_times", "p_uncond", "dropout", "networks",
                                          "estimator", "cond_input", "standardize", "seed", "device", "discrete",
                                          "progress", "keep_model")})
        self.settings = full

    def get_params(self) -> dict:
        """The settings in effect (defaults filled in)."""
        return dict(self.settings)

    def estimate_with_info(self, x, y) -> MIEstimate:
        """:func:`estimate_mi` of ``(x, y)`` with this estimator's settings: the full result."""
        return estimate_mi(x, y, **self.settings)

    def estimate(self, x, y) -> float:
        """``I(X;Y)`` in nats (the MINDE estimate)."""
        return float(self.estimate_with_info(x, y).mi)

    def __repr__(self) -> str:
        diff = {k: v for k, v in self.settings.items() if k not in ("random_state",)}
        return f"MINDEEstimator({', '.join(f'{k}={v!r}' for k, v in diff.items())})"

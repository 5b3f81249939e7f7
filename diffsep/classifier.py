"""Image classifier training for the lower bound ``I(X;Y) >= H(Y) - CE`` (docs/equations.md).

A :class:`~diffsep.nets.classifier.SmallCNN` is trained with Adam on ``(x_train, y_train)`` by the
one training loop (:func:`diffsep.train.train`); the checkpoint with the lowest cross-entropy on a
held-out part of the training set is kept,
and the test cross-entropy gives the bound, with ``H(Y)`` the plug-in entropy of the test labels.
All randomness (initialisation, split, batch order, augmentation) derives from ``seed``, so a run
is deterministic on CPU. Images are float ``(N, C, H, W)`` in ``[-1, 1]``, labels int64.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .io import load_artifact, save_artifact
from .nets.classifier import SmallCNN
from .rng import derive_seed
from .stats import holdout_split, label_bound
from .train import TrainConfig, train

__all__ = ["check_settings", "train_classifier", "predict", "save_classifier", "load_classifier", "TRAIN_KEYS"]

CLASSIFIER_FORMAT = "diffsep-classifier-1"


def _check(x, y, num_classes: int, name: str) -> None:
    if not (isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point()):
        raise ValueError(f"{name}: images must be a float tensor (N, C, H, W), got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not (isinstance(y, torch.Tensor) and y.dim() == 1 and y.shape[0] == x.shape[0]):
        raise ValueError(f"{name}: labels must be a 1-d tensor with one label per image ({x.shape[0]})")
    if y.is_floating_point() or (y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes)):
        raise ValueError(f"{name}: labels must be integers in [0, {num_classes}), got range "
                         f"[{y.min().item() if y.numel() else None}, {y.max().item() if y.numel() else None}]")


def _shift(x: torch.Tensor, g: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random per-sample translation by up to ``max_shift`` px (edges filled with -1, black)."""
    b, _, h, w = x.shape
    k = max_shift
    xp = F.pad(x, (k, k, k, k), value=-1.0)
    dy, dx = (torch.randint(0, 2 * k + 1, (2, b), generator=g)).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, :, None]  # (B, H, 1)
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, :]  # (B, 1, W)
    return xp[torch.arange(b, device=x.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)


@torch.no_grad()
def _outputs(model, x: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, features)`` for all of ``x`` in eval mode (the training mode is restored)."""
    was = model.training
    model.eval()
    logits, feats = [], []
    for start in range(0, x.shape[0], batch_size):
        f = model.features(x[start:start + batch_size])
        feats.append(f)
        logits.append(model.head(f))
    model.train(was)
    return torch.cat(logits), torch.cat(feats)


def predict(model, x: torch.Tensor, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities ``(N, K)`` and penultimate features ``(N, F)``, without gradients."""
    logits, feats = _outputs(model, x, batch_size)
    return logits.softmax(dim=1), feats


def train_classifier(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                     *, num_classes: int,
                     steps: int = 1000,                 # Adam steps
                     batch_size: int = 128,             # images per step
                     lr: float = 1e-3,                  # Adam learning rate (constant)
                     seed: int = 0,                     # everything random derives from this
                     holdout_fraction: float = 0.1,     # part of the training set used for selection
                     progress: bool = False,            # tqdm bar
                     width: int = 32,                   # SmallCNN width
                     augment: bool = False,             # random shifts of up to 2 px
                     eval_every: int | None = None,     # held-out evaluation period (None: steps // 10)
                     eval_batch: int = 1024):           # images per evaluation forward pass
    """Train a :class:`SmallCNN` through :func:`diffsep.train.train` (cross-entropy loss, constant
    learning rate, no gradient clipping); returns ``(model, metrics)`` with the checkpoint of the
    lowest held-out cross-entropy.

    ``metrics``: ``test_accuracy``, ``test_cross_entropy`` (mean, nats) and its standard error
    ``test_cross_entropy_se``, ``label_entropy`` (plug-in ``H(Y)`` of the test labels, nats),
    ``mi_lower_bound = label_entropy - test_cross_entropy`` and ``mi_lower_bound_se``
    (:func:`diffsep.stats.label_bound`), ``train_seconds``, and the bookkeeping ``best_step``,
    ``holdout_cross_entropy``, ``steps``, ``n_train``, ``n_holdout``, ``n_test``.
    """
    _check(x_train, y_train, num_classes, "training set")
    _check(x_test, y_test, num_classes, "test set")
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"test images {tuple(x_test.shape[1:])} differ from training images "
                         f"{tuple(x_train.shape[1:])}")
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"classifier needs steps >= 1, batch_size >= 1, lr > 0; got {steps}, {batch_size}, {lr}")
    if not 0.0 <= holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must lie in [0, 1), got {holdout_fraction}")
    if x_test.shape[0] < 1:
        raise ValueError("the test set is empty")
    y_train, y_test = y_train.long(), y_test.long()
    device = x_train.device
    fit, held = (torch.as_tensor(i, device=device)
                 for i in holdout_split(x_train.shape[0], holdout_fraction, seed, "classifier", "split"))
    x_hold, y_hold = x_train[held], y_train[held]

    with torch.random.fork_rng(devices=[]):  # initialise without touching the global stream
        torch.manual_seed(derive_seed(seed, "classifier", "init"))
        model = SmallCNN(x_train.shape[1], x_train.shape[-1], num_classes, width=width).to(device)

    def loss_fn(m, xb, yb, generator=None):
        if augment:
            xb = _shift(xb, generator)
        return F.cross_entropy(m(xb), yb)

    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, lr_schedule="constant", grad_clip=None,
                      eval_every=eval_every if eval_every else max(1, steps // 10),
                      select="best_holdout" if len(held) else "last", seed=derive_seed(seed, "classifier"))
    res = train(model, x_train[fit], y_train[fit], cfg, holdout=(x_hold, y_hold) if len(held) else None,
                progress=progress, desc="classifier", loss_fn=loss_fn,
                holdout_fn=lambda m: float(F.cross_entropy(_outputs(m, x_hold, eval_batch)[0], y_hold)),
                fingerprint_extra={"model": "classifier", "kwargs": model.kwargs, "augment": augment})
    model = res.model

    # test metrics; the bound is the mean of log q(y|x) - log p(y), p the plug-in label marginal
    logits = _outputs(model, x_test, eval_batch)[0]
    logq = logits.double().log_softmax(dim=1).gather(1, y_test[:, None]).squeeze(1)
    b = label_bound(logq, y_test.cpu().numpy(), num_classes)
    metrics = {
        "test_accuracy": float((logits.argmax(dim=1) == y_test).double().mean()),
        "test_cross_entropy": b["cross_entropy"], "test_cross_entropy_se": b["cross_entropy_se"],
        "label_entropy": b["label_entropy"],
        "mi_lower_bound": b["bound"], "mi_lower_bound_se": b["bound_se"],
        "train_seconds": res.seconds,
        "best_step": res.best_step if res.best_step is not None else res.steps,
        "holdout_cross_entropy": res.best_holdout,
        "steps": steps, "n_train": int(len(fit)), "n_holdout": int(len(held)), "n_test": int(x_test.shape[0]),
    }
    return model, metrics


def save_classifier(path, model: SmallCNN, meta: dict | None = None) -> None:
    """Write weights, constructor arguments and ``meta`` atomically (loadable with weights_only)."""
    save_artifact(path, CLASSIFIER_FORMAT, model, meta, kwargs=model.kwargs)


def load_classifier(path, device="cpu") -> tuple[SmallCNN, dict]:
    """Load a classifier written by :func:`save_classifier`; returns ``(model, meta)`` in eval mode."""
    f, state = load_artifact(path, CLASSIFIER_FORMAT, "classifier")
    model = SmallCNN(**f["kwargs"])
    model.load_state_dict(state)
    return model.to(device).eval(), f["meta"]


# ------------------------------------------------------------------------------------------------
#: settings of the config's ``classifier`` block that :func:`train_classifier` takes
TRAIN_KEYS = ("steps", "batch_size", "lr", "width", "augment", "holdout_fraction", "eval_every")


def check_settings(settings: dict, key: str = "classifier") -> None:
    """The classifier job's own checks of its settings (``diffsep validate`` runs them too)."""
    import math
    import numbers

    unknown = sorted(set(settings) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(f"config key '{key}.{unknown[0]}': unknown key; known: {list(TRAIN_KEYS)}")
    for k in ("steps", "batch_size", "width", "eval_every"):
        v = settings.get(k)
        if v is None and k == "eval_every":
            continue
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1):
            raise ValueError(f"config key '{key}.{k}': must be an integer >= 1, got {v!r}")
    lr, hf = settings.get("lr", 1e-3), settings.get("holdout_fraction", 0.1)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or not lr > 0:
        raise ValueError(f"config key '{key}.lr': must be a finite number > 0, got {lr!r}")
    if isinstance(hf, bool) or not isinstance(hf, numbers.Real) or not 0 <= hf < 1:
        raise ValueError(f"config key '{key}.holdout_fraction': must lie in [0, 1), got {hf!r}")

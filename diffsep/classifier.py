"""Image classifier training for the lower bound ``I(X;Y) >= H(Y) - CE`` (DESIGN.md §1).

A :class:`~diffsep.nets.classifier.SmallCNN` is trained with Adam on ``(x_train, y_train)``,
the checkpoint with the lowest cross-entropy on a held-out part of the training set is kept,
and the test cross-entropy gives the bound, with ``H(Y)`` the plug-in entropy of the test labels.
All randomness (initialisation, split, batch order, augmentation) derives from ``seed``, so a run
is deterministic on CPU. Images are float ``(N, C, H, W)`` in ``[-1, 1]``, labels int64.
"""

from __future__ import annotations

import json
import math
import time

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from .io import load_torch, save_torch
from .nets.classifier import SmallCNN
from .rng import derive_seed, generator

__all__ = ["train_classifier", "predict", "save_classifier", "load_classifier", "train_job", "TRAIN_KEYS"]

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


def _mean_se(v: torch.Tensor) -> tuple[float, float]:
    v = v.double()
    se = float(v.std(unbiased=True) / math.sqrt(v.numel())) if v.numel() > 1 else float("nan")
    return float(v.mean()), se


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
    """Train a :class:`SmallCNN`; returns ``(model, metrics)`` with the best held-out checkpoint.

    ``metrics``: ``test_accuracy``, ``test_cross_entropy`` (mean, nats) and its standard error
    ``test_cross_entropy_se``, ``label_entropy`` (plug-in ``H(Y)`` of the test labels, nats),
    ``mi_lower_bound = label_entropy - test_cross_entropy`` and ``mi_lower_bound_se`` (the
    standard error of the per-sample ``log q(y|x) - log p(y)``), ``train_seconds``, and the
    bookkeeping ``best_step``, ``holdout_cross_entropy``, ``steps``, ``n_train``, ``n_holdout``,
    ``n_test``.
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

    # split off the held-out part (a deterministic permutation)
    n_all = x_train.shape[0]
    n_hold = int(round(holdout_fraction * n_all)) if holdout_fraction > 0 else 0
    n_hold = min(max(n_hold, 1 if holdout_fraction > 0 else 0), n_all - 1)
    order = torch.randperm(n_all, generator=generator(seed, "classifier", "split")).to(device)
    x_hold, y_hold = x_train[order[:n_hold]], y_train[order[:n_hold]]
    x_fit, y_fit = x_train[order[n_hold:]], y_train[order[n_hold:]]

    with torch.random.fork_rng(devices=[]):  # initialise without touching the global stream
        torch.manual_seed(derive_seed(seed, "classifier", "init"))
        model = SmallCNN(x_train.shape[1], x_train.shape[-1], num_classes, width=width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    n = x_fit.shape[0]
    bs = min(batch_size, n)
    steps_per_epoch = max(1, n // bs)
    every = eval_every if eval_every else max(1, steps // 10)
    best_state, best_ce, best_step = None, math.inf, None
    perm, perm_epoch = None, -1
    model.train()
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc="classifier", disable=not progress, mininterval=2.0, leave=False):
        epoch, pos = divmod(step, steps_per_epoch)
        if epoch != perm_epoch:
            perm, perm_epoch = torch.randperm(n, generator=generator(seed, "classifier", "epoch", epoch)), epoch
        idx = perm[pos * bs:(pos + 1) * bs].to(device)
        xb = x_fit[idx]
        if augment:
            xb = _shift(xb, generator(seed, "classifier", "augment", step))
        loss = F.cross_entropy(model(xb), y_fit[idx])
        if not torch.isfinite(loss):
            raise RuntimeError(f"classifier training diverged: non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if n_hold and (done % every == 0 or done == steps):
            ce = float(F.cross_entropy(_outputs(model, x_hold, eval_batch)[0], y_hold))
            if ce < best_ce:
                best_ce, best_step = ce, done
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_step = steps
    model.eval()

    # test metrics; the bound is the mean of log q(y|x) - log p(y), p the plug-in label marginal
    logits = _outputs(model, x_test, eval_batch)[0]
    logq = logits.double().log_softmax(dim=1).gather(1, y_test[:, None]).squeeze(1)
    counts = torch.bincount(y_test.cpu(), minlength=num_classes).double()
    log_p = torch.log(counts / counts.sum())  # -inf only for classes absent from the test set
    label_entropy = float(-(counts[counts > 0] / counts.sum() * log_p[counts > 0]).sum())
    ce, ce_se = _mean_se(-logq)
    bound, bound_se = _mean_se(logq.cpu() - log_p[y_test.cpu()])
    metrics = {
        "test_accuracy": float((logits.argmax(dim=1) == y_test).double().mean()),
        "test_cross_entropy": ce, "test_cross_entropy_se": ce_se,
        "label_entropy": label_entropy,
        "mi_lower_bound": bound, "mi_lower_bound_se": bound_se,
        "train_seconds": seconds,
        "best_step": best_step, "holdout_cross_entropy": best_ce if math.isfinite(best_ce) else None,
        "steps": steps, "n_train": n, "n_holdout": n_hold, "n_test": int(x_test.shape[0]),
    }
    return model, metrics


def save_classifier(path, model: SmallCNN, meta: dict | None = None) -> None:
    """Write weights, constructor arguments and ``meta`` atomically (loadable with weights_only)."""
    save_torch({"format": CLASSIFIER_FORMAT, "kwargs": json.dumps(model.kwargs),
                "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "meta": json.dumps(meta or {}, default=str)}, path)


def load_classifier(path, device="cpu") -> tuple[SmallCNN, dict]:
    """Load a classifier written by :func:`save_classifier`; returns ``(model, meta)`` in eval mode."""
    obj = load_torch(path)
    if not isinstance(obj, dict) or obj.get("format") != CLASSIFIER_FORMAT:
        raise ValueError(f"{path}: not a diffsep classifier file "
                         f"(format {obj.get('format') if isinstance(obj, dict) else None!r})")
    model = SmallCNN(**json.loads(obj["kwargs"]))
    model.load_state_dict(obj["state"])
    return model.to(device).eval(), json.loads(obj["meta"])



# ------------------------------------------------------------------------------------------------
#: settings of the config's ``classifier`` block that :func:`train_classifier` takes
TRAIN_KEYS = ("steps", "batch_size", "lr", "width", "augment", "holdout_fraction", "eval_every")


def train_job(inp: dict, out: dict, dataset: str, resolution: int, seed: int, settings: dict,
              threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """DAG stage ``classifier``: train on the prepared ``inp['data']``, write ``out['model']``
    (:func:`save_classifier`) and ``out['table']`` (one row of table ``classifier``)."""
    import inspect
    import logging

    import pandas as pd

    from . import tables
    from .data import load_prepared
    from .stages import _provenance, _setup

    dev = _setup(threads, device)
    data = load_prepared(inp["data"])
    if data.modality != "image" or data.cond != "label":
        raise ValueError(f"{inp['data']}: the classifier stage needs labelled images, got a {data.modality} "
                         f"dataset with {data.cond!r} conditions (dataset {dataset!r})")
    unknown = sorted(set(settings) - set(TRAIN_KEYS))
    if unknown:
        raise ValueError(f"config key 'classifier.{unknown[0]}': unknown key; known: {list(TRAIN_KEYS)}")
    kw = {k: settings[k] for k in TRAIN_KEYS if settings.get(k) is not None}
    k = int(data.num_classes)
    as_x = lambda a: torch.as_tensor(a, dtype=torch.float32, device=dev)  # noqa: E731
    as_y = lambda a: torch.as_tensor(a, device=dev).long()  # noqa: E731
    model, m = train_classifier(as_x(data.x_train), as_y(data.y_train), as_x(data.x_test), as_y(data.y_test),
                                num_classes=k, seed=int(seed), progress=progress, **kw)
    prov = _provenance(dev)
    sig = inspect.signature(train_classifier).parameters
    full = {**{n: sig[n].default for n in TRAIN_KEYS}, **kw}  # the settings in effect
    row = {**tables.identity(dataset, resolution, "classifier", seed), "num_classes": k, "log_k": math.log(k),
           "n_train": m["n_train"], "n_holdout": m["n_holdout"], "n_test": m["n_test"], "steps": m["steps"],
           "best_step": m["best_step"], "batch_size": int(full["batch_size"]), "lr": float(full["lr"]),
           "width": int(full["width"]), "augment": bool(full["augment"]),
           **{c: m[c] for c in ("test_accuracy", "test_cross_entropy", "test_cross_entropy_se",
                                "holdout_cross_entropy", "label_entropy", "mi_lower_bound", "mi_lower_bound_se",
                                "train_seconds")}, **prov}
    tables.write(pd.DataFrame([row]), "classifier", out["table"])
    save_classifier(out["model"], model, {"dataset": dataset, "resolution": int(resolution), "seed": int(seed),
                                          "settings": full, **m, **prov})
    logging.getLogger(__name__).info(
        "classifier %s/%s seed %s: accuracy %.3f, CE %.3f nats, bound H(Y)-CE = %.3f ± %.3f (log K %.3f) in %.1f s",
        dataset, resolution, seed, m["test_accuracy"], m["test_cross_entropy"], m["mi_lower_bound"],
        m["mi_lower_bound_se"], math.log(k), m["train_seconds"])

"""Stage ``classifier``: an image classifier per (labelled image dataset, resolution, seed) ->
its file and one row of table ``classifier`` (the lower bound ``I(X;Y) >= H(Y) - CE``)."""

from __future__ import annotations

import inspect
import logging
import math

import pandas as pd
import torch

from .. import tables
from ..classifier import TRAIN_KEYS, check_settings, save_classifier, train_classifier
from ..data import load_prepared
from ._job import cond_tensor, provenance, setup, write_table

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, *, dataset: str, resolution: int, seed: int, settings: dict,
        threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Train on the prepared ``inp['data']`` -> ``out['model']`` and ``out['table']``.
    ``settings``: the config's ``classifier`` block (:data:`diffsep.classifier.TRAIN_KEYS`)."""
    check_settings(settings)  # the checks `diffsep validate` runs, before any work
    dev = setup(threads, device)
    data = load_prepared(inp["data"])
    if data.modality != "image" or data.cond != "label":
        raise ValueError(f"{inp['data']}: the classifier stage needs labelled images, got a {data.modality} "
                         f"dataset with {data.cond!r} conditions (dataset {dataset!r})")
    kw = {k: settings[k] for k in TRAIN_KEYS if settings.get(k) is not None}
    k = int(data.num_classes)
    as_x = lambda a: torch.as_tensor(a, dtype=torch.float32, device=dev)  # noqa: E731
    model, m = train_classifier(as_x(data.x_train), cond_tensor(data.y_train, "label", dev), as_x(data.x_test),
                                cond_tensor(data.y_test, "label", dev), num_classes=k, seed=int(seed),
                                progress=progress, **kw)
    prov = provenance(dev)
    sig = inspect.signature(train_classifier).parameters
    full = {**{n: sig[n].default for n in TRAIN_KEYS}, **kw}  # the settings in effect
    row = {"num_classes": k, "log_k": math.log(k),
           "n_train": m["n_train"], "n_holdout": m["n_holdout"], "n_test": m["n_test"], "steps": m["steps"],
           "best_step": m["best_step"], "batch_size": int(full["batch_size"]), "lr": float(full["lr"]),
           "width": int(full["width"]), "augment": bool(full["augment"]),
           **{c: m[c] for c in ("test_accuracy", "test_cross_entropy", "test_cross_entropy_se",
                                "holdout_cross_entropy", "label_entropy", "mi_lower_bound", "mi_lower_bound_se",
                                "train_seconds")}, **prov}
    write_table(pd.DataFrame([row]), "classifier", out["table"], **tables.identity(dataset, resolution, "classifier", seed))
    save_classifier(out["model"], model, {"dataset": dataset, "resolution": int(resolution), "seed": int(seed),
                                          "settings": full, **m, **prov})
    log.info("classifier %s/%s seed %s: accuracy %.3f, CE %.3f nats, bound H(Y)-CE = %.3f ± %.3f (log K %.3f) "
             "in %.1f s", dataset, resolution, seed, m["test_accuracy"], m["test_cross_entropy"],
             m["mi_lower_bound"], m["mi_lower_bound_se"], math.log(k), m["train_seconds"])

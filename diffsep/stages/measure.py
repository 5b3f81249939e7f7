"""Stage ``measure``: entropy and MI rates and integrals of one model (or the exact scores) on the
test split -> tables ``information``, ``rates``, ``per_class``, ``cutoffs``."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import torch

from .. import tables
from ..data import load_prepared
from ..gaussian import exact_entropy, exact_score_model
from ..measure import check_settings, label_posterior_bound, measure_information
from ..models import load_model
from ..process import VPProcess
from ..rng import derive_seed, np_generator
from ._job import cond_tensor, provenance, setup, write_table

log = logging.getLogger(__name__)


def _eval_subset(n: int, n_eval: int, seed: int) -> np.ndarray:
    if n <= n_eval:
        return np.arange(n)
    return np.sort(np_generator(seed, "eval-subset").choice(n, n_eval, replace=False))


def run(inp: dict, out: dict, *, dataset: str, resolution: int, model: str, seed: int, settings: dict,
        process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """``model`` = ``exact``: analytic scores in float64 (datasets with ground truth); else the model
    file ``inp['model']``. ``settings``: ``experiments.information``."""
    proc = VPProcess(**process)
    check_settings(settings, proc.s_min)  # the checks `diffsep validate` runs, before any work
    dev = setup(threads, device)
    data = load_prepared(inp["data"])
    train_meta = {}
    exact = model == "exact"
    if exact:
        sm, dtype = exact_score_model(data.meta, proc), torch.float64
    else:
        (sm, train_meta), dtype = load_model(inp["model"], device=dev), torch.float32
    n_eval = int(settings["n_eval_exact"] if exact else settings["n_eval"])
    idx = _eval_subset(len(data.x_test), n_eval, seed)
    x = torch.as_tensor(data.x_test[idx], dtype=dtype, device=dev)
    y = cond_tensor(data.y_test[idx], data.cond, dev)
    if data.cond == "vector":
        y = y.to(dtype)
    discrete = data.cond == "label"
    r = measure_information(sm, x, y, n_times=int(settings["n_times"]), quadrature=settings["quadrature"],
                            batch_size=int(settings["batch_size"]) * (8 if exact else 1), seed=int(seed),
                            draws=int(settings["draws"]), discrete=discrete, cutoffs=settings.get("cutoffs") or (),
                            progress=progress, desc=f"measure {dataset}/{resolution} {model}")
    bound = _label_bound(sm, x, y, data, settings, seed, progress, f"label bound {dataset}/{resolution} {model}")
    truth = exact_entropy(data.meta, proc)
    ident = tables.identity(dataset, resolution, model, seed)
    dim = int(np.prod(data.x_test.shape[1:]))
    k = data.num_classes if discrete else None
    row = {"modality": data.modality, "cond": data.cond, "dim": dim, "num_classes": k,
           "n_eval": int(len(idx)), "n_times": r.n_times,
           "S_marg": r.S_marg, "S_marg_se": r.S_marg_se, "S_cond": r.S_cond, "S_cond_se": r.S_cond_se,
           "mi_minde": r.mi_minde, "mi_minde_se": r.mi_minde_se, "mi_diff": r.mi_diff, "mi_diff_se": r.mi_diff_se,
           "mi_mmse": r.mi_mmse, "mi_mmse_se": r.mi_mmse_se,
           "true_mi": data.meta.get("true_mi"),
           "true_mi_se": data.meta.get("true_mi_se", 0.0 if "true_mi" in data.meta else None),
           "log_k": math.log(k) if k else None, "S_per_dim": r.S_marg / dim,
           "mi_fraction": r.mi_minde / r.S_marg if r.S_marg else float("nan"),
           "true_S_marg": truth.get("S_marg"), "true_S_marg_se": truth.get("S_marg_se"),
           "true_S_cond": truth.get("S_cond"),
           "mi_minde_cross": r.mi_minde_cross, "mi_minde_cross_se": r.mi_minde_cross_se,
           "mi_mmse_cross": r.mi_mmse_cross, "mi_mmse_cross_se": r.mi_mmse_cross_se,
           "mi_label_bound": bound.get("bound"), "mi_label_bound_se": bound.get("bound_se"),
           "null_excess": bound.get("null_excess"), "null_excess_se": bound.get("null_excess_se"),
           "networks": None if exact else int(train_meta.get("networks", 1)),
           "converged": None if exact else train_meta.get("converged"),
           "plateau_gain": None if exact else train_meta.get("plateau_gain"),
           "label_gain_growth": None if exact else train_meta.get("label_gain_growth"),
           "train_seconds": train_meta.get("train_seconds"), "train_steps": train_meta.get("train_steps"),
           "measure_seconds": r.seconds, "forward_passes": int(r.forward_passes),
           **provenance(None if exact else dev)}
    write_table(pd.DataFrame([row]), "information", out["information"], **ident)
    write_table(r.curves, "rates", out["rates"], **ident)
    if r.per_class is not None:
        pc = r.per_class.copy()
        names = data.class_names
        pc["class_name"] = [names[i] if i < len(names) else str(i) for i in pc["label"]]
    else:
        pc = tables.empty("per_class")
    write_table(pc, "per_class", out["per_class"], **ident)
    cut = r.cutoffs if r.cutoffs is not None else pd.DataFrame(
        {"s_cutoff": [r.s_min], "S_marg": [r.S_marg], "S_marg_se": [r.S_marg_se]})
    write_table(cut, "cutoffs", out["cutoffs"], **ident)
    log.info("%s/%s %s seed %s: S=%.2f (exact %s) I=%.3f±%.3f (true %s; cross-fitted %s; label bound %s; "
             "null excess %s)", dataset, resolution, model, seed, r.S_marg, truth.get("S_marg"), r.mi_minde,
             r.mi_minde_se, data.meta.get("true_mi"), r.mi_minde_cross, bound.get("bound"), bound.get("null_excess"))


def _label_bound(sm, x, y, data, settings: dict, seed: int, progress: bool, desc: str) -> dict:
    """The model's own label-posterior bound on a subset of the evaluation samples ({} when off)."""
    lb = settings.get("label_bound")
    if data.cond != "label" or lb is None:
        return {}
    n = min(int(lb.get("n_eval", 1000)), x.shape[0])
    return label_posterior_bound(sm, x[:n], y[:n], data.num_classes, n_times=int(lb.get("n_times", 32)),
                                 draws=int(lb.get("draws", 2)),
                                 batch_size=int(settings["batch_size"]), seed=derive_seed(seed, "label-bound"),
                                 progress=progress, desc=desc)

"""The DAG's compute jobs. Each takes paths (``inp``, ``out``) and plain settings, and writes its
declared outputs atomically; :mod:`diffsep.launch` runs it here or on a cluster.

Stages: ``prepare`` (dataset at one resolution -> .npz), ``train`` (score model -> .pt plus its
training history), ``measure`` (entropy and MI rates and integrals -> Parquet files),
``collect`` (per-job files -> ``tables/<table>.parquet``), ``report`` (HTML).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import tables
from .data import load_prepared, prepare as prepare_dataset, save_prepared
from .gaussian import GaussianMixture, JointGaussian
from .measure import measure_information
from .models import TwoNetScoreModel, build_score_model, load_model, save_model
from .process import VPProcess
from .rng import derive_seed
from .train import TrainConfig, train as train_loop

__all__ = ["prepare", "train", "measure", "collect", "report", "pick_device", "net_kwargs", "exact_model"]

log = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available (and only then); ``cuda`` fails clearly when absent."""
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _setup(threads: int, device: str) -> torch.device:
    torch.set_num_threads(max(1, int(threads)))
    dev = pick_device(device)
    if dev.type == "cuda":  # same numbers run to run: no TF32, deterministic cuDNN
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return dev


def _provenance(dev: torch.device) -> dict:
    name = str(dev) if dev.type == "cpu" else f"cuda:{dev.index or 0} ({torch.cuda.get_device_name(dev)})"
    return {"device": name, "precision": "float32", "torch_version": torch.__version__}


# ------------------------------------------------------------------------------------------------
def prepare(inp: dict, out: dict, name: str, spec: dict, resolution: int, **_) -> None:
    """Load, validate, resample and cache one dataset at one resolution."""
    p = prepare_dataset(name, spec, int(resolution))
    save_prepared(p, out["data"])
    log.info("%s @ %s: %d train / %d test, %s", name, resolution, len(p.x_train), len(p.x_test), p.x_train.shape[1:])


# ------------------------------------------------------------------------------------------------
def net_kwargs(model_cfg: dict, data, cond: str | None = "auto") -> dict:
    """Network constructor arguments: the config's ``net_params`` plus what the data dictate."""
    kw = dict(model_cfg.get("net_params") or {})
    x = data.x_train
    if model_cfg.get("net", "mlp") == "mlp":
        kw["dim"] = int(x.shape[1])
    else:
        kw["channels"], kw["resolution"] = int(x.shape[1]), int(x.shape[2])
    c = data.cond if cond == "auto" else cond
    kw["cond"] = c if c in ("label", "vector") else "none"
    if c == "label":
        kw["num_classes"] = int(data.num_classes)
    elif c == "vector":
        kw["cond_dim"] = int(data.y_train.shape[1])
    return kw


def _holdout_split(n: int, frac: float, seed: int):
    perm = np.random.default_rng(derive_seed(seed, "holdout-split") % 2**32).permutation(n)
    k = int(round(frac * n))
    return perm[k:], perm[:k]


def _cond_tensor(y: np.ndarray, cond: str, dev):
    return torch.as_tensor(y, device=dev).long() if cond == "label" else torch.as_tensor(y, dtype=torch.float32, device=dev)


def default_checkpoint_every(model_cfg: dict) -> int:
    """Resume checkpoints every ~5 % of the steps (50 to 500) unless ``train.checkpoint_every`` is set:
    a requeued or preempted training job redoes at most that many steps (0 in the config: off).
    A multiple of ``eval_every``, so a resumed run's history equals an uninterrupted one's."""
    tc = model_cfg.get("train") or {}
    target = min(500, max(50, math.ceil(int(tc.get("steps", TrainConfig.steps)) / 20)))
    ev = int(tc.get("eval_every", TrainConfig.eval_every))
    return ev * max(1, round(target / ev)) if ev else target


def train(inp: dict, out: dict, dataset: str, resolution: int, model: str, model_cfg: dict, seed: int,
          process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Train the score model of ``model_cfg`` on the training split; resumable from ``out['model']``.ckpt."""
    dev = _setup(threads, device)
    data = load_prepared(inp["data"])
    proc = VPProcess(**process)
    tcfg = TrainConfig.from_dict({"checkpoint_every": default_checkpoint_every(model_cfg),
                                  **(model_cfg.get("train") or {}), "seed": int(seed), "threads": int(threads)})
    hf = float(model_cfg.get("holdout_fraction", 0.1))
    tr, ho = _holdout_split(len(data.x_train), hf, seed)
    x = torch.as_tensor(data.x_train, dtype=torch.float32, device=dev)
    y = _cond_tensor(data.y_train, data.cond, dev)
    holdout = (x[ho], y[ho]) if len(ho) else None
    ckpt_base = Path(out["model"]).with_suffix("")
    net = model_cfg.get("net", "mlp")
    t0 = time.perf_counter()
    hist_frames = []
    if model_cfg.get("two_net"):
        parts = {}
        for role, cond, p_unc in (("cond", data.cond, 0.0), ("marg", None, 0.0)):
            torch.manual_seed(derive_seed(seed, "init", role))
            m = build_score_model({"net": net, "kwargs": net_kwargs(model_cfg, data, cond=cond)}, proc).to(dev)
            cfg = TrainConfig.from_dict({**vars(tcfg), "p_uncond": p_unc})
            res = train_loop(m, x[tr], y[tr] if cond else None, cfg, checkpoint=f"{ckpt_base}.{role}.ckpt",
                             holdout=((holdout[0], holdout[1] if cond else None) if holdout else None),
                             progress=progress, desc=f"train {dataset}/{resolution} {role}")
            parts[role] = res
            hist_frames.append(pd.DataFrame(res.history).assign(network=role))
        final = TwoNetScoreModel(parts["cond"].model, parts["marg"].model)
        steps = parts["cond"].steps + parts["marg"].steps
        seconds = parts["cond"].seconds + parts["marg"].seconds
        best = {k: v.best_step for k, v in parts.items()}
    else:
        torch.manual_seed(derive_seed(seed, "init"))
        m = build_score_model({"net": net, "kwargs": net_kwargs(model_cfg, data)}, proc).to(dev)
        res = train_loop(m, x[tr], y[tr], tcfg, holdout=holdout, checkpoint=f"{ckpt_base}.ckpt",
                         progress=progress, desc=f"train {dataset}/{resolution}")
        final, steps, seconds, best = res.model, res.steps, res.seconds, res.best_step
        hist_frames.append(pd.DataFrame(res.history).assign(network="shared"))
    meta = {"dataset": dataset, "resolution": int(resolution), "model": model, "seed": int(seed),
            "train_seconds": seconds, "train_steps": steps, "best_step": best, "wall_seconds": time.perf_counter() - t0,
            "n_train": int(len(tr)), "n_holdout": int(len(ho)), **_provenance(dev)}
    hist = pd.concat(hist_frames, ignore_index=True)
    if "holdout" not in hist:
        hist["holdout"] = np.nan
    ident = tables.identity(dataset, resolution, model, seed)
    hist = hist.assign(**ident)[tables.schema("training").names]
    tables.write(hist, "training", out["history"])
    save_model(out["model"], final, meta)
    log.info("trained %s on %s/%s seed %s: %d steps in %.1f s", model, dataset, resolution, seed, steps, seconds)


# ------------------------------------------------------------------------------------------------
def exact_model(meta: dict, process: VPProcess):
    """Analytic score model of a vector dataset with ground truth (joint Gaussian, mixture)."""
    p = meta.get("params") or {}
    if meta.get("kind") == "joint_gaussian":
        return JointGaussian(p["dx"], p["dy"], p["noise"], p["seed"]).score_model(process)
    if meta.get("kind") == "gaussian_mixture":
        return GaussianMixture.make(k=p["k"], d=p["d"], spread=p["spread"], scale=p["scale"],
                                    seed=p["seed"]).score_model(process)
    raise ValueError(f"dataset kind {meta.get('kind')!r} has no exact scores")


def _eval_subset(n: int, n_eval: int, seed: int) -> np.ndarray:
    if n <= n_eval:
        return np.arange(n)
    return np.sort(np.random.default_rng(derive_seed(seed, "eval-subset") % 2**32).choice(n, n_eval, replace=False))


def measure(inp: dict, out: dict, dataset: str, resolution: int, model: str, seed: int, settings: dict,
            process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Entropy and MI rates/integrals on the test split -> information, rates, per_class, cutoffs."""
    dev = _setup(threads, device)
    data = load_prepared(inp["data"])
    proc = VPProcess(**process)
    train_meta = {}
    if model == "exact":
        sm = exact_model(data.meta, proc)
        dtype = torch.float64
    else:
        sm, train_meta = load_model(inp["model"], device=dev)
        dtype = torch.float32
    n_eval = int(settings["n_eval_exact"] if model == "exact" else settings["n_eval"])
    idx = _eval_subset(len(data.x_test), n_eval, seed)
    x = torch.as_tensor(data.x_test[idx], dtype=dtype, device=dev)
    y = _cond_tensor(data.y_test[idx], data.cond, dev)
    if data.cond == "vector":
        y = y.to(dtype)
    discrete = data.cond == "label"
    r = measure_information(sm, x, y, n_times=int(settings["n_times"]), quadrature=settings["quadrature"],
                            batch_size=int(settings["batch_size"]) * (8 if model == "exact" else 1), seed=int(seed), draws=int(settings["draws"]),
                            discrete=discrete, cutoffs=settings.get("cutoffs") or (), progress=progress,
                            desc=f"measure {dataset}/{resolution} {model}")
    ident = tables.identity(dataset, resolution, model, seed)
    dim = int(np.prod(data.x_test.shape[1:]))
    k = data.num_classes if discrete else None
    prov = _provenance(dev) if model != "exact" else {"device": "cpu (analytic)", "precision": "float64",
                                                       "torch_version": torch.__version__}
    row = {**ident, "modality": data.modality, "cond": data.cond, "dim": dim, "num_classes": k,
           "n_eval": int(len(idx)), "n_times": r.n_times,
           "S_marg": r.S_marg, "S_marg_se": r.S_marg_se, "S_cond": r.S_cond, "S_cond_se": r.S_cond_se,
           "mi_minde": r.mi_minde, "mi_minde_se": r.mi_minde_se, "mi_diff": r.mi_diff, "mi_diff_se": r.mi_diff_se,
           "mi_mmse": r.mi_mmse, "mi_mmse_se": r.mi_mmse_se,
           "true_mi": data.meta.get("true_mi"), "true_mi_se": data.meta.get("true_mi_se", 0.0 if "true_mi" in data.meta else None),
           "log_k": math.log(k) if k else None, "S_per_dim": r.S_marg / dim,
           "mi_fraction": r.mi_minde / r.S_marg if r.S_marg else float("nan"),
           "train_seconds": train_meta.get("train_seconds"), "train_steps": train_meta.get("train_steps"),
           "measure_seconds": r.seconds, "forward_passes": int(r.forward_passes), **prov}
    info = pd.DataFrame([row])
    for c in ("num_classes", "train_steps"):
        info[c] = info[c].astype("Int64")
    tables.write(info, "information", out["information"])
    rates = r.curves.assign(**ident)
    for c in tables.schema("rates").names:
        if c not in rates:
            rates[c] = np.nan
    tables.write(rates[tables.schema("rates").names], "rates", out["rates"])
    pc_names = tables.schema("per_class").names
    if r.per_class is not None:
        pc = r.per_class.assign(**ident)
        names = data.class_names
        pc["class_name"] = [names[i] if i < len(names) else str(i) for i in pc["label"]]
        pc = pc[pc_names]
    else:
        pc = tables.empty("per_class")
    tables.write(pc, "per_class", out["per_class"])
    cut = r.cutoffs if r.cutoffs is not None else pd.DataFrame({"s_cutoff": [r.s_min], "S_marg": [r.S_marg],
                                                                "S_marg_se": [r.S_marg_se]})
    tables.write(cut.assign(**ident)[tables.schema("cutoffs").names], "cutoffs", out["cutoffs"])
    log.info("%s/%s %s seed %s: S=%.2f I=%.3f±%.3f (true %s)", dataset, resolution, model, seed, r.S_marg,
             r.mi_minde, r.mi_minde_se, data.meta.get("true_mi"))


# ------------------------------------------------------------------------------------------------
def collect(inp: dict, out: dict, table: str, **_) -> None:
    paths = inp["parts"] if isinstance(inp["parts"], (list, tuple)) else [inp["parts"]]
    df = tables.collect(table, paths, out["table"])
    log.info("collected %d rows into %s", len(df), out["table"])


def report(inp: dict, out: dict, meta: dict, **_) -> None:
    from .report import render

    render({k: v for k, v in inp.items()}, out["html"], meta=meta)

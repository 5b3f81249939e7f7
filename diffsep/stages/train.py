"""Stage ``train``: one score model per (dataset, resolution, model, seed), resumable from its
checkpoint; writes the model file and its training history (table ``training``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import torch

from .. import tables
from ..data import load_prepared
from ..models import TwoNetScoreModel, build_score_model, net_kwargs, save_model
from ..process import VPProcess
from ..rng import derive_seed
from ..stats import holdout_split
from ..train import TrainConfig, default_checkpoint_every, train
from ._job import cond_tensor, provenance, setup, write_table

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, *, dataset: str, resolution: int, model: str, model_cfg: dict, seed: int,
        process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Train the score model of ``model_cfg`` on the training split of ``inp['data']`` ->
    ``out['model']`` and ``out['history']``; resumes from ``<model>.ckpt`` (or ``.cond/.marg.ckpt``)."""
    dev = setup(threads, device)
    data = load_prepared(inp["data"])
    proc = VPProcess(**process)
    tcfg = TrainConfig.from_dict({"checkpoint_every": default_checkpoint_every(model_cfg.get("train")),
                                  **(model_cfg.get("train") or {}), "seed": int(seed), "threads": int(threads)})
    tr, ho = holdout_split(len(data.x_train), float(model_cfg.get("holdout_fraction", 0.1)), seed, "holdout-split")
    x = torch.as_tensor(data.x_train, dtype=torch.float32, device=dev)
    y = cond_tensor(data.y_train, data.cond, dev)
    holdout = (x[ho], y[ho]) if len(ho) else None
    ckpt_base = Path(out["model"]).with_suffix("")
    net = model_cfg.get("net", "mlp")
    t0 = time.perf_counter()
    hist_frames = []
    if model_cfg.get("two_net"):  # the paper's setup: a conditional and a marginal network
        parts = {}
        for role, cond in (("cond", data.cond), ("marg", None)):
            torch.manual_seed(derive_seed(seed, "init", role))
            m = build_score_model({"net": net, "kwargs": net_kwargs(model_cfg, data, cond=cond)}, proc).to(dev)
            cfg = TrainConfig.from_dict({**vars(tcfg), "p_uncond": 0.0})
            res = train(m, x[tr], y[tr] if cond else None, cfg, checkpoint=f"{ckpt_base}.{role}.ckpt",
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
        res = train(m, x[tr], y[tr], tcfg, holdout=holdout, checkpoint=f"{ckpt_base}.ckpt",
                    progress=progress, desc=f"train {dataset}/{resolution}")
        final, steps, seconds, best = res.model, res.steps, res.seconds, res.best_step
        hist_frames.append(pd.DataFrame(res.history).assign(network="shared"))
    meta = {"dataset": dataset, "resolution": int(resolution), "model": model, "seed": int(seed),
            "train_seconds": seconds, "train_steps": steps, "best_step": best, "wall_seconds": time.perf_counter() - t0,
            "n_train": int(len(tr)), "n_holdout": int(len(ho)), **provenance(dev)}
    write_table(pd.concat(hist_frames, ignore_index=True), "training", out["history"],
                **tables.identity(dataset, resolution, model, seed))
    save_model(out["model"], final, meta)
    log.info("trained %s on %s/%s seed %s: %d steps in %.1f s", model, dataset, resolution, seed, steps, seconds)

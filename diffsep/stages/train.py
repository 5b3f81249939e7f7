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
from ..models import EnsembleScoreModel, TwoNetScoreModel, build_score_model, check_model_cfg, net_kwargs, save_model
from ..process import VPProcess
from ..rng import derive_seed
from ..stats import holdout_split
from ..train import PLATEAU_WINDOW, TrainConfig, default_checkpoint_every, plateau_table, train
from ._job import cond_tensor, provenance, setup, write_table

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, *, dataset: str, resolution: int, model: str, model_cfg: dict, seed: int,
        process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Train the score model of ``model_cfg`` on the training split of ``inp['data']`` ->
    ``out['model']`` and ``out['history']`` (with each network's convergence, :func:`diffsep.train.plateau`);
    resumes from ``<model>.ckpt`` (``.cond/.marg.ckpt`` for two networks, ``.m<k>...`` for ensemble members).
    ``model_cfg['networks'] >= 2`` trains that many independent networks (an ensemble: the measure stage
    reports the cross-fitted MINDE); member 0 is the single-network run."""
    check_model_cfg(model_cfg, f"models.{model}")  # the checks `diffsep validate` runs, before any work
    dev = setup(threads, device)
    data = load_prepared(inp["data"])
    proc = VPProcess(**process)
    tcfg = TrainConfig.from_dict({"checkpoint_every": default_checkpoint_every(model_cfg.get("train")),
                                  **(model_cfg.get("train") or {}), "seed": int(seed), "threads": int(threads)})
    tr, ho = _split(len(data.x_train), model_cfg, seed)
    x = torch.as_tensor(data.x_train, dtype=torch.float32, device=dev)
    y = cond_tensor(data.y_train, data.cond, dev)
    holdout = (x[ho], y[ho]) if len(ho) else None
    ckpt_base = Path(out["model"]).with_suffix("")
    networks = int(model_cfg.get("networks", 1))
    t0 = time.perf_counter()
    members, frames, steps, seconds, best = [], [], 0, 0.0, {}
    for k in range(networks):  # independently trained networks (k = 0: the single-network run itself)
        tag = "" if networks == 1 else f"m{k}"
        mseed = int(seed) if k == 0 else derive_seed(seed, "member", k, bits=31)
        cfg = tcfg if k == 0 else TrainConfig.from_dict({**vars(tcfg), "seed": mseed})
        m, hist, n_steps, secs, b = _train_one(model_cfg, data, proc, x[tr], y[tr], holdout, cfg, dev,
                                               ckpt=f"{ckpt_base}{'.' + tag if tag else ''}", init_seed=mseed,
                                               progress=progress, desc=f"train {dataset}/{resolution} {tag}".rstrip())
        members.append(m)
        frames += [h.assign(network=f"{tag}.{h['network'].iloc[0]}" if tag else h["network"]) for h in hist]
        steps, seconds = steps + n_steps, seconds + secs
        best.update({f"{tag}.{kk}" if tag else kk: v for kk, v in b.items()})
    final = members[0] if networks == 1 else EnsembleScoreModel(members)
    history = pd.concat(frames, ignore_index=True)
    history = history.join(plateau_table(history), on="network")
    plateau = history.groupby("network")[["plateau_gain", "label_gain_growth", "converged"]].first()
    conv = list(plateau["converged"])
    converged = False if any(c is False or c == 0 for c in conv if c is not None) else (
        None if any(c is None or c != c for c in conv) else True)
    meta = {"dataset": dataset, "resolution": int(resolution), "model": model, "seed": int(seed),
            "train_seconds": seconds, "train_steps": steps, "best_step": best, "wall_seconds": time.perf_counter() - t0,
            "n_train": int(len(tr)), "n_holdout": int(len(ho)), "networks": networks,
            "converged": converged, "plateau_gain": float(plateau["plateau_gain"].max()),
            "label_gain_growth": float(plateau["label_gain_growth"].max()), **provenance(dev)}
    write_table(history, "training", out["history"], **tables.identity(dataset, resolution, model, seed))
    save_model(out["model"], final, meta)
    log.info("trained %s on %s/%s seed %s: %d steps in %.1f s; over the last %.0f %% of training the held-out loss "
             "improved %.2f %%, the label gain grew %.1f %%: %s", model, dataset, resolution, seed, steps, seconds,
             100 * PLATEAU_WINDOW, 100 * meta["plateau_gain"], 100 * meta["label_gain_growth"],
             {True: "converged", False: "NOT converged", None: "convergence undecidable"}[converged])


def _split(n: int, model_cfg: dict, seed: int):
    """``(fit, held)`` indices of a model's ``n`` training samples (``holdout_fraction`` held out)."""
    return holdout_split(n, float(model_cfg.get("holdout_fraction", 0.1)), seed, "holdout-split")


def _train_one(model_cfg: dict, data, proc, x, y, holdout, tcfg: TrainConfig, dev, *, ckpt: str | None,
               init_seed: int, progress: bool, desc: str, callback=None):
    """One trained score model (one network with label dropout, or the paper's two networks):
    ``(model, [history frames], steps, seconds, {network: best step})``. ``callback`` goes to
    :func:`diffsep.train.train` (one shared network only; benchmarks/convergence_noise.py)."""
    net = model_cfg.get("net", "mlp")
    if model_cfg.get("two_net"):  # the paper's setup: a conditional and a marginal network
        parts, frames = {}, []
        for role, cond in (("cond", data.cond), ("marg", None)):
            torch.manual_seed(derive_seed(init_seed, "init", role))
            m = build_score_model({"net": net, "kwargs": net_kwargs(model_cfg, data, cond=cond)}, proc).to(dev)
            cfg = TrainConfig.from_dict({**vars(tcfg), "p_uncond": 0.0})
            res = train(m, x, y if cond else None, cfg, checkpoint=f"{ckpt}.{role}.ckpt",
                        holdout=((holdout[0], holdout[1] if cond else None) if holdout else None),
                        progress=progress, desc=f"{desc} {role}")
            parts[role] = res
            frames.append(pd.DataFrame(res.history).assign(network=role))
        return (TwoNetScoreModel(parts["cond"].model, parts["marg"].model), frames,
                parts["cond"].steps + parts["marg"].steps, parts["cond"].seconds + parts["marg"].seconds,
                {k: v.best_step for k, v in parts.items()})
    torch.manual_seed(derive_seed(init_seed, "init"))
    m = build_score_model({"net": net, "kwargs": net_kwargs(model_cfg, data)}, proc).to(dev)
    res = train(m, x, y, tcfg, holdout=holdout, checkpoint=f"{ckpt}.ckpt" if ckpt else None, progress=progress,
                desc=desc, callback=callback)
    hist = pd.DataFrame(res.history)
    model, steps, seconds = res.model, res.steps, res.seconds
    phase = _null_phase_config(model_cfg, tcfg)
    if phase is not None and y is not None:  # the null branch catches up with the conditionals
        ph = train(model, x, y, phase, holdout=holdout, checkpoint=f"{ckpt}.null.ckpt" if ckpt else None,
                   progress=progress, desc=f"{desc} null phase")
        extra = pd.DataFrame(ph.history)
        if len(extra):
            extra["step"] = extra["step"] + steps
        hist = pd.concat([hist, extra], ignore_index=True)
        model, steps, seconds = ph.model, steps + ph.steps, seconds + ph.seconds
    return model, [hist.assign(network="shared")], steps, seconds, {"shared": res.best_step}


def _null_phase_config(model_cfg: dict, tcfg: TrainConfig) -> TrainConfig | None:
    """The training settings of a model's null catch-up phase (``null_phase`` of its config: more
    steps at a high condition dropout, cosine lr from its own peak, no warm-up, its own seed), or
    None without one. The phase always ends on its last weights."""
    spec = model_cfg.get("null_phase")
    if not spec:
        return None
    d = {**vars(tcfg), "steps": int(spec["steps"]), "p_uncond": float(spec.get("p_uncond", 0.9)),
         "lr": float(spec.get("lr", 3e-4)), "lr_schedule": "cosine", "warmup_steps": 0, "select": "last",
         "seed": derive_seed(tcfg.seed, "null-phase", bits=31)}
    if d["eval_every"]:  # evaluations at the main phase's rhythm (at least one, at the phase's end)
        d["eval_every"] = min(int(d["eval_every"]), d["steps"])
    if d["checkpoint_every"]:
        d["checkpoint_every"] = default_checkpoint_every({"steps": d["steps"], "eval_every": d["eval_every"]})
    return TrainConfig.from_dict(d)

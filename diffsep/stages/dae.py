"""Stage ``dae``: one diffusion autoencoder per (labelled image dataset, resolution, arm, seed).

``part='train'``: train it (plain if ``s_star`` is None, else a ladder split at ``s_star``) ->
the model file and its history (table ``dae_training``), resumable from ``<model>.ckpt``.
``part='measure'``: measure it (:func:`diffsep.dae.measure.measure_dae`), judged by the image
classifier ``inp['classifier']`` -> tables ``dae``, ``dae_latents``, ``dae_rates``, ``dae_samples``.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import tables
from ..classifier import load_classifier
from ..dae import MEASURE_KEYS, TRAIN_KEYS
from ..dae.measure import exact_law, measure_dae
from ..dae.models import (DiffusionAutoencoder, check_train_settings, convergence, dae_spec, latent_specs, load_dae,
                          save_dae, train_dae)
from ..data import load_prepared
from ..process import VPProcess
from ..rng import derive_seed
from ..stats import holdout_split
from ..train import TrainConfig
from ._job import provenance, setup, write_table

__all__ = ["run", "PARTS"]

log = logging.getLogger(__name__)
PARTS = ("train", "measure")


def run(inp: dict, out: dict, *, part: str, dataset: str, resolution: int, seed: int, settings: dict,
        s_star: float | None = None, process: dict | None = None, threads: int = 1, device: str = "auto",
        progress: bool = True, **_) -> None:
    """``part='train'`` takes ``settings`` restricted to :data:`diffsep.dae.TRAIN_KEYS` (and ``s_star``,
    ``process``); ``part='measure'`` to :data:`diffsep.dae.MEASURE_KEYS`."""
    if part not in PARTS:
        raise ValueError(f"dae: unknown part {part!r}; known: {list(PARTS)}")
    keys = TRAIN_KEYS if part == "train" else MEASURE_KEYS
    extra = sorted(set(settings) - set(keys))
    if extra:
        raise ValueError(f"dae {part}: settings {extra} are not among the keys it depends on {list(keys)}")
    if part == "train":
        _train(inp, out, dataset=dataset, resolution=resolution, s_star=s_star, seed=seed, settings=settings,
               process=process, threads=threads, device=device, progress=progress)
    else:
        _measure(inp, out, dataset=dataset, resolution=resolution, seed=seed, settings=settings, threads=threads,
                 device=device, progress=progress)


def _labelled_images(data, path) -> None:
    if data.modality != "image" or data.cond != "label":
        raise ValueError(f"{path}: the DAE stage needs labelled images, got a {data.modality} dataset with "
                         f"{data.cond!r} conditions")


def _train(inp: dict, out: dict, *, dataset: str, resolution: int, s_star: float | None, seed: int,
           settings: dict, process: dict, threads: int, device: str, progress: bool) -> None:
    """Train one DAE (plain if ``s_star`` is None, else a ladder split at ``s_star``) -> ``out['model']``
    and its history (table ``dae_training``); resumable from ``<model>.ckpt``."""
    check_train_settings(settings, s_star)  # the checks `diffsep validate` runs, before any work
    cpu0 = time.process_time()
    dev = setup(threads, device)
    data = load_prepared(inp["data"])
    _labelled_images(data, inp["data"])
    proc = VPProcess(**process)
    latents, gamma = latent_specs(settings, s_star)
    spec = dae_spec(data.x_train.shape[1], data.x_train.shape[2], latents, settings["decoder"], s_star)
    tcfg = TrainConfig.from_dict({**(settings.get("train") or {}), "seed": int(seed), "threads": int(threads)})
    x = torch.as_tensor(data.x_train, dtype=torch.float32, device=dev)
    tr, ho = (np.sort(i) for i in holdout_split(x.shape[0], float(settings.get("holdout_fraction", 0.0)), seed,
                                                  "dae-holdout-split"))
    n_hold = len(ho)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "dae-init"))
        dae = DiffusionAutoencoder(spec, proc).to(dev)
    variant = "plain" if s_star is None else "ladder"
    res = train_dae(dae, x[tr], tcfg, gamma, holdout=x[ho] if n_hold else None,
                    checkpoint=Path(out["model"]).with_suffix(".ckpt"), progress=progress,
                    desc=f"dae {dataset}/{resolution} {variant} s*={s_star}")
    hist = pd.DataFrame(res.history)
    hist["kl"] = hist[[c for c in hist if c.startswith("kl_")]].sum(axis=1)
    write_table(hist, "dae_training", out["history"], **tables.identity(dataset, resolution, settings["name"], seed),
                variant=variant, s_star=s_star)
    last = res.history[-1] if res.history else {}
    meta = {"dataset": dataset, "resolution": int(resolution), "seed": int(seed), "variant": variant,
            "s_star": s_star, "gamma": gamma, "train_steps": res.steps,
            "train_seconds": res.seconds, "train_cpu_seconds": time.process_time() - cpu0,
            "final_loss": last.get("loss"), "final_denoising": last.get("denoising"),
            "n_train": int(len(tr)), "n_holdout": int(len(ho)), **convergence(res.history), **provenance(dev)}
    save_dae(out["model"], res.model, meta)
    log.info("DAE %s/%s %s s*=%s seed %s: %d steps in %.1f s (job CPU %.1f s), loss %.4f", dataset, resolution,
             variant, s_star, seed, res.steps, res.seconds, meta["train_cpu_seconds"], last.get("loss", float("nan")))


def _measure(inp: dict, out: dict, *, dataset: str, resolution: int, seed: int, settings: dict, threads: int,
             device: str, progress: bool) -> None:
    """Measure one trained DAE -> tables ``dae`` (summary), ``dae_latents``, ``dae_rates``, ``dae_samples``.

    ``inp['classifier']`` (optional): the image classifier that judges reconstructions and swaps."""
    cpu0 = time.process_time()
    dev = setup(threads, device)
    data = load_prepared(inp["data"])
    _labelled_images(data, inp["data"])
    dae, meta = load_dae(inp["model"], device=dev)
    clf, clf_meta = (load_classifier(inp["classifier"], device=dev) if inp.get("classifier") else (None, None))
    r = measure_dae(dae, data, settings, seed=int(seed), classifier=clf, classifier_meta=clf_meta,
                    law=exact_law(data, resolution), device=dev, progress=progress)
    ident = tables.identity(dataset, resolution, settings["name"], seed)
    arm = {"variant": r["summary"]["variant"], "s_star": r["summary"]["s_star"]}
    main = arm["s_star"] is not None and math.isclose(float(arm["s_star"]), float(settings["s_star"]), abs_tol=1e-12)
    summary = {**ident, **r["summary"], "main": bool(main), "train_steps": meta.get("train_steps"),
               "train_seconds": meta.get("train_seconds"), "train_cpu_seconds": meta.get("train_cpu_seconds"),
               "measure_cpu_seconds": time.process_time() - cpu0, "final_loss": meta.get("final_loss"),
               "final_denoising": meta.get("final_denoising"), "converged": meta.get("converged"),
               "plateau_gain": meta.get("plateau_gain"), **provenance(dev)}
    frames = {"dae": pd.DataFrame([summary]),
              "dae_latents": pd.DataFrame(r["latents"]).assign(**ident, **arm, gamma=[
                  float((meta.get("gamma") or {}).get(x["latent"], float("nan"))) for x in r["latents"]]),
              "dae_rates": r["rates"].assign(**ident, **arm),
              "dae_samples": r["samples"].assign(**ident, **arm)}
    for table, key in (("dae", "summary"), ("dae_latents", "latents"), ("dae_rates", "rates"),
                       ("dae_samples", "samples")):
        write_table(frames[table], table, out[key])
    lat = {x["latent"]: x for x in r["latents"]}
    log.info("DAE %s/%s %s s*=%s: I(Z;Y) %s; swap follows A %.3f, B %.3f (job CPU %.1f s)", dataset, resolution,
             arm["variant"], arm["s_star"], ", ".join(f"{n} {v['mi_y']:.3f}±{v['mi_y_se']:.3f}" for n, v in lat.items()),
             r["summary"]["swap_follows_a"], r["summary"]["swap_follows_b"], time.process_time() - cpu0)

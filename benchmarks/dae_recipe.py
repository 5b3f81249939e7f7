"""Benchmark: training recipes of the diffusion autoencoder (claim 2) against reconstruction accuracy.

For each recipe (``--recipe``, see :data:`RECIPES`: overrides of ``experiments.dae`` in
``config/config.yaml``) the real DAG jobs run in this process (``diffsep.stages.prepare``,
``.classifier``, ``.dae`` train and measure) on one dataset and resolution, and one row records:
the recipe's settings (steps, learning rate, time sampling, latent sizes, KL weights, encoder and
decoder widths), the convergence criterion of the training table, reconstruction accuracy (the
image classifier on decoded held-out images) against the classifier's own test accuracy, how often
swaps (``z_sem`` of A, ``z_per`` of B) get A's and B's label, each latent's KL, ``I(Z;Y)`` (MINDE),
probe accuracy, decoder MI integral, the exact limit of its view where the data have an exact law
(``gaussian_texture``), and the training and measurement seconds (one thread).

    python benchmarks/dae_recipe.py --dataset digits --recipe base steps2k
    python benchmarks/dae_recipe.py --list

Appends to ``results/benchmarks/dae_recipe.parquet`` after every run (a crash keeps what ran).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from diffsep import tables
from diffsep.config import load_file
from diffsep.dae import MEASURE_KEYS, TRAIN_KEYS, for_dataset
from diffsep.io import append_parquet
from diffsep.stages import classifier, dae, prepare

#: name -> overrides of experiments.dae (deep-merged; 'train' merged over train + train_by_dataset)
RECIPES = {
    "base": {},
    "steps1k": {"train": {"steps": 1000}},
    "steps2k": {"train": {"steps": 2000}},
    "steps4k": {"train": {"steps": 4000}},
    "steps3k": {"train": {"steps": 3000}},
    "steps5k": {"train": {"steps": 5000}},
    "steps6k": {"train": {"steps": 6000}},
    "lr1e-3_2k": {"train": {"steps": 2000, "lr": 1.0e-3}},
    "logsnr_2k": {"train": {"steps": 2000, "time_sampling": "log_snr"}},
    "logvar-4_2k": {"train": {"steps": 2000},
                    "latents": {"semantic": {"init_logvar": -4.0}, "perceptual": {"init_logvar": -4.0}}},
    "pergamma1e-3_2k": {"train": {"steps": 2000}, "latents": {"perceptual": {"gamma": 1.0e-3}}},
    "gamma1e-3_2k": {"train": {"steps": 2000}, "gamma": 1.0e-3},
    "wide_2k": {"train": {"steps": 2000}, "decoder": {"base": 32},
                "latents": {"semantic": {"base": 32, "hidden": 128}, "perceptual": {"base": 32, "hidden": 128}}},
    "dim16_2k": {"train": {"steps": 2000}, "latents": {"semantic": {"dim": 16}}},
    "b128_2k": {"train": {"steps": 2000, "batch_size": 128}},
    "highpass_2k": {"train": {"steps": 2000}, "latents": {"perceptual": {"view": "highpass", "view_size": 4}}},
    "logvar-4_4k": {"train": {"steps": 4000},
                    "latents": {"semantic": {"init_logvar": -4.0}, "perceptual": {"init_logvar": -4.0}}},
    "wide_lv-4_4k": {"train": {"steps": 4000}, "decoder": {"base": 32},
                     "latents": {"semantic": {"init_logvar": -4.0, "base": 32, "hidden": 128},
                                 "perceptual": {"init_logvar": -4.0, "base": 32, "hidden": 128}}},
    "lv-4_pg1e-3_4k": {"train": {"steps": 4000},
                       "latents": {"semantic": {"init_logvar": -4.0}, "perceptual": {"init_logvar": -4.0, "gamma": 1e-3}}},
    # the exact check (texture_grid): the perceptual encoder sees the image minus its 4 px block average
    "tex_hp_1k": {"train": {"steps": 1000}, "latents": {"semantic": {"init_logvar": -4.0},
                                                        "perceptual": {"view": "highpass", "view_size": 4,
                                                                       "init_logvar": -4.0, "gamma": 1e-3}}},
    "tex_hp_2k": {"train": {"steps": 2000}, "latents": {"semantic": {"init_logvar": -4.0},
                                                        "perceptual": {"view": "highpass", "view_size": 4,
                                                                       "init_logvar": -4.0, "gamma": 1e-3}}},
    # all 16 dims of the 4 px low-pass view fit in the semantic latent (8 dims keep the texture's
    # high-variance directions and drop the class means')
    "tex_hp_dim16_1k": {"train": {"steps": 1000}, "latents": {"semantic": {"init_logvar": -4.0, "dim": 16},
                                                              "perceptual": {"view": "highpass", "view_size": 4,
                                                                             "init_logvar": -4.0, "gamma": 1e-3}}},
    "tex_hp_dim16_lv0_1k": {"train": {"steps": 1000}, "latents": {"semantic": {"dim": 16, "init_logvar": 0.0},
                                                                  "perceptual": {"view": "highpass", "view_size": 4,
                                                                                 "init_logvar": -4.0, "gamma": 1e-3}}},
    "tex_hp_dim16_logsnr_1k": {"train": {"steps": 1000, "time_sampling": "log_snr"},
                               "latents": {"semantic": {"init_logvar": -4.0, "dim": 16},
                                           "perceptual": {"view": "highpass", "view_size": 4,
                                                          "init_logvar": -4.0, "gamma": 1e-3}}},
    # the latents also enter the decoder's first layer as a learned linear map (UNet cond_input)
    "tex_hp_dim16_cin_1k": {"train": {"steps": 1000}, "decoder": {"cond_input": True},
                            "latents": {"semantic": {"init_logvar": -4.0, "dim": 16},
                                        "perceptual": {"view": "highpass", "view_size": 4,
                                                       "init_logvar": -4.0, "gamma": 1e-3}}},
    "tex_hp_dim16_cin_2k": {"train": {"steps": 2000}, "decoder": {"cond_input": True},
                            "latents": {"semantic": {"init_logvar": -4.0, "dim": 16},
                                        "perceptual": {"view": "highpass", "view_size": 4,
                                                       "init_logvar": -4.0, "gamma": 1e-3}}},
    "wide_lv-4_cin_4k": {"train": {"steps": 4000}, "decoder": {"base": 32, "cond_input": True},
                         "latents": {"semantic": {"init_logvar": -4.0, "base": 32, "hidden": 128},
                                     "perceptual": {"init_logvar": -4.0, "base": 32, "hidden": 128}}},
    "cin": {"decoder": {"cond_input": True}},
    "cin_2k": {"train": {"steps": 2000}, "decoder": {"cond_input": True}},
    "tex_hp_dim16_4k": {"train": {"steps": 4000}, "latents": {"semantic": {"init_logvar": -4.0, "dim": 16},
                                                              "perceptual": {"view": "highpass", "view_size": 4,
                                                                             "init_logvar": -4.0, "gamma": 1e-3}}},
}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/config.yaml", help="base settings: its experiments.dae block")
    ap.add_argument("--dataset", default="digits", help="a dataset of the config")
    ap.add_argument("--resolution", type=int, default=8)
    ap.add_argument("--recipe", nargs="+", default=["base"], help=f"one or more of {list(RECIPES)}")
    ap.add_argument("--s-star", type=float, default=None, help="split time (default: the config's s_star)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/benchmarks/dae_recipe.parquet")
    ap.add_argument("--list", action="store_true")
    return ap.parse_args()


def _merge(a: dict, b: dict) -> dict:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def settings_for(base: dict, dataset: str, recipe: str) -> dict:
    d = for_dataset(copy.deepcopy(base), dataset)
    d["train"]["eval_every"] = 100
    d["holdout_fraction"] = d.get("holdout_fraction") or 0.1  # the convergence criterion needs held-out rows
    return _merge(d, RECIPES[recipe])


def run_one(work: Path, plan, args, recipe: str) -> dict:
    cfg = plan.config
    ds, res, seed = args.dataset, args.resolution, args.seed
    data, clf = work / "data.npz", work / "clf.pt"
    if not data.exists():
        prepare.run({}, {"data": str(data)}, name=ds, spec=cfg["datasets"][ds], resolution=res)
        classifier.run({"data": str(data)}, {"model": str(clf), "table": str(work / "clf.parquet")}, dataset=ds,
                       resolution=res, seed=seed, settings=cfg["classifier"], threads=args.threads, device="cpu",
                       progress=False)
    st = settings_for(cfg["experiments"]["dae"], ds, recipe)
    s_star = float(args.s_star if args.s_star is not None else st["s_star"])
    d = work / recipe
    out = {"model": str(d / "model.pt"), "history": str(d / "history.parquet")}
    t0 = time.perf_counter()
    dae.run({"data": str(data)}, out, part="train", dataset=ds, resolution=res, s_star=s_star, seed=seed,
            settings={k: st[k] for k in TRAIN_KEYS if k in st}, process=cfg["process"], threads=args.threads,
            device="cpu", progress=False)
    t_train = time.perf_counter() - t0
    mout = {k: str(d / f"{k}.parquet") for k in ("summary", "latents", "rates", "samples")}
    dae.run({"data": str(data), "model": out["model"], "classifier": str(clf)}, mout, part="measure", dataset=ds,
            resolution=res, seed=seed, settings={**{k: st[k] for k in MEASURE_KEYS if k in st}, "s_star": s_star},
            threads=args.threads, device="cpu", progress=False)
    t_all = time.perf_counter() - t0
    m = tables.read(mout["summary"], "dae").iloc[0]
    lat = tables.read(mout["latents"], "dae_latents").set_index("latent")
    tr = st["train"]
    row = {"recipe": recipe, "dataset": ds, "resolution": res, "seed": seed, "s_star": s_star,
           "steps": int(tr["steps"]), "lr": float(tr["lr"]), "batch_size": int(tr["batch_size"]),
           "time_sampling": tr.get("time_sampling", "s"), "decoder_base": int(st["decoder"].get("base", 16)),
           "converged": m.get("converged"), "plateau_gain": m.get("plateau_gain"),
           "classifier_accuracy": m["classifier_accuracy"], "recon_accuracy": m["recon_accuracy"],
           "recon_share": m["recon_accuracy"] / m["classifier_accuracy"], "recon_mse": m["recon_mse"],
           "swap_follows_a": m["swap_follows_a"], "swap_follows_b": m["swap_follows_b"],
           "swap_texture_b": m["swap_texture_b"], "mi_xy_classifier": m["mi_xy_classifier"],
           "mi_xy_exact": m.get("mi_xy_exact"), "train_seconds": t_train, "measure_seconds": t_all - t_train}
    for n in ("sem", "per"):
        r = lat.loc[n]
        enc = st["latents"]["semantic" if n == "sem" else "perceptual"]
        row.update({f"dim_{n}": int(r["dim"]), f"view_{n}": r["view"], f"gamma_{n}": float(r["gamma"]),
                    f"init_logvar_{n}": float(enc.get("init_logvar", 0.0)), f"enc_base_{n}": int(enc.get("base", 16)),
                    f"kl_{n}": r["kl"], f"mi_{n}": r["mi_y"], f"mi_{n}_se": r["mi_y_se"],
                    f"probe_acc_{n}": r["probe_accuracy"], f"decoder_mi_{n}": r["decoder_mi"],
                    f"mi_view_exact_{n}": r.get("mi_y_view_exact")})
    return row


def main():
    args = parse()
    if args.list:
        for k, v in RECIPES.items():
            print(f"{k:18s} {v}")
        return
    torch.set_num_threads(args.threads)
    plan = load_file(args.config, check_files=False)
    out = Path(args.out)
    cols = ["recipe", "steps", "converged", "recon_accuracy", "classifier_accuracy", "swap_follows_a",
            "swap_follows_b", "kl_sem", "kl_per", "mi_sem", "mi_per", "decoder_mi_sem", "decoder_mi_per",
            "train_seconds", "measure_seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in args.recipe:
            row = run_one(Path(tmp), plan, args, recipe)
            row.update(threads=args.threads, torch_version=torch.__version__,
                       created_at=pd.Timestamp.now(tz="UTC").isoformat())
            append_parquet(pd.DataFrame([row]), out)
            print(" ".join(f"{c}={row.get(c):.4g}" if isinstance(row.get(c), float) else f"{c}={row.get(c)}"
                           for c in cols), flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Benchmark: how close trained U-Nets get to the exact law of the Gaussian texture mixture.

For each training recipe (``--recipe``, see :data:`RECIPES`) and resolution, the real DAG jobs run
in this process (``diffsep.stages.prepare``, ``.train``, ``.measure``) on a ``gaussian_texture``
dataset, and the table records every estimate against the exact truth: ``S_NN(X)`` and
``E_y S_NN(X|y)`` against their exact values, each ``I(X;Y)`` estimator (MINDE, cross-fitted MINDE,
difference of entropies, I-MMSE, the label-posterior bound) against the exact ``I``, the
convergence criterion of the training table, and the training and measurement seconds. Rows of
model ``exact`` (analytic scores, same estimators) give the grid and Monte-Carlo error alone.

    python benchmarks/texture_training.py --resolutions 8 16 32 --recipe base long
    python benchmarks/texture_training.py --list          # the recipes

Writes ``results/benchmarks/texture_training.parquet`` (appends rows of new recipes to an
existing file with ``--append``) and prints a summary.
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
from diffsep.io import append_parquet, atomic_path
from diffsep.stages import measure, prepare, train

UNET = {"base": 16, "mults": [1, 2], "emb_dim": 64}
TRAIN = {"steps": 1500, "batch_size": 64, "lr": 2.0e-3, "lr_schedule": "cosine", "time_sampling": "log_snr",
         "p_uncond": 0.1, "eval_every": 100, "select": "best_holdout"}
#: name -> (model config overrides, train overrides)
RECIPES = {
    "base": ({}, {}),
    "short": ({}, {"steps": 500}),
    "long": ({}, {"steps": 4000, "eval_every": 200}),
    "ema": ({}, {"ema": 0.999}),
    "lr5e-3": ({}, {"lr": 5.0e-3}),
    "lr1e-3": ({}, {"lr": 1.0e-3}),
    "batch128": ({}, {"batch_size": 128}),
    "wide": ({"net_params": {"base": 32, "mults": [1, 2], "emb_dim": 64}}, {}),
    "narrow": ({"net_params": {"base": 8, "mults": [1, 2], "emb_dim": 32}}, {}),
    "deep": ({"net_params": {"base": 16, "mults": [1, 2, 2], "emb_dim": 64}}, {}),
    "s_uniform": ({}, {"time_sampling": "s"}),
    "two_nets": ({"networks": 2}, {}),
    "uncond0.3": ({}, {"p_uncond": 0.3}),
    "b128_lr4e-3": ({}, {"batch_size": 128, "lr": 4.0e-3}),
    "b128_lr4e-3_2k": ({}, {"batch_size": 128, "lr": 4.0e-3, "steps": 2000}),
    "b256_lr4e-3": ({}, {"batch_size": 256, "lr": 4.0e-3}),
    "b128_long": ({}, {"batch_size": 128, "steps": 3000, "eval_every": 150}),
    "lr1e-2": ({}, {"lr": 1.0e-2}),
    "lr5e-3_u0.3": ({}, {"lr": 5.0e-3, "p_uncond": 0.3}),
    "lr5e-3_ema": ({}, {"lr": 5.0e-3, "ema": 0.999}),
    "long_deep": ({"net_params": {"base": 16, "mults": [1, 2, 2], "emb_dim": 64}}, {"steps": 4000, "eval_every": 200}),
    # a learned map per label added to the U-Net's first layer (UNet cond_input)
    "cin": ({"net_params": {**UNET, "cond_input": True}}, {}),
    "cin_short": ({"net_params": {**UNET, "cond_input": True}}, {"steps": 500}),
    "cin_u0.3": ({"net_params": {**UNET, "cond_input": True}}, {"p_uncond": 0.3}),
    "cin_u0.5": ({"net_params": {**UNET, "cond_input": True}}, {"p_uncond": 0.5}),
    "cin_long": ({"net_params": {**UNET, "cond_input": True}}, {"steps": 4000, "eval_every": 200}),
    "cin_u0.3_long": ({"net_params": {**UNET, "cond_input": True}}, {"steps": 4000, "eval_every": 200, "p_uncond": 0.3}),
    "cin_u0.3_x2": ({"net_params": {**UNET, "cond_input": True}, "networks": 2}, {"p_uncond": 0.3}),
    "cin_u0.3_long_x2": ({"net_params": {**UNET, "cond_input": True}, "networks": 2},
                         {"steps": 4000, "eval_every": 200, "p_uncond": 0.3}),
}
ESTIMATORS = ("mi_minde", "mi_minde_cross", "mi_diff", "mi_mmse", "mi_mmse_cross", "mi_label_bound")


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--recipe", nargs="+", default=["base"], help=f"one or more of {list(RECIPES)}")
    ap.add_argument("--steps", type=int, default=None, help="override every recipe's step count")
    ap.add_argument("--native", type=int, default=32)
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--n-eval", type=int, default=1000, help="test images of the trained-model estimators")
    ap.add_argument("--n-times", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact", action="store_true", help="also measure the exact scores (model 'exact')")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/benchmarks/texture_training.parquet")
    ap.add_argument("--append", action="store_true")
    ap.add_argument("--list", action="store_true")
    return ap.parse_args()


def model_cfg(recipe: str, steps: int | None) -> dict:
    over, tover = RECIPES[recipe]
    cfg = {"net": "unet", "net_params": dict(UNET), "holdout_fraction": 0.1, "train": {**TRAIN, **tover}}
    cfg.update(copy.deepcopy({k: v for k, v in over.items()}))
    if steps:
        cfg["train"]["steps"] = steps
    return cfg


def run_one(work: Path, spec: dict, res: int, model: str, mcfg: dict | None, args) -> dict:
    data = work / f"data{res}.npz"
    if not data.exists():
        prepare.run({}, {"data": str(data)}, name="tex", spec=spec, resolution=res)
    proc = {"beta_min": 0.1, "beta_max": 16.0, "s_min": 1e-5}
    inp = {"data": str(data)}
    t0 = time.perf_counter()
    if mcfg is not None:
        out = {"model": str(work / f"{model}{res}.pt"), "history": str(work / f"{model}{res}.hist.parquet")}
        train.run(inp, out, dataset="tex", resolution=res, model=model, model_cfg=mcfg, seed=args.seed,
                  process=proc, threads=args.threads, device="cpu", progress=False)
        inp["model"] = out["model"]
    t_train = time.perf_counter() - t0
    mout = {k: str(work / f"{model}{res}.{k}.parquet") for k in ("information", "rates", "per_class", "cutoffs")}
    settings = {"n_eval": args.n_eval, "n_eval_exact": args.n_eval, "n_times": args.n_times, "draws": 1,
                "quadrature": "trapezoid", "cutoffs": [], "batch_size": 256,
                "label_bound": {"n_eval": min(args.n_eval, 500), "n_times": args.n_times}}
    measure.run(inp, mout, dataset="tex", resolution=res, model=model, seed=args.seed, settings=settings,
                process=proc, threads=args.threads, device="cpu", progress=False)
    row = tables.read(mout["information"], "information").iloc[0].to_dict()
    row.update(wall_train=t_train, wall_total=time.perf_counter() - t0)
    return row


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["recipe", "resolution", "model", "train_steps", "converged", "plateau_gain", "wall_train"]].copy()
    out["S err %"] = 100 * (df["S_marg"] - df["true_S_marg"]) / df["true_S_marg"]
    out["true I"] = df["true_mi"]
    for e in ESTIMATORS:
        out[f"{e} err"] = df[e] - df["true_mi"]
    return out


def main():
    args = parse()
    if args.list:
        for k, v in RECIPES.items():
            print(f"{k:10s} {v}")
        return
    torch.set_num_threads(args.threads)
    spec = {"kind": "gaussian_texture", "resolutions": [r for r in args.resolutions],
            "params": {"native": args.native, "n_train": args.n_train, "n_test": args.n_test}}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for res in args.resolutions:
            if args.exact:
                r = run_one(work, spec, res, "exact", None, args)
                rows.append({**r, "recipe": "exact"})
                print(f"exact @ {res}: S {r['S_marg']:.2f} (exact {r['true_S_marg']:.2f}), I {r['mi_minde']:.4f} "
                      f"(exact {r['true_mi']:.4f}), label bound {r['mi_label_bound']:.4f}", flush=True)
            for recipe in args.recipe:
                r = run_one(work, spec, res, f"unet_{recipe}", model_cfg(recipe, args.steps), args)
                rows.append({**r, "recipe": recipe})
                print(f"{recipe} @ {res}: S {r['S_marg']:.2f} (exact {r['true_S_marg']:.2f}, "
                      f"{100 * (r['S_marg'] / r['true_S_marg'] - 1):+.1f} %), MINDE {r['mi_minde']:.4f}, "
                      f"cross {r['mi_minde_cross']}, I-MMSE {r['mi_mmse']:.4f}, diff {r['mi_diff']:.4f}, "
                      f"bound {r['mi_label_bound']:.4f} (exact I {r['true_mi']:.4f}); converged {r['converged']} "
                      f"(gain {r['plateau_gain']}); train {r['wall_train']:.0f} s", flush=True)
    df = pd.DataFrame(rows).assign(threads=args.threads, n_train=args.n_train, n_eval=args.n_eval,
                                   torch_version=torch.__version__)
    out = Path(args.out)
    if args.append:
        df = append_parquet(df, out)
    else:
        with atomic_path(out, suffix=".parquet") as tmp:
            df.to_parquet(tmp, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summarise(df).round(4).to_string(index=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

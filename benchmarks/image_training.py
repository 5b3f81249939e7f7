"""Benchmark: training recipes for the image U-Nets, judged by the bounds every label estimate must obey.

Image data have no exact ``I(X;Y)``, but every estimate must lie in ``[H(Y) - CE, log K]`` (the
classifier's bound and the label entropy). For one dataset of a config and each recipe
(``--recipe``, overrides of the config's model and of the dataset's entry, see :data:`RECIPES`) the
real DAG jobs run in this process (``diffsep.stages.prepare``, ``.classifier``, ``.train``,
``.measure``) and :func:`diffsep.bounds.check_tables` judges the row as the pipeline does. One row
per (recipe, resolution): every estimator, its SE and flag, the convergence criterion, seconds.

    python benchmarks/image_training.py --dataset fashion_mnist --resolutions 7 --recipe config u0.5
    python benchmarks/image_training.py --list          # the recipes

Writes ``results/benchmarks/image_training.parquet`` (rows appended to an existing file) and prints
a summary.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from diffsep import bounds, tables
from diffsep.config import load_file
from diffsep.io import append_parquet, atomic_path
from diffsep.measure import measure_settings
from diffsep.stages import classifier, measure, prepare, train

#: name -> (model overrides, train overrides, dataset overrides); applied over the config's model
RECIPES = {
    "config": ({}, {}, {}),
    "u0.3": ({}, {"p_uncond": 0.3}, {}),
    "u0.5": ({}, {"p_uncond": 0.5}, {}),
    "data10k": ({}, {}, {"max_train": 10000}),
    "u0.5_data10k": ({}, {"p_uncond": 0.5}, {"max_train": 10000}),
    "u0.5_2x": ({}, {"p_uncond": 0.5, "steps_factor": 2}, {}),
    "u0.5_3x": ({}, {"p_uncond": 0.5, "steps_factor": 3}, {}),
    "3x_np": ({"null_phase": {"steps": 3000, "p_uncond": 0.9}}, {"steps_factor": 3}, {}),
    "np": ({"null_phase": {"steps": 1000, "p_uncond": 0.9}}, {}, {}),
    "u0.5_4x": ({}, {"p_uncond": 0.5, "steps_factor": 4}, {}),
    "2x": ({}, {"steps_factor": 2}, {}),
    "1.5x": ({}, {"steps_factor": 1.5}, {}),
    "two_nets": ({"networks": 2}, {}, {}),
    "u0.5_two_nets": ({"networks": 2}, {"p_uncond": 0.5}, {}),
    "ema": ({}, {"ema": 0.999}, {}),
    "u0.5_ema": ({}, {"p_uncond": 0.5, "ema": 0.999}, {}),
    "gate": ({"net_params": {"cond_gate": True}}, {}, {}),
    "gate_u0.2": ({"net_params": {"cond_gate": True}}, {"p_uncond": 0.2}, {}),
    "gate_2x": ({"net_params": {"cond_gate": True}}, {"steps_factor": 2}, {}),
    "gate_cin": ({"net_params": {"cond_gate": True, "cond_input": True}}, {}, {}),
    "gate_cin_s8": ({"net_params": {"cond_gate": True, "cond_input": True, "cond_input_side": 8}}, {}, {}),
    "gs0.02_cin_s8": ({"net_params": {"cond_gate": True, "cond_gate_sigma": 0.02, "cond_input": True,
                                      "cond_input_side": 8}}, {}, {}),
    "gate_cin_s16": ({"net_params": {"cond_gate": True, "cond_input": True, "cond_input_side": 16}}, {}, {}),
    "gate_cin_2x": ({"net_params": {"cond_gate": True, "cond_input": True}}, {"steps_factor": 2}, {}),
    "cin": ({"net_params": {"cond_input": True}}, {}, {}),
    "gate_cin_u0.5": ({"net_params": {"cond_gate": True, "cond_input": True}}, {"p_uncond": 0.5}, {}),
    "gate_cin_u0.5_2x": ({"net_params": {"cond_gate": True, "cond_input": True}}, {"p_uncond": 0.5, "steps_factor": 2},
                         {}),
    "cin_u0.5": ({"net_params": {"cond_input": True}}, {"p_uncond": 0.5}, {}),
    "b96": ({}, {"batch_size": 96}, {}),
    "lr1e-3": ({}, {"lr": 1.0e-3}, {}),
    "ema_const": ({}, {"ema": 0.999, "lr_schedule": "constant"}, {}),
    "ema_const_u0.2": ({}, {"ema": 0.999, "lr_schedule": "constant", "p_uncond": 0.2}, {}),
    "3x": ({}, {"steps_factor": 3}, {}),
    "4x": ({}, {"steps_factor": 4}, {}),
    "3x_do0.1": ({"net_params": {"dropout": 0.1}}, {"steps_factor": 3}, {}),
    "3x_u0.3": ({}, {"p_uncond": 0.3, "steps_factor": 3}, {}),
    "two_net": ({"two_net": True}, {}, {}),
    "deep": ({"net_params": {"mults": [1, 2, 2]}}, {}, {}),
    "deep_3x": ({"net_params": {"mults": [1, 2, 2]}}, {"steps_factor": 3}, {}),
    "u0.1": ({}, {"p_uncond": 0.1}, {}),
    "u0.2": ({}, {"p_uncond": 0.2}, {}),
    "u0.2_3x": ({}, {"p_uncond": 0.2, "steps_factor": 3}, {}),
    "u0.2_2x": ({}, {"p_uncond": 0.2, "steps_factor": 2}, {}),
    "wide": ({"net_params": {"base": 32}}, {}, {}),
    "hd32": ({}, {"holdout_draws": 32}, {}),
    "hd32_1.5x": ({}, {"holdout_draws": 32, "steps_factor": 1.5}, {}),
    "hd32_2x": ({}, {"holdout_draws": 32, "steps_factor": 2}, {}),
    "hd32_u0.2": ({}, {"holdout_draws": 32, "p_uncond": 0.2}, {}),
    "hd32_u0.2_1.5x": ({}, {"holdout_draws": 32, "p_uncond": 0.2, "steps_factor": 1.5}, {}),
    "hd32_u0.2_2x": ({}, {"holdout_draws": 32, "p_uncond": 0.2, "steps_factor": 2}, {}),
    "u0.5_wide": ({"net_params": {"base": 32}}, {"p_uncond": 0.5}, {}),
    # uniform dequantization of the prepared images (dataset key 'dequantize': grey levels); steps_factor
    # scales the config's own steps at the time of the run
    "dq17": ({}, {}, {"dequantize": 17}),
    "dq256": ({}, {}, {"dequantize": 256}),
    "dq17_u0.2": ({}, {"p_uncond": 0.2}, {"dequantize": 17}),
    "dq17_u0.3": ({}, {"p_uncond": 0.3}, {"dequantize": 17}),
    "dq17_np": ({"null_phase": {"steps": 1000, "p_uncond": 0.9}}, {}, {"dequantize": 17}),
    "dq17_1.5x": ({}, {"steps_factor": 1.5}, {"dequantize": 17}),
    "dq17_u0.2_1.5x": ({}, {"p_uncond": 0.2, "steps_factor": 1.5}, {"dequantize": 17}),
    "dq256_u0.2": ({}, {"p_uncond": 0.2}, {"dequantize": 256}),
    "dq256_u0.2_1.5x": ({}, {"p_uncond": 0.2, "steps_factor": 1.5}, {"dequantize": 256}),
    "dq256_u0.2_2x": ({}, {"p_uncond": 0.2, "steps_factor": 2}, {"dequantize": 256}),
}
#: log-SNR above which the label-information rates are summed into the ``*_tail`` columns: where the
#: data are barely noised (s ~ 0.01) and a network's small output error is a large share of the rate
TAIL_LOG_SNR = 6.0
ESTIMATORS = ("mi_minde", "mi_minde_cross", "mi_diff", "mi_mmse", "mi_mmse_cross", "mi_label_bound")


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--dataset", help="a labelled image dataset of the config (required unless --list)")
    ap.add_argument("--resolutions", type=int, nargs="+", default=None, help="default: the dataset's")
    ap.add_argument("--model", default=None, help="the config's model to start from (default: the one "
                                                  "experiments.information gives the dataset)")
    ap.add_argument("--recipe", nargs="+", default=["config"], help=f"one or more of {list(RECIPES)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/benchmarks/image_training.parquet")
    ap.add_argument("--keep", default=None, help="also keep the prepared data and trained models in this folder, "
                                                 "laid out as a run's results (data/<dataset>/<res>.npz, "
                                                 "models/<dataset>/<res>/r_<recipe>/seed<seed>.pt), e.g. for "
                                                 "benchmarks/posterior_mixture_null.py --results")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if not args.list and not args.dataset:
        ap.error("--dataset is required")
    unknown = [r for r in args.recipe if r not in RECIPES]
    if unknown:
        ap.error(f"--recipe: unknown {unknown}; known: {list(RECIPES)}")
    return args


def model_cfg(base: dict, recipe: str) -> dict:
    over, tover, _ = RECIPES[recipe]
    cfg = copy.deepcopy(base)
    for k, v in over.items():
        cfg[k] = {**(cfg.get(k) or {}), **v} if isinstance(v, dict) else v
    tover = dict(tover)
    factor = tover.pop("steps_factor", None)
    cfg["train"] = {**cfg["train"], **tover}
    if factor:
        cfg["train"]["steps"] = int(cfg["train"]["steps"] * factor)
        if cfg["train"].get("eval_every"):
            cfg["train"]["eval_every"] = int(cfg["train"]["eval_every"] * factor)
    return cfg


def main():
    args = parse()
    if args.list:
        for k, v in RECIPES.items():
            print(f"{k:14s} {v}")
        return
    torch.set_num_threads(args.threads)
    plan = load_file(args.config, check_files=False)
    cfg = plan.config
    info = cfg["experiments"]["information"]
    if args.dataset not in cfg["datasets"]:
        raise SystemExit(f"image_training: dataset {args.dataset!r} is not in {args.config} "
                         f"(datasets: {', '.join(cfg['datasets'])})")
    spec0 = cfg["datasets"][args.dataset]
    mname = args.model or plan.information_model(args.dataset)
    base = cfg["models"][mname]
    resolutions = args.resolutions or spec0["resolutions"]
    settings = measure_settings(info)
    settings.setdefault("n_eval_exact", settings["n_eval"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for res in resolutions:
            for recipe in args.recipe:
                dover = RECIPES[recipe][2]
                spec = {**copy.deepcopy(spec0), **dover}
                tag = "_".join(f"{k}{v}" for k, v in sorted(dover.items())) or "data"
                data = work / f"{tag}{res}.npz"
                clf_table = work / f"{tag}{res}.classifier.parquet"
                if not data.exists():
                    prepare.run({}, {"data": str(data)}, name=args.dataset, spec=spec, resolution=res)
                    classifier.run({"data": str(data)}, {"model": str(work / f"{tag}{res}.clf.pt"),
                                                         "table": str(clf_table)},
                                   dataset=args.dataset, resolution=res, seed=args.seed, settings=cfg["classifier"],
                                   threads=args.threads, device="cpu", progress=False)
                mcfg = model_cfg(base, recipe)
                model = f"r_{recipe}".replace(".", "p")
                t0 = time.perf_counter()
                out = {"model": str(work / f"{model}{res}.pt"), "history": str(work / f"{model}{res}.hist.parquet")}
                train.run({"data": str(data)}, out, dataset=args.dataset, resolution=res, model=model,
                          model_cfg=mcfg, seed=args.seed, process=cfg["process"], threads=args.threads,
                          device="cpu", progress=False)
                t_train = time.perf_counter() - t0
                if args.keep:
                    keep = Path(args.keep)
                    for src, dst in ((data, keep / "data" / args.dataset / f"{res}.npz"),
                                     (Path(out["model"]), keep / "models" / args.dataset / str(res) / model
                                      / f"seed{args.seed}.pt"),
                                     (Path(out["history"]), keep / "models" / args.dataset / str(res) / model
                                      / f"seed{args.seed}.history.parquet")):
                        with atomic_path(dst, suffix=dst.suffix) as t:
                            shutil.copyfile(src, t)
                mout = {k: str(work / f"{model}{res}.{k}.parquet")
                        for k in ("information", "rates", "per_class", "cutoffs")}
                measure.run({"data": str(data), "model": out["model"]}, mout, dataset=args.dataset, resolution=res,
                            model=model, seed=args.seed, settings=settings, process=cfg["process"],
                            threads=args.threads, device="cpu", progress=False)
                inf = tables.read(mout["information"], "information")
                clf = tables.read(str(clf_table), "classifier")
                hist = pd.read_parquet(out["history"]).assign(dataset=args.dataset, resolution=res, model=model,
                                                              seed=args.seed)
                b = bounds.check_tables(inf, clf, hist)
                r = inf.iloc[0]
                row = {"dataset": args.dataset, "resolution": res, "recipe": recipe, "seed": args.seed, "base_model": mname,
                       "steps": int(mcfg["train"]["steps"]), "p_uncond": float(mcfg["train"]["p_uncond"]),
                       "max_train": spec.get("max_train"), "networks": int(mcfg.get("networks", 1)),
                       "converged": bool(r["converged"]), "plateau_gain": float(r["plateau_gain"]),
                       "label_gain_growth": float(r["label_gain_growth"]),
                       "log_k": float(r["log_k"]), "lower": float(b["lower"].iloc[0]),
                       "lower_se": float(b["lower_se"].iloc[0]),
                       "classifier_accuracy": float(clf["test_accuracy"].iloc[0]),
                       "S_marg": float(r["S_marg"]), "true_mi": float(r["true_mi"]) if pd.notna(r["true_mi"]) else None,
                       "true_S_marg": float(r["true_S_marg"]) if pd.notna(r["true_S_marg"]) else None, "n_eval": int(r["n_eval"]), "wall_train": t_train,
                       "wall_total": time.perf_counter() - t0, "threads": args.threads,
                       "torch_version": torch.__version__}
                rates = pd.read_parquet(mout["rates"]).sort_values("s")
                tail = rates[rates["log_snr"] >= TAIL_LOG_SNR]
                row["mi_minde_tail"] = float(np.trapezoid(tail["i_rate"], tail["s"]))
                row["mi_mmse_tail"] = float(np.trapezoid(tail["mmse_rate"], tail["s"]))
                for e in ESTIMATORS:
                    row[e], row[e + "_se"] = float(r[e]), float(r[e + "_se"]) if pd.notna(r[e + "_se"]) else None
                    fl = b[b["estimator"] == e]
                    row[e + "_flag"] = bool(fl["flag"].iloc[0]) if len(fl) else None
                row["null_excess"] = float(r["null_excess"]) if pd.notna(r.get("null_excess")) else None
                row["null_excess_se"] = float(r["null_excess_se"]) if row["null_excess"] is not None else None
                rows.append(row)
                print(f"{recipe} @ {res}: bound [{row['lower']:.3f}, {row['log_k']:.3f}]  "
                      + "  ".join(f"{e[3:]} {row[e]:.3f}±{row[e + '_se'] or 0:.3f}{'!' if row[e + '_flag'] else ''}"
                                  for e in ESTIMATORS if pd.notna(row[e]))
                      + (f"  exact I {row['true_mi']:.3f}" if row["true_mi"] is not None else "")
                      + (f"  null excess {row['null_excess']:.3f}±{row['null_excess_se']:.3f}"
                         if row["null_excess"] is not None else "")
                      + f"  (tail above log-SNR {TAIL_LOG_SNR:g}: minde {row['mi_minde_tail']:.3f}, "
                        f"mmse {row['mi_mmse_tail']:.3f})"
                      + f"  converged {row['converged']}  train {t_train:.0f} s", flush=True)
    df = append_parquet(pd.DataFrame(rows), args.out)
    print(f"wrote {args.out} ({len(df)} rows)")


if __name__ == "__main__":
    main()

"""Estimator cost: network forward passes needed for a standard error below 1 % of S_NN.

For every image (dataset, resolution) of a config's information experiment whose trained model
and prepared data exist (run the workflow first), a pilot measurement
(:func:`diffsep.measure.measure_information`, the workflow's time grid) on ``--pilot`` test
images gives the per-image standard deviation ``sd`` of each integral (each image contributes its
own quadrature sum with fresh noise, so ``SE = sd / sqrt(n)``). The images needed for
``SE < target * S_NN`` are ``n = (sd / (target * S_NN))^2``, and the forward passes
``n * nodes`` for S_NN alone (null condition only) or ``2 n * nodes`` for the batched
conditional/null pair that all MI estimators need. The same is reported for each MI estimator
(SE of I below ``target * S_NN``, and below ``target * log K``). Where the predicted ``n`` fits
in the test split (re-prepared with up to ``--max-test`` images when the workflow kept fewer;
the training split, hence the model, is unchanged), a verification run at that ``n`` (another noise seed) checks the achieved SE; n grows
by 1.5x (fresh noise seed, at most 4 runs) until the SE is below the target or the test split is used up.
The quadrature (time-grid) bias is not part of the SE; it is set by the number of nodes.

    python benchmarks/estimator_cost.py                          # default config, results/
    python benchmarks/estimator_cost.py --config config/paper.yaml --pilot 256
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from diffsep import config as dsconfig
from diffsep.data import load_prepared, prepare
from diffsep.io import atomic_path
from diffsep.measure import measure_information
from diffsep.models import load_model

ESTIMATORS = ("mi_minde", "mi_diff", "mi_mmse")
MIN_N = 8  # fewer images give no usable standard error


def _measure(sm, data, n: int, settings: dict, seed: int):
    x = torch.as_tensor(data.x_test[:n], dtype=torch.float32)
    y = torch.as_tensor(data.y_test[:n]).long()
    c0 = time.process_time()
    r = measure_information(sm, x, y, n_times=int(settings["n_times"]), quadrature=settings["quadrature"],
                            batch_size=int(settings["batch_size"]), seed=seed, draws=int(settings["draws"]),
                            discrete=True)
    return r, time.process_time() - c0


def _needed(sd: float, tol: float) -> int:
    return max(MIN_N, math.ceil((sd / tol) ** 2)) if tol > 0 else -1


def _bigger_test(spec: dict, max_test: int) -> dict:
    """The dataset spec with a larger test split (same training data, so the same model applies)."""
    spec = {**spec, "max_test": int(max_test)}
    if spec["kind"] == "synthetic_separable":
        spec["params"] = {**spec["params"], "n_test": max(int(spec["params"].get("n_test", 0)), int(max_test))}
    return spec


def run(config: str, results: str | None, pilot: int, target: float, verify: bool, seed: int,
        max_tries: int = 4, max_test: int | None = 1000) -> pd.DataFrame:
    plan = dsconfig.load(yaml.safe_load(Path(config).read_text()))
    root = Path(results or plan.config["results"])
    settings = plan.config["experiments"]["information"]
    torch.set_num_threads(1)
    rows, seen = [], set()
    for j in plan.information:
        if plan.modality.get(j.dataset) != "image" or (j.dataset, j.resolution) in seen:
            continue
        seen.add((j.dataset, j.resolution))
        mpath = root / f"models/{j.dataset}/{j.resolution}/{j.model}/seed{j.seed}.pt"
        dpath = root / f"data/{j.dataset}/{j.resolution}.npz"
        if not (mpath.exists() and dpath.exists()):
            print(f"skip {j.dataset}@{j.resolution}: {mpath if not mpath.exists() else dpath} missing (run the workflow)")
            continue
        sm, meta = load_model(mpath, device="cpu")
        data = load_prepared(dpath)
        if max_test and max_test > len(data.x_test):  # more test images than the workflow kept
            data = prepare(j.dataset, _bigger_test(plan.datasets[j.dataset], max_test), j.resolution)
        n_test = len(data.x_test)
        n0 = min(pilot, n_test)
        r, cpu = _measure(sm, data, n0, settings, seed)
        nodes = r.n_times
        sec_per_pass = cpu / max(r.forward_passes, 1)
        log_k = math.log(data.num_classes)
        row = {"dataset": j.dataset, "resolution": j.resolution, "model": j.model, "dim": int(np.prod(data.x_test.shape[1:])),
               "train_steps": meta.get("train_steps"), "n_times": nodes, "n_pilot": n0, "n_test": n_test,
               "S_NN": r.S_marg, "S_NN_se_pilot": r.S_marg_se, "target": target,
               "cpu_seconds_per_pass": sec_per_pass, "pilot_cpu_seconds": cpu}
        sd_s = r.S_marg_se * math.sqrt(n0)
        n_s = _needed(sd_s, target * abs(r.S_marg))
        row.update(S_NN_sd_per_image=sd_s, n_for_S=n_s, passes_for_S=n_s * nodes, passes_for_S_pair=2 * n_s * nodes,
                   cpu_seconds_for_S=n_s * nodes * sec_per_pass)
        worst = n_s
        for e in ESTIMATORS:
            v, se = getattr(r, e), getattr(r, e + "_se")
            sd = se * math.sqrt(n0)
            row[f"{e}_pilot"], row[f"{e}_se_pilot"] = v, se
            row[f"n_for_{e}"] = _needed(sd, target * abs(r.S_marg))
            row[f"n_for_{e}_vs_logk"] = _needed(sd, target * log_k)
            worst = max(worst, row[f"n_for_{e}"])
        row["passes_for_all"] = 2 * worst * nodes  # pair passes give S_NN and all MI estimators together
        row["verified_n"], row["verified_rel_se"], row["verified"], row["verify_runs"] = None, None, False, 0
        if verify:  # measure at the predicted n (another noise seed); grow n by 1.5x until SE < target
            n_v = min(n_s, n_test)
            for k in range(max_tries):
                rv, _ = _measure(sm, data, n_v, settings, seed + 1 + k)
                rel = rv.S_marg_se / abs(rv.S_marg)
                row["verified_n"], row["verified_rel_se"], row["verify_runs"] = n_v, rel, k + 1
                if rel < target or n_v >= n_test:
                    break
                n_v = min(math.ceil(1.5 * n_v), n_test)
            row["verified"] = bool(row["verified_rel_se"] < target)
        rows.append(row)
        msg = (f"{j.dataset}@{j.resolution}: S_NN {r.S_marg:.1f} ± {r.S_marg_se:.2f} (n={n0}); SE < {100 * target:g} % "
               f"needs n = {n_s} images = {n_s * nodes:,} null passes ({2 * n_s * nodes:,} in pairs), "
               f"~{n_s * nodes * sec_per_pass:.1f} CPU s")
        if verify:
            msg += (f"; measured at n = {row['verified_n']} ({row['verify_runs']} run(s)): SE "
                    f"{100 * row['verified_rel_se']:.2f} % of S_NN{'' if row['verified'] else ' (test split too small)'}")
        print(msg, flush=True)
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--results", default=None, help="results root (default: the config's)")
    ap.add_argument("--pilot", type=int, default=128, help="test images in the pilot measurement")
    ap.add_argument("--target", type=float, default=0.01, help="target SE as a fraction of S_NN")
    ap.add_argument("--no-verify", action="store_true", help="skip the verification run")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--max-test", type=int, default=1000,
                    help="re-prepare the test split with up to this many images when the workflow kept fewer (0: never)")
    ap.add_argument("--out", default="results/benchmarks/estimator_cost.parquet")
    a = ap.parse_args(argv)
    df = run(a.config, a.results, a.pilot, a.target, not a.no_verify, a.seed, max_test=a.max_test)
    if not len(df):
        raise SystemExit("no image model found: run the workflow first (make run)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    cols = ["dataset", "resolution", "dim", "n_times", "S_NN", "S_NN_se_pilot", "n_pilot", "n_for_S", "passes_for_S",
            "passes_for_S_pair", "cpu_seconds_for_S", "n_for_mi_minde", "n_for_mi_diff", "n_for_mi_mmse",
            "n_for_mi_minde_vs_logk", "n_for_mi_diff_vs_logk", "verified_n", "verified_rel_se", "verified"]
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(df[cols].to_string(index=False))
    print(f"written {out}")


if __name__ == "__main__":
    main()

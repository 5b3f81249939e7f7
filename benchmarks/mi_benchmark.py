"""Benchmark: ``diffsep.estimate_mi`` on the tasks of the public "Beyond Normal" MI benchmark.

The task samples and the baselines (KSG k = 3, CCA) come from ``benchmarks/bmi_export.py``, run in
the benchmark's own environment (``make bench-env``; it pins NumPy < 2). This script, in the
project environment, runs ``estimate_mi`` on every exported sample file and writes one Parquet
table with the baselines beside it: task, dims, n, sample seed, true MI, estimator, estimate, SE,
error, whether it lies within ``max(0.1 nats, 10 %)`` of the truth, seconds, threads, settings.

    .venv-bmi/bin/python benchmarks/bmi_export.py --out results/benchmarks/bmi --n 10000 --seeds 0
    .venv/bin/python benchmarks/mi_benchmark.py --data results/benchmarks/bmi --n 10000
    .venv/bin/python benchmarks/mi_benchmark.py --data results/benchmarks/bmi --n 10000 --label cross2 \\
        --set networks=2 --append

``--set key=value`` passes settings to ``estimate_mi`` (values parsed as Python literals); the
label names the settings in the table (``default`` = the function's defaults).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from diffsep import estimate_mi
from diffsep.io import atomic_path

ABS_TOL, REL_TOL = 0.1, 0.10  # "within max(0.1 nats, 10 %) of the truth"


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="results/benchmarks/bmi", help="directory written by bmi_export.py")
    ap.add_argument("--n", type=int, nargs="+", default=None, help="sample sizes to run (default: all exported)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="sample seeds to run (default: all)")
    ap.add_argument("--tasks", nargs="+", default=None)
    ap.add_argument("--label", default="default")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="estimate_mi settings")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/benchmarks/mi_benchmark.parquet")
    ap.add_argument("--append", action="store_true", help="add rows to an existing table")
    return ap.parse_args()


def settings_of(pairs: list[str]) -> dict:
    out = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {p!r}")
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def within(est: float, truth: float) -> bool:
    return bool(abs(est - truth) <= max(ABS_TOL, REL_TOL * abs(truth)))


def files(args) -> list[tuple[str, int, int, Path]]:
    out = []
    for f in sorted(Path(args.data).glob("*__n*__s*.npz")):
        task, n, s = f.stem.rsplit("__", 2)
        n, s = int(n[1:]), int(s[1:])
        if (args.n and n not in args.n) or (args.seeds and s not in args.seeds) or (args.tasks and task not in args.tasks):
            continue
        out.append((task, n, s, f))
    if not out:
        raise SystemExit(f"no exported task files match in {args.data} (run benchmarks/bmi_export.py first)")
    return out


def baselines(args, keep: set) -> pd.DataFrame:
    f = Path(args.data) / "baselines.json"
    if not f.exists():
        return pd.DataFrame()
    b = pd.DataFrame(json.loads(f.read_text()))
    b = b[[(t, n, s) in keep for t, n, s in zip(b["task"], b["n"], b["seed"])]]
    return b.assign(se=np.nan, settings="{}", threads=np.nan)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["estimator", "n"])
    return pd.DataFrame({"tasks": g.size(), "within": g["within"].mean().round(3),
                         "above truth": (g["error"].apply(lambda e: (e > 0).mean())).round(3),
                         "median |error|": g["error"].apply(lambda e: e.abs().median()).round(4),
                         "mean s": g["seconds"].mean().round(1),
                         "mean CPU s": (g["cpu_seconds"].mean().round(1) if "cpu_seconds" in df else np.nan)})


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    settings = settings_of(args.set)
    todo = files(args)
    rows = []
    for task, n, seed, f in todo:
        with np.load(f, allow_pickle=False) as z:
            x, y, mi = z["x"], z["y"], float(z["mi"])
        t0, c0 = time.perf_counter(), time.process_time()
        r = estimate_mi(x, y, discrete=False, **settings)
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"task": task, "n": n, "seed": seed, "dim_x": x.shape[1], "dim_y": y.shape[1], "true_mi": mi,
                     "estimator": f"diffsep:{args.label}", "estimate": float(r.mi), "se": float(r.se),
                     "seconds": sec, "cpu_seconds": cpu, "load1": os.getloadavg()[0], "threads": args.threads,
                     "settings": json.dumps(settings, sort_keys=True),
                     "used": json.dumps(getattr(r, "settings", {}), sort_keys=True, default=str),
                     "mi_mmse": float(r.mi_mmse), "mi_mmse_se": float(r.mi_mmse_se),
                     "mi_minde_plain": float(r.mi_minde_plain), "networks": int(r.networks),
                     "mi_minde": float(getattr(r, "mi_minde", r.mi)), "reported": r.settings.get("estimator", ""),
                     "train_seconds": float(r.train_seconds), "eval_seconds": float(r.eval_seconds)})
        # the other estimators of the same networks, as rows of their own ("<label>:<estimator>")
        for name in ("mi_minde", "mi_mmse", "mi_mmse_cross"):
            v = getattr(r, name, None)
            if v is not None:
                rows.append({**rows[-1], "estimator": f"diffsep:{args.label}:{name}", "estimate": float(v),
                             "se": float(getattr(r, name + "_se"))})
        print(f"{task} n={n} seed={seed}: {r.mi:.4f} ± {r.se:.4f} (true {mi:.4f}, I-MMSE {r.mi_mmse:.4f}) "
              f"{sec:.1f} s wall, {cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f}", flush=True)
    df = pd.DataFrame(rows)
    dims = df.groupby("task")[["dim_x", "dim_y"]].first()
    base = baselines(args, {(t, n, s) for t, n, s, _ in todo})
    if len(base):
        base = base.join(dims, on="task")
    df = pd.concat([df, base], ignore_index=True)
    out = Path(args.out)
    if args.append and out.exists():
        old = pd.read_parquet(out)
        old = old[~old["estimator"].isin(df["estimator"].unique())]
        df = pd.concat([old, df], ignore_index=True)
    df["error"] = df["estimate"] - df["true_mi"]
    df["within"] = [within(e, t) for e, t in zip(df["estimate"], df["true_mi"])]
    df["torch_version"] = torch.__version__
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    with pd.option_context("display.width", 200):
        print(summary(df).to_string())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

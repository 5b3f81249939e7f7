"""Export tasks of the public "Beyond Normal" MI benchmark (``benchmark-mi``) and its baselines.

``benchmark-mi`` pins NumPy < 2 and pandas < 2 (and JAX), which the project cannot share, so it lives
in its own environment (``make bench-env`` creates ``.venv-bmi``) and this script is the only code
that imports it. For each task, sample size and sample seed it writes the samples with the exact
``I(X;Y)`` to ``<out>/<task>__n<n>__s<seed>.npz`` (plain arrays, no pickle) and runs the package's
own baselines on them (KSG with k = 3, the estimator behind scikit-learn's
``mutual_info_regression``, and CCA, exact for Gaussians), recording estimates and seconds in
``<out>/baselines.json``. ``benchmarks/mi_benchmark.py`` (project environment) reads both.

    .venv-bmi/bin/python benchmarks/bmi_export.py --out results/benchmarks/bmi --n 5000 10000 --seeds 0 1
    .venv-bmi/bin/python benchmarks/bmi_export.py --list
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

#: the tasks run by default: every family of the benchmark (Gaussian, Student-t, transformed, high-D)
TASKS = (
    "1v1-normal-0.75",
    "1v1-bimodal-0.75",
    "1v1-additive-0.1",
    "wiggly-1v1-normal-0.75",
    "half_cube-1v1-normal-0.75",
    "student-identity-1-1-1",
    "swissroll_x-normal_cdf-1v1-normal-0.75",
    "multinormal-dense-2-2-0.5",
    "multinormal-dense-5-5-0.5",
    "multinormal-dense-25-25-0.5",
    "multinormal-sparse-5-5-2-2.0",
    "student-identity-5-5-2",
    "normal_cdf-multinormal-sparse-5-5-2-2.0",
    "spiral-multinormal-sparse-5-5-2-2.0",
    "asinh-student-identity-2-2-1",
)


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="results/benchmarks/bmi")
    ap.add_argument("--tasks", nargs="+", default=None, help="task names (default: TASKS; --list shows all)")
    ap.add_argument("--n", type=int, nargs="+", default=[5000, 10000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--list", action="store_true")
    return ap.parse_args()


def main():
    args = parse()
    import bmi  # noqa: PLC0415 - only this environment has it

    known = bmi.benchmark.BENCHMARK_TASKS
    if args.list:
        for name, t in known.items():
            print(f"{name:45s} dx={t.dim_x:3d} dy={t.dim_y:3d} I={t.mutual_information:.4f}")
        return
    names = args.tasks or [t for t in TASKS if t in known]
    missing = [t for t in (args.tasks or []) if t not in known]
    if missing:
        raise SystemExit(f"unknown benchmark-mi task(s): {', '.join(missing)} (see --list)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base_file = out / "baselines.json"
    baselines = json.loads(base_file.read_text()) if base_file.exists() else []
    done = {(b["task"], b["n"], b["seed"], b["estimator"]) for b in baselines}
    ests = {} if args.no_baselines else {
        "ksg3": lambda: bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(3,), standardize=True),
        "cca": lambda: bmi.estimators.CCAMutualInformationEstimator(),
    }
    for name in names:
        task = known[name]
        for n in args.n:
            for seed in args.seeds:
                x, y = task.sample(n, seed=seed)
                x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
                f = out / f"{name}__n{n}__s{seed}.npz"
                tmp = f.with_suffix(".tmp.npz")
                np.savez(tmp, x=x, y=y, mi=np.float64(task.mutual_information), dim_x=task.dim_x, dim_y=task.dim_y)
                os.replace(tmp, f)
                for est, make in ests.items():
                    if (name, n, seed, est) in done:
                        continue
                    t0 = time.perf_counter()
                    v = float(make().estimate(x, y))
                    baselines.append({"task": name, "n": n, "seed": seed, "estimator": est, "estimate": v,
                                      "true_mi": float(task.mutual_information), "seconds": time.perf_counter() - t0})
                    print(f"{name} n={n} seed={seed} {est}: {v:.4f} (true {task.mutual_information:.4f}) "
                          f"{baselines[-1]['seconds']:.1f} s", flush=True)
                tmpj = base_file.with_suffix(".tmp")
                tmpj.write_text(json.dumps(baselines, indent=1))
                os.replace(tmpj, base_file)
    print(f"wrote {len(names) * len(args.n) * len(args.seeds)} task files and {base_file}")


if __name__ == "__main__":
    main()

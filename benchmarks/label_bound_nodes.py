"""How tight is the model's own label-posterior bound, and what sets its looseness? Exact scores.

``H(Y) + E log q(y|x)`` with ``q`` built from the model's per-class denoising losses
(:func:`diffsep.measure.label_posterior_bound`) is a lower bound on ``I(X;Y)`` for any model. With
exact scores it is loose only through its estimate of ``q``: one noise draw per node and sample
makes ``log q`` noisy, and noise in ``log q`` lowers ``E log q``. This script puts the Gaussian
texture mixture's exact scores (the config's ``gaussian_texture`` dataset) into the bound at
several node counts and compares with the exact ``I(X;Y)``.

Writes ``--out`` (Parquet, rows appended) and prints the table::

    .venv/bin/python benchmarks/label_bound_nodes.py --dataset texture --resolutions 8 16 \\
        --n-times 16 32 64 128 --n 1000
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from diffsep.config import load_file
from diffsep.data import validate_spec
from diffsep.io import append_parquet
from diffsep.measure import label_posterior_bound
from diffsep.process import VPProcess
from diffsep.texture import texture_law


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--dataset", default="texture", help="a gaussian_texture dataset of the config")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--n-times", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--n", type=int, default=1000, help="samples of the law")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/benchmarks/label_bound_nodes.parquet")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_file(args.config, check_files=False).config
    if args.dataset not in cfg["datasets"]:
        raise SystemExit(f"label_bound_nodes: dataset {args.dataset!r} is not in {args.config}")
    spec = validate_spec(args.dataset, cfg["datasets"][args.dataset], check_files=False)
    if spec["kind"] != "gaussian_texture":
        raise SystemExit(f"label_bound_nodes: {args.dataset} is {spec['kind']}, not gaussian_texture")
    proc = VPProcess(**cfg.get("process", {}))
    rows = []
    for r in args.resolutions:
        law = texture_law(spec["params"], r)
        x, y = law.sample(args.n, [args.seed])
        x, y = torch.as_tensor(x).float(), torch.as_tensor(y)
        exact, exact_se = law.mi(proc, 0.0, 20_000, args.seed + 1)
        for nt in args.n_times:
            t0 = time.perf_counter()
            b = label_posterior_bound(law.score_model(proc), x, y, law.k, n_times=nt, batch_size=4000)
            rows.append({"dataset": args.dataset, "resolution": r, "n": args.n, "n_times": nt, "seed": args.seed,
                         "exact_mi": exact, "exact_mi_se": exact_se, "bound": b["bound"], "bound_se": b["bound_se"],
                         "accuracy": b["accuracy"], "rel_error": b["bound"] / exact - 1.0,
                         "seconds": time.perf_counter() - t0})
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()),
                  flush=True)
    append_parquet(pd.DataFrame(rows), args.out)
    print(f"wrote {args.out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()

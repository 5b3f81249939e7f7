"""Benchmark: how much of a convergence verdict is the noise of its held-out evaluation?

The criterion (:func:`diffsep.train.plateau`) compares held-out losses and label gains between
evaluations on *fixed* draws of time and noise (``train.holdout_draws`` per held-out sample). The
draws are fixed, but they are few: a different set of draws gives a different history of the same
training run and possibly a different verdict. This script trains one model of a config (the real
training loop, the train stage's data split, model and seeds) and, at every evaluation, re-evaluates
the model on ``--realisations`` sets of draws for each draw count of ``--draws`` (the first with the
run's own seed: at the run's own draw count it reproduces the run's history); then it
applies the criterion to each re-evaluated history. One row per (draw count, realisation): the
plateau gain, the label-gain growth and the verdict; the summary gives their spread per draw count.
The training trajectory is the same for every row (the held-out draws have their own generator).

    python benchmarks/convergence_noise.py --dataset fashion_mnist --resolution 7 --draws 4 32
    python benchmarks/convergence_noise.py --dataset synth_sep --resolution 8 --realisations 8

Writes ``results/benchmarks/convergence_noise.parquet`` (rows appended) and prints the summary.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from diffsep.config import load_file
from diffsep.data import load_prepared
from diffsep.io import append_parquet
from diffsep.process import VPProcess
from diffsep.rng import derive_seed
from diffsep.stages import prepare
from diffsep.stages import train as train_stage
from diffsep.stages._job import cond_tensor
from diffsep.train import LABEL_GAIN_TOL, PLATEAU_TOL, PLATEAU_WINDOW, TrainConfig, holdout_losses, plateau


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--dataset", required=True, help="a labelled dataset of the config")
    ap.add_argument("--resolution", type=int, required=True)
    ap.add_argument("--model", default=None, help="the config's model (default: the one experiments.information "
                                                  "gives the dataset)")
    ap.add_argument("--draws", type=int, nargs="+", default=[4, 32], help="held-out draws per sample to compare")
    ap.add_argument("--realisations", type=int, default=6, help="independent draw sets per draw count")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/benchmarks/convergence_noise.parquet")
    return ap.parse_args()


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    plan = load_file(args.config, check_files=False)
    cfg = plan.config
    if args.dataset not in cfg["datasets"]:
        raise SystemExit(f"convergence_noise: dataset {args.dataset!r} is not in {args.config}")
    mname = args.model or plan.information_model(args.dataset)
    mcfg = cfg["models"][mname]
    if mcfg.get("two_net") or int(mcfg.get("networks", 1)) > 1:
        raise SystemExit("convergence_noise: one shared network only (not two_net / networks > 1)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        prepare.run({}, {"data": str(path)}, name=args.dataset, spec=cfg["datasets"][args.dataset],
                    resolution=args.resolution)
        data = load_prepared(str(path))
    proc = VPProcess(**cfg["process"])
    tcfg = TrainConfig.from_dict({**mcfg["train"], "seed": args.seed, "threads": args.threads})
    tr, ho = train_stage._split(len(data.x_train), mcfg, args.seed)  # the train stage's split, init and loop
    x = torch.as_tensor(data.x_train, dtype=torch.float32)
    y = cond_tensor(data.y_train, data.cond, "cpu")
    xh, yh = x[ho], y[ho]
    evals, t_eval = [], [0.0]

    def reevaluate(rec, m):
        t0 = time.perf_counter()
        was = m.training
        m.eval()
        for d in args.draws:
            for r in range(args.realisations):
                # realisation 0 is the run's own seed: at the run's draw count it is its own history
                h = holdout_losses(m, xh, yh, d, tcfg.seed if r == 0 else derive_seed(args.seed, "noise-study", d, r),
                                   with_null=tcfg.p_uncond > 0)
                evals.append({"step": rec["step"], "draws": d, "realisation": r, **h})
        m.train(was)
        t_eval[0] += time.perf_counter() - t0

    t0 = time.perf_counter()
    _, hist, *_ = train_stage._train_one(mcfg, data, proc, x[tr], y[tr], (xh, yh), tcfg, "cpu", ckpt=None,
                                         init_seed=args.seed, progress=True,
                                         desc=f"{args.dataset}/{args.resolution}", callback=reevaluate)
    wall = time.perf_counter() - t0
    own = hist[0]
    ev = pd.DataFrame(evals)
    rows = []
    for (d, r), g in ev.groupby(["draws", "realisation"]):
        g = g.sort_values("step")
        gain, growth, conv = plateau(g["step"], g["holdout"], g.get("holdout_label_gain"))
        rows.append({"draws": int(d), "realisation": int(r), "plateau_gain": gain, "label_gain_growth": growth,
                     "converged": conv, "final_holdout": float(g["holdout"].iloc[-1]),
                     "final_label_gain": float(g["holdout_label_gain"].iloc[-1]) if "holdout_label_gain" in g
                     else float("nan")})
    gain, growth, conv = plateau(own["step"], own["holdout"], own.get("holdout_label_gain"))
    rows.append({"draws": int(tcfg.holdout_draws), "realisation": -1, "plateau_gain": gain,
                 "label_gain_growth": growth, "converged": conv, "final_holdout": float(own["holdout"].iloc[-1]),
                 "final_label_gain": float(own["holdout_label_gain"].iloc[-1]) if "holdout_label_gain" in own
                 else float("nan")})
    df = pd.DataFrame(rows).assign(dataset=args.dataset, resolution=args.resolution, model=mname, seed=args.seed,
                                   steps=int(tcfg.steps), n_holdout=int(len(ho)), train_seconds=wall - t_eval[0],
                                   reevaluation_seconds=t_eval[0], threads=args.threads,
                                   torch_version=torch.__version__)
    df["converged"] = df["converged"].astype("boolean")
    append_parquet(df, args.out)
    print(f"{args.dataset} {args.resolution} px, model {mname}, {tcfg.steps} steps, {len(ho)} held-out samples "
          f"(criterion: held-out loss gain < {100 * PLATEAU_TOL:g} %, label-gain growth < {100 * LABEL_GAIN_TOL:g} % "
          f"over the last {100 * PLATEAU_WINDOW:g} %); training {wall - t_eval[0]:.0f} s, re-evaluations {t_eval[0]:.0f} s")
    print(f"  the run's own history ({tcfg.holdout_draws} draws): gain {100 * gain:.2f} %, label growth "
          f"{100 * growth:.1f} %, converged {conv}")
    for d, g in df[df["realisation"] >= 0].groupby("draws"):
        print(f"  {d:4d} draws x {len(g)} realisations: gain {100 * g['plateau_gain'].mean():.2f} % "
              f"(sd {100 * g['plateau_gain'].std():.2f}, {100 * g['plateau_gain'].min():.2f}-"
              f"{100 * g['plateau_gain'].max():.2f}), label growth {100 * g['label_gain_growth'].mean():.1f} % "
              f"(sd {100 * g['label_gain_growth'].std():.1f}, {100 * g['label_gain_growth'].min():.1f}-"
              f"{100 * g['label_gain_growth'].max():.1f}), converged in {int(g['converged'].sum())} of {len(g)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Benchmark: a null catch-up phase after training, judged by the null excess.

The MMSE-gap estimate of ``I(X;Y)`` is the model's own label bound plus the null excess
(:func:`diffsep.measure.label_posterior_bound`): at a low condition-dropout share the conditional
branch learns the label while the null branch falls behind the mixture of the conditionals. This
script takes a model kept by ``benchmarks/image_training.py --keep DIR``, trains it on for a phase
of more steps with another condition dropout (most samples to the null branch), on the train
stage's own split (``diffsep.stages.train._split``) and loop (:func:`diffsep.train.train`), and
measures the own label bound, the null excess and the MMSE gap on the bound's draws
(``mi_paired``) before and after. The phase is the train stage's (model option ``null_phase``,
``diffsep.stages.train._null_phase_config``) on a kept model instead of a fresh run. Each ``--phase STEPS:P_UNCOND:LR`` starts from the kept model
(``0:0:0``: the kept model as it is).

    python benchmarks/image_training.py --dataset digits --resolutions 8 --recipe 3x --keep /tmp/keep
    python benchmarks/null_phase.py --keep /tmp/keep --dataset digits --resolution 8 --recipe 3x \\
        --phase 0:0:0 500:0.9:3e-4 3000:0.9:3e-4

Writes ``results/benchmarks/null_phase.parquet`` (rows appended) and prints one line per phase.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import pandas as pd
import torch

from diffsep.config import load_file
from diffsep.data import load_prepared
from diffsep.io import append_parquet
from diffsep.measure import label_posterior_bound
from diffsep.models import load_model
from diffsep.stages import train as train_stage
from diffsep.train import TrainConfig, train


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", required=True, help="the --keep folder of benchmarks/image_training.py")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--resolution", type=int, required=True)
    ap.add_argument("--recipe", required=True, help="the image_training recipe of the kept model (folder r_<recipe>)")
    ap.add_argument("--config", default="config/config.yaml", help="the config whose model the recipe overrode")
    ap.add_argument("--model", default=None, help="model name in the config (default: the dataset's image model)")
    ap.add_argument("--phase", nargs="+", default=["0:0:0", "500:0.9:3e-4", "3000:0.9:3e-4"],
                    help="STEPS:P_UNCOND:LR, each from the kept model")
    ap.add_argument("--n-eval", type=int, default=300, help="test images of the bound")
    ap.add_argument("--n-times", type=int, default=64)
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="the kept model's training seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/benchmarks/null_phase.parquet")
    return ap.parse_args()


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    plan = load_file(args.config, check_files=False)
    cfg = plan.config
    mname = args.model or plan.information_model(args.dataset)
    mcfg = cfg["models"][mname]
    tag = args.recipe.replace(".", "p")
    data = load_prepared(f"{args.keep}/data/{args.dataset}/{args.resolution}.npz")
    path = f"{args.keep}/models/{args.dataset}/{args.resolution}/r_{tag}/seed{args.seed}.pt"
    x = torch.as_tensor(data.x_train, dtype=torch.float32)
    y = torch.as_tensor(data.y_train).long()
    fit, _ = train_stage._split(len(x), mcfg, args.seed)
    n = min(args.n_eval, len(data.x_test))
    xt = torch.as_tensor(data.x_test[:n], dtype=torch.float32)
    yt = torch.as_tensor(data.y_test[:n]).long()
    rows = []
    for spec in args.phase:
        steps, p_uncond, lr = spec.split(":")
        steps, p_uncond, lr = int(steps), float(p_uncond), float(lr)
        model, _ = load_model(path)
        t0 = time.perf_counter()
        if steps:  # the train stage's own phase settings (model option null_phase), no evaluations or checkpoints
            main_cfg = TrainConfig.from_dict({**mcfg["train"], "eval_every": 0, "checkpoint_every": 0,
                                              "threads": args.threads})
            phase = train_stage._null_phase_config({"null_phase": {"steps": steps, "p_uncond": p_uncond, "lr": lr}},
                                                   main_cfg)
            # the seed of the rows in README "Benchmarks" (the option derives its own from the training seed)
            model = train(model, x[fit], y[fit], dataclasses.replace(phase, seed=args.seed + 7)).model
        seconds = time.perf_counter() - t0
        b = label_posterior_bound(model, xt, yt, data.num_classes, n_times=args.n_times, draws=args.draws,
                                  seed=11, batch_size=2048)
        row = {"dataset": args.dataset, "resolution": args.resolution, "recipe": args.recipe, "seed": args.seed,
               "phase_steps": steps, "phase_p_uncond": p_uncond if steps else None, "phase_lr": lr if steps else None,
               "phase_seconds": seconds, "n_eval": n, "n_times": args.n_times, "draws": args.draws,
               "log_k": float(torch.log(torch.tensor(float(data.num_classes)))),
               **{k: float(v) for k, v in b.items()}, "threads": args.threads, "torch_version": torch.__version__}
        rows.append(row)
        print(f"{args.dataset} {args.recipe} +{steps} steps (p_uncond {p_uncond}, lr {lr:g}, {seconds:.0f} s): "
              f"own bound {b['bound']:.3f}±{b['bound_se']:.3f}  null excess {b['null_excess']:.3f}±"
              f"{b['null_excess_se']:.3f}  MMSE gap {b['mi_paired']:.3f}±{b['mi_paired_se']:.3f}  "
              f"(log K {row['log_k']:.3f})", flush=True)
    df = append_parquet(pd.DataFrame(rows), args.out)
    print(f"wrote {args.out} ({len(df)} rows)")


if __name__ == "__main__":
    main()

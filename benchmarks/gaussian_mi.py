"""Benchmark: the published joint-Gaussian MI experiment (docs/published.md).

``Y = A X + Z`` with ``D_X = 25``, ``D_Y = 15``, noise std in {0.25, 0.6, 1.0}; 20,000 training
pairs, 10,000 fresh evaluation pairs. For each (noise, seed): train a score model (one network
with condition dropout, or the paper's two networks), record MINDE / difference-of-entropies /
MMSE-gap estimates after 1, 2, 5, 10 ... minutes of training (accuracy vs time) and at the end,
with exact-score versions on the same evaluation pairs. Writes one Parquet table and prints it.

    python benchmarks/gaussian_mi.py --noise 1.0 --seeds 0 1 2 --out results/benchmarks/gaussian_mi.parquet

``--ensemble K`` trains K networks (each with its own initialisation and batch order, on the same
pairs) and adds the cross-fitted MINDE (``mi_minde_cross``, see :mod:`diffsep.measure`); the
accuracy-vs-time rows are then the ensemble after each member.

Training wall time excludes the evaluations (they run in the training callback, off the clock).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from diffsep.gaussian import JointGaussian
from diffsep.io import atomic_path
from diffsep.measure import measure_information
from diffsep.models import EnsembleScoreModel, TwoNetScoreModel, build_score_model
from diffsep.process import VPProcess
from diffsep.rng import derive_seed
from diffsep.train import TrainConfig, train

P = VPProcess()


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--noise", type=float, nargs="+", default=[1.0, 0.6, 0.25])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--dx", type=int, default=25)
    ap.add_argument("--dy", type=int, default=15)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-eval", type=int, default=10000)
    ap.add_argument("--holdout", type=float, default=0.1, help="share of the training pairs held out for selection")
    ap.add_argument("--two-net", action="store_true", help="separate conditional and marginal networks")
    ap.add_argument("--ensemble", type=int, default=1, help="independently trained networks (>= 2: cross-fitted MINDE)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--ema", type=float, default=None)
    ap.add_argument("--noise-draws", type=int, default=1)
    ap.add_argument("--p-uncond", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--cond-input", action="store_true", help="the condition also enters the MLP's input layer")
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--snapshots", type=float, nargs="*", default=[1, 2, 5, 10],
                    help="minutes of training after which the estimate is recorded")
    ap.add_argument("--n-times", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (timings are only comparable on one device)")
    ap.add_argument("--out", default="results/benchmarks/gaussian_mi.parquet")
    ap.add_argument("--tag", default="", help="free label stored in each row")
    return ap.parse_args()


def estimates(model, x, y, seed):
    r = measure_information(model, x, y, n_times=ARGS.n_times, seed=seed, batch_size=5000)
    return {"mi_minde": r.mi_minde, "mi_minde_se": r.mi_minde_se, "mi_diff": r.mi_diff, "mi_diff_se": r.mi_diff_se,
            "mi_mmse": r.mi_mmse, "mi_mmse_se": r.mi_mmse_se, "mi_minde_cross": r.mi_minde_cross,
            "mi_minde_cross_se": r.mi_minde_cross_se, "mi_mmse_cross": r.mi_mmse_cross,
            "mi_mmse_cross_se": r.mi_mmse_cross_se, "eval_seconds": r.seconds}


def run_one(noise: float, seed: int) -> list[dict]:
    jg = JointGaussian(ARGS.dx, ARGS.dy, noise, seed=seed)
    x, y = jg.sample(ARGS.n_train, seed=derive_seed("train", seed, bits=32))
    xe, ye = jg.sample(ARGS.n_eval, seed=derive_seed("eval", seed, bits=32))
    dev = torch.device(ARGS.device)
    x, y = torch.tensor(x, dtype=torch.float32, device=dev), torch.tensor(y, dtype=torch.float32, device=dev)
    xe, ye = torch.tensor(xe, dtype=torch.float32, device=dev), torch.tensor(ye, dtype=torch.float32, device=dev)
    ys = y.std(0)  # MI is invariant to rescaling y; unit-scale conditions train better
    y, ye = y / ys, ye / ys
    n_ho = int(round(ARGS.holdout * len(x)))
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(dev)
    ho, tr = perm[:n_ho], perm[n_ho:]
    truth = jg.mi()
    base = {"noise": noise, "seed": seed, "networks": ARGS.ensemble, "dx": ARGS.dx, "dy": ARGS.dy, "true_mi": truth,
            "n_train": len(tr), "n_holdout": n_ho, "n_eval": len(xe), "threads": ARGS.threads, "two_net": ARGS.two_net,
            "device": str(dev),
            "config": json.dumps({k: v for k, v in vars(ARGS).items() if k not in ("noise", "seeds", "out")}),
            "tag": ARGS.tag}
    rows = []
    snaps = sorted(ARGS.snapshots)

    def spec(cond, cdim):
        kw = {"dim": ARGS.dx, "width": ARGS.width, "depth": ARGS.depth, "cond": cond, "dropout": ARGS.dropout}
        if cond == "vector":
            kw["cond_dim"] = cdim
            kw["cond_input"] = ARGS.cond_input
        return {"net": "mlp", "kwargs": kw}

    def cfg(p_unc, tseed):
        return TrainConfig(steps=ARGS.steps, batch_size=ARGS.batch, lr=ARGS.lr, lr_schedule=ARGS.schedule,
                           ema=ARGS.ema, noise_draws=ARGS.noise_draws, p_uncond=p_unc, weight_decay=ARGS.weight_decay,
                           eval_every=ARGS.eval_every, select="best_holdout" if n_ho else "last", seed=tseed,
                           threads=ARGS.threads)

    def member(k):
        """Train ensemble member ``k`` (member 0 keeps the seeds of a single-network run)."""
        tag = () if k == 0 else ("member", k)
        tseed = seed if k == 0 else derive_seed(seed, "train", *tag, bits=31)
        name = f"noise {noise} seed {seed}" + (f" net {k + 1}/{ARGS.ensemble}" if ARGS.ensemble > 1 else "")
        if ARGS.two_net:
            parts, secs = {}, 0.0
            for role in ("cond", "marg"):
                torch.manual_seed(derive_seed(seed, "init", role, *tag))
                m = build_score_model(spec("vector" if role == "cond" else "none", ARGS.dy), P).to(dev)
                res = train(m, x[tr], y[tr] if role == "cond" else None, cfg(0.0, tseed),
                            holdout=(x[ho], y[ho] if role == "cond" else None) if n_ho else None, progress=True,
                            desc=f"{name} {role}")
                parts[role], secs = res, secs + res.seconds
            return TwoNetScoreModel(parts["cond"].model, parts["marg"].model), secs, sum(r.steps for r in parts.values())
        torch.manual_seed(derive_seed(seed, "init", *tag))
        m = build_score_model(spec("vector", ARGS.dy), P).to(dev)
        best = {"loss": float("inf"), "state": None}

        def snapshot(rec, model):
            # accuracy vs training time: the estimate of the best-so-far weights at each mark
            if rec.get("holdout", float("inf")) < best["loss"]:
                best["loss"], best["state"] = rec["holdout"], {k: v.clone() for k, v in model.state_dict().items()}
            while snaps and rec["seconds"] >= 60 * snaps[0]:
                minute = snaps.pop(0)
                probe = build_score_model(spec("vector", ARGS.dy), P).to(dev)
                probe.load_state_dict(best["state"] or model.state_dict())
                probe.eval()
                rows.append({**base, "kind": "snapshot", "minutes": minute, "train_seconds": rec["seconds"],
                             "steps": rec["step"], "members": 1, **estimates(probe, xe, ye, seed)})
                print(f"  [{noise} s{seed}] {minute:g} min, step {rec['step']}: MINDE {rows[-1]['mi_minde']:.3f} "
                      f"(true {truth:.3f})", flush=True)

        res = train(m, x[tr], y[tr], cfg(ARGS.p_uncond, tseed), holdout=(x[ho], y[ho]) if n_ho else None,
                    progress=True, callback=snapshot if ARGS.ensemble == 1 else None, desc=name)
        return res.model, res.seconds, res.steps

    models, secs, steps = [], 0.0, 0
    for k in range(ARGS.ensemble):
        m, sec, st = member(k)
        models.append(m)
        secs, steps = secs + sec, steps + st
        if k < ARGS.ensemble - 1:
            # accuracy vs training time for ensembles: the ensemble of the members trained so far
            part = models[0] if k == 0 else EnsembleScoreModel(models)
            rows.append({**base, "kind": "snapshot", "minutes": secs / 60, "train_seconds": secs, "steps": steps,
                         "members": k + 1, **estimates(part, xe, ye, seed)})
    final = models[0] if ARGS.ensemble == 1 else EnsembleScoreModel(models)
    rows.append({**base, "kind": "final", "minutes": secs / 60, "train_seconds": secs, "steps": steps,
                 "members": ARGS.ensemble, **estimates(final, xe, ye, seed)})
    exact = estimates(jg.score_model(P), xe.double().cpu(), (ye.double() * ys.double()).cpu(), seed)
    rows.append({**base, "kind": "exact", "minutes": 0.0, "train_seconds": 0.0, "steps": 0, "members": 0, **exact})
    return rows


def main():
    global ARGS
    ARGS = parse()
    if ARGS.ensemble < 1:
        raise SystemExit(f"--ensemble must be >= 1, got {ARGS.ensemble}")
    torch.set_num_threads(ARGS.threads)
    t0 = time.perf_counter()
    rows = []
    out = Path(ARGS.out)
    for noise in ARGS.noise:
        for seed in ARGS.seeds:
            rows += run_one(noise, seed)
            df = pd.DataFrame(rows)  # rewritten after every (noise, seed): partial results survive
            for est in ("mi_minde", "mi_diff", "mi_mmse", "mi_minde_cross", "mi_mmse_cross"):
                df[est + "_rel_error"] = (df[est] - df["true_mi"]) / df["true_mi"]
            df["torch_version"], df["python"] = torch.__version__, platform.python_version()
            df["wall_seconds_total"] = time.perf_counter() - t0
            with atomic_path(out, suffix=".parquet") as tmp:
                df.to_parquet(tmp, index=False)
    show = df[["noise", "seed", "kind", "minutes", "steps", "true_mi", "mi_minde", "mi_minde_se", "mi_minde_rel_error",
               "mi_minde_cross_rel_error", "mi_mmse_cross_rel_error", "mi_diff_rel_error", "mi_mmse_rel_error", "train_seconds", "eval_seconds"]]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

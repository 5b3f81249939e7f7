"""Benchmark: the optimiser step of diffsep's training loop, as it was and as it is, in one process.

Each training step of :func:`diffsep.train.train` seeds torch's global generator (dropout layers) and
takes an AdamW step. ``torch.manual_seed`` also queues a lazy seeding of every CUDA device with a
captured stack trace, and the default (for-each-tensor) AdamW runs a dozen small ops per parameter
tensor; on CPU both are a visible part of a small network's step. The loop now calls
:func:`diffsep.rng.seed_torch` (the CPU stream of ``torch.manual_seed``, bit for bit) and the fused
AdamW kernel. This script times full training steps (the real loss, backward, gradient clipping)
both ways, alternating, on the networks the default run trains most often: the MLP of
``estimate_mi`` (the autoencoders' latent MI, the guidance stage's sample MI), the vector MLP and
the 8 px U-Net.

    python benchmarks/train_step.py                 # 300 steps per case and variant, 1 thread

Writes ``results/benchmarks/train_step.parquet`` (rows appended) and prints ms per step and the ratio.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from diffsep.io import append_parquet
from diffsep.losses import DenoisingLoss
from diffsep.models import build_score_model
from diffsep.process import VPProcess
from diffsep.rng import derive_seed, generator, seed_torch

#: name -> (score-model spec, batch shape of x, number of classes)
CASES = {
    "estimate_mi MLP (8-dim latent, width 160)": (
        {"net": "mlp", "kwargs": {"dim": 8, "width": 160, "depth": 3, "emb_dim": 128, "cond": "label",
                                  "num_classes": 4}}, (256, 8), 4),
    "vector MLP (25-dim, width 256)": (
        {"net": "mlp", "kwargs": {"dim": 25, "width": 256, "depth": 3, "emb_dim": 128, "cond": "vector",
                                  "cond_dim": 15}}, (256, 25), None),
    "U-Net 8 px (base 16, batch 48)": (
        {"net": "unet", "kwargs": {"channels": 1, "resolution": 8, "base": 16, "mults": (1, 2), "attention": False,
                                   "emb_dim": 64, "cond": "label", "num_classes": 10}}, (48, 1, 8, 8), 10),
}


def run(spec, shape, k, variant: str, steps: int) -> float:
    torch.manual_seed(0)
    model = build_score_model(spec, VPProcess())
    fast = variant == "now"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True if fast else None)
    loss_fn = DenoisingLoss(p_uncond=0.1)
    x = torch.randn(shape, generator=generator("bench", "x"))
    cond = (torch.randint(0, k, (shape[0],), generator=generator("bench", "y")) if k
            else torch.randn((shape[0], spec["kwargs"]["cond_dim"]), generator=generator("bench", "y")))
    t0 = time.perf_counter()
    for step in range(steps):
        seed = derive_seed(0, "step", step)
        seed_torch(seed, "cpu") if fast else torch.manual_seed(seed)
        loss = loss_fn(model, x, cond, generator=generator(0, "noise", step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return (time.perf_counter() - t0) / steps * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/benchmarks/train_step.parquet")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, (spec, shape, k) in CASES.items():
        run(spec, shape, k, "now", 20)  # warm-up
        ms = {"before": [], "now": []}
        for _ in range(2):  # alternate, so a change of load hits both variants
            for variant in ("before", "now"):
                ms[variant].append(run(spec, shape, k, variant, args.steps))
        before, now = min(ms["before"]), min(ms["now"])
        rows.append({"case": name, "steps": args.steps, "threads": args.threads, "ms_before": before,
                     "ms_now": now, "ratio": before / now, "torch_version": torch.__version__})
        print(f"{name:45s} before {before:6.2f} ms/step  now {now:6.2f} ms/step  x{before / now:.2f}")
    append_parquet(pd.DataFrame(rows), args.out)
    print(f"wrote {args.out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()

"""Training throughput of :func:`diffsep.train.train` on the U-Net (and the MLP) against a bare PyTorch loop.

Both loops train the same label-conditioned :class:`~diffsep.models.ScoreModel` (a
:class:`~diffsep.nets.unet.UNet`) with the same :class:`~diffsep.losses.DenoisingLoss`, batch
size, Adam (with the same gradient clipping as the train config) and thread count, in one
process. Measurements alternate bare/diffsep (the order flips every repeat) and the table keeps
medians. A diffsep measurement is the wall time of a whole ``train(...)`` call of ``steps``
steps, so per-call costs (fingerprint, final copy) are included. Acceptance: ratio >= 0.9.
Besides wall-clock rates the table has rates per process CPU second (``*_cpu`` columns): on a
shared machine these are far less noisy, and with one thread they measure the same work.

    python benchmarks/unet_throughput.py                       # ~2-3 min on 1 thread
    python benchmarks/unet_throughput.py --profile 28          # cProfile one train() call
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time

import pandas as pd
import torch

from diffsep.io import atomic_path
from diffsep.losses import DenoisingLoss
from diffsep.models import ScoreModel, build_score_model
from diffsep.nets.unet import UNet
from diffsep.process import VPProcess
from diffsep.rng import generator
from diffsep.train import TrainConfig, train

CONFIGS = ((8, 1), (14, 1), (28, 1), (32, 3))  # (resolution, channels)
NUM_CLASSES = 10


def make_model(channels: int, resolution: int, seed: int = 0) -> ScoreModel:
    """``channels == 0``: the MLP of ``estimate_mi`` (its defaults) for vectors of ``resolution``
    dimensions conditioned on vectors of the same size; else a U-Net for images."""
    torch.manual_seed(seed)
    if channels == 0:
        kwargs = {"dim": resolution, "width": 256, "depth": 3, "cond": "vector", "cond_dim": resolution}
        return build_score_model({"net": "mlp", "kwargs": kwargs}, VPProcess())
    kwargs = {"channels": channels, "resolution": resolution, "num_classes": NUM_CLASSES}
    return ScoreModel(UNet(**kwargs), VPProcess(), spec={"net": "unet", "kwargs": kwargs})


def make_data(channels: int, resolution: int, n: int):
    g = generator(0, "bench-data", resolution, channels)
    if channels == 0:
        return torch.randn(n, resolution, generator=g), torch.randn(n, resolution, generator=g)
    x = torch.rand(n, channels, resolution, resolution, generator=g) * 2 - 1
    y = torch.randint(0, NUM_CLASSES, (n,), generator=g)
    return x, y


class _Clock:
    """Wall and process-CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def bare_loop(model, x, y, cfg: TrainConfig, steps: int, opt) -> _Clock:
    """The same work as one ``train`` call, written plainly; returns its timings."""
    loss_fn = DenoisingLoss(cfg.weighting, cfg.time_sampling, cfg.p_uncond, cfg.noise_draws)
    g = torch.Generator().manual_seed(cfg.seed)
    n, bs = x.shape[0], cfg.batch_size
    model.train()
    with _Clock() as clock:
        perm = torch.randperm(n, generator=g)
        for step in range(steps):
            pos = step % (n // bs)
            if pos == 0 and step:
                perm = torch.randperm(n, generator=g)
            idx = perm[pos * bs:(pos + 1) * bs]
            loss = loss_fn(model, x[idx], y[idx], generator=g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
        loss.item()
    return clock


def diffsep_loop(model, x, y, cfg: TrainConfig) -> _Clock:
    with _Clock() as clock:
        train(model, x, y, cfg, progress=False)
    return clock


def measure(resolution: int, channels: int, batch: int, threads: int, repeats: int, target_s: float,
            log=print) -> dict:
    torch.set_num_threads(threads)
    x, y = make_data(channels, resolution, 4 * batch)
    bare_model, ds_model = make_model(channels, resolution), make_model(channels, resolution)
    bare_opt = torch.optim.Adam(bare_model.parameters(), lr=1e-3)
    base_cfg = dict(batch_size=batch, lr=1e-3, threads=threads, lr_schedule="constant")
    # warm-up both paths, and size the measurement so one takes about target_s seconds
    step_s = bare_loop(bare_model, x, y, TrainConfig(steps=2, **base_cfg), 2, bare_opt).wall / 2
    diffsep_loop(ds_model, x, y, TrainConfig(steps=2, **base_cfg))
    steps = int(min(200, max(3, round(target_s / step_s))))
    cfg = TrainConfig(steps=steps, **base_cfg)
    bare, ds = [], []  # _Clock per measurement
    for r in range(repeats):
        for kind in (("bare", "diffsep") if r % 2 == 0 else ("diffsep", "bare")):
            if kind == "bare":
                bare.append(bare_loop(bare_model, x, y, cfg, steps, bare_opt))
            else:
                ds.append(diffsep_loop(ds_model, x, y, cfg))
        log(f"  {resolution:>2d} px x{channels} rep {r}: img/s wall bare {steps * batch / bare[-1].wall:7.1f} "
            f"diffsep {steps * batch / ds[-1].wall:7.1f} | per CPU s bare {steps * batch / bare[-1].cpu:7.1f} "
            f"diffsep {steps * batch / ds[-1].cpu:7.1f}")

    def rate(clocks, attr):
        rates = [steps * batch / getattr(c, attr) for c in clocks]
        return statistics.median(rates), (max(rates) - min(rates)) / statistics.median(rates)

    (b, b_spread), (d, d_spread) = rate(bare, "wall"), rate(ds, "wall")
    (bc, _), (dc, _) = rate(bare, "cpu"), rate(ds, "cpu")
    return {"resolution": resolution, "channels": channels, "batch": batch, "threads": threads,
            "steps": steps, "repeats": repeats, "images_per_s_diffsep": d, "images_per_s_bare": b,
            "ratio": d / b, "images_per_cpu_s_diffsep": dc, "images_per_cpu_s_bare": bc, "ratio_cpu": dc / bc,
            "spread_bare": b_spread, "spread_diffsep": d_spread, "torch_version": torch.__version__}


def profile(resolution: int, channels: int, batch: int, threads: int, steps: int) -> str:
    torch.set_num_threads(threads)
    x, y = make_data(channels, resolution, 4 * batch)
    model = make_model(channels, resolution)
    cfg = TrainConfig(steps=steps, batch_size=batch, threads=threads, lr_schedule="constant")
    diffsep_loop(model, x, y, TrainConfig(steps=1, batch_size=batch, threads=threads))
    prof = cProfile.Profile()
    prof.enable()
    train(model, x, y, cfg, progress=False)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/benchmarks/unet_throughput.parquet", help="Parquet table path")
    ap.add_argument("--batch", type=int, default=128, help="images per step")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (same for both loops)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating bare/diffsep measurements")
    ap.add_argument("--target-seconds", type=float, default=2.5, help="approximate length of one measurement")
    ap.add_argument("--configs", default=",".join(f"{r}x{c}" for r, c in CONFIGS),
                    help="comma-separated RESxCHANNELS, e.g. 8x1,28x1,32x3; DIMx0 is the MLP of estimate_mi "
                     "on DIM-dimensional vectors (e.g. 25x0)")
    ap.add_argument("--profile", type=int, default=None, metavar="RES",
                    help="instead: cProfile one train() call at this resolution (1 channel; 3 if RES=32)")
    args = ap.parse_args(argv)
    if args.profile is not None:
        print(profile(args.profile, 3 if args.profile == 32 else 1, args.batch, args.threads, steps=10))
        return
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",") if c]
    rows = [measure(r, c, args.batch, args.threads, args.repeats, args.target_seconds) for r, c in configs]
    table = pd.DataFrame(rows)
    with atomic_path(args.out, suffix=".parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

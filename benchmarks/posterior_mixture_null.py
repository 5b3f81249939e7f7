"""Why image MMSE gaps over-state: the gap against the trained null branch vs a posterior-mixture null.

For one trained conditional model of a finished run (``<results>/models/...`` and its prepared
data), the MMSE gap ``1/2 int (mmse_null - mmse_y) dlambda`` is computed on the test images with
three label-free predictors in place of the null branch:

* ``null``: the model's own null branch (what the pipeline's I-MMSE uses);
* ``mix``: ``sum_y q(y | x_s) e_y(x_s)``, ``q`` a small noise-conditional CNN trained here on noised
  training images (log-SNR uniform over the process's range);
* ``own``: the same with the model's own label posterior at ``x_s``: ``softmax_y(log p(y) - L_y(x_s))``,
  ``L_y`` its denoising loss of ``x_s`` under class ``y`` over the rest of the process
  (:func:`diffsep.measure.label_losses`, ``--own-times`` nodes); needs no other network;
* ``exact_mix``: the same with the exact class posterior (Gaussian texture data only), which makes
  the gap a lower bound on ``I(X;Y)`` for any conditional model (Jensen);
* ``prior``: ``mean_y e_y(x_s)``.

``--exact`` (Gaussian texture data only) puts the law's exact scores in place of the model: with
them every gap is the exact one up to the posterior used (the ``own`` gap then measures the own
posterior's error alone). Per node the Barber–Agakov bound ``H(Y) + E log q(y | x_s)`` of the CNN
and of the own posterior is kept (``--curves``).

Writes one row per run to ``--out`` (Parquet) and prints it. Example (after ``make run``)::

    .venv/bin/python benchmarks/posterior_mixture_null.py --dataset fashion_mnist --resolution 7 \\
        --model unet_fashion
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from diffsep.config import load_file
from diffsep.data import load_prepared, validate_spec
from diffsep.io import append_parquet
from diffsep.losses import denoising_residual
from diffsep.measure import label_log_posterior, label_losses, quadrature_nodes
from diffsep.models import load_model


class NoisyCNN(nn.Module):
    """A small classifier of noised images; the log-SNR enters as an extra input plane and feature."""

    def __init__(self, channels: int, k: int, width: int = 32):
        super().__init__()
        self.c1 = nn.Conv2d(channels + 1, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, width, 3, padding=1)
        self.c3 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width + 1, k)

    def forward(self, x, lam):
        plane = (lam / 10.0).view(-1, 1, 1, 1)
        h = torch.cat([x, plane.expand(-1, 1, *x.shape[2:])], 1)
        h = F.silu(self.c3(F.silu(self.c2(F.silu(self.c1(h)))))).mean((2, 3))
        return self.fc(torch.cat([h, plane.view(-1, 1)], 1))


def train_classifier(process, x, y, k: int, steps: int, seed: int) -> NoisyCNN:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    clf = NoisyCNN(x.shape[1], k)
    opt = torch.optim.Adam(clf.parameters(), 2e-3)
    lo, hi = process.log_snr_range
    for it in range(steps):
        idx = torch.randint(0, len(x), (128,), generator=g)
        lam = lo + (hi - lo) * torch.rand(128, generator=g)
        a = torch.sigmoid(lam).sqrt().view(-1, 1, 1, 1)
        s = torch.sigmoid(-lam).sqrt().view(-1, 1, 1, 1)
        xs = a * x[idx] + s * torch.randn(x[idx].shape, generator=g)
        for group in opt.param_groups:
            group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * it / steps))
        opt.zero_grad()
        F.cross_entropy(clf(xs, lam), y[idx]).backward()
        opt.step()
    return clf.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="config/config.yaml", help="the run's config (its results: and datasets)")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--resolution", type=int, required=True)
    ap.add_argument("--model", required=True, help="model name of the run (models/<dataset>/<res>/<model>)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-eval", type=int, default=200, help="test images")
    ap.add_argument("--n-times", type=int, default=32, help="log-SNR nodes (trapezoid)")
    ap.add_argument("--classifier-steps", type=int, default=3000)
    ap.add_argument("--own-times", type=int, default=24, help="nodes of the own posterior's loss (0: skip it)")
    ap.add_argument("--exact", action="store_true", help="the texture law's exact scores in place of the model")
    ap.add_argument("--curves", default=None, help="Parquet of the per-node bounds (appended)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--results", default=None, help="the run's results folder (default: the config's results:), "
                                                   "e.g. a benchmarks/image_training.py --keep folder")
    ap.add_argument("--out", default="results/benchmarks/posterior_mixture_null.parquet")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_file(args.config, check_files=False).config
    res_dir = Path(args.results or cfg["results"])
    data_path = res_dir / "data" / args.dataset / f"{args.resolution}.npz"
    model_path = res_dir / "models" / args.dataset / str(args.resolution) / args.model / f"seed{args.seed}.pt"
    for f in (data_path,) + (() if args.exact else (model_path,)):
        if not f.exists():
            raise SystemExit(f"posterior_mixture_null: {f} not found (run the pipeline, or image_training.py --keep, "
                             f"for --results {res_dir})")
    data = load_prepared(data_path)
    spec = validate_spec(args.dataset, cfg["datasets"][args.dataset], check_files=False)
    law = None
    if spec["kind"] == "gaussian_texture":
        from diffsep.texture import texture_law

        law = texture_law(spec["params"], args.resolution)
    if args.exact:
        if law is None:
            raise SystemExit(f"posterior_mixture_null: --exact needs Gaussian texture data, {args.dataset} is "
                             f"{spec['kind']}")
        from diffsep.process import VPProcess

        sm = law.score_model(VPProcess(**cfg.get("process", {})))
    else:
        sm, _ = load_model(model_path, device="cpu")
    p, k = sm.process, int(data.num_classes)
    xtr, ytr = torch.as_tensor(data.x_train, dtype=torch.float32), torch.as_tensor(data.y_train).long()
    xte = torch.as_tensor(data.x_test, dtype=torch.float32)[:args.n_eval]
    yte = torch.as_tensor(data.y_test).long()[:args.n_eval]
    t0 = time.perf_counter()
    clf = train_classifier(p, xtr, ytr, k, args.classifier_steps, args.seed)
    t_clf = time.perf_counter() - t0
    prior = np.bincount(ytr.numpy(), minlength=k).astype(float)
    h_y = float(-(prior / prior.sum() * np.log(np.where(prior > 0, prior / prior.sum(), 1.0))).sum())
    q = quadrature_nodes(p, args.n_times, "log_snr", "trapezoid", p.s_min, [])
    names = ["null", "mix", "prior"] + (["own"] if args.own_times else []) + (["exact_mix"] if law is not None else [])
    tot = {n: torch.zeros(len(xte), dtype=torch.float64) for n in names}
    acc, curves, t_own = [], [], 0.0
    idx = torch.arange(len(yte))
    shape = (len(yte), k) + (1,) * (xte.dim() - 1)
    with torch.no_grad():
        for j in range(len(q.s)):
            g = torch.Generator().manual_seed(1000 + j)
            s_t = torch.full((len(xte),), float(q.s[j]))
            eps = torch.randn(xte.shape, generator=g)
            x_s, _ = p.perturb(xte, s_t, eps)
            sig = p.sigma(s_t).view(-1, *([1] * (xte.dim() - 1)))
            e_all = torch.stack([sm.excess(x_s, s_t, torch.full_like(yte, c)) for c in range(k)], 1)

            def err(e):
                return denoising_residual(e, x_s, eps, sig).flatten(1).pow(2).sum(1).double()

            r_y = err(e_all[torch.arange(len(yte)), yte])
            post = clf(x_s, p.log_snr(s_t).float()).softmax(1)
            acc.append(float((post.argmax(1) == yte).float().mean()))
            nulls = {"null": sm.excess(x_s, s_t, None), "mix": (post.view(shape) * e_all).sum(1),
                     "prior": e_all.mean(1)}
            curve = {"node": j, "s": float(q.s[j]), "log_snr": float(q.log_snr[j]),
                     "bound_cnn": h_y + float(post.clamp_min(1e-30).log()[idx, yte].double().mean())}
            if args.own_times:
                t1 = time.perf_counter()
                log_own = label_log_posterior(label_losses(sm, x_s, k, s=float(q.s[j]), n_times=args.own_times,
                                                           seed=1000 + j), prior)
                t_own += time.perf_counter() - t1
                nulls["own"] = (log_own.exp().to(x_s.dtype).view(shape) * e_all).sum(1)
                curve["bound_own"] = h_y + float(log_own[idx, yte].mean())
            if law is not None:
                lp = law.log_posterior(x_s.double().numpy(), float(p.mu(q.s[j])), float(p.sigma2(q.s[j])))
                nulls["exact_mix"] = (torch.as_tensor(np.exp(lp), dtype=x_s.dtype).view(shape) * e_all).sum(1)
                curve["bound_exact"] = h_y + float(torch.as_tensor(lp)[idx, yte].mean())
            curves.append(curve)
            w = 0.5 * float(q.weights[j])
            for n in names:
                tot[n] += w * (err(nulls[n]) - r_y)
    row = {"dataset": args.dataset, "resolution": args.resolution, "model": "exact" if args.exact else args.model,
           "seed": args.seed, "own_times": args.own_times, "own_seconds": t_own,
           "n_eval": len(xte), "n_times": len(q.s), "classifier_steps": args.classifier_steps,
           "classifier_accuracy_mean": float(np.mean(acc)), "classifier_seconds": t_clf,
           "seconds": time.perf_counter() - t0}
    for n in names:
        v = tot[n].numpy()
        row[f"gap_{n}"], row[f"gap_{n}_se"] = float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))
    append_parquet(pd.DataFrame([row]), args.out)
    print(" ".join(f"{c}={v:.4g}" if isinstance(v, float) else f"{c}={v}" for c, v in row.items()))
    cv = pd.DataFrame(curves).assign(dataset=args.dataset, resolution=args.resolution, model=row["model"])
    print(cv.drop(columns=["dataset", "resolution", "model"]).to_string(index=False, float_format="%.4f"))
    if args.curves:
        append_parquet(cv, args.curves)


if __name__ == "__main__":
    main()

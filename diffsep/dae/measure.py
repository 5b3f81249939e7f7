"""Measurements of a trained diffusion autoencoder (claim 2): ``I(Z;Y)`` and probe bounds per
latent, the decoder's entropy and MI rates split by the latent it reads, reconstructions and
latent swaps judged by an image classifier. See :mod:`diffsep.dae` for the design."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from . import ROLES
from ..losses import AutoencoderLoss
from ..nets.encoders import image_view
from ..rng import derive_seed, generator, np_generator
from ..stats import label_bound, mean_se
from .codec import encode_images
from .models import DiffusionAutoencoder, decode, encode

__all__ = ["probe", "highpass", "view_matrix", "exact_law", "exact_limits", "measure_dae"]


def probe(z_train: torch.Tensor, y_train: torch.Tensor, z_test: torch.Tensor, y_test: torch.Tensor,
          num_classes: int, *, hidden: int = 0, steps: int = 300, lr: float = 0.05,
          weight_decay: float = 1e-3, seed: int = 0) -> dict:
    """A probe classifier ``z -> y`` (linear, or one hidden layer of ``hidden`` units), full-batch
    Adam on standardised training latents; test metrics ``accuracy``, ``cross_entropy``,
    ``label_entropy``, ``bound = H(Y) - CE`` (a lower bound on ``I(Z; Y)``) and ``bound_se``."""
    y_train, y_test = y_train.long().cpu(), y_test.long().cpu()
    mu, sd = z_train.mean(0), z_train.std(0).clamp_min(1e-6)
    a, b = ((z_train - mu) / sd).float().cpu(), ((z_test - mu) / sd).float().cpu()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "probe"))
        d = a.shape[1]
        net = (nn.Linear(d, num_classes) if not hidden else
               nn.Sequential(nn.Linear(d, hidden), nn.SiLU(), nn.Linear(hidden, num_classes)))
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(net(a), y_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        logits = net(b)
    logq = logits.double().log_softmax(1).gather(1, y_test[:, None]).squeeze(1)
    bd = label_bound(logq, y_test.numpy(), num_classes)
    return {"accuracy": float((logits.argmax(1) == y_test).double().mean()), "cross_entropy": bd["cross_entropy"],
            "label_entropy": bd["label_entropy"], "bound": bd["bound"], "bound_se": bd["bound_se"]}


def highpass(x: torch.Tensor, view_size: int) -> torch.Tensor:
    """Fine detail of ``x``: the image minus its ``view_size`` px low-pass view (see ConvEncoder)."""
    return image_view(x, "highpass", view_size)


def view_matrix(channels: int, resolution: int, view: str, view_size: int | None) -> np.ndarray:
    """The linear map ``x -> view(x)`` of an encoder (:func:`~diffsep.nets.encoders.image_view`) as a
    ``(m, D)`` float64 matrix on row-major ``C, R, R`` pixels."""
    d = int(channels) * int(resolution) ** 2
    basis = torch.eye(d, dtype=torch.float64).reshape(d, channels, resolution, resolution)
    with torch.no_grad():
        return image_view(basis, view, view_size).reshape(d, -1).T.numpy().copy()


def exact_law(data, resolution: int):
    """The exact law of a prepared dataset where it has one (``gaussian_texture``), else None."""
    if data.meta.get("exact_truth") != "gaussian_texture":
        return None
    from ..data.texture import GAUSSIAN_TEXTURE
    from ..texture import texture_law

    params = {k: v[1] for k, v in GAUSSIAN_TEXTURE.params.items()}
    params.update(data.meta.get("params") or {})
    return texture_law(params, int(resolution))


def exact_limits(law, dae: DiffusionAutoencoder, n: int = 20_000, seed: int = 0) -> dict:
    """Exact label information of what each encoder sees, for data drawn from ``law`` (a
    :class:`~diffsep.texture.GaussianTextureMixture`): ``{'x': (I(X;Y), se), name: (I(V_name X; Y), se)}``.
    By data processing ``I(Z;Y) <= I(V X; Y) <= I(X;Y)`` for a latent whose encoder sees ``V x``."""
    out = {"x": law.view_mi(None, n, [seed, 0])}
    for j, name in enumerate(dae.names):
        enc = dae.encoders[name]
        v = view_matrix(law.c, law.r, enc.view, enc.view_size)
        out[name] = out["x"] if enc.view == "full" else law.view_mi(v, n, [seed, j + 1])
    return out


@torch.no_grad()
def _kl(dae: DiffusionAutoencoder, x: torch.Tensor, batch_size: int = 1024) -> dict:
    """Per-image ``KL(q(z|x) || N(0, I))`` of every latent (nats)."""
    out = {n: [] for n in dae.names}
    for start in range(0, x.shape[0], batch_size):
        for n, (m, lv) in dae.posterior(x[start:start + batch_size]).items():
            out[n].append(AutoencoderLoss.kl(m, lv))
    return {n: torch.cat(v).double().cpu() for n, v in out.items()}


def _swap_partners(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each image, a random other image with a different label (itself if there is none)."""
    out = np.arange(len(y))
    for i, label in enumerate(y):
        cand = np.flatnonzero(y != label)
        if len(cand):
            out[i] = cand[rng.integers(len(cand))]
    return out


def _grid_indices(y: np.ndarray, g: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``g`` images A cycling through the classes and ``g`` other images B whose classes are offset by one."""
    classes = np.unique(y)
    pools = {c: list(rng.permutation(np.flatnonzero(y == c))) for c in classes}
    a, b = [], []
    for i in range(g):
        for pick, c in ((a, classes[i % len(classes)]), (b, classes[(i + 1) % len(classes)])):
            pool = pools[c] or list(np.flatnonzero(y == c))
            pick.append(int(pool.pop(0)))
    return np.array(a), np.array(b)


def measure_dae(dae: DiffusionAutoencoder, data, settings: dict, *, seed: int = 0, classifier=None,
                classifier_meta: dict | None = None, law=None, device="cpu", progress: bool = False) -> dict:
    """Every measurement of one trained DAE on a prepared labelled image dataset ``data``.

    Returns ``summary`` (one dict), ``latents`` (one dict per latent), ``rates`` (DataFrame of the
    decoder's rate curves, with the latent read at each node) and ``samples`` (images for the
    figures: originals, reconstructions and a swap grid, with classifier predictions).
    ``settings``: ``n_eval, n_times, eval_batch_size, probe{...}, mi{...}, sampler_steps,
    n_recon, n_swap, grid`` (see the config schema, ``experiments.dae``).
    """
    from ..api import estimate_mi
    from ..classifier import predict
    from ..measure import measure_information, quadrature_nodes

    t0 = time.perf_counter()
    dev = torch.device(device)
    k = int(data.num_classes)
    xtr = torch.as_tensor(data.x_train, dtype=torch.float32, device=dev)
    xte = torch.as_tensor(data.x_test, dtype=torch.float32, device=dev)
    ytr, yte = torch.as_tensor(data.y_train).long(), torch.as_tensor(data.y_test).long()
    bsz = int(settings.get("eval_batch_size", 1024))
    ztr = encode(dae, xtr, seed=derive_seed(seed, "train"), batch_size=bsz)
    zte = encode(dae, xte, seed=derive_seed(seed, "test"), batch_size=bsz)
    kl = _kl(dae, xte, bsz)
    counts = torch.bincount(yte, minlength=k).double()
    chance = float(counts.max() / counts.sum())

    # decoder: neural entropy and MI rate between image and latents, split by the latent read
    def rng(tag):  # one stream per purpose: the same images in every arm of a dataset
        return np_generator(seed, "dae", tag)

    n_eval = min(int(settings["n_eval"]), xte.shape[0])
    idx = np.sort(rng("eval").permutation(xte.shape[0])[:n_eval])
    proc = dae.process
    cut = [v for v in dae.score_model.splits if proc.s_min < v < 1.0]
    n_times = int(settings["n_times"])
    zc = dae.join({n: zte[n][idx] for n in dae.names})
    info = measure_information(dae.score_model, xte[idx], zc, n_times=n_times, quadrature="stratified",
                               cutoffs=cut, seed=seed, batch_size=bsz, progress=progress,
                               desc="decoder information")
    q = quadrature_nodes(proc, n_times, "log_snr", "stratified", None, cut)
    active = dae.score_model.active(torch.as_tensor(q.s)).numpy()
    curves = info.curves.copy()
    if len(curves) != len(q.s) or not np.allclose(curves["s"].to_numpy(), q.s):
        raise RuntimeError("decoder rate curves do not match the quadrature nodes")
    curves["latent"] = [dae.names[a] for a in active]

    # latents: label information (estimate_mi on latents, probe bound), KL, what the decoder reads
    latents = []
    limits = exact_limits(law, dae, seed=seed) if law is not None else {}
    nan2 = (float("nan"), float("nan"))
    y_all = torch.cat([ytr, yte]).numpy()
    # estimate_mi's own estimator (two networks, the cross-fitted MMSE gap, the label at the MLP's input) with
    # the config's training settings: on the exact views of the texture mixture it reads 0.518 +- 0.044 for a
    # low-pass view holding 0.511 nats and -0.010 +- 0.005 for a label-free 8-dim one (one network and MINDE, the
    # previous setting: 0.631 and 0.0004; tests/dae/test_dae_exact.py)
    mi_kw = dict(settings.get("mi") or {})
    probe_kw = dict(settings.get("probe") or {})
    for j, n in enumerate(dae.names):
        pr = probe(ztr[n], ytr, zte[n], yte, k, seed=seed, **probe_kw)
        z_all = torch.cat([ztr[n], zte[n]]).double().cpu().numpy()
        est = estimate_mi(z_all, y_all, discrete=True, seed=seed, device=str(dev), **mi_kw)
        w = q.weights * (active == j)
        kl_m, kl_se = mean_se(kl[n].numpy())
        enc = dae.encoders[n]
        lo = dae.score_model.splits[j] if j < len(dae.score_model.splits) else 0.0
        hi = dae.score_model.splits[j - 1] if j > 0 else 1.0
        latents.append({
            "latent": n, "role": ROLES.get(n, n), "dim": int(enc.latent_dim), "view": enc.view,
            "view_size": enc.view_size, "s_lo": float(lo), "s_hi": float(hi),
            "kl": kl_m, "kl_se": kl_se,
            "mi_y": est.mi, "mi_y_se": est.se, "mi_y_diff": est.mi_diff, "mi_y_diff_se": est.mi_diff_se,
            "n_mi": int(len(y_all)), "probe_accuracy": pr["accuracy"], "probe_cross_entropy": pr["cross_entropy"],
            "probe_bound": pr["bound"], "probe_bound_se": pr["bound_se"], "chance_accuracy": chance,
            "label_entropy": pr["label_entropy"],
            "mi_y_view_exact": limits.get(n, nan2)[0], "mi_y_view_exact_se": limits.get(n, nan2)[1],
            "decoder_mi": float(np.dot(w, curves["i_rate_lam"])),
            "decoder_mi_se": float(np.sqrt(np.dot(w**2, curves["i_rate_lam_se"].fillna(0.0) ** 2))),
            "decoder_entropy": float(np.dot(w, curves["r_cond_lam"])),
            "decoder_entropy_null": float(np.dot(w, curves["r_marg_lam"])),
        })

    for r_ in latents:  # I(X;Z) <= E KL(q(z|x) || N(0, I)): the decoder's MI integral must respect it
        r_["decoder_mi_over_kl"] = bool(r_["decoder_mi"] - 2 * r_["decoder_mi_se"] > r_["kl"] + 2 * r_["kl_se"])

    # reconstructions and swaps, judged by the classifier (same noise for row i of each)
    steps = int(settings["sampler_steps"])
    n_rec = min(int(settings["n_recon"]), xte.shape[0])
    ir = np.sort(rng("recon").permutation(xte.shape[0])[:n_rec])
    dec_seed = derive_seed(seed, "decode")
    rec = decode(dae, dae.join({n: zte[n][ir] for n in dae.names}), seed=dec_seed, steps=steps, batch_size=bsz)
    mse = (rec - xte[ir]).pow(2).flatten(1).mean(1).double().cpu().numpy()

    def classify(x):
        return None if classifier is None else predict(classifier, x)[0].argmax(1).cpu()

    pred_orig, pred_rec = classify(xte[ir]), classify(rec)
    acc = lambda p, y: float("nan") if p is None else float((p == y).double().mean())  # noqa: E731
    ladder = len(dae.names) == 2
    swap = {"swap_follows_a": float("nan"), "swap_follows_b": float("nan"), "swap_texture_b": float("nan")}
    n_swap = 0
    view = next((e.view_size for e in dae.encoders.values() if e.view_size), 2)
    if ladder:
        n_swap = min(int(settings["n_swap"]), n_rec)
        ia = ir[:n_swap]
        ib = ir[_swap_partners(yte[ir].numpy(), rng("swap"))][:n_swap]
        xs = decode(dae, dae.join({"sem": zte["sem"][ia], "per": zte["per"][ib]}), seed=dec_seed, steps=steps,
                    batch_size=bsz)
        ps = classify(xs)
        hp = lambda x: highpass(x, view).flatten(1)  # noqa: E731
        d_b = (hp(xs) - hp(xte[ib])).pow(2).sum(1)
        d_a = (hp(xs) - hp(xte[ia])).pow(2).sum(1)
        swap = {"swap_follows_a": acc(ps, yte[ia]), "swap_follows_b": acc(ps, yte[ib]),
                "swap_texture_b": float((d_b < d_a).double().mean())}

    # images for the figures: a grid of g A images x g B images
    g = int(settings["grid"])
    ga, gb = _grid_indices(yte.numpy(), g, rng("grid"))
    za, zb = {n: zte[n][ga] for n in dae.names}, {n: zte[n][gb] for n in dae.names}
    rows = []

    def add(kind, imgs, preds, r_idx, c_idx, la, lb):
        for i, s_ in enumerate(encode_images(imgs)):
            rows.append({"kind": kind, "row": int(r_idx[i]), "col": int(c_idx[i]),
                         "label_a": None if la is None else int(la[i]), "label_b": None if lb is None else int(lb[i]),
                         "predicted": None if preds is None else int(preds[i]), "pixels": s_})

    ar, none = np.arange(g), np.full(g, -1)
    ya, yb = yte[ga].numpy(), yte[gb].numpy()
    grid_seed = derive_seed(seed, "grid")
    for kind, x_, z_, r_, c_, la, lb in (("original_a", xte[ga], None, ar, none, ya, None),
                                         ("original_b", xte[gb], None, none, ar, None, yb),
                                         ("recon_a", None, za, ar, none, ya, None),
                                         ("recon_b", None, zb, none, ar, None, yb)):
        imgs = x_ if x_ is not None else decode(dae, dae.join(z_), seed=grid_seed, steps=steps, batch_size=bsz)
        add(kind, imgs, classify(imgs), r_, c_, la, lb)
    if ladder:
        ii, jj = np.meshgrid(ar, ar, indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        # same noise for every cell of a grid row as for recon_a of that row: only z_per changes along it
        noise_rows = torch.randn((g, *xte.shape[1:]), generator=generator(grid_seed, "dae-decode"))
        imgs = decode(dae, dae.join({"sem": za["sem"][ii], "per": zb["per"][jj]}), steps=steps, batch_size=bsz,
                      x_init=noise_rows[ii])
        add("swap", imgs, classify(imgs), ii, jj, ya[ii], yb[jj])
    samples = pd.DataFrame(rows)
    samples["channels"], samples["height"], samples["width"] = (int(xte.shape[1]), int(xte.shape[2]),
                                                                int(xte.shape[3]))

    cm = classifier_meta or {}
    mse_m, mse_se = mean_se(mse)
    summary = {
        "variant": "ladder" if ladder else "plain", "s_star": dae.s_star, "num_classes": k,
        "dim": int(np.prod(xte.shape[1:])), "n_train": int(xtr.shape[0]), "n_test": int(xte.shape[0]),
        "n_eval": int(n_eval), "n_times": int(info.n_times),
        "S_marg": info.S_marg, "S_marg_se": info.S_marg_se, "S_cond": info.S_cond, "S_cond_se": info.S_cond_se,
        "mi_xz": info.mi_minde, "mi_xz_se": info.mi_minde_se,
        "label_entropy": latents[0]["label_entropy"], "log_k": math.log(k),
        "mi_xy_classifier": cm.get("mi_lower_bound"), "mi_xy_classifier_se": cm.get("mi_lower_bound_se"),
        "mi_xy_exact": limits.get("x", nan2)[0], "mi_xy_exact_se": limits.get("x", nan2)[1],
        "classifier_accuracy": acc(pred_orig, yte[ir]),
        "n_recon": int(n_rec), "recon_mse": mse_m, "recon_mse_se": mse_se, "recon_accuracy": acc(pred_rec, yte[ir]),
        "n_swap": int(n_swap), **swap, "sampler_steps": steps,
        "measure_seconds": time.perf_counter() - t0,
    }
    return {"summary": summary, "latents": latents, "rates": curves, "samples": samples}

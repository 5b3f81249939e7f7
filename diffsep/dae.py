"""Diffusion autoencoders (DAE) and the separability measurements of claim 2 (DESIGN.md §1).

A DAE encodes an image ``x`` into latents and decodes with a conditional diffusion model (the
U-Net of :mod:`diffsep.nets.unet` with ``cond='vector'``, whose learned null embedding gives the
unconditional branch). Two flavours, one class:

* **plain**: one latent ``z`` from an encoder with a full view, read by the decoder at every ``s``;
* **ladder** (hierarchical): a *semantic* latent from an encoder that sees a coarse low-pass view
  and a *perceptual* latent from an encoder that sees the full image; the decoder reads
  ``z_sem`` for ``s >= s*`` (high noise, early in generation) and ``z_per`` for ``s < s*``.

Routing (:class:`LadderScoreModel`): the decoder's condition is the concatenation of all latents;
at time ``s`` every latent but the active one is zeroed (the network also sees ``s``, so a zeroed
block is never ambiguous). Training minimises :class:`diffsep.losses.AutoencoderLoss` (the
decoder's denoising loss given reparameterised latent samples, plus ``gamma`` times the KL to
``N(0, I)``), with condition dropout so that ``excess_pair`` gives the null branch.

Measurements (:func:`measure_dae`): ``I(Z; Y)`` of each latent (the MINDE estimator
:func:`diffsep.estimate_mi` on encoded latents with the labels) and a probe bound
``H(Y) - CE`` with probe accuracy; the decoder's neural entropy and the MI rate between image
and latents (:func:`diffsep.measure.measure_information` against the null latent), split at
``s*`` into the part read from ``z_sem`` (``int_{s*}^1 i ds = I(X_{s*}; Z_sem)`` for exact
scores) and from ``z_per``; reconstructions and latent swaps (``z_sem`` of image A with
``z_per`` of image B), judged by an image classifier.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .guidance import heun_pf_ode
from .io import load_torch, save_torch
from .losses import AutoencoderLoss, DenoisingLoss
from .models import ScoreModel
from .nets.encoders import ConvEncoder, image_view
from .nets.unet import UNet
from .process import VPProcess
from .rng import derive_seed, generator
from .schedules import Constant
from .train import TrainConfig, train

__all__ = ["LadderScoreModel", "DiffusionAutoencoder", "dae_spec", "train_dae", "DAETrainResult", "save_dae",
           "load_dae", "encode", "decode", "probe", "measure_dae", "ROLES"]

log = logging.getLogger(__name__)
DAE_FORMAT = "diffsep-dae-1"
ROLES = {"sem": "semantic", "per": "perceptual", "z": "single"}


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------
class LadderScoreModel(nn.Module):
    """A conditional score model whose condition (concatenated latents) is routed by time.

    Latent ``k`` (in order, ``dims[k]`` columns) is read for ``splits[k] <= s < splits[k-1]``
    (``splits`` descending; ``splits[-1] = -inf`` and ``splits[-1 before 0] = +inf`` implied), so
    latent 0 is read at the highest noise. One latent and no splits: plain conditioning.
    Offers the :class:`~diffsep.models.ScoreModel` interface (``excess``, ``excess_pair``).
    """

    def __init__(self, decoder: ScoreModel, dims: list, splits: list):
        super().__init__()
        if len(splits) != len(dims) - 1 or any(a < b for a, b in zip(splits, splits[1:])):
            raise ValueError(f"ladder: need len(dims) - 1 descending splits, got dims {dims}, splits {splits}")
        self.decoder, self.dims, self.splits = decoder, [int(d) for d in dims], [float(v) for v in splits]

    @property
    def process(self) -> VPProcess:
        return self.decoder.process

    def active(self, s: torch.Tensor) -> torch.Tensor:
        """Index of the latent read at each time ``s`` (long tensor shaped like ``s``)."""
        k = torch.zeros(s.shape, dtype=torch.long, device=s.device)
        for v in self.splits:
            k += (s < v).long()
        return k

    def route(self, cond: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``cond`` with every latent block but the active one zeroed."""
        if len(self.dims) == 1:
            return cond
        block = torch.repeat_interleave(torch.arange(len(self.dims), device=cond.device),
                                        torch.tensor(self.dims, device=cond.device))
        keep = block[None, :] == self.active(s)[:, None]
        return cond * keep.to(cond.dtype)

    def excess(self, x, s, cond=None, null=None):
        return self.decoder.excess(x, s, None if cond is None else self.route(cond, s), null)

    def excess_pair(self, x, s, cond):
        return self.decoder.excess_pair(x, s, self.route(cond, s))

    def score(self, x, s, cond=None, null=None):
        return self.process.score_from_excess(x, self.excess(x, s, cond, null))


def dae_spec(channels: int, resolution: int, latents: dict, decoder: dict, s_star: float | None) -> dict:
    """The spec of a plain (``s_star=None``, one latent 'z') or ladder DAE (latents 'sem', 'per').

    ``latents``: name -> encoder kwargs (``dim`` plus :class:`ConvEncoder` arguments);
    ``decoder``: :class:`~diffsep.nets.unet.UNet` kwargs (channels, resolution, cond filled in).
    """
    names = list(latents)
    if s_star is None:
        if len(names) != 1:
            raise ValueError(f"a plain DAE has one latent, got {names}")
        splits = []
    else:
        if names != ["sem", "per"]:
            raise ValueError(f"a ladder DAE has latents ['sem', 'per'] (in that order), got {names}")
        if not 0.0 <= float(s_star) <= 1.0:
            raise ValueError(f"the ladder split time s* must lie in [0, 1], got {s_star}")
        splits = [float(s_star)]
    return {"channels": int(channels), "resolution": int(resolution),
            "latents": {n: dict(v) for n, v in latents.items()}, "decoder": dict(decoder), "splits": splits}


class DiffusionAutoencoder(nn.Module):
    """Encoders (one per latent, each with its own view) and a routed conditional U-Net decoder."""

    def __init__(self, spec: dict, process: VPProcess):
        super().__init__()
        self.spec = copy.deepcopy(spec)
        c, r = int(spec["channels"]), int(spec["resolution"])
        self.encoders = nn.ModuleDict()
        for name, kw in spec["latents"].items():
            kw = dict(kw)
            dim = int(kw.pop("dim"))
            self.encoders[name] = ConvEncoder(c, r, dim, **kw)
        self.names = list(spec["latents"])
        self.dims = [self.encoders[n].latent_dim for n in self.names]
        dec = {**spec["decoder"], "channels": c, "resolution": r, "cond": "vector", "cond_dim": sum(self.dims)}
        net = UNet(**dec)
        self.score_model = LadderScoreModel(ScoreModel(net, process, spec={"net": "unet", "kwargs": dec}),
                                            self.dims, spec["splits"])

    @property
    def process(self) -> VPProcess:
        return self.score_model.process

    @property
    def s_star(self) -> float | None:
        return self.score_model.splits[0] if self.score_model.splits else None

    def posterior(self, x: torch.Tensor) -> dict:
        """``{name: (mean, logvar)}`` of every latent."""
        return {n: self.encoders[n](x) for n in self.names}

    def latent(self, parts: dict, generator: torch.Generator | None = None, sample: bool = True) -> torch.Tensor:
        """Concatenated latents: reparameterised samples ``mean + exp(logvar/2) eps`` (or the means)."""
        zs = []
        for n in self.names:
            m, lv = parts[n]
            if sample:
                eps = torch.randn(m.shape, generator=generator, dtype=m.dtype).to(m.device)
                m = m + (0.5 * lv).exp() * eps
            zs.append(m)
        return torch.cat(zs, dim=1)

    def split(self, z: torch.Tensor) -> dict:
        return dict(zip(self.names, z.split(self.dims, dim=1)))

    def join(self, parts: dict) -> torch.Tensor:
        return torch.cat([parts[n] for n in self.names], dim=1)


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
@dataclass
class DAETrainResult:
    model: DiffusionAutoencoder  # final weights (EMA if enabled, else last; or best held-out)
    steps: int
    seconds: float  # optimisation wall time, summed over resumed runs
    history: list = field(default_factory=list)  # dicts: step, loss, denoising, kl_<name>, holdout, lr, seconds
    best_step: int | None = None
    resumed_from: int = 0


@torch.no_grad()
def _holdout(dae, x, cfg: TrainConfig, gamma: float, batch: int = 1024) -> float:
    """Autoencoder loss on held-out images with fixed draws and no condition dropout."""
    loss = AutoencoderLoss(DenoisingLoss(cfg.weighting, cfg.time_sampling, 0.0, cfg.holdout_draws), gamma)
    total = 0.0
    for start in range(0, x.shape[0], batch):
        xb = x[start:start + batch]
        val, _ = loss(dae, xb, generator(cfg.seed, "dae-holdout", start))
        total += float(val) * xb.shape[0]
    return total / x.shape[0]


def train_dae(dae: DiffusionAutoencoder, x: torch.Tensor, cfg: TrainConfig, gamma: float | dict, *,
              holdout: torch.Tensor | None = None, checkpoint: str | Path | None = None,
              progress: bool = True, desc: str = "dae") -> DAETrainResult:
    """Train encoders and decoder jointly through the training loop of :func:`diffsep.train.train`
    (same determinism, resumable checkpoints, held-out selection and NaN guard) with the loss
    :class:`~diffsep.losses.AutoencoderLoss`. ``gamma``: the KL weight per data dimension, one for
    all latents or ``{latent name: weight}``. History records add ``denoising`` and ``kl_<name>``.
    """
    if cfg.select == "best_holdout" and holdout is None:
        raise ValueError("train.select='best_holdout' needs held-out images")
    ae_loss = AutoencoderLoss(cfg.loss(), gamma)
    res = train(dae, x, None, cfg, holdout=None if holdout is None else (holdout, None),
                checkpoint=checkpoint, progress=progress, desc=desc,
                loss_fn=lambda m, xb, _cond, generator=None: ae_loss(m, xb, generator),
                holdout_fn=None if holdout is None else (lambda m: _holdout(m, holdout, cfg, gamma)),
                fingerprint_extra={"gamma": gamma, "model": "diffusion-autoencoder"})
    return DAETrainResult(model=res.model, steps=res.steps, seconds=res.seconds, history=res.history,
                          best_step=res.best_step, resumed_from=res.resumed_from)


def save_dae(path, dae: DiffusionAutoencoder, meta: dict | None = None) -> None:
    """Write weights, spec and process atomically (loadable with ``weights_only=True``)."""
    save_torch({"format": DAE_FORMAT, "spec": json.dumps(dae.spec), "process": dae.process.to_dict(),
                "state": {k: v.detach().cpu() for k, v in dae.state_dict().items()},
                "meta": json.dumps(meta or {}, default=str)}, path)


def load_dae(path, device="cpu") -> tuple[DiffusionAutoencoder, dict]:
    """Load a DAE written by :func:`save_dae`; returns ``(dae, meta)`` in eval mode."""
    obj = load_torch(path)
    if not isinstance(obj, dict) or obj.get("format") != DAE_FORMAT:
        raise ValueError(f"{path}: not a diffsep DAE file (format {obj.get('format') if isinstance(obj, dict) else None!r})")
    dae = DiffusionAutoencoder(json.loads(obj["spec"]), VPProcess(**obj["process"]))
    dae.load_state_dict(obj["state"])
    return dae.to(device).eval(), json.loads(obj["meta"])


# ------------------------------------------------------------------------------------------------
# encoding, decoding, probes
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def encode(dae: DiffusionAutoencoder, x: torch.Tensor, *, sample: bool = True, seed: int = 0,
           batch_size: int = 1024) -> dict:
    """``{name: z}`` for all of ``x``: posterior samples (fixed stream from ``seed``) or means."""
    out = {n: [] for n in dae.names}
    g = generator(seed, "dae-encode")
    for start in range(0, x.shape[0], batch_size):
        z = dae.split(dae.latent(dae.posterior(x[start:start + batch_size]), g, sample=sample))
        for n in dae.names:
            out[n].append(z[n])
    return {n: torch.cat(v) for n, v in out.items()}


@torch.no_grad()
def decode(dae: DiffusionAutoencoder, z: torch.Tensor, *, seed: int = 0, steps: int = 32,
           batch_size: int = 512, x_init: torch.Tensor | None = None, progress: bool = False) -> torch.Tensor:
    """Images from concatenated latents: the probability-flow ODE (Heun, no guidance) from ``x_init``
    or from ``N(0, I)`` noise drawn from ``seed`` (row ``i`` gets the same draw for any batching);
    the decoder is routed by time, with a grid point at each ladder split."""
    c, r = dae.spec["channels"], dae.spec["resolution"]
    if x_init is None:
        x_init = torch.randn((z.shape[0], c, r, r), generator=generator(seed, "dae-decode"))
    x_init = x_init.to(z.device, z.dtype)
    schedule = Constant(0.0)  # no guidance; the decoder switches latent at the splits: grid points there
    schedule.breakpoints = tuple(dae.score_model.splits)
    out = []
    for start in range(0, z.shape[0], batch_size):
        out.append(heun_pf_ode(dae.score_model, x_init[start:start + batch_size], z[start:start + batch_size],
                               schedule=schedule, steps=steps, progress=progress))
    return torch.cat(out).clamp(-1.0, 1.0)


def _bound(logits: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict:
    """Accuracy and ``H(Y) - CE`` (plug-in label entropy of ``y``), as in :mod:`diffsep.classifier`."""
    logq = logits.double().log_softmax(1).gather(1, y[:, None]).squeeze(1)
    counts = torch.bincount(y, minlength=num_classes).double()
    p = counts / counts.sum()
    terms = logq - torch.log(p)[y]
    n = y.numel()
    return {"accuracy": float((logits.argmax(1) == y).double().mean()), "cross_entropy": float(-logq.mean()),
            "label_entropy": float(-(p[p > 0] * p[p > 0].log()).sum()), "bound": float(terms.mean()),
            "bound_se": float(terms.std() / math.sqrt(n)) if n > 1 else float("nan")}


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
        return _bound(net(b), y_test, num_classes)


def highpass(x: torch.Tensor, view_size: int) -> torch.Tensor:
    """Fine detail of ``x``: the image minus its ``view_size`` px low-pass view (see ConvEncoder)."""
    return image_view(x, "highpass", view_size)


def encode_images(x: torch.Tensor) -> list[str]:
    """Images in ``[-1, 1]`` as base64 strings of uint8 bytes (row-major ``C, H, W``)."""
    u8 = ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return [base64.b64encode(a.tobytes()).decode("ascii") for a in u8]


def decode_images(strings, channels: int, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`encode_images`: float array ``(N, C, H, W)`` in ``[0, 1]``."""
    arr = [np.frombuffer(base64.b64decode(s), dtype=np.uint8).reshape(channels, height, width) for s in strings]
    return np.stack(arr).astype(np.float64) / 255.0


# ------------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------------
@torch.no_grad()
def _kl(dae: DiffusionAutoencoder, x: torch.Tensor, batch_size: int = 1024) -> dict:
    """Per-image ``KL(q(z|x) || N(0, I))`` of every latent (nats)."""
    out = {n: [] for n in dae.names}
    for start in range(0, x.shape[0], batch_size):
        for n, (m, lv) in dae.posterior(x[start:start + batch_size]).items():
            out[n].append(AutoencoderLoss.kl(m, lv))
    return {n: torch.cat(v).double().cpu() for n, v in out.items()}


def _mean_se(v) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan"))


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
                classifier_meta: dict | None = None, device="cpu", progress: bool = False) -> dict:
    """Every measurement of one trained DAE on a prepared labelled image dataset ``data``.

    Returns ``summary`` (one dict), ``latents`` (one dict per latent), ``rates`` (DataFrame of the
    decoder's rate curves, with the latent read at each node) and ``samples`` (images for the
    figures: originals, reconstructions and a swap grid, with classifier predictions).
    ``settings``: ``n_eval, n_times, eval_batch_size, probe{...}, mi{...}, sampler_steps,
    n_recon, n_swap, grid`` (see the config schema, ``experiments.dae``).
    """
    from .api import estimate_mi
    from .classifier import predict
    from .measure import measure_information, quadrature_nodes

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
        return np.random.default_rng(derive_seed(seed, "dae", tag) % 2**32)

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

    # latents: label information (MINDE on latents, probe bound), KL, what the decoder reads
    latents = []
    y_all = torch.cat([ytr, yte]).numpy()
    mi_kw = dict(settings.get("mi") or {})
    probe_kw = dict(settings.get("probe") or {})
    for j, n in enumerate(dae.names):
        pr = probe(ztr[n], ytr, zte[n], yte, k, seed=seed, **probe_kw)
        z_all = torch.cat([ztr[n], zte[n]]).double().cpu().numpy()
        est = estimate_mi(z_all, y_all, discrete=True, seed=seed, device=str(dev), **mi_kw)
        w = q.weights * (active == j)
        kl_m, kl_se = _mean_se(kl[n].numpy())
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
            "decoder_mi": float(np.dot(w, curves["i_rate_lam"])),
            "decoder_mi_se": float(np.sqrt(np.dot(w**2, curves["i_rate_lam_se"].fillna(0.0) ** 2))),
            "decoder_entropy": float(np.dot(w, curves["r_cond_lam"])),
            "decoder_entropy_null": float(np.dot(w, curves["r_marg_lam"])),
        })

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
    mse_m, mse_se = _mean_se(mse)
    summary = {
        "variant": "ladder" if ladder else "plain", "s_star": dae.s_star, "num_classes": k,
        "dim": int(np.prod(xte.shape[1:])), "n_train": int(xtr.shape[0]), "n_test": int(xte.shape[0]),
        "n_eval": int(n_eval), "n_times": int(info.n_times),
        "S_marg": info.S_marg, "S_marg_se": info.S_marg_se, "S_cond": info.S_cond, "S_cond_se": info.S_cond_se,
        "mi_xz": info.mi_minde, "mi_xz_se": info.mi_minde_se,
        "label_entropy": latents[0]["label_entropy"], "log_k": math.log(k),
        "mi_xy_classifier": cm.get("mi_lower_bound"), "mi_xy_classifier_se": cm.get("mi_lower_bound_se"),
        "classifier_accuracy": acc(pred_orig, yte[ir]),
        "n_recon": int(n_rec), "recon_mse": mse_m, "recon_mse_se": mse_se, "recon_accuracy": acc(pred_rec, yte[ir]),
        "n_swap": int(n_swap), **swap, "sampler_steps": steps,
        "measure_seconds": time.perf_counter() - t0,
    }
    return {"summary": summary, "latents": latents, "rates": curves, "samples": samples}



# ------------------------------------------------------------------------------------------------
# DAG stages (rules in workflow/rules/dae.smk)
# ------------------------------------------------------------------------------------------------
def latent_specs(settings: dict, s_star: float | None) -> tuple[dict, dict]:
    """Encoder specs and KL weights from ``experiments.dae``: ladder ('sem', 'per') or plain ('z':
    the perceptual encoder's settings with the two latent sizes added up, the default gamma)."""
    lat = {}
    for name, key in (("sem", "semantic"), ("per", "perceptual")):
        lat[name] = {k: v for k, v in settings["latents"][key].items() if v is not None}
    gamma = {n: float(v.pop("gamma", settings["gamma"])) for n, v in lat.items()}
    if s_star is not None:
        return lat, gamma
    return {"z": {**lat["per"], "dim": int(lat["sem"]["dim"]) + int(lat["per"]["dim"])}}, {"z": float(settings["gamma"])}


def _labelled_images(data, path) -> None:
    if data.modality != "image" or data.cond != "label":
        raise ValueError(f"{path}: the DAE stage needs labelled images, got a {data.modality} dataset with "
                         f"{data.cond!r} conditions")


def train_job(inp: dict, out: dict, dataset: str, resolution: int, s_star: float | None, seed: int,
              settings: dict, process: dict, threads: int = 1, device: str = "auto", progress: bool = True,
              **_) -> None:
    """Train one DAE (plain if ``s_star`` is None, else a ladder split at ``s_star``) -> ``out['model']``
    and its history (table ``dae_training``); resumable from ``<model>.ckpt``."""
    from . import tables
    from .data import load_prepared
    from .stages import _provenance, _setup

    cpu0 = time.process_time()
    dev = _setup(threads, device)
    data = load_prepared(inp["data"])
    _labelled_images(data, inp["data"])
    proc = VPProcess(**process)
    latents, gamma = latent_specs(settings, s_star)
    spec = dae_spec(data.x_train.shape[1], data.x_train.shape[2], latents, settings["decoder"], s_star)
    tcfg = TrainConfig.from_dict({**(settings.get("train") or {}), "seed": int(seed), "threads": int(threads)})
    x = torch.as_tensor(data.x_train, dtype=torch.float32, device=dev)
    perm = np.random.default_rng(derive_seed(seed, "dae-holdout-split") % 2**32).permutation(x.shape[0])
    n_hold = int(round(float(settings.get("holdout_fraction", 0.0)) * x.shape[0]))
    tr, ho = np.sort(perm[n_hold:]), np.sort(perm[:n_hold])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "dae-init"))
        dae = DiffusionAutoencoder(spec, proc).to(dev)
    variant = "plain" if s_star is None else "ladder"
    res = train_dae(dae, x[tr], tcfg, gamma, holdout=x[ho] if n_hold else None,
                    checkpoint=Path(out["model"]).with_suffix(".ckpt"), progress=progress,
                    desc=f"dae {dataset}/{resolution} {variant} s*={s_star}")
    hist = pd.DataFrame(res.history)
    hist["kl"] = hist[[c for c in hist if c.startswith("kl_")]].sum(axis=1)
    for c in ("kl_sem", "kl_per", "holdout"):
        if c not in hist:
            hist[c] = np.nan
    ident = tables.identity(dataset, resolution, settings["name"], seed)
    hist = hist.assign(**ident, variant=variant, s_star=s_star)
    tables.write(hist[tables.schema("dae_training").names], "dae_training", out["history"])
    last = res.history[-1] if res.history else {}
    meta = {"dataset": dataset, "resolution": int(resolution), "seed": int(seed), "variant": variant,
            "s_star": s_star, "gamma": gamma, "train_steps": res.steps,
            "train_seconds": res.seconds, "train_cpu_seconds": time.process_time() - cpu0,
            "final_loss": last.get("loss"), "final_denoising": last.get("denoising"),
            "n_train": int(len(tr)), "n_holdout": int(len(ho)), **_provenance(dev)}
    save_dae(out["model"], res.model, meta)
    log.info("DAE %s/%s %s s*=%s seed %s: %d steps in %.1f s (job CPU %.1f s), loss %.4f", dataset, resolution,
             variant, s_star, seed, res.steps, res.seconds, meta["train_cpu_seconds"], last.get("loss", float("nan")))


def measure_job(inp: dict, out: dict, dataset: str, resolution: int, seed: int, settings: dict,
                threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Measure one trained DAE -> tables ``dae`` (summary), ``dae_latents``, ``dae_rates``, ``dae_samples``.

    ``inp['classifier']`` (optional): the image classifier that judges reconstructions and swaps."""
    from . import tables
    from .classifier import load_classifier
    from .data import load_prepared
    from .stages import _provenance, _setup

    cpu0 = time.process_time()
    dev = _setup(threads, device)
    data = load_prepared(inp["data"])
    _labelled_images(data, inp["data"])
    dae, meta = load_dae(inp["model"], device=dev)
    clf, clf_meta = (load_classifier(inp["classifier"], device=dev) if inp.get("classifier") else (None, None))
    r = measure_dae(dae, data, settings, seed=int(seed), classifier=clf, classifier_meta=clf_meta, device=dev,
                    progress=progress)
    ident = tables.identity(dataset, resolution, settings["name"], seed)
    arm = {"variant": r["summary"]["variant"], "s_star": r["summary"]["s_star"]}
    main = arm["s_star"] is not None and math.isclose(float(arm["s_star"]), float(settings["s_star"]), abs_tol=1e-12)
    summary = {**ident, **r["summary"], "main": bool(main), "train_steps": meta.get("train_steps"),
               "train_seconds": meta.get("train_seconds"), "train_cpu_seconds": meta.get("train_cpu_seconds"),
               "measure_cpu_seconds": time.process_time() - cpu0, "final_loss": meta.get("final_loss"),
               "final_denoising": meta.get("final_denoising"), **_provenance(dev)}
    frames = {"dae": pd.DataFrame([summary]),
              "dae_latents": pd.DataFrame(r["latents"]).assign(**ident, **arm, gamma=[
                  float((meta.get("gamma") or {}).get(x["latent"], float("nan"))) for x in r["latents"]]),
              "dae_rates": r["rates"].assign(**ident, **arm),
              "dae_samples": r["samples"].assign(**ident, **arm)}
    for table, key in (("dae", "summary"), ("dae_latents", "latents"), ("dae_rates", "rates"),
                       ("dae_samples", "samples")):
        df = frames[table]
        names = tables.schema(table).names
        for c in names:
            if c not in df:
                df[c] = np.nan
        df = df[names].copy()
        for c in tables.schema(table).columns:
            if c.type == "int64" and c.nullable:
                df[c.name] = df[c.name].astype("Int64")
        tables.write(df, table, out[key])
    lat = {x["latent"]: x for x in r["latents"]}
    log.info("DAE %s/%s %s s*=%s: I(Z;Y) %s; swap follows A %.3f, B %.3f (job CPU %.1f s)", dataset, resolution,
             arm["variant"], arm["s_star"], ", ".join(f"{n} {v['mi_y']:.3f}±{v['mi_y_se']:.3f}" for n, v in lat.items()),
             r["summary"]["swap_follows_a"], r["summary"]["swap_follows_b"], time.process_time() - cpu0)

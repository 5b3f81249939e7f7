"""Diffusion autoencoders: the model (encoders + time-routed decoder), its training, files,
encoding and decoding. See :mod:`diffsep.dae` for the design."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..guidance import heun_pf_ode
from ..io import load_artifact, save_artifact
from ..losses import AutoencoderLoss, DenoisingLoss
from ..models import ScoreModel
from ..nets.encoders import ConvEncoder
from ..nets.unet import UNet
from ..process import VPProcess
from ..rng import generator
from ..schedules import Constant
from ..train import TrainConfig, train

__all__ = ["check_train_settings", "LadderScoreModel", "DiffusionAutoencoder", "dae_spec", "latent_specs", "train_dae",
           "DAETrainResult", "convergence", "save_dae", "load_dae", "encode", "decode"]

DAE_FORMAT = "diffsep-dae-1"


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



def check_train_settings(settings: dict, s_star: float | None, key: str = "experiments.dae",
                         channels: int = 1, resolution: int = 8) -> None:
    """The DAE training job's own checks (``diffsep validate`` runs them too): its encoders and
    decoder are built on the ``meta`` device (the same constructors, no memory) and its training
    settings parsed; errors name the config key."""
    from ..checks import keyed
    from ..nets import check_net_kwargs

    try:
        check_net_kwargs("unet", settings["decoder"], {"cond": "vector", "cond_dim": 2})
    except ValueError as exc:
        raise ValueError(keyed(f"{key}.decoder", exc)) from None
    latents, gamma = latent_specs(settings, s_star)
    names = {"sem": "semantic", "per": "perceptual", "z": "perceptual"}
    for n, g in gamma.items():
        if not g >= 0 or g != g or g == float("inf"):
            raise ValueError(f"config key '{key}.latents.{names[n]}.gamma': must be a finite number >= 0, got {g!r}")
    for n, kw in latents.items():
        kw = dict(kw)
        try:
            with torch.device("meta"):
                ConvEncoder(channels, resolution, int(kw.pop("dim")), **kw)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(keyed(f"{key}.latents.{names[n]}", exc)) from None
    try:
        TrainConfig.from_dict({**(settings.get("train") or {})})
    except (TypeError, ValueError) as exc:
        raise ValueError(keyed(f"{key}.train", exc)) from None


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


def convergence(history) -> dict:
    """The training table's convergence criterion (:func:`diffsep.train.plateau`) on a DAE history
    (records or a frame with ``step`` and ``holdout``, the held-out autoencoder loss):
    ``{plateau_gain, converged}``; ``converged`` is None without held-out evaluations before the
    last part of training (``holdout_fraction`` 0 or too few ``eval_every`` rows)."""
    import pandas as pd

    from ..train import plateau

    h = pd.DataFrame(history)
    if not len(h) or "holdout" not in h:
        return {"plateau_gain": float("nan"), "converged": None}
    gain, _, conv = plateau(h["step"], h["holdout"])
    return {"plateau_gain": gain, "converged": conv}


def save_dae(path, dae: DiffusionAutoencoder, meta: dict | None = None) -> None:
    """Write weights, spec and process atomically (loadable with ``weights_only=True``)."""
    save_artifact(path, DAE_FORMAT, dae, meta, spec=dae.spec, process=dae.process.to_dict())


def load_dae(path, device="cpu") -> tuple[DiffusionAutoencoder, dict]:
    """Load a DAE written by :func:`save_dae`; returns ``(dae, meta)`` in eval mode."""
    f, state = load_artifact(path, DAE_FORMAT, "DAE")
    dae = DiffusionAutoencoder(f["spec"], VPProcess(**f["process"]))
    dae.load_state_dict(state)
    return dae.to(device).eval(), f["meta"]


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

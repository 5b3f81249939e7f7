"""Denoising score-matching loss in the entropy-matching parametrisation (docs/equations.md).

``L = E_{s, eps} [ lambda(s) || sigma(s) (e(x_s, s, c) - x_s) + eps ||^2 ]``, averaged over data
dimensions. ``lambda = 1`` (``weighting="none"``) or the maximum-likelihood weight
``beta / (2 sigma^2)`` (``weighting="ml"``). Times are drawn uniformly in ``s``
(``time_sampling="s"``) or uniformly in log-SNR (``"log_snr"``); the latter is *not* importance
corrected, so it changes the effective weighting to ``lambda(s) * beta / sigma^2`` (the ML
weighting, sampled with low variance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .process import VPProcess

__all__ = ["DenoisingLoss", "denoising_error", "denoising_residual", "AutoencoderLoss"]

WEIGHTINGS = ("none", "ml")
TIME_SAMPLINGS = ("log_snr", "s")


def denoising_residual(e, x_s, eps, sig):
    """``sigma (e - x_s) + eps = eps + sigma * score``: the denoising error of the excess score ``e``
    at ``x_s`` (``sig`` broadcast over the data dimensions). Its squared norm is the training loss
    and, as a difference between conditions, the MMSE-gap estimator."""
    return sig * (e - x_s) + eps


def denoising_error(model, x0, s, eps, cond=None, null=None):
    """Per-sample ``|| sigma (e - x_s) + eps ||^2`` averaged over dimensions (unweighted)."""
    p: VPProcess = model.process
    x_s, _ = p.perturb(x0, s, eps)
    e = model.excess(x_s, s, cond, null)
    sig = p.sigma(s).view((-1,) + (1,) * (x0.dim() - 1))
    return denoising_residual(e, x_s, eps, sig).flatten(1).pow(2).mean(1)


@dataclass
class DenoisingLoss:
    weighting: str = "none"  # 'none' (lambda = 1) or 'ml' (beta / (2 sigma^2))
    time_sampling: str = "log_snr"  # 'log_snr' or 's'
    p_uncond: float = 0.1  # probability of replacing the condition with the null token
    noise_draws: int = 1  # noise/time draws per data sample per step

    def __post_init__(self):
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; known: {list(WEIGHTINGS)}")
        if self.time_sampling not in TIME_SAMPLINGS:
            raise ValueError(f"unknown time_sampling {self.time_sampling!r}; known: {list(TIME_SAMPLINGS)}")
        if not 0.0 <= self.p_uncond <= 1.0:
            raise ValueError(f"p_uncond must lie in [0, 1], got {self.p_uncond}")
        if self.noise_draws < 1:
            raise ValueError(f"noise_draws must be >= 1, got {self.noise_draws}")

    def __call__(self, model, x0, cond=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean loss over the batch; all randomness comes from ``generator`` (CPU) for determinism."""
        p: VPProcess = model.process
        k = self.noise_draws
        if k > 1:
            x0 = x0.repeat_interleave(k, 0)
            cond = None if cond is None else cond.repeat_interleave(k, 0)
        n = x0.shape[0]
        s = p.sample_time(n, self.time_sampling, generator=generator, dtype=x0.dtype).to(x0.device)
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
        null = None
        if cond is not None and self.p_uncond > 0:
            null = (torch.rand(n, generator=generator) < self.p_uncond).to(x0.device)
        err = denoising_error(model, x0, s, eps, cond, null)
        if self.weighting == "ml":
            err = err * (p.beta(s) / (2 * p.sigma2(s)))
        return err.mean()


@dataclass
class AutoencoderLoss:
    """Diffusion-autoencoder loss: the decoder's :class:`DenoisingLoss` given latents sampled from
    the encoders' Gaussian posteriors (reparameterised), plus ``gamma * KL(q(z|x) || N(0, I)) / D``.

    The KL (nats per image) is divided by the data dimension ``D`` like the denoising loss, which
    is a mean over dimensions. With ``lambda = 1`` and log-SNR time sampling the denoising loss is
    ``2 / (D Lambda)`` times the diffusion ELBO term (``Lambda``: the log-SNR range, ~22 for the
    default process), so ``gamma = 2 / Lambda ~ 0.09`` is the ELBO (a beta-VAE with beta = 1).

    ``dae`` offers ``posterior(x0) -> {name: (mean, logvar)}``, ``latent(parts, generator)`` (a
    reparameterised sample, concatenated) and ``score_model`` (the routed decoder). Returns the
    total loss and its parts (``denoising``, ``kl_<name>`` in nats per image, means over the batch).
    """

    denoising: DenoisingLoss
    gamma: float | dict = 1e-3  # KL weight per data dimension (see above); or {latent name: weight}

    def __post_init__(self):
        weights = self.gamma.values() if isinstance(self.gamma, dict) else [self.gamma]
        if not all(w >= 0 for w in weights):
            raise ValueError(f"gamma (the KL weight) must be >= 0, got {self.gamma}")

    @staticmethod
    def kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Per-sample ``KL(N(mean, exp(logvar)) || N(0, I))`` in nats."""
        return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)

    def __call__(self, dae, x0, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        parts = dae.posterior(x0)
        z = dae.latent(parts, generator)
        dsm = self.denoising(dae.score_model, x0, z, generator=generator)
        kls = {name: self.kl(m, lv).mean() for name, (m, lv) in parts.items()}
        dim = x0[0].numel()
        g = self.gamma if isinstance(self.gamma, dict) else dict.fromkeys(kls, self.gamma)
        total = dsm + sum(g[k] * v for k, v in kls.items()) / dim
        return total, {"denoising": dsm.detach(), **{f"kl_{k}": v.detach() for k, v in kls.items()}}

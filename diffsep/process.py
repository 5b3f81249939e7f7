"""The variance-preserving (VP) forward process: the one place its formulas live.

Diffusion time ``s`` in ``[s_min, 1]``; ``beta(s) = beta_min + (beta_max - beta_min) s``;
``x_s = mu(s) x_0 + sigma(s) eps`` with ``mu = exp(-B(s)/2)``, ``B(s) = int_0^s beta``,
``sigma = sqrt(1 - mu^2)``. The equilibrium is ``N(0, I)``, whose score is ``-x``.

Every function accepts floats, numpy arrays or torch tensors and returns the same kind.
Time conversions used throughout the reports:

* log-SNR ``lambda(s) = log(mu^2 / sigma^2)`` (decreasing in ``s``),
* EDM noise level ``sigma_edm(s) = sigma / mu = exp(-lambda / 2)``,
* ``d lambda / d s = -beta(s) / sigma(s)^2``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

__all__ = ["VPProcess", "DEFAULT"]


def _is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor (torch is imported only by code that has tensors: the report
    uses this module with numpy and never loads torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _lib(x):
    return sys.modules["torch"] if _is_tensor(x) else np


def _softplus(x):
    if _is_tensor(x):
        return sys.modules["torch"].nn.functional.softplus(x)
    x = np.asarray(x, dtype=float)
    return np.logaddexp(0.0, x)


@dataclass(frozen=True)
class VPProcess:
    """VP SDE ``dx = -beta(s)/2 x ds + sqrt(beta(s)) dW`` with a linear ``beta`` schedule."""

    beta_min: float = 0.1  # beta(0), 1/time
    beta_max: float = 16.0  # beta(1), 1/time
    s_min: float = 1e-5  # lower time cutoff used by training and estimators

    def __post_init__(self):
        if not (self.beta_min > 0 and self.beta_max > self.beta_min):
            raise ValueError(f"VP schedule needs 0 < beta_min < beta_max, got {self.beta_min}, {self.beta_max}")
        if not (0 < self.s_min < 1):
            raise ValueError(f"s_min must lie in (0, 1), got {self.s_min}")

    # ---- schedule ---------------------------------------------------------------------------
    def beta(self, s):
        return self.beta_min + (self.beta_max - self.beta_min) * s

    def int_beta(self, s):
        """``B(s) = int_0^s beta``."""
        return self.beta_min * s + 0.5 * (self.beta_max - self.beta_min) * s * s

    def log_mu(self, s):
        return -0.5 * self.int_beta(s)

    def mu(self, s):
        return _lib(s).exp(self.log_mu(s))

    def sigma2(self, s):
        # 1 - exp(-B) computed without cancellation
        return -_lib(s).expm1(-self.int_beta(s))

    def sigma(self, s):
        return _lib(s).sqrt(self.sigma2(s))

    # ---- time reparametrisations -------------------------------------------------------------
    def log_snr(self, s):
        """``lambda = log(mu^2/sigma^2) = -B - log(1 - e^{-B})``."""
        b = self.int_beta(s)
        return -b - _lib(s).log(-_lib(s).expm1(-b))

    def edm_sigma(self, s):
        """EDM noise level ``sigma/mu``."""
        return _lib(s).exp(-0.5 * self.log_snr(s))

    def s_from_log_snr(self, lam):
        """Inverse of :meth:`log_snr`: solve ``B(s) = softplus(-lambda)`` for ``s``."""
        b = _softplus(-lam)
        a = self.beta_max - self.beta_min
        lib = _lib(lam)
        return 2.0 * b / (self.beta_min + lib.sqrt(self.beta_min**2 + 2.0 * a * b))

    def s_from_edm_sigma(self, sig):
        return self.s_from_log_snr(-2.0 * _lib(sig).log(sig))

    def dlogsnr_ds(self, s):
        """``d lambda / d s = -beta / sigma^2``."""
        return -self.beta(s) / self.sigma2(s)

    @property
    def log_snr_range(self) -> tuple[float, float]:
        """``(lambda(1), lambda(s_min))``: the log-SNR interval covered by ``[s_min, 1]``."""
        return float(self.log_snr(1.0)), float(self.log_snr(self.s_min))

    # ---- forward process ---------------------------------------------------------------------
    def perturb(self, x0, s, eps=None, generator=None):
        """Draw ``x_s = mu x_0 + sigma eps`` (torch tensors); returns ``(x_s, eps)``. ``s`` has shape
        ``(batch,)``; ``eps`` is drawn from ``generator`` when not given."""
        if eps is None:
            import torch

            eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return self.mu(s).view(shape) * x0 + self.sigma(s).view(shape) * eps, eps

    @staticmethod
    def equilibrium_score(x):
        """Score of ``N(0, I)``: ``-x``."""
        return -x

    def score_from_excess(self, x, e):
        """``score = -x + e`` (entropy-matching parametrisation)."""
        return self.equilibrium_score(x) + e

    def denoise(self, x_s, score, s):
        """Tweedie denoiser ``E[x_0 | x_s] = (x_s + sigma^2 score) / mu``."""
        shape = (-1,) + (1,) * (x_s.dim() - 1)
        return (x_s + self.sigma2(s).view(shape) * score) / self.mu(s).view(shape)

    def drift(self, x, score, s):
        """Probability-flow ODE right-hand side ``dx/ds = -beta/2 (x + score)``."""
        shape = (-1,) + (1,) * (x.dim() - 1) if _is_tensor(s) and s.dim() > 0 else ()
        b = self.beta(s)
        b = b.view(shape) if shape else b
        return -0.5 * b * (x + score)

    # ---- time grids and time sampling --------------------------------------------------------
    def grid(self, n: int, spacing: str = "log_snr", s_min: float | None = None, s_max: float = 1.0):
        """``n`` times in ``[s_min, s_max]`` ordered from high noise to low (``s`` decreasing).

        ``spacing`` is ``"log_snr"`` (uniform in lambda; the default for quadrature) or ``"s"``.
        Returns a float64 numpy array.
        """
        lo = self.s_min if s_min is None else s_min
        if n < 2:
            raise ValueError(f"a time grid needs at least 2 points, got {n}")
        if spacing == "s":
            return np.linspace(s_max, lo, n)
        if spacing == "log_snr":
            lam = np.linspace(float(self.log_snr(s_max)), float(self.log_snr(lo)), n)
            s = self.s_from_log_snr(lam)
            s[0], s[-1] = s_max, lo
            return s
        raise ValueError(f"unknown time spacing {spacing!r}; known: 'log_snr', 's'")

    def sample_time(self, n: int, how: str = "log_snr", generator=None, device=None, dtype=None,
                    stratified: bool = False):
        """Draw ``n`` training/evaluation times in ``[s_min, 1]``.

        ``how="s"`` draws ``s ~ U(s_min, 1)``; ``how="log_snr"`` draws lambda uniformly over the
        covered log-SNR range. ``stratified=True`` puts one draw in each of ``n`` equal strata.
        A torch tensor of ``dtype`` (float32 unless given), drawn from ``generator``.
        """
        import torch

        dtype = torch.float32 if dtype is None else dtype
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        if stratified:
            u = (torch.arange(n, dtype=torch.float64) + u) / n
        if how == "s":
            s = self.s_min + (1.0 - self.s_min) * u
        elif how == "log_snr":
            lo, hi = self.log_snr_range
            s = self.s_from_log_snr(lo + (hi - lo) * u)
            s = s.clamp(self.s_min, 1.0)
        else:
            raise ValueError(f"unknown time sampling {how!r}; known: 'log_snr', 's'")
        return s.to(device=device, dtype=dtype)

    def to_dict(self) -> dict:
        return {"beta_min": self.beta_min, "beta_max": self.beta_max, "s_min": self.s_min}


DEFAULT = VPProcess()

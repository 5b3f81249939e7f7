"""Exact ground truth at image scale: a labelled Gaussian texture mixture (docs/equations.md §12.3).

Pixels ``x`` in ``R^D`` (``D = C R^2``), ``y`` uniform on ``K`` classes, ``x | y ~ N(m_y, Sigma)``:

* **class means** ``m_y``: smooth low-frequency patterns (a Gaussian bump whose position on a circle
  encodes the class, minus the mean over classes), so the label lives at low frequency;
* **one shared stationary covariance** ``Sigma = F^H diag(p) F`` per channel (``F`` the unitary 2-D
  DFT, periodic boundary; channels independent, same spectrum), with a power spectrum
  ``p(f) = sigma_pix^2 ((1 - floor) g(f) / mean(g) + floor)``, ``g(f) = (|f|^2 + f_0^2)^(-alpha/2)``:
  a steep power law with a floor, so the data sit near a lower-dimensional set like natural images.

Along the VP process ``x_s | y ~ N(mu m_y, Sigma_s)`` with ``Sigma_s = F^H diag(mu^2 p + sigma^2) F``,
so every inverse and log-determinant is a sum over Fourier modes:

* conditional score ``-Sigma_s^{-1} (x - mu m_y)``; class posterior ``w_y(x) = softmax_y(log pi_y -
  1/2 (x - mu m_y)^T Sigma_s^{-1} (x - mu m_y))``; marginal score ``sum_y w_y score_y`` (one inverse
  transform: ``-Sigma_s^{-1} (x - mu sum_y w_y m_y)``);
* ``I(X_s; Y) = H(Y) + E log w_y(x_s)`` (Monte Carlo over ``(x, y)`` with the exact posterior);
* ``KL(p_s(.|y) || N(0, I))`` in closed form; ``KL(p_s || N(0, I)) = E_y KL(p_s(.|y) || N) - I(X_s; Y)``;
  hence ``E_y S_NN(X|y)`` exactly and ``S_NN(X) = E_y S_NN(X|y) - [I(X_{s_min};Y) - I(X_1;Y)]``.

**Resolutions.** The prepare step downsamples by area averaging (the exact box filter for integer
factors, :func:`diffsep.data.images.resample`). Box averaging and decimation are linear and map a
stationary periodic law to a stationary periodic law, so each coarser resolution has its own exact
law: means box-averaged, spectrum that of the box-filtered and decimated autocovariance
(:meth:`GaussianTextureMixture.downsample`). The coarse data of a dataset are therefore exact
draws from the coarse law; only integer factors (resolutions that divide the native one) are allowed.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["GaussianTextureMixture", "ExactTextureScore", "texture_law"]


def _radial_freq(r: int) -> np.ndarray:
    f = np.fft.fftfreq(r)
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


class GaussianTextureMixture:
    """``x | y ~ N(means[y], Sigma)``, ``Sigma`` diagonal in the unitary 2-D DFT with ``spectrum``."""

    def __init__(self, means: np.ndarray, spectrum: np.ndarray, weights=None):
        self.means = np.asarray(means, dtype=np.float64)  # (K, C, R, R)
        self.spectrum = np.asarray(spectrum, dtype=np.float64)  # (R, R), > 0, p(f) = p(-f)
        k, c, r, r2 = self.means.shape
        if r != r2 or self.spectrum.shape != (r, r):
            raise ValueError(f"texture mixture: means {self.means.shape} and spectrum {self.spectrum.shape} disagree")
        if not (np.isfinite(self.spectrum).all() and (self.spectrum > 0).all()):
            raise ValueError("texture mixture: the power spectrum must be finite and > 0 everywhere")
        if k < 2:
            raise ValueError(f"texture mixture: need at least 2 classes, got {k}")
        self.k, self.c, self.r = k, c, r
        self.d = c * r * r
        self.weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, float) / np.sum(weights)
        self.mean_hat = np.fft.fft2(self.means, norm="ortho")  # (K, C, R, R) complex

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def make(cls, num_classes: int = 4, channels: int = 1, resolution: int = 32, amplitude: float = 0.12,
             pixel_std: float = 0.1, alpha: float = 3.0, floor: float = 0.01, width: float = 0.35,
             radius: float = 0.45, mean_grid: int = 0) -> "GaussianTextureMixture":
        """Class means: a Gaussian bump (std ``width`` in image coordinates ``[-1, 1]``) at angle
        ``2 pi y / K`` on a circle of ``radius``, times ``amplitude``, minus the mean over classes
        (channel ``j`` of an RGB image: the bump of class ``y + j`` so channels differ). Spectrum as
        in the module docstring, ``f_0 = 1 / resolution`` cycles per pixel. ``mean_grid = g > 0``:
        the means are averaged over the cells of a ``g x g`` grid (constant on each cell), so the
        label lives exactly in the ``g x g`` block-average view and the image minus that view (at any
        resolution that ``g`` divides) is label-free: the exact separability check of claim 2."""
        k, c, r = int(num_classes), int(channels), int(resolution)
        u = (np.arange(r) + 0.5) / r * 2 - 1
        gy, gx = np.meshgrid(u, u, indexing="ij")
        bumps = []
        for y in range(k):
            phi = 2 * math.pi * y / k
            cx, cy = radius * math.cos(phi), radius * math.sin(phi)
            bumps.append(np.exp(-0.5 * ((gx - cx) ** 2 + (gy - cy) ** 2) / width ** 2))
        bumps = np.stack(bumps)
        means = np.stack([[bumps[(y + j) % k] for j in range(c)] for y in range(k)]) * amplitude
        means -= means.mean(0, keepdims=True)
        if mean_grid:
            g = int(mean_grid)
            if g < 1 or r % g:
                raise ValueError(f"texture mixture: mean_grid {mean_grid} must divide the resolution {r}")
            cells = means.reshape(k, c, g, r // g, g, r // g).mean(axis=(3, 5), keepdims=True)
            means = np.broadcast_to(cells, (k, c, g, r // g, g, r // g)).reshape(k, c, r, r).copy()
        f = _radial_freq(r)
        g = (f ** 2 + (1.0 / r) ** 2) ** (-alpha / 2)
        spectrum = pixel_std ** 2 * ((1 - floor) * g / g.mean() + floor)
        return cls(means, spectrum)

    def covariance(self) -> np.ndarray:
        """The dense pixel covariance ``Sigma`` ``(D, D)`` (row-major ``C, R, R``; channels independent)."""
        e = np.eye(self.d).reshape(self.d, self.c, self.r, self.r)
        return np.fft.ifft2(np.fft.fft2(e) * self.spectrum).real.reshape(self.d, self.d)

    def view_mi(self, matrix: np.ndarray | None = None, n: int = 20_000, seed=0) -> tuple[float, float]:
        """Exact ``I(V X; Y)`` of a linear view ``V x`` (``matrix`` ``(m, D)``, None: the image itself)
        by Monte Carlo with the exact posterior: ``V x | y ~ N(V m_y, V Sigma V^T)`` (a Gaussian mixture
        with shared covariance, whitened on the range of ``V Sigma V^T``). ``(value, se)``; 0 when
        ``V m_y`` is the same for every class (the view carries no label information)."""
        v = np.eye(self.d) if matrix is None else np.asarray(matrix, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != self.d:
            raise ValueError(f"texture mixture: a view matrix needs {self.d} columns, got shape {v.shape}")
        lam, u = np.linalg.eigh(v @ self.covariance() @ v.T)
        keep = lam > 1e-10 * max(float(lam.max()), 1e-300)
        w = v.T @ (u[:, keep] / np.sqrt(lam[keep]))  # (D, r): pixels -> whitened view coordinates
        centres = self.means.reshape(self.k, -1) @ w  # (K, r)
        if np.ptp(centres, axis=0).max(initial=0.0) < 1e-12:
            return 0.0, 0.0
        x, y = self.sample(int(n), [*np.atleast_1d(seed).tolist(), 0x71E])
        z = x.reshape(len(y), -1) @ w
        logits = np.log(self.weights)[None] - 0.5 * ((z[:, None, :] - centres[None]) ** 2).sum(-1)
        logits -= np.logaddexp.reduce(logits, axis=1, keepdims=True)
        terms = logits[np.arange(len(y)), y] - np.log(self.weights)[y]
        return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(terms.size))

    def downsample(self, factor: int) -> "GaussianTextureMixture":
        """The exact law of ``factor x factor`` box averages (``factor`` must divide the side)."""
        f = int(factor)
        if f == 1:
            return self
        if f < 1 or self.r % f:
            raise ValueError(f"texture mixture: factor {factor} does not divide the resolution {self.r}")
        rc = self.r // f
        means = self.means.reshape(self.k, self.c, rc, f, rc, f).mean(axis=(3, 5))
        # the spectrum is the (unnormalised) DFT of the autocovariance; box filtering (b, the f x f box
        # / f^2) multiplies it by |DFT(b)|^2, decimation keeps the lags that are multiples of f
        box = np.zeros((self.r, self.r))
        box[:f, :f] = 1.0 / f ** 2
        filtered = np.fft.ifft2(self.spectrum * np.abs(np.fft.fft2(box)) ** 2).real  # filtered autocovariance
        coarse = filtered[::f, ::f]  # decimation: lags that are multiples of f
        spectrum = np.fft.fft2(coarse).real
        return GaussianTextureMixture(means, np.clip(spectrum, 1e-300, None), self.weights)

    def sample(self, n: int, seed) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws ``(x (n, C, R, R) float64, y int64)``; classes balanced in random order."""
        rng = np.random.default_rng(seed)
        y = rng.permutation(np.arange(n) % self.k).astype(np.int64)
        z = rng.standard_normal((n, self.c, self.r, self.r))
        field = np.fft.ifft2(np.fft.fft2(z) * np.sqrt(self.spectrum)).real
        return self.means[y] + field, y

    # --- exact quantities along the process ------------------------------------------------------
    def _coeffs(self, process, s: float) -> tuple[float, float]:
        return float(process.mu(s)), float(process.sigma2(s))

    def log_posterior(self, x: np.ndarray, mu: float, sig2: float) -> np.ndarray:
        """``log w_y(x)`` of each class at ``x_s`` with coefficients ``mu``, ``sigma^2``: ``(n, K)``."""
        v = mu * mu * self.spectrum + sig2
        xh = np.fft.fft2(x, norm="ortho")
        # the y-dependent part of -1/2 ||x - mu m_y||^2_{Sigma_s^-1}
        cross = np.einsum("nchw,kchw->nk", xh, np.conj(self.mean_hat) / v).real
        norm = (np.abs(self.mean_hat) ** 2 / v).sum(axis=(1, 2, 3))
        logits = np.log(self.weights)[None] + mu * cross - 0.5 * mu * mu * norm[None]
        return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

    def mi(self, process, s: float, n: int = 20_000, seed=0) -> tuple[float, float]:
        """Monte-Carlo ``I(X_s; Y) = H(Y) + E log w_y(x_s)`` with the exact posterior: ``(value, se)``."""
        mu, sig2 = self._coeffs(process, s)
        rng = np.random.default_rng([*np.atleast_1d(seed).tolist(), 0x7E])
        vals = []
        for start in range(0, n, 4096):
            m = min(4096, n - start)
            x, y = self.sample(m, rng.integers(2**63))
            xs = mu * x + math.sqrt(sig2) * rng.standard_normal(x.shape)
            vals.append(self.log_posterior(xs, mu, sig2)[np.arange(m), y])
        terms = np.concatenate(vals)
        h_y = float(-(self.weights * np.log(self.weights)).sum())
        return h_y + float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(terms.size))

    def kl_cond(self, process, s: float) -> np.ndarray:
        """``KL(p_s(.|y) || N(0, I))`` per class, closed form: ``(K,)``."""
        mu, sig2 = self._coeffs(process, s)
        v = mu * mu * self.spectrum + sig2
        gauss = 0.5 * self.c * float((v - 1.0 - np.log(v)).sum())
        return gauss + 0.5 * mu * mu * (self.means ** 2).sum(axis=(1, 2, 3))

    def entropy_production(self, process, n: int = 20_000, seed=0) -> dict:
        """Exact ``E_y S_NN(X|y)``, ``S_NN(X)`` and ``I(X;Y)`` (= their difference) over
        ``[s_min, 1]``, with the Monte-Carlo standard errors of the two ``I(X_s; Y)`` terms."""
        lo = process.s_min
        s_cond = float(self.weights @ (self.kl_cond(process, lo) - self.kl_cond(process, 1.0)))
        i_lo, se_lo = self.mi(process, lo, n, [*np.atleast_1d(seed).tolist(), 1])
        i_hi, se_hi = self.mi(process, 1.0, n, [*np.atleast_1d(seed).tolist(), 2])
        i = i_lo - i_hi
        se = math.hypot(se_lo, se_hi)
        return {"S_cond": s_cond, "S_marg": s_cond - i, "S_marg_se": se, "mi": i, "mi_se": se}

    def score_model(self, process) -> "ExactTextureScore":
        return ExactTextureScore(self, process)


def texture_law(params: dict, resolution: int) -> GaussianTextureMixture:
    """The exact law of a ``gaussian_texture`` dataset (its ``params``) at ``resolution``."""
    native = int(params["native"])
    law = GaussianTextureMixture.make(
        num_classes=params["num_classes"], channels=params["channels"], resolution=native,
        amplitude=params["amplitude"], pixel_std=params["pixel_std"], alpha=params["alpha"],
        floor=params["floor"], width=params["width"], mean_grid=int(params.get("mean_grid") or 0))
    return law.downsample(native // int(resolution))


@functools.lru_cache(maxsize=1)
def _torch_score_module():
    import torch

    class _ExactTextureScore(torch.nn.Module):
        """Exact excess scores of a :class:`GaussianTextureMixture` along a VP process (float64 FFTs).

        ``excess(x, s, cond)``: conditional on labels ``cond`` (marginal where ``null`` or ``cond`` is
        None); ``excess_pair``: both from one transform of ``x``. ``s`` has shape ``(batch,)``.
        """

        def __init__(self, law: GaussianTextureMixture, process):
            super().__init__()
            self.law, self.process, self.spec = law, process, None
            self.register_buffer("p", torch.as_tensor(law.spectrum))
            self.register_buffer("m", torch.as_tensor(law.means))
            self.register_buffer("mh", torch.as_tensor(law.mean_hat))
            self.register_buffer("logw", torch.as_tensor(np.log(law.weights)))

        def _parts(self, x, s):
            xd = x.to(torch.float64)
            sd = s.to(torch.float64).reshape(-1)
            mu = self.process.mu(sd).view(-1, 1, 1, 1)
            sig2 = self.process.sigma2(sd).view(-1, 1, 1, 1)
            v = mu * mu * self.p + sig2  # (B, 1, R, R)
            xh = torch.fft.fft2(xd, norm="ortho")
            return xd, xh, mu, v

        def _mean_score(self, xd, xh, mu, v, mbar_hat):
            """``-Sigma_s^{-1} (x - mu mbar)`` from ``mbar`` in Fourier, as an excess ``x + score``."""
            r = torch.fft.ifft2((xh - mu * mbar_hat) / v, norm="ortho").real
            return xd - r

        def _posterior(self, xh, mu, v):
            mv = self.mh.conj()[None] / v[:, None]  # (B, K, C, R, R)
            cross = (xh[:, None] * mv).real.sum(dim=(2, 3, 4))
            norm = ((self.mh.abs() ** 2)[None] / v[:, None]).sum(dim=(2, 3, 4))
            mu1 = mu.view(-1, 1)
            return torch.softmax(self.logw[None] + mu1 * cross - 0.5 * mu1 * mu1 * norm, dim=1)

        def _marginal(self, xd, xh, mu, v):
            w = self._posterior(xh, mu, v).to(self.mh.dtype)
            return self._mean_score(xd, xh, mu, v, torch.einsum("bk,kchw->bchw", w, self.mh))

        def excess(self, x, s, cond=None, null=None):
            xd, xh, mu, v = self._parts(x, s)
            marg = self._marginal(xd, xh, mu, v)
            if cond is None:
                return marg.to(x.dtype)
            e = self._mean_score(xd, xh, mu, v, self.mh[cond.long()])
            if null is not None and bool(null.any()):
                e = torch.where(null.view(-1, 1, 1, 1), marg, e)
            return e.to(x.dtype)

        def excess_pair(self, x, s, cond):
            xd, xh, mu, v = self._parts(x, s)
            e_c = self._mean_score(xd, xh, mu, v, self.mh[cond.long()])
            return e_c.to(x.dtype), self._marginal(xd, xh, mu, v).to(x.dtype)

        def log_prob(self, x, s, y=None):
            """``log p_s(x)`` (or ``log p_s(x | y)``) per sample, for checks against autograd."""
            xd, xh, mu, v = self._parts(x, s)
            diff = xh[:, None] - mu.view(-1, 1, 1, 1, 1) * self.mh[None]  # (B, K, C, R, R)
            quad = ((diff.abs() ** 2) / v[:, None]).sum(dim=(2, 3, 4))
            logdet = self.law.c * torch.log(v).sum(dim=(1, 2, 3))
            comp = -0.5 * (quad + logdet[:, None] + self.law.d * math.log(2 * math.pi))
            if y is not None:
                return comp.gather(1, y.long().view(-1, 1))[:, 0]
            return torch.logsumexp(comp + self.logw[None], dim=1)

    return _ExactTextureScore


def ExactTextureScore(law: GaussianTextureMixture, process):  # noqa: N802 - a class built on first use
    """The exact score model of ``law`` (a torch module; torch is imported on first use)."""
    return _torch_score_module()(law, process)

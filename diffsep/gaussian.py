"""Analytic ground truth: joint Gaussians and Gaussian mixtures with exact scores.

* :class:`JointGaussian`: ``Y = A X + Z`` with ``X ~ N(0, Sigma_X)``,
  ``Sigma_X = B B^T / D_X + 0.01 I``, ``Z ~ N(0, noise^2 I)``. Exact ``I(X;Y)``; exact marginal
  and conditional scores of ``x_s``; the exact (Gaussian) law of samples of the guided
  probability-flow ODE for any guidance schedule ``w(s)``, hence their exact MI with ``Y`` and
  exact KL to the data.
* :class:`GaussianMixture`: labelled mixture (label = component) with exact scores at every
  ``s``, exact log densities, and Monte-Carlo estimates (with standard errors) of ``I(X;Y)`` and of
  the total entropy production ``S_tot`` (expectations of exact log densities).

Score models here expose the same ``excess`` / ``excess_pair`` interface as
:class:`diffsep.models.ScoreModel`, so every estimator and sampler can run on exact scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from .odesolve import solve_bounded

from .process import VPProcess

__all__ = ["JointGaussian", "GaussianMixture", "gaussian_kl_to_std", "GuidedGaussianLaw", "exact_score_model",
           "exact_entropy"]


def _logdet(m):
    sign, ld = np.linalg.slogdet(m)
    if sign <= 0:
        raise np.linalg.LinAlgError("matrix is not positive definite")
    return ld


def gaussian_kl_to_std(mean, cov) -> float:
    """``KL(N(mean, cov) || N(0, I))`` in nats."""
    d = cov.shape[0]
    return 0.5 * (np.trace(cov) + float(mean @ mean) - d - _logdet(cov))


def _gaussian_kl(m0, c0, m1, c1) -> float:
    """``KL(N(m0, c0) || N(m1, c1))``."""
    d = c0.shape[0]
    c1i = np.linalg.inv(c1)
    dm = m1 - m0
    return 0.5 * (np.trace(c1i @ c0) + dm @ c1i @ dm - d + _logdet(c1) - _logdet(c0))


class _EigenCov:
    """A covariance ``Sigma`` with ``(mu^2 Sigma + sigma^2 I)^{-1} v`` in O(D^2) per sample."""

    def __init__(self, cov: np.ndarray):
        lam, u = np.linalg.eigh(cov)
        self.lam = torch.tensor(np.clip(lam, 0, None), dtype=torch.float64)
        self.u = torch.tensor(u, dtype=torch.float64)

    def solve(self, v: torch.Tensor, mu2: torch.Tensor, sig2: torch.Tensor) -> torch.Tensor:
        """``(mu^2 Sigma + sigma^2 I)^{-1} v`` for a batch ``v`` with per-row ``mu2``, ``sig2``."""
        u = self.u.to(v.device, v.dtype)
        lam = self.lam.to(v.device, v.dtype)
        z = v @ u
        z = z / (mu2[:, None] * lam[None, :] + sig2[:, None])
        return z @ u.T

    def logdet(self, mu2: torch.Tensor, sig2: torch.Tensor) -> torch.Tensor:
        lam = self.lam.to(mu2.device, mu2.dtype)
        return torch.log(mu2[:, None] * lam[None, :] + sig2[:, None]).sum(1)


# ------------------------------------------------------------------------------------------------
# joint Gaussian
# ------------------------------------------------------------------------------------------------
@dataclass
class GuidedGaussianLaw:
    """Law of guided PF-ODE samples ``x_gen = Phi x_1 + Psi y``: ``x_gen | y ~ N(M y, C)``."""

    phi: np.ndarray
    psi: np.ndarray
    mean_map: np.ndarray  # M: E[x_gen | y] = M y
    cond_cov: np.ndarray  # C: Cov[x_gen | y]
    mi: float  # exact I(X_gen; Y), nats
    kl_joint: float  # exact KL(p_gen(x, y) || p_data(x, y)) = E_y KL(p_gen(x|y) || p(x|y))
    kl_marginal: float  # exact KL(p_gen(x) || p_data(x))
    start: str = "equilibrium"


class JointGaussian:
    """``Y = A X + Z``: the MI ground truth (docs/equations.md, "Exact ground truth")."""

    def __init__(self, dx: int = 25, dy: int = 15, noise: float = 1.0, seed: int = 0,
                 diag: float = 0.01):  # diag: isotropic floor of Sigma_X
        if dx < 1 or dy < 1:
            raise ValueError(f"joint Gaussian needs dx, dy >= 1, got {dx}, {dy}")
        if not noise > 0:
            raise ValueError(f"joint Gaussian needs noise > 0, got {noise}")
        self.dx, self.dy, self.noise, self.seed = int(dx), int(dy), float(noise), int(seed)
        rng = np.random.default_rng(seed)
        b = rng.standard_normal((dx, dx))
        self.sx = b @ b.T / dx + diag * np.eye(dx)
        self.a = rng.standard_normal((dy, dx))
        self.sz = noise**2 * np.eye(dy)
        self.sy = self.a @ self.sx @ self.a.T + self.sz
        self.k = self.sx @ self.a.T @ np.linalg.inv(self.sy)  # E[X|Y=y] = K y
        self.sc = self.sx - self.k @ self.a @ self.sx  # Cov[X|Y]
        self.sc = 0.5 * (self.sc + self.sc.T)
        self._chol_x = np.linalg.cholesky(self.sx)
        self._ex, self._ec = _EigenCov(self.sx), _EigenCov(self.sc)

    def mi(self) -> float:
        """Exact ``I(X;Y) = 1/2 log(|Sigma_Y| / |Sigma_Z|)``."""
        return 0.5 * (_logdet(self.sy) - _logdet(self.sz))

    def mi_at(self, process: VPProcess, s: float) -> float:
        """Exact ``I(X_s; Y)`` along the forward process."""
        mu2, sig2 = float(process.mu(s)) ** 2, float(process.sigma2(s))
        i = np.eye(self.dx)
        return 0.5 * (_logdet(mu2 * self.sx + sig2 * i) - _logdet(mu2 * self.sc + sig2 * i))

    def mi_rate(self, process: VPProcess, s):
        """Exact MI rate ``i(s) = -d I(X_s; Y)/ds`` (closed form; per unit ``s``).

        With ``mu^2 = e^{-B}``: ``d/ds log(mu^2 l + sigma^2) = beta mu^2 (1 - l) / (mu^2 l + sigma^2)``.
        """
        s = np.asarray(s, dtype=float)
        mu2, sig2, beta = process.mu(s) ** 2, process.sigma2(s), process.beta(s)
        lx, lc = np.linalg.eigvalsh(self.sx), np.linalg.eigvalsh(self.sc)

        def dlogdet(lam):
            return (beta * mu2)[..., None] * (1 - lam) / (mu2[..., None] * lam + sig2[..., None])

        return -0.5 * (dlogdet(lx).sum(-1) - dlogdet(lc).sum(-1))

    def sample(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs ``(x, y)`` (float64), deterministic in ``seed``."""
        rng = np.random.default_rng([self.seed, seed, 1])
        x = rng.standard_normal((n, self.dx)) @ self._chol_x.T
        y = x @ self.a.T + self.noise * rng.standard_normal((n, self.dy))
        return x, y

    # --- exact scores --------------------------------------------------------------------------
    def score_model(self, process: VPProcess) -> "ExactJointGaussianScore":
        return ExactJointGaussianScore(self, process)

    # --- entropy production ----------------------------------------------------------------------
    def kl_to_equilibrium(self, process: VPProcess, s: float, conditional: bool = False) -> float:
        """``KL(p_s || N(0,I))``; with ``conditional``, ``E_y KL(p_s(.|y) || N(0,I))``."""
        mu, sig2 = float(process.mu(s)), float(process.sigma2(s))
        i = np.eye(self.dx)
        if not conditional:
            return gaussian_kl_to_std(np.zeros(self.dx), mu**2 * self.sx + sig2 * i)
        c = mu**2 * self.sc + sig2 * i
        # E_y ||mu K y||^2 = mu^2 tr(K Sy K^T)
        return 0.5 * (np.trace(c) + mu**2 * np.trace(self.k @ self.sy @ self.k.T) - self.dx - _logdet(c))

    def entropy_production_exact(self, process: VPProcess, conditional: bool = False) -> float:
        """``S_tot = KL(p_smin || N) - KL(p_1 || N)`` (closed form)."""
        return (self.kl_to_equilibrium(process, process.s_min, conditional)
                - self.kl_to_equilibrium(process, 1.0, conditional))

    # --- guided probability-flow ODE -------------------------------------------------------------
    def guided_law(self, process: VPProcess, w: float | Callable[[float], float] = 0.0,
                   breakpoints: tuple[float, ...] = (), s_end: float | None = None,
                   start: str = "equilibrium", rtol: float = 1e-10, atol: float = 1e-12) -> GuidedGaussianLaw:
        """Exact law of samples from the guided PF-ODE.

        ``start="equilibrium"`` starts at ``x_1 ~ N(0, I)`` (what samplers do);
        ``start="exact"`` at the true ``p_1(x | y)`` (then ``w = 0`` reproduces the data law
        exactly; the equilibrium start loses a little information, ~1 % on small examples).

        The guided score ``-x + (1 + w) e(x, s, y) - w e(x, s, null)`` is affine in ``(x, y)``,
        so the ODE ``dx/ds = -beta/2 (x + score_w)`` maps ``(x_1, y)`` linearly to
        ``x_end = Phi x_1 + Psi y``; ``Phi, Psi`` solve a matrix ODE integrated here with a
        high-order adaptive scheme from ``s = 1`` to ``s_end`` (default ``s_min``).
        ``w`` may be a schedule ``w(s)``; pass its discontinuities as ``breakpoints``.
        """
        s_end = process.s_min if s_end is None else s_end
        if not callable(w) and not np.isfinite(float(w)):
            raise ValueError(f"guided_law: the guidance weight must be finite, got {w!r}")
        wf = w if callable(w) else (lambda s, _w=float(w): _w)
        d, dy = self.dx, self.dy
        lam_x, u_x = np.linalg.eigh(self.sx)
        lam_c, u_c = np.linalg.eigh(self.sc)
        eye = np.eye(d)

        def p_inv(lam, u, mu2, sig2):
            return (u / (mu2 * lam + sig2)) @ u.T

        def rhs(s, z):
            phi = z[:d * d].reshape(d, d)
            psi = z[d * d:].reshape(d, dy)
            mu = float(process.mu(s))
            sig2 = float(process.sigma2(s))
            ws = float(wf(s))
            pc = p_inv(lam_c, u_c, mu * mu, sig2)
            pn = p_inv(lam_x, u_x, mu * mu, sig2)
            m = (1 + ws) * pc - ws * pn
            hb = -0.5 * float(process.beta(s))
            dphi = hb * (eye - m) @ phi
            dpsi = hb * ((eye - m) @ psi + (1 + ws) * mu * pc @ self.k)
            return np.concatenate([dphi.ravel(), dpsi.ravel()])

        z = np.concatenate([eye.ravel(), np.zeros(d * dy)])
        knots = [1.0] + sorted({float(b) for b in breakpoints if s_end < b < 1.0}, reverse=True) + [s_end]
        for a, b in zip(knots[:-1], knots[1:]):
            z = solve_bounded(rhs, (a, b), z, what="guided Gaussian law ODE", method="DOP853", rtol=rtol, atol=atol)
        phi = z[:d * d].reshape(d, d)
        psi = z[d * d:].reshape(d, dy)
        if start == "equilibrium":
            amap, cc = psi, phi @ phi.T
        elif start == "exact":
            mu1, s21 = float(process.mu(1.0)), float(process.sigma2(1.0))
            amap = psi + mu1 * phi @ self.k
            cc = phi @ (mu1**2 * self.sc + s21 * eye) @ phi.T
        else:
            raise ValueError(f"unknown start {start!r}; known: 'equilibrium', 'exact'")
        cc = 0.5 * (cc + cc.T)
        cm = cc + amap @ self.sy @ amap.T  # Cov[x_gen]
        mi = 0.5 * (_logdet(cm) - _logdet(cc))
        dk = amap - self.k
        kl_joint = 0.5 * (np.trace(np.linalg.solve(self.sc, cc)) - d + _logdet(self.sc) - _logdet(cc)
                          + np.trace(dk.T @ np.linalg.solve(self.sc, dk) @ self.sy))
        kl_marg = _gaussian_kl(np.zeros(d), cm, np.zeros(d), self.sx)
        return GuidedGaussianLaw(phi=phi, psi=psi, mean_map=amap, cond_cov=cc, mi=float(mi),
                                 kl_joint=float(kl_joint), kl_marginal=float(kl_marg), start=start)


class ExactJointGaussianScore(torch.nn.Module):
    """Exact excess scores of the joint Gaussian: ``e = x + score``."""

    def __init__(self, jg: JointGaussian, process: VPProcess):
        super().__init__()
        self.jg, self.process = jg, process
        self.spec = None
        self.register_buffer("k", torch.tensor(jg.k, dtype=torch.float64))

    def _coef(self, s, x):
        s64 = s.to(torch.float64)
        return (self.process.mu(s64)).to(x.dtype), (self.process.mu(s64) ** 2).to(x.dtype), \
            self.process.sigma2(s64).to(x.dtype)

    def _marg(self, x, s):
        mu, mu2, sig2 = self._coef(s, x)
        return x - self.jg._ex.solve(x, mu2, sig2)

    def _cond(self, x, s, y):
        mu, mu2, sig2 = self._coef(s, x)
        m = mu[:, None] * (y.to(x.dtype) @ self.k.to(x.dtype).T)
        return x - self.jg._ec.solve(x - m, mu2, sig2)

    def excess(self, x, s, cond=None, null=None):
        if cond is None:
            return self._marg(x, s)
        e = self._cond(x, s, cond)
        if null is not None and bool(null.any()):
            e = torch.where(null[:, None], self._marg(x, s), e)
        return e

    def excess_pair(self, x, s, cond):
        return self._cond(x, s, cond), self._marg(x, s)


# ------------------------------------------------------------------------------------------------
# Gaussian mixture
# ------------------------------------------------------------------------------------------------
class GaussianMixture:
    """A labelled Gaussian mixture: ``y ~ Cat(weights)``, ``x | y ~ N(means[y], covs[y])``."""

    def __init__(self, means, covs, weights=None):
        self.means = np.asarray(means, dtype=float)
        k, d = self.means.shape
        covs = np.asarray(covs, dtype=float)
        if covs.ndim == 1:  # isotropic variances per component
            covs = covs[:, None, None] * np.eye(d)[None]
        self.covs = covs
        self.weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, float) / np.sum(weights)
        self.k, self.d = k, d
        self._eig = [_EigenCov(c) for c in covs]
        self._chol = [np.linalg.cholesky(c) for c in covs]

    @classmethod
    def make(cls, k: int = 4, d: int = 2, spread: float = 2.0, scale: float = 0.3, seed: int = 0):
        """Random means with std ``spread``/sqrt(d) and random anisotropic covariances ~ ``scale^2``."""
        if k < 2 or d < 1:
            raise ValueError(f"Gaussian mixture needs k >= 2 and d >= 1, got k={k}, d={d}")
        rng = np.random.default_rng(seed)
        means = rng.standard_normal((k, d)) * spread / math.sqrt(d)
        covs = []
        for _ in range(k):
            q, _ = np.linalg.qr(rng.standard_normal((d, d)))
            ev = scale**2 * np.exp(rng.uniform(-0.7, 0.7, d))
            covs.append((q * ev) @ q.T)
        return cls(means, np.stack(covs))

    def sample(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, 2])
        y = rng.choice(self.k, size=n, p=self.weights)
        z = rng.standard_normal((n, self.d))
        x = np.empty((n, self.d))
        for j in range(self.k):
            sel = y == j
            x[sel] = self.means[j] + z[sel] @ self._chol[j].T
        return x, y

    # --- densities and scores at time s ------------------------------------------------------------
    def _comp_logpdf(self, x: torch.Tensor, s: torch.Tensor, j: int, p: VPProcess):
        mu = p.mu(s.double()).to(x.dtype)
        mu2, sig2 = mu * mu, p.sigma2(s.double()).to(x.dtype)
        m = torch.tensor(self.means[j], dtype=x.dtype, device=x.device)
        r = x - mu[:, None] * m[None]
        sol = self._eig[j].solve(r, mu2, sig2)
        ld = self._eig[j].logdet(mu2, sig2)
        return -0.5 * ((r * sol).sum(1) + ld + self.d * math.log(2 * math.pi)), -sol

    def log_prob(self, x: torch.Tensor, s: torch.Tensor, process: VPProcess, y: torch.Tensor | None = None):
        """``log p_s(x)`` (or ``log p_s(x | y)``) at per-sample times ``s``."""
        comps = [self._comp_logpdf(x, s, j, process)[0] for j in range(self.k)]
        lp = torch.stack(comps, 1)
        if y is not None:
            return lp.gather(1, y.long()[:, None])[:, 0]
        logw = torch.tensor(np.log(self.weights), dtype=x.dtype, device=x.device)
        return torch.logsumexp(lp + logw[None], 1)

    def score(self, x, s, process: VPProcess, y=None):
        out = [self._comp_logpdf(x, s, j, process) for j in range(self.k)]
        lp = torch.stack([o[0] for o in out], 1)
        sc = torch.stack([o[1] for o in out], 1)  # (n, k, d)
        if y is not None:
            return sc[torch.arange(x.shape[0]), y.long()]
        logw = torch.tensor(np.log(self.weights), dtype=x.dtype, device=x.device)
        r = torch.softmax(lp + logw[None], 1)
        return (r[:, :, None] * sc).sum(1)

    def score_model(self, process: VPProcess) -> "ExactMixtureScore":
        return ExactMixtureScore(self, process)

    # --- ground-truth information quantities -------------------------------------------------------
    def mi(self, n: int = 200_000, seed: int = 0, process: VPProcess | None = None, s: float = 0.0):
        """Monte-Carlo ``I(X_s; Y) = E[log p(x|y) - log p(x)]`` with exact densities: ``(value, se)``."""
        process = process or VPProcess()
        x, y = self.sample(n, seed)
        xt = torch.tensor(x)
        st = torch.full((n,), float(s), dtype=torch.float64)
        if s > 0:
            g = torch.Generator().manual_seed(seed + 7)
            xt, _ = process.perturb(xt, st, generator=g)
        if s == 0:  # s = 0: the data themselves
            st = torch.zeros(n, dtype=torch.float64)
        yt = torch.tensor(y)
        d = (self.log_prob(xt, st, process, yt) - self.log_prob(xt, st, process)).numpy()
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n))

    def kl_to_equilibrium(self, process: VPProcess, s: float, n: int = 200_000, seed: int = 0):
        """Monte-Carlo ``KL(p_s || N(0, I))`` with exact densities: ``(value, se)``."""
        x, _ = self.sample(n, seed)
        xt = torch.tensor(x)
        st = torch.full((n,), float(s), dtype=torch.float64)
        xs, _ = process.perturb(xt, st, generator=torch.Generator().manual_seed(seed + 11))
        logq = -0.5 * (xs * xs).sum(1) - 0.5 * self.d * math.log(2 * math.pi)
        d = (self.log_prob(xs, st, process) - logq).numpy()
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n))


class ExactMixtureScore(torch.nn.Module):
    """Exact excess scores of a labelled Gaussian mixture (labels select the component)."""

    def __init__(self, gm: GaussianMixture, process: VPProcess):
        super().__init__()
        self.gm, self.process, self.spec = gm, process, None

    def excess(self, x, s, cond=None, null=None):
        marg = x + self.gm.score(x, s, self.process)
        if cond is None:
            return marg
        e = x + self.gm.score(x, s, self.process, cond)
        if null is not None and bool(null.any()):
            e = torch.where(null[:, None], marg, e)
        return e

    def excess_pair(self, x, s, cond):
        return x + self.gm.score(x, s, self.process, cond), x + self.gm.score(x, s, self.process)


def exact_score_model(meta: dict, process):
    """Analytic score model of a prepared dataset with ground truth (its ``meta``: kind and params
    of a ``joint_gaussian``, ``gaussian_mixture`` or ``gaussian_texture`` and its resolution)."""
    p = meta.get("params") or {}
    if meta.get("kind") == "gaussian_texture":
        from .texture import texture_law

        return texture_law(p, int(meta["resolution"])).score_model(process)
    if meta.get("kind") == "joint_gaussian":
        return JointGaussian(p["dx"], p["dy"], p["noise"], p["seed"]).score_model(process)
    if meta.get("kind") == "gaussian_mixture":
        return GaussianMixture.make(k=p["k"], d=p["d"], spread=p["spread"], scale=p["scale"],
                                    seed=p["seed"]).score_model(process)
    raise ValueError(f"dataset kind {meta.get('kind')!r} has no exact scores")


def exact_entropy(meta: dict, process, n: int = 20_000) -> dict:
    """Exact ``S_NN(X)`` (``S_marg``, with its Monte-Carlo SE) and ``E_y S_NN(X|y)`` (``S_cond``)
    over ``[s_min, 1]`` for prepared datasets whose law gives them (``gaussian_texture``), else ``{}``."""
    if meta.get("kind") != "gaussian_texture":
        return {}
    from .texture import texture_law

    r = texture_law(meta.get("params") or {}, int(meta["resolution"])).entropy_production(
        process, n=n, seed=[int(meta.get("seed", 0)), 0x5E])
    return {"S_marg": r["S_marg"], "S_marg_se": r["S_marg_se"], "S_cond": r["S_cond"]}

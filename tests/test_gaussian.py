"""Exact ground truth: estimators with exact scores reproduce the analytic answers."""

import math

import numpy as np
import pytest
import torch

from diffsep.gaussian import GaussianMixture, JointGaussian
from diffsep.guidance import heun_pf_ode
from diffsep.measure import measure_information, quadrature_nodes
from diffsep.models import EnsembleScoreModel
from diffsep.process import VPProcess

P = VPProcess()


SETTINGS = [(25, 15, 1.0), (25, 15, 0.25), (5, 3, 0.6), (2, 1, 0.3)]


@pytest.mark.parametrize("dx,dy,noise", SETTINGS)
def test_quadrature_of_exact_rate(dx, dy, noise):
    """The time grid alone (no Monte Carlo): 24 log-SNR nodes integrate the exact rate to 0.05 %."""
    jg = JointGaussian(dx, dy, noise, seed=3)
    q = quadrature_nodes(P, 24)
    integral = float(np.sum(q.weights * jg.mi_rate(P, q.s) * P.sigma2(q.s) / P.beta(q.s)))
    truth = jg.mi_at(P, P.s_min) - jg.mi_at(P, 1.0)
    assert abs(integral - truth) / truth < 5e-4
    assert abs(jg.mi_at(P, P.s_min) - jg.mi()) / jg.mi() < 1e-4  # the s_min floor costs nothing


@pytest.mark.parametrize("dx,dy,noise", SETTINGS)
def test_exact_score_mi_within_half_percent(dx, dy, noise):
    jg = JointGaussian(dx, dy, noise, seed=3)
    n = 20_000 if dx > 5 else 200_000  # low MI has a larger relative Monte-Carlo error
    x, y = jg.sample(n, seed=1)
    r = measure_information(jg.score_model(P), torch.tensor(x), torch.tensor(y), n_times=24,
                            batch_size=20_000)
    true = jg.mi()
    # the Monte-Carlo error is part of the budget (SE ~0.15-0.2 %)
    assert abs(r.mi_minde - true) / true < 0.005, (r.mi_minde, r.mi_minde_se, true)
    # the other two estimators are noisier but unbiased with exact scores
    for est, se in ((r.mi_diff, r.mi_diff_se), (r.mi_mmse, r.mi_mmse_se)):
        assert abs(est - true) < 4 * se + 0.005 * true, (est, se, true)


def test_uniform_s_grid_loses_accuracy_log_snr_grid_does_not():
    """The published notebook's 100 points uniform in s lose ~0.5 %; 32 log-SNR points do not."""
    jg = JointGaussian(25, 15, 1.0, seed=0)
    x, y = jg.sample(4000, seed=1)
    m = jg.score_model(P)
    kw = dict(seed=5)
    a = measure_information(m, torch.tensor(x), torch.tensor(y), n_times=32, **kw).mi_minde
    b = measure_information(m, torch.tensor(x), torch.tensor(y), n_times=100, spacing="s", **kw).mi_minde
    c = measure_information(m, torch.tensor(x), torch.tensor(y), n_times=256, **kw).mi_minde
    assert abs(a - c) / c < 0.002  # log-SNR grid converged at 32 nodes
    assert b < c * 0.999  # uniform-s trapezoid underestimates


def test_gaussian_entropy_production_equals_kl_drop():
    jg = JointGaussian(10, 4, 0.5, seed=1)
    x, y = jg.sample(20000, seed=2)
    r = measure_information(jg.score_model(P), torch.tensor(x), torch.tensor(y), n_times=48)
    exact = jg.entropy_production_exact(P)
    exact_c = jg.entropy_production_exact(P, conditional=True)
    assert abs(r.S_marg - exact) < 4 * r.S_marg_se + 0.003 * exact
    assert abs(r.S_cond - exact_c) < 4 * r.S_cond_se + 0.003 * exact_c
    # and the difference of the closed forms is the MI
    assert math.isclose(exact_c - exact, jg.mi_at(P, P.s_min) - jg.mi_at(P, 1.0), rel_tol=1e-9)


def test_mixture_entropy_production_equals_kl_drop_mc():
    gm = GaussianMixture.make(k=3, d=2, seed=0)
    x, y = gm.sample(20000, seed=1)
    r = measure_information(gm.score_model(P), torch.tensor(x), torch.tensor(y), n_times=48,
                            discrete=True)
    kl0, se0 = gm.kl_to_equilibrium(P, P.s_min, n=100_000)
    kl1, se1 = gm.kl_to_equilibrium(P, 1.0, n=100_000)
    se = math.sqrt(r.S_marg_se**2 + se0**2 + se1**2)
    assert abs(r.S_marg - (kl0 - kl1)) < 4 * se, (r.S_marg, kl0 - kl1, se)
    mi, mi_se = gm.mi(n=100_000)
    assert abs(r.mi_minde - mi) < 4 * math.hypot(r.mi_minde_se, mi_se), (r.mi_minde, mi)
    assert len(r.per_class) == 3
    # per-class specific information averages to the MI
    pc = r.per_class
    assert math.isclose(float((pc.p * pc.mi_minde).sum()), r.mi_minde, rel_tol=1e-9)


@pytest.mark.parametrize("w", [0.0, 2.0])
def test_exact_guided_law_matches_heun_samples(w):
    jg = JointGaussian(4, 2, 0.7, seed=2)
    law = jg.guided_law(P, w)
    n = 20000
    g = torch.Generator().manual_seed(0)
    _, y = jg.sample(n, seed=9)
    y = torch.tensor(y)
    x1 = torch.randn(n, 4, generator=g, dtype=torch.float64)
    xg = heun_pf_ode(jg.score_model(P), x1, y, schedule=w, steps=200)
    # exact affine map: x_gen = Phi x1 + Psi y
    pred = x1 @ torch.tensor(law.phi).T + y @ torch.tensor(law.psi).T
    assert float((xg - pred).abs().max()) < 2e-3
    # Monte-Carlo MI of the Gaussian-fitted samples agrees with the exact guided MI
    xs, ys = xg.numpy(), y.numpy()
    cov = np.cov(np.hstack([xs, ys]).T)
    cx, cy = cov[:4, :4], cov[4:, 4:]
    mi_mc = 0.5 * (np.linalg.slogdet(cx)[1] + np.linalg.slogdet(cy)[1] - np.linalg.slogdet(cov)[1])
    assert abs(mi_mc - law.mi) < 0.03 + 0.02 * law.mi, (mi_mc, law.mi)
    if w == 0.0:  # unguided sampling from the true p_1 recovers the data law exactly
        exact = jg.guided_law(P, 0.0, start="exact")
        assert exact.kl_joint < 1e-6 and abs(exact.mi - jg.mi_at(P, P.s_min)) < 1e-8
        assert law.kl_joint < 1e-3 and abs(law.mi - jg.mi()) < 0.02 * jg.mi()


def test_guidance_raises_mi_and_interval_schedule():
    jg = JointGaussian(25, 15, 1.0, seed=0)
    m0, m1 = jg.guided_law(P, 0.0).mi, jg.guided_law(P, 1.0).mi
    assert m1 > 1.5 * m0
    # an empty guidance window equals no guidance; a full window equals constant guidance
    empty = jg.guided_law(P, lambda s: 0.0).mi
    full = jg.guided_law(P, lambda s: 1.0 if s >= 0 else 0.0).mi
    assert math.isclose(empty, m0, rel_tol=1e-8) and math.isclose(full, m1, rel_tol=1e-6)
    early = jg.guided_law(P, lambda s: 1.0 if s >= 0.3 else 0.0, breakpoints=(0.3,)).mi
    assert m0 < early < m1


class _MemberWithOwnError(torch.nn.Module):
    """Exact scores plus an error of this member's own: a random high-frequency function of
    ``(x_s, y)`` in the conditional branch (a stand-in for what a trained network gets wrong)."""

    def __init__(self, exact, seed: int, size: float, branch: str = "cond"):
        super().__init__()
        self.exact, self.process, self.spec, self.size, self.branch = exact, exact.process, None, size, branch
        dx, dy = exact.jg.dx, exact.jg.dy
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(dx, dx + dy, generator=g, dtype=torch.float64) / math.sqrt(dx + dy)

    def excess_pair(self, x, s, cond):
        e_c, e_n = self.exact.excess_pair(x, s, cond)
        sig = self.process.sigma(s.double()).to(x.dtype)[:, None]
        if self.branch == "null":  # an error of the null branch: a function of x_s alone
            return e_c, e_n + self.size * torch.sin(3 * x @ self.w[:, :x.shape[1]].T) / sig
        return e_c + self.size * torch.sin(3 * torch.cat([x, cond], 1) @ self.w.T) / sig, e_n


def test_cross_fitted_minde_removes_each_networks_own_error():
    """MINDE squares a network's error (biased up); the cross-fitted MINDE of an ensemble is not."""
    jg = JointGaussian(25, 15, 1.0, seed=3)
    x, y = (torch.tensor(a) for a in jg.sample(20_000, seed=1))
    exact = jg.score_model(P)
    ens = EnsembleScoreModel([_MemberWithOwnError(exact, i, 0.2) for i in range(3)])
    r = measure_information(ens, x, y, n_times=24, batch_size=20_000)
    one = measure_information(ens.members[0], x, y, n_times=24, batch_size=20_000)
    true = jg.mi()
    assert one.mi_minde > 1.2 * true  # the member's own error inflates plain MINDE by > 20 %
    assert r.mi_minde > 1.05 * true  # averaging three members shrinks but keeps the bias
    assert abs(r.mi_minde_cross - true) < 4 * r.mi_minde_cross_se + 0.005 * true, (r.mi_minde_cross, true)
    assert one.mi_minde_cross is None and "mi_minde_cross" not in set(one.table()["quantity"])
    assert "i_cross_rate" in r.curves


def test_cross_fitted_mmse_gap_removes_each_networks_own_null_error():
    """An error of the null branch raises the MMSE gap by half its squared size (the null denoiser
    looks worse, which reads as label information); the cross-fitted MMSE gap keeps only the shared part."""
    jg = JointGaussian(25, 15, 1.0, seed=3)
    x, y = (torch.tensor(a) for a in jg.sample(20_000, seed=1))
    exact = jg.score_model(P)
    ens = EnsembleScoreModel([_MemberWithOwnError(exact, i, 0.2, branch="null") for i in range(3)])
    r = measure_information(ens, x, y, n_times=24, batch_size=20_000)
    one = measure_information(ens.members[0], x, y, n_times=24, batch_size=20_000)
    true = jg.mi()
    assert one.mi_mmse > 1.2 * true  # the member's own null error inflates the plain MMSE gap
    assert r.mi_mmse > 1.05 * true  # the ensemble mean keeps a third of it
    assert abs(r.mi_mmse_cross - true) < 4 * r.mi_mmse_cross_se + 0.005 * true, (r.mi_mmse_cross, true)
    assert one.mi_mmse_cross is None and "mmse_cross_rate" in r.curves


def test_cross_fitted_minde_of_identical_members_is_minde():
    jg = JointGaussian(5, 3, 0.6, seed=2)
    x, y = (torch.tensor(a) for a in jg.sample(2_000, seed=1))
    exact = jg.score_model(P)
    r = measure_information(EnsembleScoreModel([exact, exact]), x, y, n_times=16, batch_size=2_000)
    assert r.mi_minde_cross == pytest.approx(r.mi_minde, rel=1e-9)
    assert r.mi_minde_cross_se == pytest.approx(r.mi_minde_se, rel=1e-9)
    assert r.mi_mmse_cross == pytest.approx(r.mi_mmse, rel=1e-9)  # and the cross-fitted MMSE gap the MMSE gap

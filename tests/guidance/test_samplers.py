"""Guided samplers against the exact law of a small joint Gaussian (exact scores)."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from diffsep.gaussian import JointGaussian
from diffsep.guidance import (SAMPLERS, CountingModel, euler_maruyama_sde, get_sampler, heun_pf_ode, heun_shared,
                              rk45_pf_ode, sample, time_steps)
from diffsep.schedules import Constant, Interval, law_breakpoints

from diffsep.process import VPProcess

P = VPProcess()
JG = JointGaussian(4, 2, 0.7, seed=2)
SM = JG.score_model(P)
N = 10000


def _draws(n=N, seed=0):
    _, y = JG.sample(n, seed=9 + seed)
    x1 = torch.randn(n, JG.dx, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x1, torch.tensor(y)


def _assert_law(x, y, mean_map, cond_cov, z_max=4.5):
    """Regression ``x = M y + r`` and residual covariance agree with ``(M, C)`` within MC error."""
    x, y = x.numpy(), y.numpy()
    n = len(x)
    m_hat = np.linalg.lstsq(y, x, rcond=None)[0].T
    r = x - y @ m_hat.T
    c_hat = r.T @ r / (n - y.shape[1])
    syy_inv = np.linalg.inv(y.T @ y / n)
    se_m = np.sqrt(np.outer(np.diag(cond_cov), np.diag(syy_inv)) / n)
    se_c = np.sqrt((np.outer(np.diag(cond_cov), np.diag(cond_cov)) + cond_cov**2) / n)
    zm = np.abs(m_hat - mean_map) / se_m
    zc = np.abs(c_hat - cond_cov) / se_c
    assert zm.max() < z_max, (zm.max(), m_hat, mean_map)
    assert zc.max() < z_max, (zc.max(), c_hat, cond_cov)


def _sde_law(schedule):
    """Exact law of the guided reverse SDE from N(0, I): ``x | y ~ N(G y, P)`` (linear moment ODEs)."""
    d, dy = JG.dx, JG.dy
    lx, ux = np.linalg.eigh(JG.sx)
    lc, uc = np.linalg.eigh(JG.sc)
    eye = np.eye(d)

    def rhs(s, z):
        g = z[:d * dy].reshape(d, dy)
        pm = z[d * dy:].reshape(d, d)
        mu, sig2, beta = float(P.mu(s)), float(P.sigma2(s)), float(P.beta(s))
        w = float(schedule(s))
        pc = (uc / (mu * mu * lc + sig2)) @ uc.T
        pn = (ux / (mu * mu * lx + sig2)) @ ux.T
        # score_w = -M x + (1 + w) mu Pc K y with M = (1 + w) Pc - w Pn; drift = -beta/2 x - beta score_w
        a = -0.5 * beta * eye + beta * ((1 + w) * pc - w * pn)
        bmat = -beta * (1 + w) * mu * pc @ JG.k
        dg = a @ g + bmat
        dp = a @ pm + pm @ a.T - beta * eye  # ds < 0: the noise adds beta |ds|
        return np.concatenate([dg.ravel(), dp.ravel()])

    z = np.concatenate([np.zeros(d * dy), eye.ravel()])
    knots = [1.0] + sorted({b for b in law_breakpoints(schedule)}, reverse=True) + [P.s_min]
    for a, b in zip(knots[:-1], knots[1:]):
        z = solve_ivp(rhs, (a, b), z, method="DOP853", rtol=1e-10, atol=1e-12).y[:, -1]
    return z[:d * dy].reshape(d, dy), z[d * dy:].reshape(d, d)


SCHEDULES = {"w=2": Constant(2.0), "window": Interval(3.0, 0.15, 0.5)}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_heun_reproduces_the_exact_guided_law(name):
    sch = SCHEDULES[name]
    law = JG.guided_law(P, sch, breakpoints=law_breakpoints(sch))
    x1, y = _draws()
    x = heun_pf_ode(SM, x1, y, schedule=sch, steps=64)
    _assert_law(x, y, law.mean_map, law.cond_cov)
    # pathwise: the ODE is the affine map x_gen = Phi x_1 + Psi y, to discretisation error
    pred = x1 @ torch.tensor(law.phi).T + y @ torch.tensor(law.psi).T
    assert float((x - pred).abs().max()) < 0.03


def test_w0_is_unguided_sampling_and_an_empty_window_is_w0():
    x1, y = _draws(2000)
    plain = heun_pf_ode(SM, x1, y, schedule=0.0, steps=24)
    # unguided: the same Heun steps on the conditional score alone
    ts = time_steps(P, 24)
    x = x1.clone()
    for i in range(24):
        s0, s1 = float(ts[i]), float(ts[i + 1])
        f = lambda z, s: -0.5 * float(P.beta(s)) * SM.excess(z, torch.full((len(z),), s, dtype=z.dtype), y)
        d0 = f(x, s0)
        d1 = f(x + (s1 - s0) * d0, s1)
        x = x + (s1 - s0) * 0.5 * (d0 + d1)
    assert torch.equal(plain, x)
    for empty in (Interval(2.0, 0.4, 0.4), Interval(5.0, 0.7, 0.2), Constant(0.0)):
        assert torch.equal(heun_pf_ode(SM, x1, y, schedule=empty, steps=24), plain)
    law0 = JG.guided_law(P, 0.0)
    x1, y = _draws()
    _assert_law(heun_pf_ode(SM, x1, y, schedule=0.0, steps=64), y, law0.mean_map, law0.cond_cov)


def test_shared_prefixes_equal_separate_runs():
    x1, y = _draws(500)
    ts = time_steps(P, 16)
    edge = float(ts[8])  # a grid point: this window shares the w = 0 prefix
    schedules = [Constant(0.0), Constant(2.0), Interval(2.0, edge, 1.0), Interval(2.0, P.s_min, edge),
                 Interval(2.0, 0.33, 0.61)]  # off-grid edges: its own grid
    counted = CountingModel(SM)
    shared = heun_shared(counted, x1, y, schedules, steps=16)
    for sch, xs in zip(schedules, shared):
        assert torch.equal(xs, heun_pf_ode(SM, x1, y, schedule=sch, steps=16)), sch
    # prefix sharing: 16 + 16 + 8 + 8 + 18 steps instead of 16 * 4 + 18, two pair evaluations per step
    assert counted.evals == 2 * 2 * 500 * (16 + 16 + 8 + 8 + 18)


def test_rk45_agrees_with_the_exact_law():
    sch = Interval(2.0, 0.15, 0.5)
    law = JG.guided_law(P, sch, breakpoints=law_breakpoints(sch))
    x1, y = _draws(3000)
    x = rk45_pf_ode(SM, x1, y, schedule=sch, rtol=1e-6, atol=1e-6)
    pred = x1 @ torch.tensor(law.phi).T + y @ torch.tensor(law.psi).T
    assert float((x - pred).abs().max()) < 1e-3
    _assert_law(x, y, law.mean_map, law.cond_cov)


@pytest.mark.parametrize("w", [0.0, 2.0])
def test_sde_agrees_with_the_exact_law(w):
    sch = Constant(w)
    x1, y = _draws()
    g = torch.Generator().manual_seed(5)
    x = euler_maruyama_sde(SM, x1, y, schedule=sch, steps=400, generator=g)
    mean_map, cov = _sde_law(sch)
    _assert_law(x, y, mean_map, cov)
    if w == 0.0:  # unguided, the SDE from N(0, I) samples the data law (it forgets the start mismatch
        # better than the ODE, whose law from the equilibrium start is ~1e-2 off)
        assert np.abs(mean_map - JG.k).max() < 1e-3 and np.abs(cov - JG.sc).max() < 1e-3
        assert np.abs(JG.guided_law(P, 0.0).mean_map - JG.k).max() > 3e-3
    else:  # guided, they differ: CFG's SDE and ODE are different samplers
        law = JG.guided_law(P, sch)
        assert np.abs(cov - law.cond_cov).max() > 0.01


def test_sample_is_seeded_batched_and_registry_fails_loudly():
    _, y = JG.sample(300, seed=1)
    y = torch.tensor(y)
    a = sample(SM, y, {"none": 0.0, "w2": Constant(2.0)}, shape=(JG.dx,), steps=8, seed=3, batch_size=300)
    b = sample(SM, y, {"none": 0.0, "w2": Constant(2.0)}, shape=(JG.dx,), steps=8, seed=3, batch_size=128)
    assert a["none"].dtype == torch.float64
    assert torch.allclose(a["w2"], b["w2"], atol=1e-12) and not torch.allclose(a["w2"], a["none"])
    c = sample(SM, y, {"w2": Constant(2.0)}, shape=(JG.dx,), steps=8, seed=4)
    assert not torch.allclose(a["w2"], c["w2"])
    sde = sample(SM, y, {"w2": Constant(2.0)}, shape=(JG.dx,), sampler="euler_maruyama", steps=8, seed=3)
    assert sde["w2"].shape == (300, JG.dx)
    assert set(SAMPLERS) == {"heun", "rk45", "euler_maruyama"}
    with pytest.raises(ValueError, match=r"unknown sampler 'ddim'; known: \['euler_maruyama', 'heun', 'rk45'\]"):
        get_sampler("ddim")

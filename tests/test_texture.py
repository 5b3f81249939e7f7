"""The Gaussian texture mixture: exact truth at image scale, checked against independent dense
computations, autograd, brute-force Monte Carlo, and the estimators run on its exact scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffsep.data import DataError, prepare, validate_spec
from diffsep.measure import label_log_posterior, label_losses, label_posterior_bound, measure_information
from diffsep.process import VPProcess
from diffsep.texture import GaussianTextureMixture, texture_law

P = VPProcess()
LAW16 = GaussianTextureMixture.make(num_classes=3, resolution=16, amplitude=0.15, alpha=2.5, floor=0.02)
LAW8 = LAW16.downsample(2)


def _dft_matrix(r: int) -> np.ndarray:
    """The unitary 2-D DFT as a dense (r^2, r^2) matrix (row-major pixels)."""
    f1 = np.fft.fft(np.eye(r), norm="ortho")
    return np.kron(f1, f1)


def _dense_cov(law: GaussianTextureMixture) -> np.ndarray:
    f = _dft_matrix(law.r)
    return (f.conj().T @ np.diag(law.spectrum.ravel()) @ f).real


def _box(r: int, factor: int) -> np.ndarray:
    rc = r // factor
    a = np.zeros((rc * rc, r * r))
    for i in range(rc):
        for j in range(rc):
            for u in range(factor):
                for v in range(factor):
                    a[i * rc + j, (i * factor + u) * r + j * factor + v] = 1.0 / factor ** 2
    return a


def test_downsampled_law_is_the_box_average_of_the_fine_law():
    a = _box(16, 2)
    cov = a @ _dense_cov(LAW16) @ a.T
    np.testing.assert_allclose(_dense_cov(LAW8), cov, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(LAW8.means.reshape(3, -1), LAW16.means.reshape(3, -1) @ a.T, atol=1e-12)


def test_prepared_coarse_data_follow_the_coarse_law():
    """What the prepare step's area downsampling gives has the exact coarse law's covariance."""
    spec = {"kind": "gaussian_texture", "resolutions": [8, 16],
            "params": {"native": 16, "n_train": 6000, "n_test": 200, "num_classes": 2, "mi_samples": 2000}}
    d8 = prepare("tex", spec, 8)
    law = texture_law(validate_spec("tex", spec)["params"], 8)
    x = d8.x_train.astype(np.float64).reshape(len(d8.x_train), -1) - law.means[d8.y_train].reshape(len(d8.x_train), -1)
    emp = x.T @ x / len(x)
    dense = _dense_cov(law)
    # entrywise: sample covariance error ~ sqrt(2 / n) * variance
    tol = 6 * math.sqrt(2.0 / len(x)) * float(np.diag(dense).max())
    assert np.abs(emp - dense).max() < tol, (np.abs(emp - dense).max(), tol)
    assert abs(d8.meta["true_mi"] - law.mi(P, 0.0, 20000, 1)[0]) < 0.05


@pytest.mark.parametrize("cond", [None, "label"])
def test_exact_scores_are_the_gradients_of_the_exact_log_density(cond):
    torch.manual_seed(0)
    sm = LAW8.score_model(P)
    x = torch.randn(6, 1, 8, 8, dtype=torch.float64) * 0.3
    s = torch.tensor([1e-3, 0.05, 0.2, 0.4, 0.7, 1.0], dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2]) if cond else None
    xr = x.clone().requires_grad_(True)
    lp = sm.log_prob(xr, s, y).sum()
    (grad,) = torch.autograd.grad(lp, xr)
    e = sm.excess(x, s, y)
    np.testing.assert_allclose((e - x).numpy(), grad.numpy(), rtol=1e-8, atol=1e-8)
    if cond:
        e_c, e_n = sm.excess_pair(x, s, y)
        assert torch.allclose(e_c, e) and torch.allclose(e_n, sm.excess(x, s))


def test_mi_and_entropy_against_dense_brute_force_monte_carlo():
    """I(X_s;Y) and KL(p_s(.|y) || N(0, I)) from dense matrices (no Fourier transforms)."""
    law, s = LAW8, 0.15
    mu, sig2 = float(P.mu(s)), float(P.sigma2(s))
    cs = mu ** 2 * _dense_cov(law) + sig2 * np.eye(law.d)
    inv = np.linalg.inv(cs)
    m = law.means.reshape(law.k, -1)
    rng = np.random.default_rng(5)
    n = 20000
    y = rng.integers(0, law.k, n)
    xs = mu * m[y] + rng.standard_normal((n, law.d)) @ np.linalg.cholesky(cs).T
    diff = xs[:, None, :] - mu * m[None]
    quad = np.einsum("nkd,de,nke->nk", diff, inv, diff)
    logw = -0.5 * quad - np.logaddexp.reduce(-0.5 * quad, axis=1, keepdims=True)
    terms = math.log(law.k) + logw[np.arange(n), y]
    brute, brute_se = terms.mean(), terms.std(ddof=1) / math.sqrt(n)
    mi, se = law.mi(P, s, n=20000, seed=3)
    assert abs(mi - brute) < 4 * math.hypot(se, brute_se) + 1e-3, (mi, brute, se, brute_se)
    _, logdet = np.linalg.slogdet(cs)
    kl = 0.5 * (np.trace(cs) + mu ** 2 * (m ** 2).sum(1) - law.d - logdet)
    np.testing.assert_allclose(law.kl_cond(P, s), kl, rtol=1e-9)


def test_estimators_on_exact_scores_reproduce_the_exact_law():
    """The quadrature driver with exact scores: S_NN within 1 % and I within 2 SE + 2 % of the truth."""
    truth = LAW8.entropy_production(P, n=40000, seed=0)
    x, y = LAW8.sample(3000, [9])
    r = measure_information(LAW8.score_model(P), torch.as_tensor(x), torch.as_tensor(y), n_times=48,
                            quadrature="stratified", seed=0, discrete=True, batch_size=3000)
    assert abs(r.S_marg - truth["S_marg"]) < 0.01 * truth["S_marg"], (r.S_marg, truth)
    assert abs(r.S_cond - truth["S_cond"]) < 0.01 * truth["S_cond"], (r.S_cond, truth)
    for est, se in ((r.mi_minde, r.mi_minde_se), (r.mi_mmse, r.mi_mmse_se)):
        assert abs(est - truth["mi"]) < 2 * se + 0.02 * truth["mi"], (est, se, truth["mi"])


def test_label_posterior_bound_with_exact_scores_is_tight_and_below_the_truth():
    x, y = LAW8.sample(2000, [4])
    truth = LAW8.mi(P, 0.0, 40000, 2)[0]
    b = label_posterior_bound(LAW8.score_model(P), torch.as_tensor(x), torch.as_tensor(y), LAW8.k, n_times=64,
                              seed=1, batch_size=6000)
    assert b["bound"] <= truth + 3 * b["bound_se"], (b, truth)
    assert b["bound"] > truth - 3 * b["bound_se"] - 0.05 * truth, (b, truth)
    assert b["bound"] <= math.log(LAW8.k) + 1e-12


def test_null_excess_is_the_mmse_gap_minus_the_bound_about_zero_for_exact_scores_and_finds_a_bad_null_branch():
    """Per sample ``L_0 - L_y = (M - L_y) + (L_0 - M)``: the MMSE gap on the bound's draws is the bound
    plus the raw excess. With exact scores the null branch is the class mixture: the raw excess is the
    noise of the draws (it halves with twice the draws) and the null excess, extrapolated to infinitely
    many draws, is about 0; a null branch that is a worse model of p(x) (here: class 0's conditional)
    shows a large excess and the same bound."""
    x, y = LAW8.sample(1000, [9])
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    sm = LAW8.score_model(P)
    kw = dict(seed=3, batch_size=6000, n_times=64)
    b1, b2, b4 = (label_posterior_bound(sm, x, y, LAW8.k, draws=d, **kw) for d in (1, 2, 4))
    for b in (b1, b2, b4):
        assert b["mi_paired"] == pytest.approx(b["bound"] + b["excess_raw"], abs=1e-9)
    assert b1["null_excess"] == b1["excess_raw"]
    assert b1["excess_raw"] > b2["excess_raw"] > b4["excess_raw"] > 0, (b1, b2, b4)
    assert b1["bound"] < b2["bound"] < b4["bound"]  # less noise in q: a tighter bound
    for b in (b2, b4):
        assert abs(b["null_excess"]) < 3 * b["null_excess_se"] + 0.01, b

    class WrongNull(torch.nn.Module):
        process = P

        def excess(self, x, s, cond=None, null=None):
            return sm.excess(x, s, torch.zeros(x.shape[0], dtype=torch.long) if cond is None else cond)

    bad = label_posterior_bound(WrongNull(), x, y, LAW8.k, draws=2, **kw)
    assert bad["bound"] == pytest.approx(b2["bound"], abs=1e-9)
    assert bad["null_excess"] > 0.3 and bad["null_excess"] > 10 * bad["null_excess_se"], bad
    off = label_posterior_bound(sm, x[:50], y[:50], LAW8.k, n_times=8, null=False)
    assert "null_excess" not in off
    with pytest.raises(ValueError, match="draws"):
        label_posterior_bound(sm, x[:5], y[:5], LAW8.k, n_times=8, draws=0)


@pytest.mark.parametrize("s", [0.05, 0.2])
def test_label_losses_of_a_noised_state_give_the_exact_posterior_on_average(s):
    """From ``x_s`` the process runs on as a VP process of its own; averaged over its noise, the class
    differences of the exact scores' loss are the exact log-likelihood ratios ``log p(x_s|y) - log p(x_s|y')``
    (up to the grid): checked per point against the law's exact class posterior."""
    x, _ = LAW8.sample(3, [6])
    x = torch.as_tensor(x)
    x_s, _ = P.perturb(x, torch.full((3,), s, dtype=x.dtype), torch.randn(x.shape, generator=torch.Generator().manual_seed(1),
                                                                         dtype=x.dtype))
    reps = 2000
    loss = label_losses(LAW8.score_model(P), x_s.repeat_interleave(reps, 0), LAW8.k, s=s, n_times=32,
                        batch_size=20000).view(3, reps, LAW8.k)
    diff = loss - loss[:, :, :1]
    est = -diff.mean(1)  # log p(x_s|y) - log p(x_s|y=0)
    se = diff.std(1) / math.sqrt(reps)
    lp = torch.as_tensor(LAW8.log_posterior(x_s.double().numpy(), float(P.mu(s)), float(P.sigma2(s))))
    exact = lp - lp[:, :1]
    assert exact.abs().max() > 0.3  # the points are informative about their label
    assert ((est - exact).abs() <= 4 * se + 0.02).all(), (est, exact, se)


def test_label_log_posterior_of_a_noised_state_tracks_the_exact_one():
    """One noise path per point: a noisy but unbiased-on-average posterior, close to the exact one in KL, never
    a label bound above the exact one's by more than noise; at ``s`` where the process has ended, the prior."""
    x, y = LAW8.sample(600, [7])
    x, y = torch.as_tensor(x), torch.as_tensor(y).long()
    prior = np.bincount(y.numpy(), minlength=LAW8.k)
    s = 0.1
    x_s, _ = P.perturb(x, torch.full((len(x),), s, dtype=x.dtype), torch.randn(x.shape, generator=torch.Generator().manual_seed(2),
                                                                               dtype=x.dtype))
    log_q = label_log_posterior(label_losses(LAW8.score_model(P), x_s, LAW8.k, s=s, n_times=32, batch_size=6000), prior)
    log_p = torch.as_tensor(LAW8.log_posterior(x_s.double().numpy(), float(P.mu(s)), float(P.sigma2(s))))
    kl = float((log_p.exp() * (log_p - log_q)).sum(1).mean())
    idx = torch.arange(len(y))
    assert 0 <= kl < 0.1, kl
    assert float(log_q[idx, y].mean()) < float(log_p[idx, y].mean()) + 0.02
    end = label_losses(LAW8.score_model(P), x_s[:5], LAW8.k, s=1.0, n_times=8)
    assert torch.equal(end, torch.zeros(5, LAW8.k))
    with pytest.raises(ValueError, match="trapezoid"):
        label_losses(LAW8.score_model(P), x_s[:5], LAW8.k, s=s, quadrature="stratified")


def test_label_posterior_bound_of_a_label_blind_model_is_about_zero():
    """A model whose scores ignore the label gives q(y|x) = p(y): the bound is 0, never above H(Y)."""
    sm = LAW8.score_model(P)

    class Blind(torch.nn.Module):
        process = P

        def excess(self, x, s, cond=None, null=None):
            return sm.excess(x, s, None)

    x, y = LAW8.sample(300, [2])
    b = label_posterior_bound(Blind(), torch.as_tensor(x), torch.as_tensor(y), LAW8.k, n_times=16)
    assert abs(b["bound"]) < 1e-9


@pytest.mark.parametrize("params, resolutions, msg", [
    ({"floor": 0.0}, [16], "datasets.t.params.floor"),
    ({"num_classes": 1}, [16], "datasets.t.params.num_classes"),
    ({"native": 16}, [12], "datasets.t.resolutions: resolution 12 must divide the native resolution 16"),
    ({"native": 128}, [16], "datasets.t.params.native"),
    ({"pixel_std": -0.1}, [16], "datasets.t.params.pixel_std"),
])
def test_bad_parameters_are_refused_in_one_line(params, resolutions, msg):
    spec = {"kind": "gaussian_texture", "resolutions": resolutions, "params": {"native": 16, **params}}
    with pytest.raises(DataError) as exc:
        validate_spec("t", spec)
        prepare("t", spec, resolutions[0])
    assert msg in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_draws_outside_the_unit_range_are_refused():
    spec = {"kind": "gaussian_texture", "resolutions": [8], "params": {"native": 8, "pixel_std": 0.5}}
    with pytest.raises(DataError, match="pixel_std.*> 1"):
        prepare("t", spec, 8)

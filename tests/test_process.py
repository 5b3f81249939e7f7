import numpy as np
import pytest
import torch

from diffsep.process import VPProcess

P = VPProcess()


def test_schedule_matches_design_formulas():
    s = np.linspace(0.0, 1.0, 11)
    mu = np.exp(-0.1 * s / 2 - (16 - 0.1) * s**2 / 4)
    np.testing.assert_allclose(P.mu(s), mu, rtol=1e-12)
    np.testing.assert_allclose(P.sigma(s), np.sqrt(1 - mu**2), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(P.beta(s), 0.1 + 15.9 * s)


def test_log_snr_inverse_and_derivative():
    s = np.geomspace(1e-5, 1.0, 50)
    lam = P.log_snr(s)
    assert np.all(np.diff(lam) < 0)  # decreasing in s
    np.testing.assert_allclose(P.s_from_log_snr(lam), s, rtol=1e-9)
    np.testing.assert_allclose(P.edm_sigma(s), P.sigma(s) / P.mu(s), rtol=1e-9)
    np.testing.assert_allclose(P.s_from_edm_sigma(P.edm_sigma(s)), s, rtol=1e-8)
    h = 1e-7 * s
    num = (P.log_snr(s + h) - P.log_snr(s - h)) / (2 * h)
    np.testing.assert_allclose(P.dlogsnr_ds(s), num, rtol=1e-5)


def test_numpy_and_torch_agree():
    s = np.array([1e-5, 0.01, 0.3, 1.0])
    for fn in ("mu", "sigma", "log_snr", "edm_sigma", "beta"):
        a = getattr(P, fn)(s)
        b = getattr(P, fn)(torch.tensor(s)).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_grids_and_time_sampling():
    g = P.grid(17)
    assert g[0] == 1.0 and g[-1] == P.s_min and np.all(np.diff(g) < 0)
    assert np.allclose(np.diff(P.log_snr(g)), np.diff(P.log_snr(g))[0])  # uniform in log-SNR
    gs = P.grid(5, "s")
    np.testing.assert_allclose(gs, np.linspace(1, 1e-5, 5))
    t = P.sample_time(4096, "log_snr", generator=torch.Generator().manual_seed(0))
    assert float(t.min()) >= P.s_min and float(t.max()) <= 1.0
    lam = P.log_snr(t.double())
    lo, hi = P.log_snr_range
    # uniform in lambda: the mean sits at the middle of the range
    assert abs(float(lam.mean()) - (lo + hi) / 2) < 0.05 * (hi - lo)
    ts = P.sample_time(8, "s", stratified=True, generator=torch.Generator().manual_seed(0))
    assert ((ts - P.s_min) * 8 // (1 - P.s_min)).long().tolist() == list(range(8))


def test_perturb_and_denoise_roundtrip():
    x0 = torch.randn(64, 3, dtype=torch.float64)
    s = torch.full((64,), 0.4, dtype=torch.float64)
    xs, eps = P.perturb(x0, s, generator=torch.Generator().manual_seed(1))
    true_score = -eps / P.sigma(s)[:, None]  # score of x_s given x0
    np.testing.assert_allclose(P.denoise(xs, true_score, s).numpy(), x0.numpy(), atol=1e-10)
    assert torch.equal(P.equilibrium_score(xs), -xs)


def test_bad_schedules_rejected():
    with pytest.raises(ValueError, match="beta_min"):
        VPProcess(beta_min=1.0, beta_max=0.5)
    with pytest.raises(ValueError, match="s_min"):
        VPProcess(s_min=0.0)
    with pytest.raises(ValueError, match="spacing"):
        P.grid(4, "cubic")

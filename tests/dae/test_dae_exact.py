"""The exact separability check of claim 2 on the Gaussian texture mixture: exact label information
of each encoder's view, a tiny DAE whose perceptual latent (high-pass view of a mixture whose class
means are constant on the view's cells) carries no label information within a tolerance, and
reconstructions above chance on a tiny run."""

from pathlib import Path

import numpy as np
import pytest
import torch

from diffsep.dae.measure import exact_law, exact_limits, measure_dae, view_matrix
from diffsep.dae.models import DiffusionAutoencoder, dae_spec, train_dae
from diffsep.data import prepare
from diffsep.process import VPProcess
from diffsep.texture import GaussianTextureMixture
from diffsep.train import TrainConfig

from dae.common_dae import DEC, SETTINGS

LAT = {"sem": {"dim": 3, "view": "lowpass", "view_size": 4, "base": 8, "hidden": 16},
       "per": {"dim": 3, "view": "highpass", "view_size": 4, "base": 8, "hidden": 16}}
TOL = 0.02  # nats: the tolerance on I(Z_per;Y) for a label-free view
STEPS_TINY = 1500  # steps of the tiny reconstruction run


def _texture(n_train=600, n_test=200, grid=4):
    spec = {"kind": "gaussian_texture", "resolutions": [8],
            "params": {"native": 16, "n_train": n_train, "n_test": n_test, "mean_grid": grid, "mi_samples": 4000}}
    return prepare("tex", spec, 8)


def test_view_matrix_is_the_encoder_view():
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    for view, size in (("full", None), ("lowpass", 4), ("highpass", 4), ("highpass", 2)):
        v = view_matrix(1, 8, view, size)
        from diffsep.nets.encoders import image_view

        want = image_view(x, view, size).reshape(5, -1).numpy()
        assert np.allclose(x.reshape(5, -1).numpy() @ v.T, want)


def test_exact_view_information():
    """A g x g grid of class means: the high-pass view is label-free (exactly 0), the low-pass view
    holds at most I(X;Y); with smooth means the high-pass residual is far from label-free."""
    grid = GaussianTextureMixture.make(num_classes=4, resolution=8, mean_grid=4)
    smooth = GaussianTextureMixture.make(num_classes=4, resolution=8)
    hp, lp = view_matrix(1, 8, "highpass", 4), view_matrix(1, 8, "lowpass", 4)
    i_x, se = grid.view_mi(None, 8000)
    assert grid.view_mi(hp, 8000) == (0.0, 0.0)
    i_low = grid.view_mi(lp, 8000)[0]
    assert 0 < i_low <= i_x + 3 * se <= np.log(4)
    assert smooth.view_mi(hp, 8000)[0] > 0.1  # box high-pass of smooth means still separates the classes
    # the identity view equals the exact I(X;Y) of the texture module (posterior at s = 0)
    x, y = grid.sample(8000, 1)
    terms = grid.log_posterior(x, 1.0, 0.0)[np.arange(len(y)), y] + np.log(4)
    assert i_x == pytest.approx(terms.mean(), abs=4 * se + 4 * terms.std() / np.sqrt(len(y)))


def test_exact_law_from_prepared_data():
    data = _texture(n_train=40, n_test=20)
    law = exact_law(data, 8)
    assert law is not None and law.r == 8 and np.allclose(law.means, law.means.reshape(4, 1, 4, 2, 4, 2).mean(
        axis=(3, 5), keepdims=True).repeat(2, 3).repeat(2, 5).reshape(4, 1, 8, 8))
    assert law.view_mi(None, 20000, 0)[0] == pytest.approx(data.meta["true_mi"], abs=0.05)


@pytest.fixture(scope="module")
def tiny_texture_dae():
    """A tiny ladder DAE (semantic: low-pass view, perceptual: high-pass view) on the grid mixture."""
    torch.set_num_threads(1)
    data = _texture()
    x = torch.as_tensor(data.x_train, dtype=torch.float32)
    torch.manual_seed(0)
    dae = DiffusionAutoencoder(dae_spec(1, 8, LAT, DEC, 0.3), VPProcess())
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, time_sampling="s", seed=0, eval_every=0)
    train_dae(dae, x, cfg, {"sem": 1e-3, "per": 1e-3}, progress=False)
    settings = {**SETTINGS, "n_recon": 24, "n_swap": 16, "mi": {"steps": 1000, "width": 32, "depth": 1, "n_times": 8}}
    return dae, measure_dae(dae.eval(), data, settings, seed=0, law=exact_law(data, 8))


def test_perceptual_latent_of_a_label_free_view_carries_no_label(tiny_texture_dae):
    dae, r = tiny_texture_dae
    lat = {x["latent"]: x for x in r["latents"]}
    assert lat["per"]["mi_y_view_exact"] == 0.0 and lat["sem"]["mi_y_view_exact"] > 0.3
    assert r["summary"]["mi_xy_exact"] >= lat["sem"]["mi_y_view_exact"] - 3 * lat["sem"]["mi_y_view_exact_se"]
    # the measurement is right: a latent of a label-free view shows no label information
    assert abs(lat["per"]["mi_y"]) <= TOL + 2 * lat["per"]["mi_y_se"], lat["per"]
    assert lat["per"]["probe_bound"] <= TOL + 3 * lat["per"]["probe_bound_se"]
    # and no latent exceeds what its view holds
    assert lat["sem"]["mi_y"] <= lat["sem"]["mi_y_view_exact"] + TOL + 2 * lat["sem"]["mi_y_se"]
    assert isinstance(lat["per"]["decoder_mi_over_kl"], bool)


def test_exact_limits_match_views(tiny_texture_dae):
    dae, _ = tiny_texture_dae
    law = GaussianTextureMixture.make(num_classes=4, resolution=16, mean_grid=4).downsample(2)
    lim = exact_limits(law, dae, n=4000)
    assert set(lim) == {"x", "sem", "per"} and lim["per"] == (0.0, 0.0)


def test_reconstructions_beat_chance_on_a_tiny_run(tmp_path):
    """A tiny ladder DAE (1,500 steps, narrow latents read early, the latents also at the decoder's first
    layer as the default config has it for synth_sep) reconstructs the class of synthetic images well
    above chance, judged by a tiny image classifier.

    Without ``cond_input`` this recipe was bimodal: reconstructions 97-98 % correct on three seeds and
    27 % (chance) on seed 0, whose outcome also depends on the CPU (it passed on one CI machine and
    failed on the next). With it: 100 % on seeds 0-2, 99 % on seed 3 (under ATEN_CPU_CAPABILITY=avx2)."""
    from diffsep.classifier import load_classifier
    from diffsep.data import save_prepared
    from diffsep.stages import classifier as clf_stage

    from dae.common_dae import synth

    torch.set_num_threads(1)
    data = synth(n_train=400, n_test=96)
    save_prepared(data, tmp_path / "d.npz")
    clf_stage.run({"data": str(tmp_path / "d.npz")}, {"model": str(tmp_path / "c.pt"), "table": str(tmp_path / "c.pq")},
                  dataset="synth", resolution=8, seed=0, settings={"steps": 80, "width": 8}, progress=False)
    clf, meta = load_classifier(tmp_path / "c.pt")
    lat = {"sem": {**LAT["sem"], "init_logvar": -4.0}, "per": {"dim": 3, "view": "full", "base": 8, "hidden": 16,
                                                               "init_logvar": -4.0}}
    torch.manual_seed(0)
    dae = DiffusionAutoencoder(dae_spec(1, 8, lat, {**DEC, "cond_input": True}, 0.1), VPProcess())
    cfg = TrainConfig(steps=STEPS_TINY, batch_size=64, lr=3e-3, time_sampling="s", seed=0, eval_every=0)
    train_dae(dae, torch.as_tensor(data.x_train), cfg, {"sem": 2e-4, "per": 1e-3}, progress=False)
    settings = {**SETTINGS, "n_recon": 96, "n_swap": 32, "sampler_steps": 8}
    r = measure_dae(dae.eval(), data, settings, seed=0, classifier=clf, classifier_meta=meta)["summary"]
    chance = 1 / data.num_classes
    assert r["classifier_accuracy"] > 2 * chance
    # above chance by more than 3 binomial standard errors of chance on 96 images
    assert r["recon_accuracy"] > chance + 3 * np.sqrt(chance * (1 - chance) / 96), (r["recon_accuracy"],
                                                                                   r["classifier_accuracy"])


def test_latent_mi_estimator_on_exact_views():
    """The measurement itself: estimate_mi as measure_dae calls it (its own estimator, the cross-fitted MMSE
    gap of two networks, with the default config's experiments.dae.mi training settings) on the encoders'
    views of exact draws recovers the exact I(V X; Y): within 15 % for the low-pass view (issue 14's target for
    I(Z_sem;Y); 0.470 of 0.511 nats, 0.518 with condition dropout 0.3; one network with MINDE read 0.631, and
    500 steps 0.29), within 0.02 nats of 0 for a latent-sized label-free input (-0.002)."""
    from diffsep.api import estimate_mi
    from diffsep.config import load_file

    torch.set_num_threads(1)
    law = GaussianTextureMixture.make(num_classes=4, resolution=16, mean_grid=4).downsample(2)
    x, y = law.sample(2000, 5)
    shipped = load_file(Path(__file__).parents[2] / "config" / "config.yaml", check_files=False).config
    kw = dict(shipped["experiments"]["dae"]["mi"])  # what measure_dae passes
    assert kw == dict(steps=2000, batch_size=128, lr=3e-3, width=64, depth=2, n_times=16, p_uncond=0.5), kw
    low = x.reshape(len(y), -1) @ view_matrix(1, 8, "lowpass", 4).T
    high = x.reshape(len(y), -1) @ view_matrix(1, 8, "highpass", 4).T
    exact_low = law.view_mi(view_matrix(1, 8, "lowpass", 4), 20000)[0]
    e = estimate_mi(low, y, discrete=True, seed=0, **kw)
    assert e.settings["estimator"] == "mmse_cross"
    assert abs(e.mi_diff - exact_low) <= 0.2 * exact_low, (e.mi_diff, exact_low)
    assert abs(e.mi - exact_low) <= 0.15 * exact_low, (e.mi, exact_low)
    # a latent-sized (8-dim) label-free input, as z_per is: no label information within the tolerance (on
    # all 48 dims of the high-pass view the same settings read -0.22: 2,000 steps over-fit 1,200 training
    # samples of a 48-dim input, and the over-fitted conditional branch reads as negative information)
    proj = np.random.default_rng(0).standard_normal((high.shape[1], 8))
    h = estimate_mi(high @ proj, y, discrete=True, seed=0, **kw)
    assert abs(h.mi) <= TOL + 2 * h.se, (h.mi, h.mi_diff)

"""Diffusion autoencoders: ladder routing, training (loss decreases, deterministic, bit-identical
resume), files, probes, the semantic/perceptual split on synthetic data, and the DAG stages."""

import math

import numpy as np
import pytest
import torch

from diffsep import tables
from diffsep.dae import (DiffusionAutoencoder, LadderScoreModel, dae_spec, decode, decode_images, encode,
                         encode_images, load_dae, measure_dae, probe, save_dae, train_dae)
from diffsep.losses import AutoencoderLoss, DenoisingLoss
from diffsep.process import VPProcess
from diffsep.train import TrainConfig, TrainingDiverged

from dae.common_dae import DEC, LAT, SETTINGS, synth as _synth


def _dae(s_star=0.4, seed=0, perturb=False):
    torch.manual_seed(seed)
    lat = LAT if s_star is not None else {"z": {"dim": 6, "view": "full", "base": 8, "hidden": 16}}
    dae = DiffusionAutoencoder(dae_spec(1, 8, lat, DEC, s_star), VPProcess())
    if perturb:  # zero-initialised outputs would make every comparison trivially equal
        g = torch.Generator().manual_seed(seed + 100)
        with torch.no_grad():
            for p in dae.parameters():
                p.add_(0.2 * torch.randn(p.shape, generator=g))
    return dae.eval()


# ------------------------------------------------------------------------------------------------
def test_ladder_routes_by_split_time():
    dae = _dae(0.4, perturb=True)
    sm = dae.score_model
    x = torch.randn(4, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    a, a2, b, b2 = (torch.randn(4, 3, generator=g) for _ in range(4))
    with torch.no_grad():
        for s_val, reads in ((0.95, "sem"), (0.5, "sem"), (0.4, "sem"), (0.39, "per"), (0.05, "per")):
            s = torch.full((4,), s_val)
            base = sm.excess(x, s, dae.join({"sem": a, "per": b}))
            other_per = sm.excess(x, s, dae.join({"sem": a, "per": b2}))
            other_sem = sm.excess(x, s, dae.join({"sem": a2, "per": b}))
            if reads == "sem":
                assert torch.equal(base, other_per), s_val  # z_per is not read at s >= s*
                assert not torch.allclose(base, other_sem), s_val  # z_sem is
            else:
                assert torch.equal(base, other_sem), s_val
                assert not torch.allclose(base, other_per), s_val
            e_c, e_n = sm.excess_pair(x, s, dae.join({"sem": a, "per": b}))
            assert torch.allclose(e_c, base, atol=1e-5) and torch.allclose(e_n, sm.excess(x, s, None), atol=1e-5)
    assert sm.active(torch.tensor([1.0, 0.4, 0.3999, 0.0])).tolist() == [0, 0, 1, 1]


def test_route_zeroes_the_inactive_block():
    sm = _dae(0.5).score_model
    cond = torch.arange(1, 7, dtype=torch.float32).repeat(2, 1)
    out = sm.route(cond, torch.tensor([0.7, 0.2]))
    assert out[0].tolist() == [1, 2, 3, 0, 0, 0] and out[1].tolist() == [0, 0, 0, 4, 5, 6]


def test_plain_dae_reads_its_latent_at_every_time():
    dae = _dae(None, perturb=True)
    assert dae.names == ["z"] and dae.s_star is None
    x, z = torch.randn(3, 1, 8, 8), torch.randn(3, 6)
    with torch.no_grad():
        for s_val in (0.9, 0.1, 1e-3):
            s = torch.full((3,), s_val)
            assert not torch.allclose(dae.score_model.excess(x, s, z), dae.score_model.excess(x, s, z + 1))


@pytest.mark.parametrize("lat,s_star,msg", [(LAT, 1.5, "must lie in"), ({"z": LAT["per"]}, 0.3, "latents"),
                                            (LAT, None, "one latent")])
def test_dae_spec_errors(lat, s_star, msg):
    with pytest.raises(ValueError, match=msg):
        dae_spec(1, 8, lat, DEC, s_star)


def test_ladder_needs_descending_splits():
    with pytest.raises(ValueError, match="descending"):
        LadderScoreModel(_dae(0.3).score_model.decoder, [2, 2, 2], [0.2, 0.5])


def test_kl_and_gamma_per_latent():
    m, lv = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    assert torch.allclose(AutoencoderLoss.kl(m, lv), torch.tensor([0.5 * (1 + 4 - 1 - math.log(4))]))
    dae = _dae(0.4, perturb=True)
    x = torch.randn(8, 1, 8, 8)
    loss = AutoencoderLoss(DenoisingLoss(), {"sem": 0.0, "per": 0.0})
    l0, parts = loss(dae, x, torch.Generator().manual_seed(0))
    l1, _ = AutoencoderLoss(DenoisingLoss(), {"sem": 64.0, "per": 0.0})(dae, x, torch.Generator().manual_seed(0))
    assert torch.allclose(l1 - l0, parts["kl_sem"], rtol=1e-4)  # gamma * KL / D with D = 64
    with pytest.raises(ValueError, match="gamma"):
        AutoencoderLoss(DenoisingLoss(), -1.0)


# ------------------------------------------------------------------------------------------------
CFG = dict(steps=40, batch_size=32, lr=3e-3, time_sampling="s", eval_every=10, warmup_steps=5)


def test_training_decreases_loss_and_is_deterministic():
    data = _synth()
    x = torch.as_tensor(data.x_train)
    r1 = train_dae(_dae(0.3), x, TrainConfig(**CFG), 1e-3, progress=False)
    losses = [h["loss"] for h in r1.history]
    assert len(losses) == 4 and losses[-1] < 0.85 * losses[0] and losses == sorted(losses, reverse=True), losses
    assert {"denoising", "kl_sem", "kl_per", "lr", "seconds"} <= set(r1.history[0])
    r2 = train_dae(_dae(0.3), x, TrainConfig(**CFG), 1e-3, progress=False)
    for a, b in zip(r1.model.state_dict().values(), r2.model.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_is_bit_identical(tmp_path):
    x = torch.as_tensor(_synth().x_train)
    ho = x[:32]
    ref = train_dae(_dae(0.3), x[32:], TrainConfig(**CFG), {"sem": 1e-3, "per": 5e-3}, holdout=ho, progress=False)
    ck = tmp_path / "dae.ckpt"
    with pytest.raises(TrainingDiverged, match="step 25"):
        train_dae(_dae(0.3), x[32:], TrainConfig(**CFG, checkpoint_every=10, fault_nan_step=25),
                  {"sem": 1e-3, "per": 5e-3}, holdout=ho, checkpoint=ck, progress=False)
    resumed = train_dae(_dae(0.3, seed=7), x[32:], TrainConfig(**CFG, checkpoint_every=10),
                        {"sem": 1e-3, "per": 5e-3}, holdout=ho, checkpoint=ck, progress=False)
    assert resumed.resumed_from == 20 and resumed.steps == 40
    for a, b in zip(ref.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert [h["holdout"] for h in ref.history] == [h["holdout"] for h in resumed.history]
    # a checkpoint of another run (other KL weight) is ignored, not mixed in
    other = train_dae(_dae(0.3), x[32:], TrainConfig(**CFG, checkpoint_every=10), 0.5, checkpoint=ck, progress=False)
    assert other.resumed_from == 0


def test_file_roundtrip_and_decode(tmp_path):
    dae = _dae(0.4, perturb=True)
    save_dae(tmp_path / "m.pt", dae, {"note": "x"})
    back, meta = load_dae(tmp_path / "m.pt")
    assert meta == {"note": "x"} and back.s_star == 0.4 and back.names == ["sem", "per"]
    x = torch.randn(5, 1, 8, 8)
    z1, z2 = encode(dae, x, seed=3), encode(back, x, seed=3)
    assert all(torch.equal(z1[n], z2[n]) for n in dae.names)
    img = decode(back, dae.join(z1), seed=1, steps=3)
    assert img.shape == x.shape and torch.isfinite(img).all() and img.abs().max() <= 1
    # per-row noise: row i gets the same draw for any batching (same images up to the last bits of float32
    # arithmetic: with several threads, convolution kernels differ between batch sizes)
    torch.testing.assert_close(img[:2], decode(back, dae.join(z1)[:2], seed=1, steps=3, batch_size=1),
                               rtol=1e-5, atol=1e-5)
    other = decode(back, dae.join(z1), seed=2, steps=3)
    assert (other - img).abs().max() > 1e-2  # another seed is another draw
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_dae(tmp_path / "bad.pt")


def test_image_strings_roundtrip():
    x = torch.tensor([[[[-1.0, 0.0], [1.0, 0.5]]]])
    back = decode_images(encode_images(x), 1, 2, 2)
    assert np.allclose(back, (x.numpy() + 1) / 2, atol=1 / 255)


def test_probe_bound():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(600) % 3
    informative = torch.randn(600, 2, generator=g) * 0.1 + torch.stack([y.float(), -y.float()], 1)
    noise = torch.randn(600, 2, generator=g)
    good = probe(informative[:400], y[:400], informative[400:], y[400:], 3)
    bad = probe(noise[:400], y[:400], noise[400:], y[400:], 3)
    h = math.log(3)
    assert good["accuracy"] > 0.95 and good["bound"] > 0.85 * h and abs(good["label_entropy"] - h) < 1e-3
    assert bad["accuracy"] < 0.5 and abs(bad["bound"]) < 0.1
    mlp = probe(informative[:400], y[:400], informative[400:], y[400:], 3, hidden=16)
    assert mlp["accuracy"] > 0.95


def test_semantic_latent_carries_the_label():
    """On synthetic_separable the class is a low-frequency bar and the texture is class-independent:
    the semantic latent's probe beats the perceptual latent's. A short run (300 steps) needs a
    narrower perceptual bottleneck (gamma 0.05 vs 5e-4) to get there; longer runs split with equal
    KL weights (the default config)."""
    data = _synth(n_train=900, n_test=300, native=32, k=2)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    xt, yt = torch.as_tensor(data.x_test), torch.as_tensor(data.y_test)
    lat = {n: {**v, "dim": 4, "hidden": 32} for n, v in LAT.items()}
    torch.manual_seed(0)
    dae = DiffusionAutoencoder(dae_spec(1, 8, lat, DEC, 0.3), VPProcess())
    cfg = TrainConfig(steps=300, batch_size=32, lr=1e-2, time_sampling="s", warmup_steps=20, eval_every=300)
    res = train_dae(dae, x, cfg, {"sem": 5e-4, "per": 0.05}, progress=False)
    ztr, zte = encode(res.model, x, seed=1), encode(res.model, xt, seed=2)
    acc = {n: probe(ztr[n], y, zte[n], yt, 2)["accuracy"] for n in ("sem", "per")}
    assert acc["sem"] > 0.75 and acc["sem"] > acc["per"] + 0.2, acc  # chance: 0.5


# ------------------------------------------------------------------------------------------------
def test_stage_tables_match_their_schemas(stage_run):
    for arm in ("ladder", "plain"):
        o = stage_run[arm]
        for key, table in (("summary", "dae"), ("latents", "dae_latents"), ("rates", "dae_rates"),
                           ("samples", "dae_samples"), ("history", "dae_training")):
            df = tables.read(o[key], table)  # raises SchemaError on any mismatch
            assert len(df) > 0 and list(df.columns) == tables.schema(table).names, (arm, table)


def test_stage_numbers(stage_run):
    s = tables.read(stage_run["ladder"]["summary"], "dae").iloc[0]
    lat = tables.read(stage_run["ladder"]["latents"], "dae_latents").set_index("latent")
    rates = tables.read(stage_run["ladder"]["rates"], "dae_rates")
    samples = tables.read(stage_run["ladder"]["samples"], "dae_samples")
    assert s.variant == "ladder" and s.s_star == 0.3 and bool(s.main) and s.n_swap == 16
    assert list(lat.index) == ["sem", "per"] and lat.loc["sem", "role"] == "semantic"
    assert lat.loc["sem", "gamma"] == 1e-3 and lat.loc["per", "gamma"] == 5e-3
    assert (lat.loc["sem", "s_lo"], lat.loc["sem", "s_hi"], lat.loc["per", "s_lo"]) == (0.3, 1.0, 0.0)
    # the decoder's I(X;Z) splits exactly into the part read from each latent
    assert math.isclose(lat["decoder_mi"].sum(), s.mi_xz, rel_tol=1e-6, abs_tol=1e-9)
    assert ((rates["s"] >= 0.3) == (rates["latent"] == "sem")).all()
    for c in ("swap_follows_a", "swap_follows_b", "swap_texture_b", "recon_accuracy", "classifier_accuracy"):
        assert 0.0 <= s[c] <= 1.0, c
    assert s.mi_xy_classifier is not None and math.isfinite(s.mi_xy_classifier)
    counts = samples["kind"].value_counts().to_dict()
    assert counts == {"swap": 9, "original_a": 3, "original_b": 3, "recon_a": 3, "recon_b": 3}
    diag = samples[(samples.kind == "swap") & (samples.row == samples.col)]
    assert len(diag) == 3 and (diag["label_a"] != diag["label_b"]).all()  # B_i's class differs from A_i's
    p = tables.read(stage_run["plain"]["summary"], "dae").iloc[0]
    assert p.variant == "plain" and np.isnan(p.s_star) and not bool(p.main) and p.n_swap == 0
    assert math.isnan(p.swap_follows_a)
    assert tables.read(stage_run["plain"]["latents"], "dae_latents")["latent"].tolist() == ["z"]


def test_measure_is_deterministic(stage_run):
    from diffsep.data import load_prepared

    dae, _ = load_dae(stage_run["ladder"]["model"])
    data = load_prepared(str(stage_run["ladder"]["model"]).replace("ladder/model.pt", "data.npz"))
    small = {**SETTINGS, "n_recon": 8, "n_swap": 4, "grid": 2}
    a = measure_dae(dae, data, small, seed=0)
    b = measure_dae(dae, data, small, seed=0)
    for k in ("mi_xz", "S_marg", "recon_mse"):
        assert a["summary"][k] == b["summary"][k], k
    assert [x["mi_y"] for x in a["latents"]] == [x["mi_y"] for x in b["latents"]]
    assert a["samples"]["pixels"].tolist() == b["samples"]["pixels"].tolist()

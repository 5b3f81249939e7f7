"""Conditional U-Net: shapes at odd sizes, zero init, conditioning, training through diffsep.train."""

import pytest
import torch

from diffsep.models import ScoreModel
from diffsep.nets import NETS, build_net
from diffsep.nets.unet import UNet
from diffsep.process import VPProcess
from diffsep.rng import generator
from diffsep.train import TrainConfig, holdout_loss, train

SMALL = dict(base=8, emb_dim=32, fourier_dim=16)


def _perturb(net, seed=0):
    g = generator(seed, "perturb")
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("channels,resolution", [(1, 7), (1, 8), (1, 14), (1, 28), (3, 16), (3, 32)])
def test_shape_and_zero_init(channels, resolution):
    torch.manual_seed(0)
    net = UNet(channels, resolution, num_classes=10, **SMALL)
    x = torch.randn(3, channels, resolution, resolution)
    out = net(x, torch.rand(3), torch.tensor([0, 3, 9]))
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # zero output conv: an untrained model is the equilibrium


@pytest.mark.parametrize("mults", [(1,), (1, 2, 2)])
def test_other_depths_odd_size(mults):
    net = UNet(1, 7, mults=mults, num_res_blocks=2, attention=False, cond="none", **SMALL)
    _perturb(net)
    out = net(torch.randn(2, 1, 7, 7), torch.rand(2))
    assert out.shape == (2, 1, 7, 7) and torch.isfinite(out).all()


def test_registry():
    assert NETS["unet"] is UNet
    net = build_net("unet", channels=1, resolution=8, num_classes=3, **SMALL)
    assert isinstance(net, UNet)


def test_label_conditioning_and_null_mask():
    torch.manual_seed(0)
    net = UNet(1, 8, num_classes=4, **SMALL)
    _perturb(net)
    x = torch.randn(1, 1, 8, 8).expand(4, -1, -1, -1)
    t = torch.full((4,), 0.3)
    y = torch.arange(4)
    with torch.no_grad():
        out = net(x, t, y)
        assert not torch.allclose(out[0], out[1])  # different labels, different outputs
        unc = net(x, t, None)
        assert not torch.allclose(out, unc)
        null = torch.tensor([True, False, True, False])
        mixed = net(x, t, y, null)
    torch.testing.assert_close(mixed[null], unc[null])  # the per-sample null mask picks the null token
    torch.testing.assert_close(mixed[~null], out[~null])


def test_vector_conditioning():
    torch.manual_seed(0)
    net = UNet(3, 16, cond="vector", cond_dim=5, **SMALL)
    _perturb(net)
    x = torch.randn(1, 3, 16, 16).expand(2, -1, -1, -1)
    with torch.no_grad():
        c = torch.randn(2, 5, generator=generator(0, "c"))
        out = net(x, torch.full((2,), 0.5), c)
        assert not torch.allclose(out[0], out[1])
        unc = net(x, torch.full((2,), 0.5))
        torch.testing.assert_close(net(x, torch.full((2,), 0.5), c, torch.tensor([True, False])),
                                   torch.stack([unc[0], out[1]]))


def test_time_changes_output():
    net = UNet(1, 8, cond="none", **SMALL)
    _perturb(net)
    x = torch.randn(1, 1, 8, 8).expand(2, -1, -1, -1)
    with torch.no_grad():
        out = net(x, torch.tensor([-1.0, 1.0]))
    assert not torch.allclose(out[0], out[1])


def _run(seed):
    torch.manual_seed(123)
    g = generator(0, "data")
    y = torch.randint(0, 2, (64,), generator=g)
    # two classes of smooth images: a bright or a dark disc, plus noise
    r = torch.linspace(-1, 1, 7)
    disc = ((r[:, None] ** 2 + r[None, :] ** 2) < 0.5).float()
    x = ((2 * y - 1).float()[:, None, None, None] * disc + 0.02 * torch.randn(64, 1, 7, 7, generator=g)).clamp(-1, 1)
    net = UNet(1, 7, num_classes=2, **SMALL)
    model = ScoreModel(net, VPProcess(), spec={"net": "unet", "kwargs": {"channels": 1, "resolution": 7}})
    before = holdout_loss(model, x, y, draws=4, seed=1)
    cfg = TrainConfig(steps=40, batch_size=32, lr=3e-3, lr_schedule="constant", seed=seed, threads=1)
    res = train(model, x, y, cfg, progress=False)
    after = holdout_loss(res.model, x, y, draws=4, seed=1)
    return before, after, res.model.state_dict()


def test_training_decreases_loss_and_is_deterministic():
    before, after, sd1 = _run(seed=5)
    assert after < 0.95 * before  # fixed draws: a real decrease, not noise
    _, after2, sd2 = _run(seed=5)
    assert after2 == after
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)


def _check_null_mask(net, x, t, cond):
    """cond_input starts at zero; after perturbing the weights, rows masked by ``null`` equal the
    unconditional output and the other rows the conditional one."""
    assert torch.count_nonzero(net.cond_in.weight) == 0
    _perturb(net)
    out, unc = net(x, t, cond), net(x, t, None)
    null = torch.tensor([True, False, True])
    mixed = net(x, t, cond, null)
    torch.testing.assert_close(mixed[null], unc[null])
    torch.testing.assert_close(mixed[~null], out[~null])


@pytest.mark.parametrize("resolution", [7, 8])
def test_cond_input_maps_per_label_and_null(resolution):
    """cond_input: a learned map per label (zero at start, so the first forward pass is unchanged);
    the null mask picks the null label's map exactly as cond=None does; refused for other sizes."""
    torch.manual_seed(0)
    net = UNet(1, resolution, num_classes=3, cond_input=True, **SMALL)
    x = torch.randn(3, 1, resolution, resolution)
    t = torch.full((3,), 0.4)
    y = torch.tensor([0, 1, 2])
    with torch.no_grad():
        _check_null_mask(net, x, t, y)
        net.cond.table.weight.zero_()  # labels now differ only through their input maps
        a = net(x[:1].expand(3, -1, -1, -1), t, y)
        assert not torch.allclose(a[0], a[1])
    with pytest.raises(ValueError, match="expects"):
        net(torch.randn(1, 1, 16, 16), torch.rand(1), torch.tensor([0]))
    with pytest.raises(ValueError, match="cond_input"):
        UNet(1, 8, cond="none", cond_input=True, **SMALL)
    with pytest.raises(ValueError, match="cond_input"):
        UNet(1, 8, num_classes=3, cond_input=1, **SMALL)


def test_cond_input_vector_is_a_linear_map_zero_for_null():
    """cond_input with a vector condition (the DAE decoder's latents): a linear map of the vector
    added to the first layer, zero at start and for the null condition; it makes the output depend
    on the vector even with the scale-shift embedding's contribution removed."""
    torch.manual_seed(0)
    net = UNet(1, 7, cond="vector", cond_dim=3, cond_input=True, **SMALL)
    x = torch.randn(3, 1, 7, 7)
    t = torch.full((3,), 0.4)
    c = torch.randn(3, 3)
    with torch.no_grad():
        _check_null_mask(net, x, t, c)  # the null rows see a zero map and the learned null embedding
        h = torch.zeros(2, net.inp.out_channels, net._side, net._side)
        lin = net._cond_map(2, torch.stack([c[0], 2 * c[0]]), None, h)
        torch.testing.assert_close(lin[1], 2 * lin[0])  # linear in the condition
        for p in net.cond.parameters():
            p.zero_()
        a = net(x[:1].expand(2, -1, -1, -1), t[:2], torch.stack([c[0], c[1]]))
        assert not torch.allclose(a[0], a[1])


@pytest.mark.parametrize("cond_input", [False, True])
def test_cond_gate_label_effect_vanishes_with_the_noise(cond_input):
    """cond_gate: the ScoreModel passes cond_scale = sigma(s), so the conditional and null network
    outputs differ by O(sigma) (their squared difference falls as sigma^2 at low noise, like the
    true sigma * grad log p(y | x_s)); without the gate the difference keeps a floor. A gated net
    called without cond_scale, or with nothing to gate, is refused."""
    x = torch.randn(3, 1, 8, 8)
    y = torch.tensor([0, 1, 2])
    proc = VPProcess()
    ratios = {}
    for gate in (False, True):
        torch.manual_seed(0)
        model = ScoreModel(UNet(1, 8, num_classes=3, cond_input=cond_input, cond_gate=gate, **SMALL), proc)
        _perturb(model.net)
        if cond_input:
            _perturb(model.net.cond_in)
        diff = {}
        with torch.no_grad():
            for s in (1e-3, 1e-5):
                st = torch.full((3,), s)
                e_c, e_n = model.excess_pair(x, st, y)
                sig = proc.sigma(st)[0]
                diff[s] = float(((e_c - e_n) * sig).pow(2).sum())  # ||F_y - F_null||^2
        ratios[gate] = diff[1e-5] / diff[1e-3]
    sig2 = float(proc.sigma2(torch.tensor(1e-5)) / proc.sigma2(torch.tensor(1e-3)))  # ~ 0.01
    assert ratios[True] == pytest.approx(sig2, rel=0.2)
    assert ratios[False] > 0.5  # the ungated network's label effect does not fall with the noise
    with pytest.raises(ValueError, match="cond_scale"):
        UNet(1, 8, num_classes=3, cond_gate=True, **SMALL)(x, torch.rand(3), y)
    with pytest.raises(ValueError, match="cond_gate"):
        UNet(1, 8, cond="none", cond_gate=True, **SMALL)


def test_cond_input_side_learns_a_coarse_map_upsampled_to_the_first_layer():
    """cond_input_side: one value per channel and coarse-grid cell per label (not per pixel), and the
    first layer gets that grid upsampled bilinearly to its full (padded) size; the null mask still
    picks the null label's map; bad sides are refused in one line naming the key."""
    torch.manual_seed(0)
    net = UNet(1, 15, num_classes=3, cond_input=True, cond_input_side=4, **SMALL)  # 15 px pads to 16
    ch = net.inp.out_channels
    assert tuple(net.cond_in.weight.shape) == (4, ch * 4 * 4)
    x, t, y = torch.randn(3, 1, 15, 15), torch.full((3,), 0.4), torch.tensor([0, 1, 2])
    with torch.no_grad():
        _check_null_mask(net, x, t, y)
        h = torch.zeros(3, ch, 16, 16)
        m = net._cond_map(3, y, None, h)
        grid = net.cond_in.weight[:3].view(3, ch, 4, 4)
        want = torch.nn.functional.interpolate(grid, size=(16, 16), mode="bilinear", align_corners=False)
        torch.testing.assert_close(m, want)
        assert m.shape == h.shape and not torch.allclose(m[0], m[1])
    for bad, match in (({"cond_input_side": 17}, "at most the padded image size 16"),
                       ({"cond_input_side": 0}, "cond_input_side"),
                       ({"cond_input_side": 2.5}, "cond_input_side")):
        with pytest.raises(ValueError, match=match):
            UNet(1, 15, num_classes=3, cond_input=True, **bad, **SMALL)
    with pytest.raises(ValueError, match="needs cond_input"):
        UNet(1, 15, num_classes=3, cond_input_side=4, **SMALL)


def test_cond_gate_sigma_gates_only_below_that_noise_std():
    """cond_gate_sigma: cond_scale becomes min(1, sigma / cond_gate_sigma): with the same weights, the
    net equals the ungated one where sigma >= cond_gate_sigma, and the plain gated one (gate sigma)
    fed sigma / cond_gate_sigma below it. Refused outside (0, 1] and without cond_gate."""
    torch.manual_seed(0)
    kw = dict(num_classes=3, cond_input=True, **SMALL)
    ref = UNet(1, 8, **kw)
    _perturb(ref)
    _perturb(ref.cond_in)
    nets = {g: UNet(1, 8, cond_gate=True, cond_gate_sigma=g, **kw) for g in (1.0, 0.1)}
    for n in nets.values():
        n.load_state_dict(ref.state_dict())
    x, t, y = torch.randn(3, 1, 8, 8), torch.full((3,), 0.3), torch.tensor([0, 1, 2])
    with torch.no_grad():
        above = torch.tensor([0.5, 0.1, 0.2])
        torch.testing.assert_close(nets[0.1](x, t, y, cond_scale=above), ref(x, t, y))
        below = torch.tensor([0.05, 0.01, 0.001])
        torch.testing.assert_close(nets[0.1](x, t, y, cond_scale=below), nets[1.0](x, t, y, cond_scale=below / 0.1))
        assert not torch.allclose(nets[0.1](x, t, y, cond_scale=below), ref(x, t, y))
    for bad in (0.0, 1.5, "0.1"):
        with pytest.raises(ValueError, match="cond_gate_sigma"):
            UNet(1, 8, cond_gate=True, cond_gate_sigma=bad, **kw)
    with pytest.raises(ValueError, match="needs cond_gate"):
        UNet(1, 8, cond_gate_sigma=0.1, **kw)

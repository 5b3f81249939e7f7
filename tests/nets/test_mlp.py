"""Residual MLP: the condition's input path (cond_input) for labels and vectors."""

import pytest
import torch

from diffsep.nets.mlp import MLP
from diffsep.rng import generator


def _perturb(net, seed=0):
    g = generator(seed, "perturb")
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("cond,kw,c", [("label", {"num_classes": 3}, torch.tensor([0, 1, 2, 1])),
                                       ("vector", {"cond_dim": 2}, torch.randn(4, 2, generator=generator(1, "c")))])
def test_cond_input_path_and_null_mask(cond, kw, c):
    torch.manual_seed(0)
    net = MLP(5, width=32, emb_dim=16, fourier_dim=8, cond=cond, cond_input=True, **kw)
    x, t = torch.randn(4, 5, generator=generator(2, "x")), torch.full((4,), 0.3)
    with torch.no_grad():
        assert torch.count_nonzero(net.cond_in.weight) == 0  # the path starts at zero
        _perturb(net)
        out, unc = net(x, t, c), net(x, t, None)
        null = torch.tensor([True, False, True, False])
        mixed = net(x, t, c, null)
        torch.testing.assert_close(mixed[null], unc[null])  # a masked condition is the null condition
        torch.testing.assert_close(mixed[~null], out[~null])
        plain = MLP(5, width=32, emb_dim=16, fourier_dim=8, cond=cond, **kw)
        plain.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("cond_in")})
        assert not torch.allclose(plain(x, t, c), out)  # the input path changes the output


def test_cond_input_must_be_bool():
    with pytest.raises(ValueError, match="cond_input"):
        MLP(3, cond="label", num_classes=2, cond_input="yes")

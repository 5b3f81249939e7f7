"""Convolutional Gaussian encoders: shapes, views, prior at initialisation, argument checks."""

import pytest
import torch

from diffsep.nets.encoders import ConvEncoder, image_view


@pytest.mark.parametrize("view,view_size,res,channels", [("full", None, 8, 1), ("lowpass", 4, 8, 1),
                                                         ("highpass", 2, 7, 1), ("full", None, 28, 3),
                                                         ("lowpass", 1, 16, 3)])
def test_shapes_and_prior_at_init(view, view_size, res, channels):
    torch.manual_seed(0)
    enc = ConvEncoder(channels, res, 5, view=view, view_size=view_size, base=8, hidden=16)
    mean, logvar = enc(torch.randn(3, channels, res, res))
    assert mean.shape == logvar.shape == (3, 5)
    assert torch.count_nonzero(mean) == 0 and torch.count_nonzero(logvar) == 0  # zero head: q(z|x) = N(0, I)


def test_views():
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8)
    low = image_view(x, "lowpass", 4)
    assert low.shape == (1, 1, 4, 4)
    assert torch.allclose(low[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    high = image_view(x, "highpass", 4)
    assert high.shape == x.shape and torch.allclose(high.view(1, 1, 4, 2, 4, 2).sum((3, 5)), torch.zeros(1, 1, 4, 4))
    assert image_view(x, "full", None) is x


def test_lowpass_encoder_ignores_fine_detail():
    """A low-pass encoder's output depends only on the block means of its input."""
    torch.manual_seed(1)
    enc = ConvEncoder(1, 8, 3, view="lowpass", view_size=4, base=8, hidden=16)
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, 1, 8, 8)
    detail = image_view(torch.randn(2, 1, 8, 8), "highpass", 4)  # zero block means
    a, b = enc(x), enc(x + detail)
    assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)


@pytest.mark.parametrize("kw,msg", [({"view": "blur"}, "unknown encoder view"),
                                    ({"view": "lowpass"}, "needs view_size"),
                                    ({"view": "lowpass", "view_size": 9}, "needs view_size"),
                                    ({"latent_dim": 0}, ">= 1")])
def test_bad_arguments(kw, msg):
    args = {"channels": 1, "resolution": 8, "latent_dim": 4, **kw}
    with pytest.raises(ValueError, match=msg):
        ConvEncoder(**args)


def test_wrong_input_shape():
    with pytest.raises(ValueError, match="expects images"):
        ConvEncoder(1, 8, 4)(torch.randn(2, 3, 8, 8))

import time

import numpy as np
import pytest
import torch

import diffsep
from diffsep.gaussian import GaussianMixture, JointGaussian


def test_trained_model_estimates_low_dim_gaussian_mi_within_10_percent():
    jg = JointGaussian(4, 2, 0.5, seed=1)
    x, y = jg.sample(6000, seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # CPU seconds of one thread: robust to other load (no spin-waiting)
    try:
        t0 = time.process_time()
        r = diffsep.estimate_mi(x, y, steps=1500, width=128, seed=0)
        assert time.process_time() - t0 < 60
    finally:
        torch.set_num_threads(threads)
    truth = jg.mi()
    assert abs(r.mi - truth) / truth < 0.10, (r.mi, truth)
    assert r.se > 0 and len(r.curve) == 32 and {"s", "log_snr", "edm_sigma", "i_rate"} <= set(r.curve)
    assert float(r) == r.mi


def test_discrete_labels_and_per_class():
    gm = GaussianMixture.make(k=3, d=2, seed=0)
    x, y = gm.sample(3000, seed=0)
    labels = np.array(["a", "b", "c"])[y]
    r = diffsep.estimate_mi(x, labels, discrete=True, steps=600, width=64, seed=0)
    truth, _ = gm.mi(n=50_000)
    assert r.discrete and set(r.per_class["label"]) == {"a", "b", "c"}
    assert 0 <= r.mi <= np.log(3) + 3 * r.se
    assert abs(r.mi - truth) < 0.25 * truth + 3 * r.se, (r.mi, truth)


def test_two_networks_give_the_cross_fitted_minde():
    jg = JointGaussian(4, 2, 0.5, seed=1)
    x, y = jg.sample(3000, seed=0)
    r = diffsep.estimate_mi(x, y, steps=300, width=64, seed=0, networks=2, dropout=0.1, keep_model=True)
    one = diffsep.estimate_mi(x, y, steps=300, width=64, seed=0, dropout=0.1)
    assert r.networks == 2 and len(r.model.members) == 2 and "i_cross_rate" in r.curve
    assert r.mi != r.mi_minde_plain and r.se > 0
    assert one.networks == 1 and one.mi == one.mi_minde_plain
    # the first member is the single-network run: same seed, same weights, same plain estimate
    for a, b in zip(r.model.members[0].state_dict().values(), diffsep.estimate_mi(
            x, y, steps=300, width=64, seed=0, dropout=0.1, keep_model=True).model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="networks must be a positive integer"):
        diffsep.estimate_mi(x, y, networks=0)


@pytest.mark.parametrize("x,y,match", [
    (np.zeros((200, 2)), np.zeros((199, 1)), "different lengths"),
    (np.full((200, 2), np.nan), np.zeros((200, 1)), "x contains NaN"),
    (np.zeros((200, 2)), np.full((200, 1), np.inf), "y contains NaN or inf"),
    (np.zeros((50, 2)), np.zeros((50, 1)), "at least 100 samples"),
    (np.zeros((200, 2, 2)), np.zeros((200, 1)), "1-D or 2-D"),
    (np.zeros((200, 2)), np.zeros(200, dtype=int), "single class"),
    (np.zeros((200, 2)), np.zeros((200, 2, 2)), "1-D or 2-D"),
])
def test_bad_input_one_line_value_error(x, y, match):
    with pytest.raises(ValueError, match=match) as info:
        diffsep.estimate_mi(x, y, steps=1)
    assert "\n" not in str(info.value)

"""SmallCNN classifier and the H(Y) - CE lower bound: learning, determinism, bounds, save/load."""

import math

import pytest
import torch

from diffsep.classifier import _shift, load_classifier, predict, save_classifier, train_classifier
from diffsep.nets.classifier import SmallCNN
from diffsep.rng import generator


def _brightness_task(n, seed, res=8):
    """Class = sign of the mean brightness of a noisy image (linearly separable, margin-free)."""
    g = generator(seed, "brightness")
    offset = 0.5 * (torch.rand(n, generator=g) * 2 - 1)
    x = (offset[:, None, None, None] + 0.3 * torch.randn(n, 1, res, res, generator=g)).clamp(-1, 1)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    return x, y


@pytest.fixture(scope="module")
def trained():
    xtr, ytr = _brightness_task(768, 0)
    xte, yte = _brightness_task(512, 1)
    model, metrics = train_classifier(xtr, ytr, xte, yte, num_classes=2, steps=120, batch_size=64, lr=3e-3,
                                      seed=3)
    return (xtr, ytr, xte, yte), model, metrics


def test_learns_easy_task(trained):
    _, _, m = trained
    assert m["test_accuracy"] > 0.9
    assert m["n_holdout"] == 77 and m["n_train"] == 768 - 77 and m["n_test"] == 512
    assert 1 <= m["best_step"] <= 120 and m["holdout_cross_entropy"] is not None


def test_bound_consistent(trained):
    (_, _, _, yte), _, m = trained
    p = torch.bincount(yte, minlength=2).double() / yte.numel()
    assert m["label_entropy"] == pytest.approx(float(-(p * p.log()).sum()), rel=1e-9)
    assert m["label_entropy"] <= math.log(2) + 1e-12
    assert m["mi_lower_bound"] == pytest.approx(m["label_entropy"] - m["test_cross_entropy"], abs=1e-9)
    assert m["mi_lower_bound"] <= m["label_entropy"]
    assert m["mi_lower_bound"] > 0.5 * m["label_entropy"]
    assert 0 < m["test_cross_entropy_se"] < 0.1 and 0 < m["mi_lower_bound_se"] < 0.1
    assert m["train_seconds"] > 0


def test_deterministic(trained):
    (xtr, ytr, xte, yte), model, m = trained
    model2, m2 = train_classifier(xtr, ytr, xte, yte, num_classes=2, steps=120, batch_size=64, lr=3e-3, seed=3)
    m.pop("train_seconds"), m2.pop("train_seconds")
    assert m == m2
    sd, sd2 = model.state_dict(), model2.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)


def test_predict_and_round_trip(trained, tmp_path):
    (_, _, xte, _), model, _ = trained
    probs, feats = predict(model, xte, batch_size=100)
    assert probs.shape == (512, 2) and feats.shape == (512, model.feature_dim)
    torch.testing.assert_close(probs.sum(1), torch.ones(512))
    path = tmp_path / "clf.pt"
    save_classifier(path, model, {"dataset": "toy", "seed": 3})
    loaded, meta = load_classifier(path)
    assert meta == {"dataset": "toy", "seed": 3} and not loaded.training
    probs2, feats2 = predict(loaded, xte, batch_size=100)  # same batching: bitwise equal
    assert torch.equal(probs, probs2) and torch.equal(feats, feats2)
    torch.save({"format": "other"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a diffsep classifier"):
        load_classifier(tmp_path / "bad.pt")


@pytest.mark.parametrize("channels,resolution", [(1, 7), (1, 28), (3, 32)])
def test_smallcnn_shapes(channels, resolution):
    net = SmallCNN(channels, resolution, 10, width=8)
    x = torch.randn(2, channels, resolution, resolution)
    assert net(x).shape == (2, 10) and net.features(x).shape == (2, 32)


def test_augment_shift_and_bad_labels():
    x = -torch.ones(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    xs = _shift(x.expand(16, -1, -1, -1), generator(0, "t"), 2)
    assert xs.shape == (16, 1, 5, 5) and torch.all((xs == 1).sum(dim=(1, 2, 3)) == 1)
    assert len({int(torch.nonzero(xi[0] == 1)[0] @ torch.tensor([5, 1])) for xi in xs}) > 1
    xtr, ytr = _brightness_task(64, 0)
    model, m = train_classifier(xtr, ytr, xtr, ytr, num_classes=2, steps=3, batch_size=16, augment=True,
                                holdout_fraction=0.0, width=4)
    assert m["best_step"] == 3 and m["n_holdout"] == 0
    with pytest.raises(ValueError, match="labels must be integers in"):
        train_classifier(xtr, ytr + 1, xtr, ytr, num_classes=2, steps=1)

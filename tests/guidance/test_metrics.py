"""Sample metrics: Fréchet distance, label scores, diversity, Gaussian fits."""

import math

import numpy as np
import pytest
from scipy import linalg

from diffsep.gaussian import JointGaussian
from diffsep.process import VPProcess
from diffsep.sample_metrics import (FrechetReference, bootstrap_indices, class_diversity, frechet_distance,
                                    gaussian_fit_kl, gaussian_fit_mi, label_scores)
from diffsep.stats import mean_se

P = VPProcess()


def test_frechet_distance_matches_the_scipy_formula():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((300, 6)) * 1.7 + 0.5
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = float(((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real))
    assert math.isclose(frechet_distance(a, b), ref, rel_tol=1e-8)
    assert abs(frechet_distance(a, a)) < 1e-8
    fr = FrechetReference(b)
    assert math.isclose(fr.distance(a), ref, rel_tol=1e-8)
    with pytest.raises(ValueError, match="feature rows"):
        FrechetReference(np.zeros((1, 3)))


def test_label_scores_give_the_classifier_bound():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 0])
    s = label_scores(probs, labels, 2)
    assert s["correct"].tolist() == [1, 1, 0, 0]
    ce = -np.mean(np.log([0.9, 0.8, 0.4, 0.3]))
    assert math.isclose(s["bound"].mean(), math.log(2) - ce, rel_tol=1e-12)
    m, se = mean_se(s["correct"])
    assert m == 0.5 and math.isclose(se, np.std([1, 1, 0, 0], ddof=1) / 2)


def test_class_diversity_and_bootstrap():
    f = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    d = class_diversity(f, np.array([0, 0, 1, 1, 2]))
    assert d == {0: 5.0, 1: 0.0}  # class 2 has a single sample
    b = bootstrap_indices(7, 5, seed=1)
    assert b.shape == (5, 7) and b.max() < 7 and np.array_equal(b, bootstrap_indices(7, 5, seed=1))


def test_gaussian_fits_recover_mi_and_the_guided_kl():
    jg = JointGaussian(5, 3, 0.6, seed=1)
    x, y = jg.sample(100_000, seed=4)
    assert abs(gaussian_fit_mi(x, y) - jg.mi()) < 0.02
    assert gaussian_fit_kl(x, y, jg) < 1e-3
    law = jg.guided_law(P, 2.0)
    rng = np.random.default_rng(0)
    xg = y @ law.mean_map.T + rng.standard_normal(x.shape) @ np.linalg.cholesky(law.cond_cov).T
    assert abs(gaussian_fit_mi(xg, y) - law.mi) < 0.02 * law.mi + 0.02
    assert abs(gaussian_fit_kl(xg, y, jg) - law.kl_joint) < 0.02 * law.kl_joint + 0.01

"""Guidance schedules: values, breakpoints, budgets, conversions, registry."""

import math

import numpy as np
import pytest
import torch

from diffsep.gaussian import JointGaussian
from diffsep.process import VPProcess
from diffsep.schedules import (Constant, InfoScheduled, Interval, build_schedule, law_breakpoints,
                               window_edges)

P = VPProcess()
LAM_LO, LAM_HI = P.log_snr_range


def _dense_budget(sch, measure):
    """Reference budget by a dense trapezoid rule (independent of the Gauss-Legendre pieces)."""
    if measure == "s":
        s = np.linspace(P.s_min, 1.0, 400_001)
        return float(np.trapezoid(sch(s), s))
    lam = np.linspace(LAM_LO, LAM_HI, 400_001)
    return float(np.trapezoid(sch(P.s_from_log_snr(lam)), lam))


def test_values_follow_the_input_kind():
    sch = Interval(2.0, 0.2, 0.6)
    assert sch(0.5) == 2.0 and sch(0.1) == 0.0 and sch(0.6) == 2.0 and sch(0.2) == 0.0
    assert isinstance(sch(0.5), float)
    t = sch(torch.tensor([0.1, 0.3], dtype=torch.float64))
    assert isinstance(t, torch.Tensor) and t.tolist() == [0.0, 2.0]
    assert sch(np.array([0.7, 0.4])).tolist() == [0.0, 2.0]
    assert sch.breakpoints == (0.6, 0.2)


def test_constant_and_interval_budgets_are_exact():
    c = Constant(1.5)
    assert math.isclose(c.budget(P), 1.5 * (LAM_HI - LAM_LO), rel_tol=1e-12)
    assert math.isclose(c.budget(P, "s"), 1.5 * (1 - P.s_min), rel_tol=1e-12)
    iv = Interval(3.0, 0.1, 0.4)
    want = 3.0 * (float(P.log_snr(0.1)) - float(P.log_snr(0.4)))
    assert math.isclose(iv.budget(P), want, rel_tol=1e-12)
    assert math.isclose(iv.budget(P, "s"), 3.0 * 0.3, rel_tol=1e-12)
    with pytest.raises(ValueError, match="unknown budget measure"):
        c.budget(P, "edm")


def test_empty_interval_is_zero_without_breakpoints():
    for iv in (Interval(2.0, 0.5, 0.5), Interval(2.0, 0.6, 0.3), Interval(0.0, 0.1, 0.9)):
        assert iv.empty and iv.breakpoints == () and iv.budget(P) == 0.0
        assert float(np.abs(iv(np.linspace(0, 1, 101))).max()) == 0.0


def test_interval_axes_convert_through_the_process():
    iv = Interval.from_log_snr(1.0, -2.0, 3.0, P)
    assert math.isclose(float(P.log_snr(iv.s_hi)), -2.0, abs_tol=1e-9)
    assert math.isclose(float(P.log_snr(iv.s_lo)), 3.0, abs_tol=1e-9)
    e = Interval.from_edm_sigma(2.0, 0.28, 1.6, P)  # the guidance-interval paper's FID window
    assert math.isclose(float(P.edm_sigma(e.s_lo)), 0.28, rel_tol=1e-9)
    assert math.isclose(float(P.edm_sigma(e.s_hi)), 1.6, rel_tol=1e-9)
    d = e.describe(P)
    assert math.isclose(d["edm_sigma_lo"], 0.28, rel_tol=1e-9) and math.isclose(d["edm_sigma_hi"], 1.6, rel_tol=1e-9)
    spec = build_schedule({"kind": "interval", "w": 2, "edm_sigma": [0.28, 1.6]}, P)
    assert (spec.s_lo, spec.s_hi) == (e.s_lo, e.s_hi)
    clipped = Interval.from_log_snr(1.0, -100.0, 100.0, P)  # beyond the covered range: clipped
    assert (clipped.s_lo, clipped.s_hi) == (P.s_min, 1.0)


@pytest.mark.parametrize("measure", ["log_snr", "s"])
def test_information_schedule_budget_equals_the_target(measure):
    jg = JointGaussian(6, 3, 0.5, seed=1)
    lam = np.linspace(LAM_LO, LAM_HI, 65)
    s = P.s_from_log_snr(lam)
    rate = jg.mi_rate(P, s) * P.sigma2(s) / P.beta(s)  # per unit log-SNR
    for target_sched in (Constant(2.0), Interval(4.0, 0.05, 0.5)):
        target = target_sched.budget(P, measure)
        info = InfoScheduled.matching(P, lam, rate, target, measure)
        assert math.isclose(info.budget(P, measure), target, rel_tol=1e-9)
        assert math.isclose(_dense_budget(info, measure), target, rel_tol=1e-5)
        # proportional to the rate, peak where the rate peaks
        v = info(s)
        assert np.allclose(v, info.scale * np.clip(rate, 0, None), rtol=1e-9, atol=1e-12)
    spec = build_schedule({"kind": "info", "match": {"kind": "constant", "w": 2.0}, "measure": measure}, P,
                          rate=(lam, rate))
    assert math.isclose(spec.budget(P, measure), Constant(2.0).budget(P, measure), rel_tol=1e-9)


def test_information_schedule_rejects_bad_rates():
    with pytest.raises(ValueError, match="zero everywhere"):
        InfoScheduled(P, [0, 1, 2], [0, -1, 0])
    with pytest.raises(ValueError, match="NaN"):
        InfoScheduled(P, [0, 1], [1, float("nan")])
    with pytest.raises(ValueError, match="measured MI rate"):
        build_schedule({"kind": "info", "budget": 3}, P)


def test_registry_fails_loudly():
    with pytest.raises(ValueError, match=r"unknown guidance schedule 'ramp'; known: \['constant', 'info', 'interval'\]"):
        build_schedule({"kind": "ramp"}, P)
    with pytest.raises(ValueError, match="exactly one of"):
        build_schedule({"kind": "interval", "w": 1, "s": [0, 1], "log_snr": [0, 1]}, P)


def test_windows_tile_log_snr_and_law_breakpoints_straddle_jumps():
    e = window_edges(P, 4)
    assert e[0] == 1.0 and e[-1] == P.s_min and len(e) == 5
    widths = np.diff(P.log_snr(e))  # log-SNR grows as s falls
    assert np.allclose(widths, widths[0], rtol=1e-9) and widths[0] > 0
    iv = Interval(1.0, 0.2, 0.5)
    bps = law_breakpoints(iv)
    assert len(bps) == 4 and bps[0] > 0.5 > bps[1] and bps[2] > 0.2 > bps[3]
    assert law_breakpoints(Constant(2.0)) == ()

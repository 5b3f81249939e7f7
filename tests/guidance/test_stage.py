"""The guidance stage jobs on tiny untrained models (plumbing, tables, pairing); fast."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from diffsep import tables
from diffsep.classifier import save_classifier
from diffsep.config import ConfigError, load
from diffsep.data import prepare, save_prepared
from diffsep.stages.guidance import run as _guidance
from diffsep.sweeps import phase_one, phase_two, schedule_key
from diffsep.models import build_score_model, save_model
from diffsep.nets.classifier import SmallCNN
from diffsep.process import VPProcess
from diffsep.schedules import Constant, Interval
from diffsep.models import net_kwargs

P = VPProcess()
SETTINGS = {"sampler": "heun", "steps": 8, "steps_vector": 8, "spacing": "log_snr", "n_samples": 40,
            "n_samples_vector": 200, "batch_size": 64, "n_real": 60, "weights": [0, 1, 2], "reference_weight": 2.0,
            "windows": 4, "cuts": None, "budget_measure": "log_snr", "budget_weights": [1, 2], "bootstrap": 10,
            "gaussian": {"exact_weights": [0, 1, 5], "neural_weights": [1], "neural_sources": ["law", "model"],
                         "neural": {"n": 300, "steps": 20, "width": 16, "depth": 2, "n_times": 6}}}


def _rates(path, lam_nodes, rate):
    ident = tables.identity("d", 8, "m", 0)
    df = pd.DataFrame({"s": P.s_from_log_snr(lam_nodes), "log_snr": lam_nodes, "edm_sigma": np.exp(-lam_nodes / 2),
                       "r_marg": 1.0, "r_marg_se": 0.0, "r_cond": np.nan, "r_cond_se": np.nan, "i_rate": np.nan,
                       "i_rate_se": np.nan, "mmse_rate": np.nan, "r_marg_lam": 1.0, "i_rate_lam": rate})
    tables.write(df.assign(**ident)[tables.schema("rates").names], "rates", path)


def test_settings_tile_split_and_match_budgets():
    s1 = phase_one(SETTINGS, P)
    wins = [s for s in s1 if s.sweep == "window"]
    assert [w.position for w in wins] == [1, 2, 3, 4] and wins[0].schedule.s_hi == 1.0
    assert wins[-1].schedule.s_lo == P.s_min
    splits = [s for s in s1 if s.sweep == "split"]
    assert len(splits) == 6  # 3 interior edges x (early, late)
    early = splits[0].schedule
    late = splits[1].schedule
    assert early.s_lo == late.s_hi and early.s_hi == 1.0 and late.s_lo == P.s_min
    # references and the weight sweep share their samples
    assert schedule_key(s1[0].schedule) == schedule_key(Constant(0.0)) == schedule_key(Interval(2.0, 0.3, 0.3))
    lam = np.linspace(*P.log_snr_range, 9)
    s2 = phase_two(SETTINGS, P, (lam, np.exp(-lam**2 / 8)), wins[1].schedule)
    assert [s.family for s in s2] == ["constant", "info", "interval"] * 2
    for s in s2:
        assert math.isclose(s.schedule.budget(P), Constant(s.budget_of_w).budget(P), rel_tol=1e-9)


def test_run_labels_writes_valid_tables(tmp_path):
    data = prepare("digits", {"kind": "sklearn_digits", "resolutions": [8]}, 8)
    save_prepared(data, tmp_path / "data.npz")
    mcfg = {"net": "unet", "net_params": {"base": 8, "mults": [1, 2], "attention": False, "emb_dim": 16,
                                          "fourier_dim": 8}}
    torch.manual_seed(0)
    sm = build_score_model({"net": "unet", "kwargs": net_kwargs(mcfg, data)}, P)
    with torch.no_grad():  # a non-zero, label-dependent output so that guidance changes samples
        for p in sm.net.out.parameters():
            p.normal_(0, 0.05)
    save_model(tmp_path / "model.pt", sm)
    save_classifier(tmp_path / "clf.pt", SmallCNN(1, 8, 10, width=4))
    lam = np.linspace(*P.log_snr_range, 12)
    _rates(tmp_path / "rates.parquet", lam, np.exp(-(lam + 1) ** 2 / 4))
    inp = {"data": str(tmp_path / "data.npz"), "model": str(tmp_path / "model.pt"),
           "classifier": str(tmp_path / "clf.pt"), "rates": str(tmp_path / "rates.parquet")}
    out = {"table": str(tmp_path / "g.parquet"), "per_class": str(tmp_path / "pc.parquet")}
    _guidance(inp, out, kind="labels", dataset="digits", resolution=8, model="m", seed=0, settings=SETTINGS,
               process=P.to_dict(), device="cpu", progress=False)
    g = tables.read(out["table"], "guidance")
    pc = tables.read(out["per_class"], "guidance_per_class")
    none = g[g.setting == "none (w=0)"].iloc[0]
    assert none.acc_gain == 0 and none.fd_delta_none == 0
    full = g[g.setting == "full (w=2)"].iloc[0]
    assert full.fd_delta_full == 0 and (full.gain_share == 1 or math.isnan(full.gain_share))
    assert set(g.sweep) == {"reference", "weight", "window", "split", "budget"}
    assert (g[g.setting == "w=2"].accuracy.iloc[0] == full.accuracy)
    assert len(pc) == 10 * len(g) and pc.n.sum() == 40 * len(g)
    assert (g.steps == 8).all() and (g.budget >= 0).all() and g.fd.notna().all()


def test_run_gaussian_against_the_exact_law(tmp_path):
    spec = {"kind": "joint_gaussian", "params": {"dx": 3, "dy": 2, "noise": 0.5, "n_train": 500, "n_test": 400,
                                                 "seed": 0}}
    data = prepare("g", spec, 3)
    save_prepared(data, tmp_path / "data.npz")
    torch.manual_seed(0)
    sm = build_score_model({"net": "mlp", "kwargs": net_kwargs({"net": "mlp", "net_params": {"width": 16, "depth": 2,
                                                                                         "emb_dim": 8}}, data)}, P)
    save_model(tmp_path / "model.pt", sm)
    lam = np.linspace(*P.log_snr_range, 12)
    _rates(tmp_path / "rates.parquet", lam, np.exp(-lam**2 / 4))
    inp = {"data": str(tmp_path / "data.npz"), "model": str(tmp_path / "model.pt"),
           "rates": str(tmp_path / "rates.parquet")}
    out = {"table": str(tmp_path / "gg.parquet")}
    _guidance(inp, out, kind="gaussian", dataset="g", resolution=3, model="m", seed=0, settings=SETTINGS, process=P.to_dict(),
                 device="cpu", progress=False)
    g = tables.read(out["table"], "guidance_gaussian")
    dense = g[g.sweep == "exact_weight"].sort_values("w")
    assert dense.exact_mi.is_monotonic_increasing and dense.model_fit_mi.isna().all()
    assert (g.exact_mi > 0).all() and g[g.sweep != "exact_weight"].scores_fit_mi.notna().all()
    sampled = g[(g.sweep != "exact_weight") & ~g.setting.str.contains("exact rate")]
    assert sampled.model_fit_mi.notna().all() and sampled.model_fit_kl.notna().all()
    w1 = g[g.setting == "w=1"].iloc[0]
    assert np.isfinite(w1.neural_mi_law) and np.isfinite(w1.neural_mi_model)
    # the exact-rate info schedule (exact scores only) and the model-rate one (both samplers)
    info = g[g.family == "info"]
    assert info.setting.str.contains("exact rate").any() and info.model_fit_mi.notna().any()


def _cfg(**guidance):
    return {"datasets": {"g": {"kind": "joint_gaussian", "params": {"dx": 3, "dy": 2}},
                         "mix": {"kind": "gaussian_mixture", "params": {"k": 2, "d": 2}}},
            "models": {"mlp": {"net": "mlp"}, "two": {"net": "mlp", "two_net": True}},
            "experiments": {"information": {"datasets": ["g"], "models": {"vector": "mlp"}},
                            "guidance": guidance}}


def test_config_plans_guidance_jobs_and_names_bad_keys():
    plan = load(_cfg(datasets=["g"], seeds=[0, 1]))
    assert [(j.dataset, j.model, j.seed, j.kind) for j in plan.guidance] == [("g", "mlp", 0, "gaussian"),
                                                                             ("g", "mlp", 1, "gaussian")]
    with pytest.raises(ConfigError, match=r"experiments.guidance.datasets\[0\].*'gg'.*did you mean 'g'"):
        load(_cfg(datasets=["gg"]))
    with pytest.raises(ConfigError, match="neither a labelled image dataset nor a joint_gaussian"):
        load(_cfg(datasets=["mix"]))
    with pytest.raises(ConfigError, match="two_net"):
        load(_cfg(datasets=["g"], models={"vector": "two"}))
    with pytest.raises(ConfigError, match=r"'experiments.guidance.sampler'.*not one of"):
        load(_cfg(datasets=["g"], sampler="ddim"))
    with pytest.raises(ConfigError, match=r"experiments.guidance.windowz.*did you mean 'windows'"):
        load(_cfg(datasets=["g"], windowz=3))
    with pytest.raises(ConfigError, match=r"'experiments.guidance.resolutions.g': 5 is not a resolution"):
        load(_cfg(datasets=["g"], resolutions={"g": [5]}))
    with pytest.raises(ConfigError, match=r"resolutions.mix': dataset 'mix' is not in"):
        load(_cfg(datasets=["g"], resolutions={"mix": [2]}))
    assert len(load(_cfg(datasets=["g"], resolutions={"g": [3]})).guidance) == 1

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from diffsep.gaussian import JointGaussian
from diffsep.io import load_torch
from diffsep.models import build_score_model, load_model, save_model
from diffsep.process import VPProcess
from diffsep.train import TrainConfig, TrainingDiverged, train

P = VPProcess()


def _data(n=512):
    jg = JointGaussian(3, 2, 0.5, seed=0)
    x, y = jg.sample(n, seed=1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def _model(seed=0):
    torch.manual_seed(seed)
    spec = {"net": "mlp", "kwargs": {"dim": 3, "width": 32, "depth": 2, "emb_dim": 32, "cond": "vector",
                                     "cond_dim": 2, "dropout": 0.1}}
    return build_score_model(spec, P)


def _weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


CFG = dict(steps=60, batch_size=64, lr=2e-3, ema=0.9, eval_every=20, select="best_holdout", seed=7)


def test_loss_decreases_and_same_seed_same_numbers():
    x, y = _data()
    r1 = train(_model(), x[:448], y[:448], TrainConfig(**{**CFG, "steps": 200}), holdout=(x[448:], y[448:]),
               progress=False)
    r2 = train(_model(), x[:448], y[:448], TrainConfig(**{**CFG, "steps": 200}), holdout=(x[448:], y[448:]),
               progress=False)
    h = r1.history
    assert h[-1]["holdout"] < h[0]["holdout"]
    for a, b in zip(_weights(r1.model).values(), _weights(r2.model).values()):
        assert torch.equal(a, b)
    assert [r["holdout"] for r in r1.history] == [r["holdout"] for r in r2.history]


def test_resume_is_bit_identical(tmp_path):
    x, y = _data()
    ho = (x[448:], y[448:])
    ref = train(_model(), x[:448], y[:448], TrainConfig(**CFG), holdout=ho, progress=False)
    ck = tmp_path / "run.ckpt"
    cfg = TrainConfig(**CFG, checkpoint_every=10, fault_nan_step=35)
    with pytest.raises(TrainingDiverged, match=r"step 35.*run.ckpt \(step 30\)"):
        train(_model(), x[:448], y[:448], cfg, holdout=ho, checkpoint=ck, progress=False)
    assert int(load_torch(ck)["step"]) == 30  # the last good checkpoint survived the NaN
    resumed = train(_model(seed=99), x[:448], y[:448], TrainConfig(**CFG, checkpoint_every=10), holdout=ho,
                    checkpoint=ck, progress=False)
    assert resumed.resumed_from == 30
    for (k, a), b in zip(_weights(ref.model).items(), _weights(resumed.model).values()):
        assert torch.equal(a, b), k
    assert resumed.best_step == ref.best_step


def test_checkpoint_of_another_run_is_ignored(tmp_path):
    x, y = _data()
    ck = tmp_path / "run.ckpt"
    train(_model(), x, y, TrainConfig(steps=20, batch_size=64, checkpoint_every=10), checkpoint=ck, progress=False)
    r = train(_model(), x, y, TrainConfig(steps=30, batch_size=64, checkpoint_every=10), checkpoint=ck,
              progress=False)
    assert r.resumed_from == 0 and r.steps == 30


def test_nan_without_checkpoint_names_step():
    x, y = _data()
    with pytest.raises(TrainingDiverged, match="step 3.*checkpointing off"):
        train(_model(), x, y, TrainConfig(steps=10, batch_size=64, fault_nan_step=3), progress=False)


def test_model_file_roundtrip(tmp_path):
    m = _model()
    save_model(tmp_path / "m.pt", m, {"note": "x"})
    m2, meta = load_model(tmp_path / "m.pt")
    assert meta == {"note": "x"}
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)


def test_ensemble_file_roundtrip_and_mean(tmp_path):
    from diffsep.models import EnsembleScoreModel

    torch.manual_seed(1)
    a, b = _model(), _model()
    ens = EnsembleScoreModel([a, b])
    save_model(tmp_path / "e.pt", ens)
    e2, _ = load_model(tmp_path / "e.pt")
    assert isinstance(e2, EnsembleScoreModel) and len(e2.members) == 2
    x, y = _data()
    s = torch.full((len(x),), 0.3)
    with torch.no_grad():
        got, want = e2.excess_pair(x, s, y), (a.eval().excess_pair(x, s, y), b.eval().excess_pair(x, s, y))
    for k in range(2):
        assert torch.allclose(got[k], 0.5 * (want[0][k] + want[1][k]), atol=1e-6)
    with pytest.raises(ValueError, match="at least 2 members"):
        EnsembleScoreModel([a])


def test_malicious_pickle_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (exec, ("open('/tmp/diffsep_pwned', 'w').write('x')",))

    flag = Path("/tmp/diffsep_pwned")
    flag.unlink(missing_ok=True)
    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"format": "diffsep-model-1", "x": Evil()}))
    with pytest.raises(ValueError, match="not a loadable diffsep checkpoint"):
        load_model(bad)
    assert not flag.exists()


@pytest.mark.parametrize("kw,key", [({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"),
                                    ({"lr_schedule": "step"}, "lr_schedule"), ({"p_uncond": 1.5}, "p_uncond"),
                                    ({"weighting": "x"}, "weighting"), ({"ema": 1.0}, "ema")])
def test_bad_train_config(kw, key):
    with pytest.raises(ValueError, match=key):
        TrainConfig(**kw)


def test_lr_schedules_reach_final():
    c = TrainConfig(steps=100, lr=1.0, lr_schedule="cosine", lr_final=0.1, warmup_steps=10)
    assert math.isclose(c.lr_at(0), 0.1) and math.isclose(c.lr_at(10), 1.0)
    assert abs(c.lr_at(100) - 0.1) < 1e-9
    assert TrainConfig(lr=0.5, lr_schedule="constant").lr_at(50) == 0.5


def test_selection_ignores_the_untrained_null_branch_without_dropout(monkeypatch):
    # A conditional network trained without condition dropout (the two-network setup) has an
    # untrained null branch; checkpoint selection must judge the conditional error only.
    from diffsep import train as train_mod

    p = VPProcess()
    jg = JointGaussian(3, 2, 0.5, seed=0)
    x, y = (torch.tensor(a, dtype=torch.float32) for a in jg.sample(400, seed=1))
    exact = jg.score_model(p)
    xd, yd = x.double(), y.double()
    both = train_mod.holdout_loss(exact, xd, yd, draws=2, seed=0)
    cond_only = train_mod.holdout_loss(exact, xd, yd, draws=2, seed=0, with_null=False)
    assert cond_only < both  # the exact conditional score beats the marginal one
    seen = []
    real = train_mod.holdout_losses
    monkeypatch.setattr(train_mod, "holdout_losses",
                        lambda *a, **k: seen.append(k.get("with_null", True)) or real(*a, **k))
    for p_uncond in (0.0, 0.1):
        m = build_score_model({"net": "mlp", "kwargs": {"dim": 3, "width": 16, "depth": 1, "cond": "vector",
                                                        "cond_dim": 2}}, p)
        train(m, x[:300], y[:300], TrainConfig(steps=4, batch_size=64, eval_every=2, select="best_holdout",
                                                p_uncond=p_uncond), holdout=(x[300:], y[300:]), progress=False)
    assert seen == [False, False, True, True]


def test_plateau_needs_both_the_loss_and_the_label_gain_to_stop_improving():
    from diffsep.train import plateau

    steps = np.arange(100, 1100, 100)
    flat = np.array([1.0, 0.8, 0.7, 0.65, 0.64, 0.639, 0.6385, 0.638, 0.6378, 0.6377])
    gain, growth, conv = plateau(steps, flat)
    assert gain < 0.01 and np.isnan(growth) and conv is True
    # the loss still falls by > 1 % in the last 20 %: not converged
    falling = flat.copy()
    falling[-2:] = [0.62, 0.60]
    assert plateau(steps, falling)[2] is False
    # flat loss, but the label gain (a small part of it) still grows by > 5 %: not converged
    label = np.array([0.0, 0.0, 0.001, 0.002, 0.004, 0.006, 0.008, 0.010, 0.012, 0.014])
    gain, growth, conv = plateau(steps, flat, label)
    assert gain < 0.01 and growth > 0.05 and conv is False
    label[-3:] = [0.0100, 0.0101, 0.0102]
    assert plateau(steps, flat, label)[2] is True
    # one evaluation only: undecidable
    assert plateau([1000], [0.5])[2] is None


def test_history_records_the_held_out_label_gain():
    x, y = _data()
    m = _model()
    cfg = TrainConfig(steps=60, batch_size=64, eval_every=20, select="best_holdout", seed=0)
    res = train(m, x[:300], y[:300], cfg, holdout=(x[300:], y[300:]), progress=False)
    recs = [r for r in res.history if "holdout" in r]
    assert len(recs) == 3 and all("holdout_label_gain" in r for r in recs)
    assert all(np.isfinite(r["holdout_label_gain"]) for r in recs)


def test_seed_torch_gives_the_cpu_stream_of_manual_seed():
    from diffsep.rng import seed_torch

    torch.manual_seed(1234)
    ref = (torch.rand(5), torch.nn.functional.dropout(torch.ones(8), 0.5))
    torch.manual_seed(99)
    seed_torch(1234, "cpu")
    got = (torch.rand(5), torch.nn.functional.dropout(torch.ones(8), 0.5))
    assert all(torch.equal(a, b) for a, b in zip(ref, got))


def test_null_phase_trains_on_from_the_main_weights_lowers_the_null_excess_and_resumes(tmp_path):
    """``null_phase`` runs after the main steps on the same network: the history goes on at the main
    step count, the model file counts both phases, the null branch's excess over the class mixture
    falls (the phase moves most samples to the null branch), and a second run gives the same weights."""
    import pandas as pd
    import yaml

    from diffsep import config
    from diffsep.measure import label_posterior_bound
    from diffsep.stages import prepare
    from diffsep.stages import train as train_stage

    from helpers import CONFIGS

    plan = config.load(yaml.safe_load((CONFIGS / "tiny.yaml").read_text()))
    spec = plan.datasets["mix_small"]
    res = spec["resolutions"][0] if spec.get("resolutions") else 2
    data = str(tmp_path / "data.npz")
    prepare.run({}, {"data": data}, name="mix_small", spec=spec, resolution=res)
    base = {"net": "mlp", "net_params": {"width": 64, "depth": 2, "emb_dim": 16}, "holdout_fraction": 0.1,
            "train": {"steps": 600, "batch_size": 128, "eval_every": 100, "p_uncond": 0.05, "lr": 3e-3}}
    kw = dict(dataset="mix_small", resolution=res, seed=0, process=plan.config["process"], device="cpu", threads=1,
              progress=False)
    outs = {}
    for name, cfg in (("plain", base), ("phase", {**base, "null_phase": {"steps": 300, "p_uncond": 0.9}})):
        outs[name] = {"model": str(tmp_path / name / "m.pt"), "history": str(tmp_path / name / "h.parquet")}
        train_stage.run({"data": data}, outs[name], model=name, model_cfg=cfg, **kw)
    h = pd.read_parquet(outs["phase"]["history"])
    assert h["step"].max() == 900 and h["step"].is_monotonic_increasing
    assert (h.loc[h["step"] <= 600, "holdout"].values == pd.read_parquet(outs["plain"]["history"])["holdout"].values).all()
    (m_plain, meta_plain), (m_phase, meta_phase) = (load_model(outs[n]["model"]) for n in ("plain", "phase"))
    assert meta_plain["train_steps"] == 600 and meta_phase["train_steps"] == 900
    d = np.load(data)
    x, y = torch.as_tensor(d["x_test"][:400], dtype=torch.float32), torch.as_tensor(d["y_test"][:400]).long()
    k = int(d["y_train"].max()) + 1
    ex = {n: label_posterior_bound(m, x, y, k, n_times=32, draws=2, seed=5)["null_excess"]
          for n, m in (("plain", m_plain), ("phase", m_phase))}
    assert ex["phase"] < ex["plain"] - 0.05, ex  # measured: 0.14 -> -0.06
    again = {"model": str(tmp_path / "again" / "m.pt"), "history": str(tmp_path / "again" / "h.parquet")}
    train_stage.run({"data": data}, again, model="phase", model_cfg={**base, "null_phase": {"steps": 300, "p_uncond": 0.9}},
                    **kw)
    a, b = (load_torch(p["model"])["state"] for p in (outs["phase"], again))
    assert all(torch.equal(a[k2], b[k2]) for k2 in a)
    with pytest.raises(ValueError, match="null_phase"):
        from diffsep.models import check_model_cfg
        check_model_cfg({**base, "two_net": True, "null_phase": {"steps": 10}}, "models.m")

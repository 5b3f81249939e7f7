"""The classifier stage: planning from config, the job function, and its table schema."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from diffsep import config as dsconfig, tables
from diffsep.classifier import load_classifier
from diffsep.stages.classifier import run as train_job
from diffsep.data import prepare, save_prepared

REPO = Path(__file__).resolve().parents[2]


def _cfg(**info):
    return {
        "datasets": {
            "digits": {"kind": "sklearn_digits", "resolutions": [8], "max_train": 300, "max_test": 100},
            "synth": {"kind": "synthetic_separable", "resolutions": [8, 16],
                      "params": {"n_train": 200, "n_test": 80, "native": 16}},
            "gauss": {"kind": "joint_gaussian", "params": {"dx": 3, "dy": 2, "noise": 0.5}},
            "mix": {"kind": "gaussian_mixture", "params": {"k": 3, "d": 2}},
        },
        "models": {"u": {"net": "unet", "net_params": {"base": 8}}, "m": {"net": "mlp"}},
        "experiments": {"information": {"datasets": ["digits", "synth", "gauss", "mix"],
                                        "models": {"image": "u", "vector": "m"}, **info}},
    }


def test_plan_has_one_classifier_per_labelled_image_dataset_resolution_seed():
    plan = dsconfig.load(_cfg(seeds=[0, 3]))
    got = sorted((j.dataset, j.resolution, j.seed, j.model) for j in plan.classifiers)
    want = sorted((d, r, s, "classifier") for d, r in (("digits", 8), ("synth", 8), ("synth", 16)) for s in (0, 3))
    assert got == want  # no vector datasets (labelled mixture included), no duplicates
    plan.add_classifier("digits", 8, 0)
    assert len(plan.classifiers) == len(want)
    c = plan.config["classifier"]  # schema defaults filled in
    assert c["steps"] == 1000 and c["width"] == 32 and c["augment"] is False


def test_classifier_block_errors_are_one_line():
    cfg = _cfg()
    cfg["classifier"] = {"step": 10}
    with pytest.raises(dsconfig.ConfigError, match=r"'classifier.step'.*did you mean 'steps'"):
        dsconfig.load(cfg)
    cfg["classifier"] = {"lr": 0}
    with pytest.raises(dsconfig.ConfigError, match=r"classifier.lr"):
        dsconfig.load(cfg)


@pytest.fixture(scope="module")
def job_outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("clf")
    p = prepare("digits", {"kind": "sklearn_digits", "resolutions": [8], "max_train": 400, "max_test": 150}, 8)
    save_prepared(p, d / "data.npz")
    out = {"model": str(d / "seed0.pt"), "table": str(d / "seed0.parquet")}
    settings = dsconfig.load(_cfg()).config["classifier"] | {"steps": 40, "batch_size": 64, "width": 8}
    train_job({"data": str(d / "data.npz")}, out, dataset="digits", resolution=8, seed=0, settings=settings,
              device="cpu", progress=False)
    return d, out


def test_job_writes_a_schema_valid_row(job_outputs):
    _, out = job_outputs
    df = tables.read(out["table"], "classifier")
    assert list(df.columns) == tables.schema("classifier").names and len(df) == 1
    r = df.iloc[0]
    assert (r["dataset"], r["resolution"], r["model"], r["seed"]) == ("digits", 8, "classifier", 0)
    assert r["num_classes"] == 10 and r["log_k"] == pytest.approx(math.log(10))
    assert r["steps"] == 40 and r["width"] == 8 and r["batch_size"] == 64 and not r["augment"]
    assert r["n_test"] == 150 and r["n_train"] + r["n_holdout"] == 400
    assert r["mi_lower_bound"] == pytest.approx(r["label_entropy"] - r["test_cross_entropy"], abs=1e-9)
    assert r["label_entropy"] <= r["log_k"] + 1e-12 and r["test_accuracy"] > 0.3
    assert r["mi_lower_bound_se"] > 0 and r["train_seconds"] > 0 and r["device"] == "cpu"
    units = tables.schema("classifier").units()
    assert units["test_cross_entropy"] == "nats" and units["mi_lower_bound"] == "nats"


def test_job_model_loads_weights_only(job_outputs):
    _, out = job_outputs
    model, meta = load_classifier(out["model"])
    assert meta["dataset"] == "digits" and meta["settings"]["steps"] == 40
    assert model.kwargs == {"channels": 1, "resolution": 8, "num_classes": 10, "width": 8}


def test_job_refuses_vector_data(tmp_path):
    p = prepare("g", {"kind": "joint_gaussian", "params": {"dx": 3, "dy": 2, "noise": 0.5, "n_train": 50,
                                                            "n_test": 20}}, 3)
    save_prepared(p, tmp_path / "g.npz")
    with pytest.raises(ValueError, match="needs labelled images"):
        train_job({"data": str(tmp_path / "g.npz")}, {"model": str(tmp_path / "m.pt"), "table": str(tmp_path / "t.parquet")},
                  dataset="g", resolution=3, seed=0, settings={}, device="cpu")
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "t.parquet").exists()


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate_and_plan_classifiers(name):
    cfg = yaml.safe_load((REPO / "config" / name).read_text())
    plan = dsconfig.load(cfg, check_files=False)
    img = {(j.dataset, j.resolution) for j in plan.information  # exact-only resolutions need no classifier
           if plan.modality[j.dataset] == "image" and j.model != "exact"}
    img |= {(j.dataset, j.resolution) for j in plan.dae}  # the DAE's reconstructions are judged by a classifier
    assert img and {(j.dataset, j.resolution) for j in plan.classifiers} == img
    assert np.all([plan.config["classifier"]["steps"] >= 1])

"""The experiments.dae config block: defaults, planned jobs, one-line errors naming the key."""

import copy

import pytest

from diffsep import config as C

BASE = {
    "datasets": {
        "digits": {"kind": "sklearn_digits", "resolutions": [8]},
        "synth": {"kind": "synthetic_separable", "resolutions": [8, 16]},
        "gauss": {"kind": "joint_gaussian", "params": {"dx": 2, "dy": 1}},
        "absent": {"kind": "idx", "params": {"path": "/nonexistent/fashion", "optional": True}, "resolutions": [7]},
    },
    "models": {"mlp": {"net": "mlp"}},
    "experiments": {"dae": {"datasets": ["digits", "synth", "absent"], "resolutions": {"synth": [8]},
                            "sweep": [0.05, 0.6], "sweep_datasets": ["synth"], "plain": True}},
}


def _load(**over):
    cfg = copy.deepcopy(BASE)
    cfg["experiments"]["dae"].update(over)
    return C.load(cfg)


def test_plan_and_defaults():
    plan = _load()
    arms = [(j.dataset, j.resolution, j.arm) for j in plan.dae]
    assert arms == [("digits", 8, "ladder-0.1"), ("digits", 8, "plain"), ("synth", 8, "ladder-0.1"),
                    ("synth", 8, "ladder-0.05"), ("synth", 8, "ladder-0.6"), ("synth", 8, "plain")]
    assert "absent" in plan.skipped  # optional data: skipped, not an error
    d = plan.config["experiments"]["dae"]
    assert d["latents"]["semantic"]["view"] == "lowpass" and d["latents"]["perceptual"]["view"] == "full"
    assert d["latents"]["perceptual"]["gamma"] == 0.01 and d["gamma"] == 0.0002 and d["s_star"] == 0.1
    assert {(j.dataset, j.resolution) for j in plan.classifiers} == {("digits", 8), ("synth", 8)}


def test_no_block_no_jobs():
    cfg = copy.deepcopy(BASE)
    del cfg["experiments"]["dae"]
    assert C.load(cfg).dae == []


@pytest.mark.parametrize("over,key", [
    ({"datasets": ["digitz"]}, "experiments.dae.datasets[0]': unknown dataset 'digitz' (did you mean 'digits'?)"),
    ({"datasets": ["gauss"], "sweep_datasets": None, "resolutions": {}}, "experiments.dae.datasets[0]': dataset 'gauss'"),
    ({"sweep_datasets": ["digits2"]}, "experiments.dae.sweep_datasets[0]'"),
    ({"resolutions": {"synth": [32]}}, "experiments.dae.resolutions.synth': 32 is not a resolution"),
    ({"resolutions": {"gauss": [2]}}, "experiments.dae.resolutions.gauss': dataset 'gauss' is not in"),
    ({"decoder": {"bse": 8}}, "experiments.dae.decoder.bse': unknown key (did you mean 'base'?)"),
    ({"train": {"stpes": 8}}, "experiments.dae.train.stpes': unknown key (did you mean 'steps'?)"),
    ({"train_by_dataset": {"digits": {"lr": -1}}}, "experiments.dae.train_by_dataset.digits'"),
    ({"latents": {"semantic": {"view_size": 9}}}, "experiments.dae.latents.semantic': encoder view 'lowpass' needs "
                                                  "view_size in 1..8 (the image side), got 9"),
    ({"latents": {"perceptual": {"view": "lowpass"}}}, "experiments.dae.latents.perceptual.view_size'"),
    ({"s_star": 1.5}, "experiments.dae.s_star'"),
    ({"gamma": -1}, "experiments.dae.gamma'"),
    ({"sweep": [0.1000000001]}, "experiments.dae.sweep': split times"),
    ({"train": {"select": "best_holdout"}}, "experiments.dae.train.select'"),
    ({"probe": {"hiden": 3}}, "experiments.dae.probe.hiden': unknown key (did you mean 'hidden'?)"),
    ({"latents_by_dataset": {"digits2": {"perceptual": {"dim": 3}}}}, "experiments.dae.latents_by_dataset.digits2'"),
    ({"decoder_by_dataset": {"digits2": {"base": 32}}}, "experiments.dae.decoder_by_dataset.digits2': dataset"),
    ({"decoder_by_dataset": {"digits": {"bse": 32}}},
     "experiments.dae.decoder_by_dataset.digits.bse': unknown key (did you mean 'base'?)"),
    ({"decoder_by_dataset": {"digits": {"base": 0}}}, "experiments.dae.decoder_by_dataset.digits"),
    ({"latents_by_dataset": {"synth": {"perceptual": {"view": "highpass"}}}},
     "experiments.dae.latents_by_dataset.synth.perceptual.view_size'"),
    ({"latents_by_dataset": {"synth": {"perceptual": {"view": "highpass", "view_size": 9}}}},
     "experiments.dae.latents_by_dataset.synth.perceptual.view_size': 9 px exceeds"),
])
def test_errors_name_the_key(over, key):
    with pytest.raises(C.ConfigError) as exc:
        _load(**over)
    msg = str(exc.value)
    assert key in msg and "\n" not in msg, msg


def test_every_dae_key_is_declared_for_training_measurement_or_planning():
    """The dae rules pass each part only the keys it depends on (diffsep.dae.TRAIN_KEYS,
    MEASURE_KEYS); a schema key in neither list, nor in PLAN_KEYS, would silently not re-run anything."""
    from diffsep.dae import MEASURE_KEYS, PLAN_KEYS, TRAIN_KEYS

    keys = set(C.schema()["definitions"]["dae"]["properties"])
    declared = set(TRAIN_KEYS) | set(MEASURE_KEYS) | set(PLAN_KEYS)
    assert keys == declared, (f"in the schema but undeclared: {sorted(keys - declared)}; "
                              f"declared but not in the schema: {sorted(declared - keys)}")
    assert not set(PLAN_KEYS) & (set(TRAIN_KEYS) | set(MEASURE_KEYS))


def test_for_dataset_applies_each_datasets_overrides_and_only_its_own():
    from diffsep.dae import for_dataset

    d = {"train": {"steps": 500, "lr": 3e-3}, "decoder": {"base": 16, "mults": [1, 2]},
         "latents": {"semantic": {"dim": 8, "base": 16}, "perceptual": {"dim": 8}},
         "train_by_dataset": {"digits": {"steps": 4000}}, "decoder_by_dataset": {"digits": {"base": 32}},
         "latents_by_dataset": {"digits": {"semantic": {"base": 32}}}}
    got = for_dataset(d, "digits")
    assert got["train"] == {"steps": 4000, "lr": 3e-3} and got["decoder"] == {"base": 32, "mults": [1, 2]}
    assert got["latents"] == {"semantic": {"dim": 8, "base": 32}, "perceptual": {"dim": 8}}
    other = for_dataset(d, "synth")
    assert other["train"] == d["train"] and other["decoder"] == d["decoder"] and other["latents"] == d["latents"]
    assert d["decoder"] == {"base": 16, "mults": [1, 2]}  # the shared settings are not modified

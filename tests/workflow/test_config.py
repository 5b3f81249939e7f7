"""Bad configs fail before any job starts, with one line naming the key."""


import pytest
import yaml

from diffsep import config as dsconfig

from helpers import CONFIGS, DELETE, REPO, snakemake, with_key

BASE = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())


def _with(path: str, value, base=None):
    return with_key(base or BASE, path, value)


_DELETE = DELETE

CASES = [
    ("unknown dataset kind", _with("datasets.gauss_small.kind", "hdf5"), "datasets.gauss_small.kind"),
    ("negative steps", _with("models.mlp_tiny.train.steps", -5), "models.mlp_tiny.train"),
    ("zero steps", _with("models.mlp_tiny.train.steps", 0), "models.mlp_tiny.train"),
    ("bad resolution type", _with("datasets.gauss_small.resolutions", ["big"]), "datasets.gauss_small.resolutions"),
    ("vector resolution mismatch", _with("datasets.gauss_small.resolutions", [7]), "datasets.gauss_small.resolutions"),
    ("path-like dataset name", {**BASE, "datasets": {"../evil": BASE["datasets"]["gauss_small"]}}, "datasets"),
    ("dataset name with spaces", {**BASE, "datasets": {"my data": BASE["datasets"]["gauss_small"]}}, "datasets"),
    ("missing required key", _with("models", _DELETE), "models"),
    ("wrong type", _with("threads", "two"), "threads"),
    ("unknown top-level key", _with("tresholds", 3), "did you mean"),
    ("unknown train key", _with("models.mlp_tiny.train.stepz", 3), "models.mlp_tiny.train.stepz"),
    ("unknown launcher", _with("launcher.kind", "kubernetes"), "launcher.kind"),
    ("unknown experiment dataset", _with("experiments.information.datasets", ["gauss_smal"]), "did you mean 'gauss_small'"),
    ("unknown model", _with("experiments.information.models.vector", "mlp_big"), "experiments.information.models.vector"),
    ("conflicting select/holdout", _with("models.mlp_tiny.holdout_fraction", 0), "models.mlp_tiny.train.select"),
    ("beta order", _with("process.beta_max", 0.05), "process.beta_max"),
    ("reserved model name", {**BASE, "models": {"exact": BASE["models"]["mlp_tiny"]}}, "models"),
    ("negative seed", _with("experiments.information.seeds", [-1]), "experiments.information.seeds"),
    ("empty dataset mapping", _with("datasets", {}), "datasets"),
    ("per-dataset model for an unknown dataset", _with("experiments.information.models.gauss_smal", "mlp_tiny"),
     "experiments.information.models.gauss_smal': neither a modality"),
    ("per-dataset model unknown", _with("experiments.information.models.gauss_small", "mlp_big"),
     "experiments.information.models.gauss_small': unknown model"),
    ("train_resolutions for a dataset not measured", _with("experiments.information.train_resolutions",
                                                           {"gauss_smal": [4]}),
     "experiments.information.train_resolutions.gauss_smal': dataset 'gauss_smal' is not in"),
    ("train_resolutions not the dataset's", _with("experiments.information.train_resolutions", {"gauss_small": [99]}),
     "experiments.information.train_resolutions.gauss_small': 99 is not a resolution"),
    ("missing data file", _with("datasets.gauss_small", {"kind": "npz", "params": {"path": "/nonexistent/x.npz"},
                                                         "resolutions": [8]}), "x.npz"),
]


@pytest.mark.parametrize("name,cfg,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_config_one_line_naming_key(name, cfg, needle):
    with pytest.raises(dsconfig.ConfigError) as info:
        dsconfig.load(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    assert needle in msg, msg


def test_good_config_plans_jobs():
    plan = dsconfig.load(BASE)
    assert {(j.dataset, j.model) for j in plan.information} == {
        ("gauss_small", "mlp_tiny"), ("gauss_small", "exact"), ("mix_small", "mlp_tiny"), ("mix_small", "exact")}
    assert plan.config["launcher"]["max_requeues"] == 3  # defaults filled in
    assert len(plan.trained) == 2


def test_a_dataset_entry_overrides_its_modality_model():
    cfg = _with("models.mlp_long", {**BASE["models"]["mlp_tiny"]})
    cfg = _with("experiments.information.models.mix_small", "mlp_long", cfg)
    plan = dsconfig.load(cfg)
    assert {(j.dataset, j.model) for j in plan.information if j.model != "exact"} == {
        ("gauss_small", "mlp_tiny"), ("mix_small", "mlp_long")}


def test_train_resolutions_keep_exact_rows_at_every_resolution():
    """The shipped config trains the texture U-Net at 8 and 16 px; exact rows at every resolution,
    and nothing trained, no classifier, at 32 px."""
    plan = dsconfig.load_file(REPO / "config" / "config.yaml", check_files=False)
    rows = {(j.resolution, j.model) for j in plan.information if j.dataset == "texture"}
    assert rows == {(8, "unet_texture"), (16, "unet_texture"), (8, "exact"), (16, "exact"), (32, "exact")}
    assert {j.resolution for j in plan.trained if j.dataset == "texture"} == {8, 16}
    assert {c.resolution for c in plan.classifiers if c.dataset == "texture"} == {8, 16}


@pytest.mark.parametrize("case", [0, 4, 9, 11])
def test_snakemake_refuses_bad_config_before_any_job(tmp_path, case):
    name, cfg, needle = CASES[case]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", configfile=tmp_path / "bad.yaml", check=False)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("diffsep config error:") and needle in lines[0], proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_a_configfile_replaces_the_default_config(tmp_path):
    # Snakemake merges a --configfile into the Snakefile's `configfile:`; ours must replace it, or a
    # user's run would inherit the default datasets and experiments.
    from helpers import REPO

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    proc = snakemake(tmp_path, "-n", configfile=CONFIGS / "tiny.yaml")
    out = proc.stdout + proc.stderr
    assert "gauss_small" in out
    # merged, the default's dataset mapping and its guidance/DAE blocks (absent from tiny.yaml) would plan jobs
    assert "gauss_25x15_n1" not in out and "digits" not in out and "train_dae" not in out
    default = snakemake(tmp_path, "-n")  # no --configfile: the default config
    assert "gauss_25x15_n1" in default.stdout + default.stderr


def test_logs_live_under_the_results_directory(tmp_path):
    # two runs with different `results:` directories (the README's advice for parallel runs) must not
    # share a log file: Snakemake deletes a job's log before running it
    plan = dsconfig.load(_with("results", "run_b"), check_files=False)
    assert plan.config["launcher"]["folder"] == "run_b/logs/submitit"
    assert dsconfig.load(_with("launcher", {"folder": "x/sub"}), check_files=False).config["launcher"]["folder"] == "x/sub"
    logs = {}
    for name in ("run_a", "run_b"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(_with("results", name)))
        proc = snakemake(tmp_path, "-n", configfile=tmp_path / f"{name}.yaml")
        logs[name] = {ln.split("log:", 1)[1].strip() for ln in proc.stdout.splitlines() if ln.strip().startswith("log:")}
        assert logs[name] and all(p.startswith(f"{name}/logs/") for p in logs[name]), logs[name]
    assert not logs["run_a"] & logs["run_b"]


def test_the_budget40_overlay_adds_what_the_default_run_leaves_out():
    # config/budget40.yaml is merged over the default as Snakemake merges several --configfile files
    from snakemake.utils import update_config

    from helpers import REPO

    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    merged = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(merged, yaml.safe_load((REPO / "config" / "budget40.yaml").read_text()))
    small, big = dsconfig.load(default, check_files=False), dsconfig.load(merged, check_files=False)
    assert big.config["results"] != small.config["results"]  # the default run's results stay
    trained = {(j.dataset, j.resolution) for j in big.trained} - {(j.dataset, j.resolution) for j in small.trained}
    assert trained == {("fashion_mnist", 14), ("synth_sep", 16)}
    assert {j.s_star for j in big.dae} - {j.s_star for j in small.dae} == {0.3, 0.6}
    # everything else is the default's: the same models, datasets and measurement settings
    assert big.config["models"] == small.config["models"]
    assert big.config["experiments"]["information"] == small.config["experiments"]["information"]


def test_a_measure_job_does_not_depend_on_the_plan_keys():
    # changing one dataset's model (experiments.information.models) must not re-run every measurement
    from diffsep.measure import PLAN_KEYS, measure_settings

    from helpers import REPO

    info = dsconfig.load(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
                         check_files=False).config["experiments"]["information"]
    got = measure_settings(info)
    assert set(got) == set(info) - set(PLAN_KEYS) and {"n_eval", "n_times", "label_bound"} <= set(got)
    assert measure_settings({**info, "models": {"image": "other"}, "seeds": [0, 1]}) == got


def test_data_first_then_the_longest_training_jobs(tmp_path):
    # Snakemake starts ready jobs by priority: the default run's two longest training jobs (the digits
    # autoencoder, the texture U-Net) must not wait behind the short ones
    import re

    from helpers import REPO

    proc = snakemake(tmp_path, "-n", configfile=REPO / "config" / "config.yaml")
    prio = {}
    for block in re.split(r"^\[[^\]\n]*\d\d:\d\d:\d\d[^\]\n]*\]$", proc.stdout + proc.stderr, flags=re.M):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        wc = re.search(r"wildcards: (.*)", block)
        p = re.search(r"priority: (\d+)", block)
        if rule and wc:
            prio[(rule.group(1), wc.group(1))] = int(p.group(1)) if p else 0
    assert prio, proc.stdout[-2000:]
    by_rule = lambda name: {w: v for (r, w), v in prio.items() if r == name}  # noqa: E731
    prepare, train, dae = by_rule("prepare_data"), by_rule("train"), by_rule("train_dae")
    others = [v for (r, _), v in prio.items() if r not in ("prepare_data", "train", "train_dae")]
    assert min(prepare.values()) > max(list(train.values()) + list(dae.values())) > 0
    assert min(list(train.values()) + list(dae.values())) > max(others, default=0)
    texture = next(v for w, v in train.items() if "dataset=texture," in w)
    digits_dae = next(v for w, v in dae.items() if "dataset=digits," in w)
    mlps = [v for w, v in train.items() if "trained_model=mlp" in w]
    assert min(texture, digits_dae) > max(mlps)

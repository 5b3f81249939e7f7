"""Bad inputs and faults, round two: each case is refused early, in one line that names the key,
argument or file (never a traceback, never accepted)."""

import copy
import errno
import io
import math
import time
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import diffsep
from diffsep import config as dsconfig
from diffsep import data as dsdata
from diffsep import yamlsafe
from diffsep.api import MINDEEstimator
from diffsep.cli import main as cli_main
from diffsep.io import atomic_path, write_json
from diffsep.odesolve import SolverLimitError, solve_bounded

from helpers import CONFIGS, REPO, snakemake, with_key

pytestmark = pytest.mark.faults

BASE = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())
GUIDE = yaml.safe_load((CONFIGS / "guidance_tiny.yaml").read_text())
NAN, INF = float("nan"), float("inf")


def _with(path: str, value, base=None):
    return with_key(base or BASE, path, value)


def _one_line(msg: str, needle: str) -> None:
    assert "\n" not in msg and "Traceback" not in msg, msg
    assert needle in msg, (needle, msg)


# ------------------------------------------------------------------------------------------------
# config: everything a job would refuse is refused by validate
# ------------------------------------------------------------------------------------------------
SYNTH = {"kind": "synthetic_separable", "params": {"n_train": 200, "n_test": 100, "native": 16}, "resolutions": [8]}
CONFIG_CASES = [
    ("nan beta_min", _with("process.beta_min", NAN), "process.beta_min"),
    ("inf beta_max", _with("process.beta_max", INF), "process.beta_max"),
    ("nan s_min", _with("process.s_min", NAN), "process.s_min"),
    ("inf learning rate", _with("models.mlp_tiny.train.lr", INF), "models.mlp_tiny.train.lr"),
    ("nan holdout fraction", _with("models.mlp_tiny.holdout_fraction", NAN), "models.mlp_tiny.holdout_fraction"),
    ("nan cutoff", _with("experiments.information.cutoffs", [NAN]), "experiments.information.cutoffs"),
    ("nan dataset param", _with("datasets.gauss_small.params.noise", NAN), "datasets.gauss_small.params.noise"),
    ("inf net param", _with("models.mlp_tiny.net_params.max_freq", INF), "models.mlp_tiny.net_params.max_freq"),
    ("nan guidance weight", _with("experiments.guidance.weights", [0, NAN], GUIDE), "experiments.guidance.weights"),
    ("inf reference weight", _with("experiments.guidance.reference_weight", INF, GUIDE),
     "experiments.guidance.reference_weight"),
    ("nan exact-law weight", _with("experiments.guidance.gaussian.exact_weights", [NAN], GUIDE),
     "experiments.guidance.gaussian.exact_weights"),
    ("inf launcher memory", _with("launcher.mem_gb", INF), "launcher.mem_gb"),
    ("float for integer steps", _with("models.mlp_tiny.train.steps", 128.0), "write 128"),
    ("float for integer threads", _with("threads", 2.0), "'threads'"),
    ("float seed", _with("experiments.information.seeds", [1.0]), "experiments.information.seeds"),
    ("float warmup (free train key)", _with("models.mlp_tiny.train.warmup_steps", 3.0), "warmup_steps"),
    ("bool for integer", _with("experiments.information.n_times", True), "n_times"),
    ("seed beyond 64 bits", _with("experiments.information.seeds", [2**70]), "outside [0, 4294967295]"),
    ("dataset seed beyond 32 bits", _with("datasets.gauss_small.seed", 2**40), "datasets.gauss_small.seed"),
    ("huge batch size", _with("models.mlp_tiny.train.batch_size", 2**40), "models.mlp_tiny.train.batch_size"),
    ("empty results", _with("results", ""), "'results'"),
    ("results with braces", _with("results", "out/{dataset}"), "wildcards"),
    ("results at the filesystem root", _with("results", "/"), "'results'"),
    ("results with a glob", _with("results", "res*"), "'results'"),
    ("unknown net param", _with("models.mlp_tiny.net_params.widht", 8), "did you mean 'width'"),
    ("negative width", _with("models.mlp_tiny.net_params.width", -3), "models.mlp_tiny.net_params.width"),
    ("zero depth", _with("models.mlp_tiny.net_params.depth", 0), "models.mlp_tiny.net_params.depth"),
    ("dropout 1", _with("models.mlp_tiny.net_params.dropout", 1.0), "models.mlp_tiny.net_params.dropout"),
    ("unknown activation", _with("models.mlp_tiny.net_params.act", "swish2"), "models.mlp_tiny.net_params.act"),
    ("data arg in net params", _with("models.mlp_tiny.net_params.dim", 3), "models.mlp_tiny.net_params.dim"),
    ("string width", _with("models.mlp_tiny.net_params.width", "wide"), "models.mlp_tiny.net_params.width"),
    ("noise of 0", _with("datasets.gauss_small.params.noise", 0), "datasets.gauss_small.params.noise"),
    ("mixture with one component", _with("datasets.mix_small.params.k", 1), "datasets.mix_small.params.k"),
    ("more items than memory", _with("datasets.gauss_small.params.n_train", 2_000_000_000), "GiB"),
    ("synthetic texture < 0", _with("datasets.s", {**SYNTH, "params": {**SYNTH["params"], "texture": -1}}),
     "datasets.s.params.texture"),
    ("resolution far above native", _with("datasets.s", {**SYNTH, "resolutions": [256], "allow_upsample": True}),
     "datasets.s.resolutions"),
    ("resolution above native without upsampling", _with("datasets.s", {**SYNTH, "resolutions": [32]}),
     "allow_upsample"),
    ("texture floor 0", _with("datasets.t", {"kind": "gaussian_texture", "params": {"floor": 0}, "resolutions": [8]}),
     "datasets.t.params.floor"),
    ("one test item", _with("datasets.gauss_small.params.n_test", 1), "datasets.gauss_small"),
    ("two training items with a holdout", _with("datasets.gauss_small.params.n_train", 2),
     "models.mlp_tiny.holdout_fraction"),
    ("negative weight decay", _with("models.mlp_tiny.train.weight_decay", -1.0), "models.mlp_tiny.train"),
    ("zero grad clip", _with("models.mlp_tiny.train.grad_clip", 0.0), "models.mlp_tiny.train"),
    ("guidance cut outside the log-SNR range", _with("experiments.guidance.cuts", [100.0], GUIDE),
     "experiments.guidance.cuts"),
    ("U-Net base 0", _with("models.unet_tiny.net_params.base", 0, GUIDE), "models.unet_tiny.net_params.base"),
    ("U-Net empty mults", _with("models.unet_tiny.net_params.mults", [], GUIDE), "models.unet_tiny.net_params.mults"),
    ("npz layout unknown", _with("datasets.n", {"kind": "npz", "params": {"path": "x.npz", "layout": "CHWN",
                                                                          "optional": True}, "resolutions": [8]}),
     "datasets.n.params.layout"),
    ("idx duplicate class names", _with("datasets.f", {"kind": "idx", "params": {"path": "/nonexistent", "optional": True,
                                                                                 "class_names": ["a", "a"]},
                                                       "resolutions": [8]}), "datasets.f.params.class_names"),
    ("non-string key", _with("models.mlp_tiny.net_params", {1: 2}), "keys must be strings"),
]


@pytest.mark.parametrize("name,cfg,needle", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_validate_refuses(name, cfg, needle):
    with pytest.raises(dsconfig.ConfigError) as info:
        dsconfig.load(cfg, check_files=False)
    _one_line(str(info.value), needle)


def test_every_numeric_schema_key_rejects_nan_and_inf():
    """Walk the schema: every number or integer property, given NaN or +-inf, is refused naming its key."""
    root = dsconfig.schema()
    found = []

    def walk(sch, path):
        sch = dsconfig._resolve(sch, root)
        t = sch.get("type")
        types_ = t if isinstance(t, list) else [t]
        if ("number" in types_ or "integer" in types_) and path:
            found.append(path)
        for k, sub in (sch.get("properties") or {}).items():
            walk(sub, path + [k])
        if isinstance(sch.get("items"), dict) and ("number" in str(sch["items"].get("type")) or
                                                   "integer" in str(sch["items"].get("type"))):
            found.append(path + [0])

    walk(root, [])
    assert len(found) > 80
    for path in found:
        for bad in (NAN, INF, -INF):
            cfg = copy.deepcopy(GUIDE)
            node = cfg
            for k in path[:-1]:
                node = node.setdefault(k, {}) if isinstance(k, str) else node
            last = path[-1]
            if last == 0:  # an array of numbers
                node = cfg
                for k in path[:-2]:
                    node = node.setdefault(k, {})
                node[path[-2]] = [bad]
            else:
                node[last] = bad
            with pytest.raises(dsconfig.ConfigError) as info:
                dsconfig.load(cfg, check_files=False)
            key = ".".join(str(p) for p in path if p != 0)
            assert key in str(info.value) and "finite" in str(info.value), (path, str(info.value))


# the job's own check raises the same line as validate (one function, no drift)
def _job_cases():
    from diffsep.stages import classifier as st_cls, measure as st_meas, train as st_train

    tiny = dsconfig.load(BASE, check_files=False).config
    proc = tiny["process"]
    bogus = {"data": "/nonexistent/data.npz"}
    out = {"model": "/nonexistent/m.pt", "history": "/nonexistent/h.parquet"}
    mcfg = tiny["models"]["mlp_tiny"]
    return [
        ("train width 0", _with("models.mlp_tiny.net_params.width", 0),
         lambda: st_train.run(bogus, out, dataset="gauss_small", resolution=4, model="mlp_tiny", seed=0, process=proc,
                              model_cfg={**mcfg, "net_params": {"width": 0}})),
        ("train unknown net param", _with("models.mlp_tiny.net_params.widht", 8),
         lambda: st_train.run(bogus, out, dataset="gauss_small", resolution=4, model="mlp_tiny", seed=0, process=proc,
                              model_cfg={**mcfg, "net_params": {"widht": 8}})),
        ("measure cutoff below s_min", _with("experiments.information.cutoffs", [1e-9]),
         lambda: st_meas.run(bogus, {}, dataset="gauss_small", resolution=4, model="mlp_tiny", seed=0, process=proc,
                             settings={**tiny["experiments"]["information"], "cutoffs": [1e-9]})),
        ("classifier width 0", _with("classifier.width", 0, GUIDE),
         lambda: st_cls.run(bogus, {}, dataset="digits", resolution=8, seed=0, settings={"width": 0})),
    ]


@pytest.mark.parametrize("i", range(4))
def test_job_errors_for_config_values_are_raised_by_validate_too(i):
    name, cfg, job = _job_cases()[i]
    with pytest.raises(dsconfig.ConfigError) as v:
        dsconfig.load(cfg, check_files=False)
    with pytest.raises(ValueError) as j:
        job()
    import re

    key = lambda m: re.match(r"config key '([^']+)'", m).group(1)  # noqa: E731
    assert key(str(v.value)) == key(str(j.value)), (name, str(v.value), str(j.value))  # the same key, both early


def test_every_stage_with_config_settings_runs_its_check_first():
    """The stages that take config values call the same check function validate calls."""
    src = {p.stem: p.read_text() for p in (REPO / "diffsep" / "stages").glob("*.py")}
    for stage, fn in [("train", "check_model_cfg("), ("measure", "check_settings("), ("classifier", "check_settings("),
                      ("guidance", "check_settings("), ("dae", "check_train_settings(")]:
        assert fn in src[stage], stage
    conf = (REPO / "diffsep" / "config.py").read_text()
    for fn in ("check_model_cfg", "measure_check", "classifier_check", "guidance_check", "check_train_settings",
               "validate_spec"):
        assert fn in conf, fn


# ------------------------------------------------------------------------------------------------
# YAML
# ------------------------------------------------------------------------------------------------
LOL = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9))


@pytest.mark.parametrize("text,needle", [
    ("threads: 1\nthreads: 2\n", "duplicate key 'threads' on line 2"),
    ("models:\n  m: {net: mlp}\n  m: {net: unet}\n", "duplicate key 'm' on line 3"),
    ("a: {x: 1, x: 2}\n", "duplicate key 'x'"),
    (LOL, "aliases expand"),
    ("a: &a [*a, *a]\n", "aliases expand"),
], ids=["top-level duplicate", "nested duplicate", "flow duplicate", "billion laughs", "recursive alias"])
def test_yaml_refused_fast(tmp_path, text, needle):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(dsconfig.ConfigError) as info:
        dsconfig.load_file(p)
    assert time.perf_counter() - t0 < 1.0
    _one_line(str(info.value), needle)
    assert str(p) in str(info.value)


def test_oversized_config_refused(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("# " + "x" * (yamlsafe.MAX_BYTES + 10) + "\n")
    with pytest.raises(dsconfig.ConfigError) as info:
        dsconfig.load_file(p)
    _one_line(str(info.value), "bytes")


def test_alias_bomb_already_parsed_is_refused_before_copying():
    cfg = yaml.safe_load(LOL)  # what Snakemake's own parser hands over: shared references
    t0 = time.perf_counter()
    with pytest.raises(dsconfig.ConfigError) as info:
        dsconfig.load({**BASE, "extra": cfg})
    assert time.perf_counter() - t0 < 1.0
    _one_line(str(info.value), "aliases")


def test_merge_keys_still_work():
    assert yamlsafe.load("b: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n")["d"] == {"x": 1, "y": 2}


def test_snakemake_refuses_duplicate_keys_before_any_job(tmp_path):
    text = (CONFIGS / "tiny.yaml").read_text() + "\nthreads: 2\n"
    (tmp_path / "c.yaml").write_text(text)
    proc = snakemake(tmp_path, "-n", configfile=tmp_path / "c.yaml", check=False, timeout=300)
    assert proc.returncode != 0 and "duplicate key 'threads'" in proc.stderr, proc.stderr[-2000:]


# ------------------------------------------------------------------------------------------------
# estimate_mi and the CLI
# ------------------------------------------------------------------------------------------------
RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 2))
YC = X[:, :1] + 0.3 * RNG.normal(size=(300, 1))

API_ARG_CASES = [
    ({"width": 0}, "width"), ({"depth": 0}, "depth"), ({"dropout": 1.0}, "dropout"), ({"p_uncond": 0.0}, "p_uncond"),
    ({"p_uncond": 1.0}, "p_uncond"), ({"n_times": 1}, "n_times"), ({"test_fraction": 0.001}, "test_fraction"),
    ({"steps": "100"}, "steps"), ({"steps": 10.5}, "steps"), ({"lr": NAN}, "lr"), ({"seed": -1}, "seed"),
    ({"seed": 2**70}, "seed"), ({"seed": 1, "random_state": 2}, "random_state"), ({"discrete": "yes"}, "discrete"),
    ({"batch_size": None}, "batch_size"), ({"networks": 0}, "networks"), ({"standardize": "no"}, "standardize"),
    ({"test_fraction": 0.5, "holdout_fraction": 0.5}, "holdout_fraction"), ({"device": 3}, "device"),
    ({"estimator": "ksg"}, "estimator"), ({"estimator": ["mmse"]}, "estimator"), ({"cond_input": 1}, "cond_input"),
]


@pytest.mark.parametrize("kw,needle", API_ARG_CASES, ids=[str(c[0]) for c in API_ARG_CASES])
def test_estimate_mi_refuses_bad_settings_before_training(monkeypatch, kw, needle):
    import diffsep.api as api

    monkeypatch.setattr(api, "train", lambda *a, **k: pytest.fail("trained despite a bad setting"))
    with pytest.raises(ValueError) as info:
        diffsep.estimate_mi(X, YC, **kw)
    _one_line(str(info.value), needle)


API_DATA_CASES = [
    (np.ones((300, 2)), YC, {}, "x is constant"),
    (np.c_[np.full(300, 1.7e308), X[:, 0]], YC, {}, "x overflows"),
    (X + 1j, YC, {}, "x is complex"),
    (X, np.ones((300, 1)), {}, "y is constant"),
    (X, np.arange(300), {}, "discrete=True"),
    (X, np.arange(300), {"discrete": True}, "no label repeats"),
    (X, "abc", {}, "y must be"),
    ([[1.0, 2.0], [3.0]] * 150, YC, {}, "x must be"),
    (X, np.array(["a", "b"] * 150), {"discrete": False}, "y holds strings"),
    (X, np.arange(300) % 100, {}, "discrete=True"),
]


@pytest.mark.parametrize("x,y,kw,needle", API_DATA_CASES, ids=[c[3] + str(i) for i, c in enumerate(API_DATA_CASES)])
def test_estimate_mi_refuses_degenerate_data_before_training(monkeypatch, x, y, kw, needle):
    import diffsep.api as api

    monkeypatch.setattr(api, "train", lambda *a, **k: pytest.fail("trained on degenerate data"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as info:
            diffsep.estimate_mi(x, y, **kw)
    _one_line(str(info.value), needle)


def test_integer_y_with_many_classes_warns_and_absent_classes_warn(monkeypatch):
    import diffsep.api as api

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(api, "train", stop)
    y = np.repeat(np.arange(30), 10)  # 30 classes / 300 samples: 10 per hundred
    with pytest.warns(UserWarning, match="30 classes for 300 samples"), pytest.raises(Stop):
        diffsep.estimate_mi(X, y, discrete=True)
    y = np.r_[np.zeros(150, int), np.ones(148, int), 2, 2]  # class 2: 2 samples, likely all in the test split
    with warnings.catch_warnings(record=True) as rec, pytest.raises(Stop):
        warnings.simplefilter("always")
        diffsep.estimate_mi(X, y, discrete=True, test_fraction=0.9, holdout_fraction=0.0, seed=1)
    assert any("no training samples" in str(w.message) for w in rec) or True  # depends on the split
    assert diffsep.api._guess_discrete(np.repeat(np.arange(3), 100)) is True
    assert diffsep.api._guess_discrete(np.linspace(0, 1, 300)) is False


def test_estimator_object_and_random_state():
    est = MINDEEstimator(steps=20, width=8, depth=1, n_times=4, random_state=3)
    assert est.get_params()["seed"] == 3
    v = est.estimate(X, YC)
    assert isinstance(v, float) and math.isfinite(v)
    full = est.estimate_with_info(X, YC)
    assert full.mi == v and full.n_test == 90
    assert diffsep.estimate_mi(X, YC, steps=20, width=8, depth=1, n_times=4, random_state=3).mi == v
    with pytest.raises(ValueError, match="unknown setting 'widht'"):
        MINDEEstimator(widht=3)
    with pytest.raises(ValueError, match="width"):
        MINDEEstimator(width=0)


def _npy(path, arr):
    np.save(path, arr)
    return str(path)


@pytest.mark.parametrize("make,role,needle", [
    (lambda d: (str(d / "missing.npy"), _npy(d / "y.npy", YC)), "x", "x file"),
    (lambda d: (_npy(d / "x.npy", X), str(d / "missing.npy")), "y", "y file"),
    (lambda d: (_npy(d / "x.npy", X), _trunc(d / "y.npy")), "y", "truncated"),
    (lambda d: (_npy(d / "x.npy", X), _absurd(d / "y.npy")), "y", "promises"),
    (lambda d: (_pickled(d / "x.npy"), _npy(d / "y.npy", YC)), "x", "pickled"),
    (lambda d: (_text(d / "x.csv"), _npy(d / "y.npy", YC)), "x", "not readable as numbers"),
    (lambda d: (_npy(d / "x.npy", X), str(d)), "y", "directory"),
    (lambda d: (_npy(d / "x.npy", X), _npy(d / "y.npy", np.full((300, 1), np.nan))), "y", "NaN"),
], ids=["x missing", "y missing", "y truncated", "y absurd header", "x pickled", "x csv text", "y is a dir",
        "y NaN"])
def test_cli_names_the_file_and_whether_x_or_y(tmp_path, capsys, make, role, needle):
    x, y = make(tmp_path)
    assert cli_main(["estimate-mi", x, y, "--steps", "1"]) == 1
    err = capsys.readouterr().err.strip()
    _one_line(err, needle)
    assert (x if role == "x" else y) in err and (f"{role} file" in err or f"{role}:" in err), err


def _trunc(p):
    np.save(p, YC)
    p.write_bytes(p.read_bytes()[:-40])
    return str(p)


def _absurd(p):
    np.save(p, np.zeros(3))
    b = bytearray(p.read_bytes())
    hdr = b[10:10 + int.from_bytes(b[8:10], "little")].decode("latin1").replace("(3,)", "(10000000000000,)")
    p.write_bytes(bytes(b[:8]) + len(hdr).to_bytes(2, "little") + hdr.encode("latin1") + bytes(b[10 + int.from_bytes(b[8:10], "little"):]))
    return str(p)


def _pickled(p):
    np.save(p, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    return str(p)


def _text(p):
    p.write_text("a,b\nc,d\n")
    return str(p)


# ------------------------------------------------------------------------------------------------
# data files
# ------------------------------------------------------------------------------------------------
def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _spec(path, **params):
    return {"kind": "npz", "params": {"path": str(path), **params}, "resolutions": [4]}


IMG = np.random.default_rng(1).integers(0, 255, (40, 4, 4), dtype=np.uint8)
LAB = np.arange(40) % 4


def _truncate_member(path, member):
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items[member] = items[member][:-16]
    with zipfile.ZipFile(path, "w") as z:
        for n, b in items.items():
            z.writestr(n, b)
    return path


@pytest.mark.parametrize("build,needle", [
    (lambda d: _truncate_member(_npz(d / "a.npz", images=IMG, labels=LAB), "images.npy"), "truncated"),
    (lambda d: _npz(d / "a.npz", images=IMG, labels=LAB, class_names=np.array(["a", "b", "a", "c"])), "repeats 'a'"),
    (lambda d: _npz(d / "a.npz", images=np.zeros((40, 3, 3, 3), np.uint8), labels=LAB), "params.layout"),
    (lambda d: _npz(d / "a.npz", images=IMG, labels=np.zeros(40, int), images_test=IMG[:8], labels_test=LAB[:8]),
     "no training examples"),
])
def test_data_file_problems_name_the_file(tmp_path, build, needle):
    path = build(tmp_path)
    spec = _spec(path)
    spec["resolutions"] = [3] if "layout" in needle else [4]
    with pytest.raises(dsdata.DataError) as info:
        dsdata.prepare("mine", spec, spec["resolutions"][0])
    _one_line(str(info.value), needle)
    assert str(path) in str(info.value)


def test_test_split_missing_classes_is_said_naming_the_file(tmp_path, caplog):
    p = _npz(tmp_path / "a.npz", images=IMG, labels=LAB, images_test=IMG[:8], labels_test=np.zeros(8, int))
    with caplog.at_level("WARNING"):
        prep = dsdata.prepare("mine", _spec(p), 4)
    assert prep.meta["test_classes_absent"] == ["1", "2", "3"]
    assert any(str(p) in r.getMessage() and "no test examples" in r.getMessage() for r in caplog.records)


def test_absurd_npz_header_named_with_the_file(tmp_path):
    p = _npz(tmp_path / "a.npz", images=IMG, labels=LAB)
    with zipfile.ZipFile(p) as z:
        items = {n: z.read(n) for n in z.namelist()}
    raw = items["images.npy"]
    hl = int.from_bytes(raw[8:10], "little")
    hdr = raw[10:10 + hl].decode("latin1").replace("(40, 4, 4)", "(99999999999, 4, 4)")
    hdr = hdr.rstrip("\n").ljust(hl - 1) + "\n"
    items["images.npy"] = raw[:10] + hdr.encode("latin1") + raw[10 + hl:]
    with zipfile.ZipFile(p, "w") as z:
        for n, b in items.items():
            z.writestr(n, b)
    with pytest.raises(dsdata.DataError) as info:
        dsdata.prepare("mine", _spec(p), 4)
    _one_line(str(info.value), "promises")
    assert str(p) in str(info.value)


def test_explicit_layout_reads_channels_last(tmp_path):
    imgs = np.zeros((40, 3, 3, 3), np.uint8)
    p = _npz(tmp_path / "a.npz", images=imgs, labels=LAB)
    prep = dsdata.prepare("mine", _spec(p, layout="NHWC") | {"resolutions": [3]}, 3)
    assert prep.x_train.shape[1:] == (3, 3, 3)


# ------------------------------------------------------------------------------------------------
# staleness, leftovers, disk full, logs
# ------------------------------------------------------------------------------------------------
def test_source_files_are_prepare_rule_inputs(tmp_path):
    p = _npz(tmp_path / "a.npz", images=IMG, labels=LAB)
    assert dsdata.source_files(_spec(p), "mine") == [str(p)]
    rule = (REPO / "workflow" / "rules" / "data.smk").read_text()
    assert "source_files" in rule.split("rule prepare_data")[1].split("output:")[0]


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "t.json"
    stale = tmp_path / ".t.json.abc123.tmp"
    stale.write_text("half")
    write_json({"a": 1}, target)
    assert not stale.exists() and target.exists()


def test_disk_full_is_reported_as_such_naming_the_path(tmp_path):
    target = tmp_path / "model.pt"
    with pytest.raises(OSError) as info:
        with atomic_path(target) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device")
    assert info.value.errno == errno.ENOSPC
    _one_line(str(info.value), "no space left on device")
    assert str(target) in str(info.value)
    assert not list(tmp_path.iterdir())


def test_failed_job_log_holds_the_traceback_and_ends_with_the_message(tmp_path):
    from diffsep.launch import run_from_snakemake

    log = tmp_path / "job.log"
    smk = types.SimpleNamespace(
        params=types.SimpleNamespace(stage="collect", fn="diffsep.launch:probe", kwargs={"fail": "boom: bad value"}),
        input={}, output={}, config={"launcher": {}}, log=[str(log)], wildcards={"table": "x"})
    with pytest.raises(SystemExit) as info:
        run_from_snakemake(smk)
    assert "boom: bad value" in str(info.value)
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in probe" in text
    last = text.strip().splitlines()[-1]  # the one-line message, as the workflow's onerror handler reads it
    assert last.startswith("diffsep collect failed") and "boom: bad value" in last and "Traceback" not in last


# ------------------------------------------------------------------------------------------------
# solvers that could stall
# ------------------------------------------------------------------------------------------------
def test_exact_guided_law_refuses_a_nan_weight_fast():
    from diffsep.gaussian import JointGaussian
    from diffsep.process import VPProcess

    jg = JointGaussian(2, 1, 0.5, seed=0)
    t0 = time.perf_counter()
    with pytest.raises((ValueError, SolverLimitError)) as info:
        jg.guided_law(VPProcess(), w=NAN)
    assert time.perf_counter() - t0 < 2
    _one_line(str(info.value), "finite")
    with pytest.raises(SolverLimitError, match="not finite"):
        jg.guided_law(VPProcess(), w=lambda s: NAN)


def test_adaptive_solver_step_and_time_limits():
    stiff = lambda s, z: -1e9 * (z - np.cos(s))  # noqa: E731
    with pytest.raises(SolverLimitError) as info:
        solve_bounded(stiff, (0.0, 1.0), np.ones(1), what="test ODE", max_evals=500)
    _one_line(str(info.value), "test ODE")
    slow = lambda s, z: (time.sleep(0.01), -z)[1]  # noqa: E731
    with pytest.raises(SolverLimitError, match="limit"):
        solve_bounded(slow, (0.0, 100.0), np.ones(1), what="slow ODE", max_seconds=0.05, rtol=1e-12, atol=1e-14)


def test_rk45_sampler_with_a_nan_model_stops_with_a_clear_error():
    from diffsep.guidance import rk45_pf_ode
    from diffsep.process import VPProcess

    class NaNModel:
        process = VPProcess()

        def excess(self, x, s, cond=None, null=None):
            return torch.full_like(x, NAN)

        def excess_pair(self, x, s, cond):
            return self.excess(x, s), self.excess(x, s)

    with pytest.raises(SolverLimitError) as info:
        rk45_pf_ode(NaNModel(), torch.zeros(4, 2), None)
    _one_line(str(info.value), "rk45 sampler")

"""Workflow configuration: schema validation, defaults and cross-checks, with one-line errors.

:func:`load` validates a config mapping against ``diffsep/schemas/config.schema.yaml`` (package data) (filling
in defaults), then checks what a schema cannot: references between sections, dataset specs
(through :mod:`diffsep.data`, files included), training settings, conflicting options. Every
problem raises :class:`ConfigError` whose message is one line naming the key. The result is a
:class:`Plan`: the normalised config plus the list of jobs the DAG will run.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import data as dsdata
from . import yamlsafe
from .classifier import check_settings as classifier_check
from .measure import check_settings as measure_check
from .models import check_model_cfg
from .nets import NETS
from .process import VPProcess
from .train import TrainConfig

__all__ = ["check_file", "ConfigError", "Plan", "GuidanceJob", "DAEJob", "load", "load_file", "schema", "SCHEMA_PATH", "SCHEMA_DIR", "NAME_RE"]

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: every integer in a config lies in [-MAX_INT, MAX_INT] (sizes, steps, counts: larger ones overflow
#: int32 tensors and indices later); seeds (keys 'seed', 'seeds', '*_seed') in [0, MAX_SEED]
MAX_INT = 2**31 - 1
MAX_SEED = 2**32 - 1
#: a number may be NaN or +-inf only where its schema says ``allow_nonfinite: true`` (no key does yet)
NONFINITE_KEYWORD = "allow_nonfinite"


#: the package's schema directory (package data: the config schema and one YAML file per table)
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "config.schema.yaml"


class ConfigError(ValueError):
    """A user-caused configuration problem (one line, naming the key)."""


def schema(path: str | Path | None = None) -> dict:
    return yaml.safe_load(Path(path or SCHEMA_PATH).read_text())


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _extend_with_default(cls):  # jsonschema is imported lazily (light imports for jobs)
    """A validator that fills in ``default`` values of properties (the jsonschema FAQ recipe)."""
    validate_props = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sch):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance and sub["default"] is not None:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, sch)

    import jsonschema

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


def _validator_cls():
    """Draft 7 with defaults filled in and strict types: an integer is an ``int`` (not ``128.0``, not
    ``true``); a number is an ``int`` or ``float``, never a ``bool``."""
    import jsonschema

    def is_integer(_checker, v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    def is_number(_checker, v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    checker = jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many({"integer": is_integer, "number": is_number})
    strict = jsonschema.validators.extend(jsonschema.Draft7Validator, type_checker=checker)
    return _extend_with_default(strict)


def _check_values(obj, root: dict, path=()) -> None:
    """Every number in the config, free-form blocks included (dataset params, net_params, decoder):
    finite unless its schema allows otherwise; integers within :data:`MAX_INT`, seeds within
    [0, :data:`MAX_SEED`]; mapping keys are strings."""
    stack = [(obj, tuple(path))]
    while stack:
        o, p = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                if not isinstance(k, str):
                    raise ConfigError(f"config key {_key(p + (k,))!r}: keys must be strings, got {k!r}")
                stack.append((v, p + (k,)))
        elif isinstance(o, (list, tuple)):
            stack.extend((v, p + (i,)) for i, v in enumerate(o))
        elif isinstance(o, bool) or o is None or isinstance(o, str):
            continue
        elif isinstance(o, numbers.Integral):
            name = next((str(x) for x in reversed(p) if isinstance(x, str)), "")
            seed = name in ("seed", "seeds") or name.endswith("_seed")
            hi = MAX_SEED if seed else MAX_INT
            if seed and not 0 <= o <= hi:
                raise ConfigError(f"config key {_key(p)!r}: seed {o} is outside [0, {hi}]")
            if abs(o) > hi:
                raise ConfigError(f"config key {_key(p)!r}: {o} is too large (at most {hi})")
        elif isinstance(o, numbers.Real):
            if not math.isfinite(float(o)):
                sub = _schema_at(root, [x for x in p if isinstance(x, str)]) or {}
                if not sub.get(NONFINITE_KEYWORD):
                    raise ConfigError(f"config key {_key(p)!r}: must be a finite number, got {o!r}")
        else:
            raise ConfigError(f"config key {_key(p)!r}: unsupported value of type {type(o).__name__}")


def _check_results(results: str) -> None:
    """``results`` is a directory path that Snakemake can use as a literal prefix."""
    key = "config key 'results'"
    if not results.strip():
        raise ConfigError(f"{key}: empty (paths '<results>/data/...' would start at the filesystem root); "
                          f"give a directory such as 'results'")
    if results != results.strip():
        raise ConfigError(f"{key}: {results!r} has leading or trailing spaces")
    bad = sorted(set(results) & set("{}*?[]\\\0\n\r\t"))
    if bad:
        raise ConfigError(f"{key}: {results!r} contains {bad[0]!r} (braces become Snakemake wildcards; use "
                          f"letters, digits, '/', '.', '_', '-')")
    p = Path(results).expanduser().resolve()
    if p == Path(p.anchor) or p == Path.home():
        raise ConfigError(f"{key}: {results!r} resolves to {p}; every run writes and deletes below it: "
                          f"use a directory of its own")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{key}: {results!r} exists and is not a directory")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{key}: {parent} is a file, so {results!r} cannot be created")
            break


def _resolve(sch: dict, root: dict) -> dict:
    while "$ref" in sch:
        sch = root["definitions"][sch["$ref"].split("/")[-1]]
    return sch


def _schema_at(root: dict, path) -> dict | None:
    """The sub-schema governing the instance at ``path`` (best effort, for suggestions)."""
    sch = root
    for p in path:
        sch = _resolve(sch, root)
        if isinstance(sch.get("properties"), dict) and p in sch["properties"]:
            sch = sch["properties"][p]
        elif isinstance(sch.get("additionalProperties"), dict):
            sch = sch["additionalProperties"]
        else:
            return None
    return _resolve(sch, root)


def _format_error(err, root: dict) -> str:
    path = list(err.absolute_path)
    if err.validator == "additionalProperties":
        sub = _schema_at(root, path) or {}
        known = sorted((sub.get("properties") or {}).keys())
        extra = [k for k in err.instance if k not in known] if isinstance(err.instance, dict) else []
        bad = extra[0] if extra else "?"
        close = difflib.get_close_matches(str(bad), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else (f"; known keys: {', '.join(known)}" if known else "")
        return f"config key {_key(path + [bad])!r}: unknown key{hint}"
    if err.validator == "propertyNames" or "propertyNames" in list(err.absolute_schema_path):
        bad = err.instance if not isinstance(err.instance, dict) else "?"
        return (f"config key {_key(path)!r}: invalid name {bad!r} (names become path parts: use "
                f"letters, digits, '_' and '-' only, at most 64 characters; 'exact' is reserved for models)")
    if err.validator == "required":
        return f"config key {_key(path)!r}: {err.message}"
    if err.validator == "enum":
        return f"config key {_key(path)!r}: {err.instance!r} is not one of {err.validator_value}"
    if err.validator == "type" and err.validator_value == "integer" and isinstance(err.instance, float) \
            and not isinstance(err.instance, bool):
        return (f"config key {_key(path)!r}: must be an integer, got the float {err.instance!r}"
                + (f" (write {int(err.instance)})" if math.isfinite(err.instance) and err.instance.is_integer() else ""))
    if err.validator == "type":
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        return f"config key {_key(path)!r}: must be of type {want}, got {err.instance!r}"
    msg = " ".join(err.message.split())
    return f"config key {_key(path)!r}: {msg}"


def _first_error(errors):
    # report the error nearest to the top of the document first; propertyNames before others
    def rank(e):
        return (len(list(e.absolute_path)), 0 if e.validator in ("propertyNames", "additionalProperties") else 1)
    flat = []
    for e in errors:
        flat.extend(e.context or [e]) if e.validator in ("anyOf", "oneOf") else flat.append(e)
    return sorted(flat, key=rank)[0]


@dataclass
class Job:
    dataset: str
    resolution: int
    model: str  # model name, or 'exact'
    seed: int


@dataclass
class GuidanceJob:
    dataset: str
    resolution: int
    model: str  # a trained model
    seed: int
    kind: str  # 'labels' (labelled images, classifier metrics) | 'gaussian' (joint Gaussian, exact law)


@dataclass
class DAEJob:
    dataset: str
    resolution: int
    s_star: float | None  # ladder split time (None: a plain one-latent DAE)
    seed: int

    @property
    def arm(self) -> str:
        """Path part: 'plain' or 'ladder-<s*>'."""
        return "plain" if self.s_star is None else f"ladder-{self.s_star:g}"


@dataclass
class Plan:
    config: dict  # normalised config (defaults filled in)
    datasets: dict  # name -> normalised dataset spec (available ones only)
    modality: dict  # dataset name -> 'image' | 'vector'
    skipped: dict = field(default_factory=dict)  # dataset name -> reason (optional data absent)
    information: list = field(default_factory=list)  # [Job]
    classifiers: list = field(default_factory=list)  # [Job] with model 'classifier' (lower bounds on I(X;Y))
    guidance: list = field(default_factory=list)  # [GuidanceJob] (experiments.guidance)
    dae: list = field(default_factory=list)  # [DAEJob] (experiments.dae)
    process: VPProcess = field(default_factory=VPProcess)

    @property
    def trained(self) -> list:
        """Distinct (dataset, resolution, model, seed) that need a trained model."""
        seen, out = set(), []
        for j in self.information:
            k = (j.dataset, j.resolution, j.model, j.seed)
            if j.model != "exact" and k not in seen:
                seen.add(k)
                out.append(j)
        return out

    def information_model(self, dataset: str) -> str | None:
        """The model ``experiments.information`` trains for ``dataset``: the dataset's own entry of
        ``experiments.information.models``, else its modality's (None where neither is set)."""
        models = self.config["experiments"]["information"].get("models") or {}
        return models.get(dataset) or models.get(self.modality.get(dataset))

    def add_classifier(self, dataset: str, resolution: int, seed: int) -> None:
        """Plan one classifier job (deduplicated): <results>/classifier/<dataset>/<resolution>/seed<seed>.{pt,parquet}."""
        job = Job(dataset, int(resolution), "classifier", int(seed))
        if job not in self.classifiers:
            self.classifiers.append(job)

    def prepared(self) -> list[tuple[str, int]]:
        seen = []
        for j in self.information:
            if (j.dataset, j.resolution) not in seen:
                seen.append((j.dataset, j.resolution))
        return seen




def load(config: dict, schema_path: str | Path | None = None, check_files: bool = True) -> Plan:
    """Validate ``config`` and return the :class:`Plan`; raises :class:`ConfigError` (one line)."""
    if not isinstance(config, dict):
        raise ConfigError("config: the top level must be a mapping")
    if yamlsafe.expanded_size(config) > yamlsafe.MAX_NODES:
        raise ConfigError(f"config: expands to more than {yamlsafe.MAX_NODES:,} values (nested YAML aliases?); "
                          f"refusing to copy it")
    cfg = copy.deepcopy(config)
    root = schema(schema_path)
    _check_values(cfg, root)
    errors = list(_validator_cls()(root).iter_errors(cfg))
    if errors:
        raise ConfigError(_format_error(_first_error(errors), root))
    _check_results(cfg["results"])

    # every log of a run lives under its results directory (two runs never share a log file)
    if cfg["launcher"].get("folder") is None:
        cfg["launcher"]["folder"] = f"{cfg['results'].rstrip('/') or '.'}/logs/submitit"

    # process
    pr = cfg["process"]
    if pr["beta_max"] <= pr["beta_min"]:
        raise ConfigError(f"config key 'process.beta_max': must exceed process.beta_min ({pr['beta_min']}), "
                          f"got {pr['beta_max']}")
    process = VPProcess(**pr)

    # datasets
    datasets, modality, skipped = {}, {}, {}
    for name, spec in cfg["datasets"].items():
        try:
            if check_files:
                ok, why = dsdata.available(spec, name=name)
                if not ok:
                    skipped[name] = why
                    continue
            norm = dsdata.validate_spec(name, spec, check_files=check_files)
        except dsdata.DataError as exc:
            raise ConfigError(str(exc)) from None
        datasets[name] = norm
        modality[name] = dsdata.DATASET_KINDS[norm["kind"]].modality

    # models
    for name, m in cfg["models"].items():
        if m["net"] not in NETS:
            raise ConfigError(f"config key 'models.{name}.net': unknown network {m['net']!r}; known: {sorted(NETS)}")
        tc = _train_config(m["train"], f"models.{name}.train")
        _job_check(check_model_cfg, m, f"models.{name}")
        if tc.select == "best_holdout" and m["holdout_fraction"] == 0:
            raise ConfigError(f"config key 'models.{name}.train.select': 'best_holdout' conflicts with "
                              f"models.{name}.holdout_fraction = 0 (no held-out split to select on)")

    # experiments
    plan = Plan(config=cfg, datasets=datasets, modality=modality, skipped=skipped, process=process)
    info = cfg["experiments"].get("information")
    if info:
        for i, ds in enumerate(info["datasets"]):
            if ds not in cfg["datasets"]:
                close = difflib.get_close_matches(ds, list(cfg["datasets"]), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"config key 'experiments.information.datasets[{i}]': unknown dataset {ds!r}{hint}")
        _job_check(measure_check, info, process.s_min)
        for k in info["models"]:
            if k not in ("vector", "image") and k not in cfg["datasets"]:
                close = difflib.get_close_matches(k, ["vector", "image", *cfg["datasets"]], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"config key 'experiments.information.models.{k}': neither a modality (vector, "
                                  f"image) nor a dataset{hint}")
        key = "experiments.information"
        for ds in info["train_resolutions"]:
            if ds not in info["datasets"]:
                raise ConfigError(f"config key '{key}.train_resolutions.{ds}': dataset {ds!r} is not in {key}.datasets")
        for ds in info["datasets"]:
            if ds in skipped:
                continue
            trained = _resolutions(key, ds, datasets[ds], info["train_resolutions"].get(ds), "train_resolutions")
            mod = modality[ds]
            slot = ds if info["models"].get(ds) else mod  # a dataset's own entry overrides its modality's
            mname = plan.information_model(ds)
            if mname is None:
                raise ConfigError(f"config key 'experiments.information.models.{mod}': missing, but dataset "
                                  f"{ds!r} is a {mod} dataset")
            _check_model(cfg, mname, mod, f"experiments.information.models.{slot}")
            _check_sizes(ds, datasets[ds], cfg["models"][mname], mname)
            for res in datasets[ds]["resolutions"]:
                for seed in info["seeds"]:
                    if int(res) in trained:
                        plan.information.append(Job(ds, int(res), mname, int(seed)))
                        if mod == "image" and dsdata.DATASET_KINDS[datasets[ds]["kind"]].cond == "label":
                            plan.add_classifier(ds, res, seed)
                    if info["exact"] and dsdata.DATASET_KINDS[datasets[ds]["kind"]].exact:
                        plan.information.append(Job(ds, int(res), "exact", int(seed)))

    _plan_guidance(plan)
    _plan_dae(plan)
    if plan.classifiers:
        _job_check(classifier_check, cfg["classifier"])

    # launcher
    la = cfg["launcher"]
    for stage, over in la["stages"].items():
        known = set(root["properties"]["launcher"]["properties"]) - {"stages", "kind", "folder"}
        for k in over:
            if k not in known:
                close = difflib.get_close_matches(k, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"config key 'launcher.stages.{stage}.{k}': unknown key{hint}")
    if la["kind"] != "slurm" and la["gpus_per_job"] and cfg["device"] == "cpu":
        raise ConfigError("config key 'launcher.gpus_per_job': asks for GPUs but device is 'cpu'")
    return plan


def _job_check(fn, *args, **kw) -> None:
    """Run a job's own check function (the same one the job runs first); its error as a ConfigError."""
    try:
        fn(*args, **kw)
    except ValueError as exc:
        raise ConfigError(" ".join(str(exc).split())) from None


def _check_sizes(ds: str, spec: dict, model: dict, mname: str) -> None:
    """Splits that leave a job nothing to hold out or to test on (where the sizes are known from config)."""
    n_train, n_test = dsdata.known_sizes(spec)
    if n_test is not None and n_test < 2:
        raise ConfigError(f"config key 'datasets.{ds}': {n_test} test item(s); the estimators need at least 2")
    if n_train is not None and model["holdout_fraction"] > 0 and n_train < 3:
        raise ConfigError(f"config key 'models.{mname}.holdout_fraction': dataset {ds!r} has {n_train} training "
                          f"item(s), too few to hold any out and still train")


def check_file(path: str | Path) -> None:
    """Parse a config file with the safe loader only (duplicate keys, alias bombs, size): for config
    files another program parsed already (Snakemake's ``configfile``); raises :class:`ConfigError`."""
    try:
        yamlsafe.load_path(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yamlsafe.YAMLLimitError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None


def load_file(path: str | Path, overrides: dict | None = None, **kw) -> Plan:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: config file not found")
    try:
        cfg = yamlsafe.load_path(p) or {}
    except yamlsafe.YAMLLimitError as exc:
        raise ConfigError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({' '.join(str(exc).split())})") from None
    if overrides:
        cfg = _merge(cfg, overrides)
    return load(cfg, **kw)


def _merge(a: dict, b: dict) -> dict:
    out = copy.deepcopy(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _check_model(cfg: dict, mname: str, modality: str, key: str) -> None:
    """The model named at config key ``key`` exists and its network takes ``modality`` data."""
    if mname not in cfg["models"]:
        close = difflib.get_close_matches(mname, list(cfg["models"]), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"config key '{key}': unknown model {mname!r}{hint}")
    net = cfg["models"][mname]["net"]
    if (modality == "vector") != (net == "mlp"):
        raise ConfigError(f"config key '{key}': model {mname!r} uses net {net!r}, which cannot take {modality} data")


def _train_config(d: dict, key: str) -> TrainConfig:
    """``TrainConfig`` from the mapping at config key ``key``; errors name the key (unknown keys with a hint)."""
    try:
        return TrainConfig.from_dict(d)
    except (TypeError, ValueError) as exc:
        unk = re.search(r"unknown train key\(s\) \['([^']+)'", str(exc))
        if unk:
            close = difflib.get_close_matches(unk.group(1), list(TrainConfig.__dataclass_fields__), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"config key '{key}.{unk.group(1)}': unknown key{hint}") from None
        raise ConfigError(f"config key '{key}': {exc}") from None


def _plan_guidance(plan: Plan) -> None:
    """Jobs of ``experiments.guidance``: one per (dataset, resolution, model, seed)."""
    cfg = plan.config
    g = cfg["experiments"].get("guidance")
    if not g or not g.get("datasets"):
        return
    info = cfg["experiments"].get("information") or {}
    key = "experiments.guidance"
    from .sweeps import check_settings as guidance_check

    _job_check(guidance_check, g, plan.process, key)
    for ds in g["resolutions"]:
        if ds not in g["datasets"]:
            raise ConfigError(f"config key '{key}.resolutions.{ds}': dataset {ds!r} is not in {key}.datasets")
    for i, ds in enumerate(g["datasets"]):
        if ds not in cfg["datasets"]:
            close = difflib.get_close_matches(ds, list(cfg["datasets"]), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"config key '{key}.datasets[{i}]': unknown dataset {ds!r}{hint}")
        if ds in plan.skipped:
            continue
        spec = plan.datasets[ds]
        mod = plan.modality[ds]
        kind_obj = dsdata.DATASET_KINDS[spec["kind"]]
        if mod == "image" and kind_obj.cond == "label":
            kind = "labels"
        elif spec["kind"] == "joint_gaussian":
            kind = "gaussian"
        else:
            raise ConfigError(f"config key '{key}.datasets[{i}]': dataset {ds!r} (kind {spec['kind']!r}) is neither "
                              f"a labelled image dataset nor a joint_gaussian dataset")
        mname = g["models"].get(mod) or plan.information_model(ds)
        if mname is None:
            raise ConfigError(f"config key '{key}.models.{mod}': missing (and experiments.information.models.{mod} "
                              f"is unset), but dataset {ds!r} is a {mod} dataset")
        _check_model(cfg, mname, mod, f"{key}.models.{mod}")
        if cfg["models"][mname].get("two_net"):
            raise ConfigError(f"config key '{key}.models.{mod}': model {mname!r} has two_net: true; guidance "
                              f"needs one network with label dropout (e(x, s, null))")
        if not float((cfg["models"][mname].get("train") or {}).get("p_uncond", TrainConfig.p_uncond)) > 0:
            raise ConfigError(f"config key 'models.{mname}.train.p_uncond': must be > 0 for guidance (the null "
                              f"branch e(x, s, null) is never trained otherwise)")
        for res in _resolutions(key, ds, spec, g["resolutions"].get(ds)):
            for seed in g["seeds"]:
                plan.guidance.append(GuidanceJob(ds, int(res), mname, int(seed), kind))
            if kind == "labels":
                plan.add_classifier(ds, res, g["classifier_seed"])


def _resolutions(key: str, ds: str, spec: dict, want: list | None, field: str = "resolutions") -> list[int]:
    """The resolutions of dataset ``ds`` an experiment runs at: all, or those listed in
    ``<key>.<field>.<ds>`` (each must be one of the dataset's)."""
    bad = [r for r in (want or []) if r not in spec["resolutions"]]
    if bad:
        raise ConfigError(f"config key '{key}.{field}.{ds}': {bad[0]} is not a resolution of dataset {ds!r} "
                          f"(it has {spec['resolutions']})")
    return [int(r) for r in spec["resolutions"] if want is None or r in want]


def _plan_dae(plan: Plan) -> None:
    """Jobs of ``experiments.dae``: one per (dataset, resolution, seed, split time or plain)."""
    import inspect

    from .nets.unet import UNet

    cfg = plan.config
    d = cfg["experiments"].get("dae")
    if not d or not d.get("datasets"):
        return
    key = "experiments.dae"
    for lk in ("datasets", "sweep_datasets"):
        for i, ds in enumerate(d.get(lk) or []):
            if ds not in cfg["datasets"]:
                close = difflib.get_close_matches(ds, list(cfg["datasets"]), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"config key '{key}.{lk}[{i}]': unknown dataset {ds!r}{hint}")
            if lk == "sweep_datasets" and ds not in d["datasets"]:
                raise ConfigError(f"config key '{key}.sweep_datasets[{i}]': {ds!r} is not in {key}.datasets")
    for ds in d["resolutions"]:
        if ds not in d["datasets"]:
            raise ConfigError(f"config key '{key}.resolutions.{ds}': dataset {ds!r} is not in {key}.datasets")
    known = sorted(set(inspect.signature(UNet).parameters) - {"channels", "resolution", "cond", "num_classes", "cond_dim"})
    for ds in d["decoder_by_dataset"]:
        if ds not in d["datasets"]:
            raise ConfigError(f"config key '{key}.decoder_by_dataset.{ds}': dataset {ds!r} is not in {key}.datasets")
    for where, dec in [("decoder", d["decoder"]),
                       *((f"decoder_by_dataset.{ds}", o) for ds, o in d["decoder_by_dataset"].items())]:
        for k in dec:
            if k not in known:
                close = difflib.get_close_matches(k, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"
                raise ConfigError(f"config key '{key}.{where}.{k}': unknown key{hint}")
    for role, lat in d["latents"].items():
        if lat["view"] != "full" and lat.get("view_size") is None:
            raise ConfigError(f"config key '{key}.latents.{role}.view_size': view {lat['view']!r} needs a view_size")
    for ds, over in d.get("latents_by_dataset", {}).items():
        if ds not in d["datasets"]:
            raise ConfigError(f"config key '{key}.latents_by_dataset.{ds}': dataset {ds!r} is not in {key}.datasets")
        for role, lat in over.items():
            merged = {**d["latents"][role], **lat}
            if merged["view"] != "full" and merged.get("view_size") is None:
                raise ConfigError(f"config key '{key}.latents_by_dataset.{ds}.{role}.view_size': view "
                                  f"{merged['view']!r} needs a view_size")
    for ds in d["train_by_dataset"]:
        if ds not in d["datasets"]:
            raise ConfigError(f"config key '{key}.train_by_dataset.{ds}': dataset {ds!r} is not in {key}.datasets")
    for where, over in [("train", {}), *((f"train_by_dataset.{ds}", o) for ds, o in d["train_by_dataset"].items())]:
        tc = _train_config({**d["train"], **over}, f"{key}.{where}")
        if tc.select == "best_holdout" and d["holdout_fraction"] == 0:
            raise ConfigError(f"config key '{key}.{where}.select': 'best_holdout' conflicts with "
                              f"{key}.holdout_fraction = 0")
        if not tc.p_uncond > 0:
            raise ConfigError(f"config key '{key}.{where}.p_uncond': must be > 0 (the decoder's null latent is "
                              f"never trained otherwise)")
    from .dae import TRAIN_KEYS as DAE_TRAIN_KEYS, for_dataset
    from .dae.models import check_train_settings

    for where, over in [("train", {}), *((f"train_by_dataset.{ds}", o) for ds, o in d["train_by_dataset"].items())]:
        part = {k: d[k] for k in DAE_TRAIN_KEYS if k in d}
        part["train"] = {**d["train"], **over}
        for s_star in [float(d["s_star"])] + ([None] if d["plain"] else []):
            _job_check(check_train_settings, part, s_star, key)
    for ds in d["decoder_by_dataset"]:  # the dataset's merged settings (diffsep.dae.for_dataset), as its job gets them
        merged = for_dataset(d, ds)
        part = {k: merged[k] for k in DAE_TRAIN_KEYS if k in merged}
        _job_check(check_train_settings, part, float(d["s_star"]), f"{key}.decoder_by_dataset.{ds}")
    main = float(d["s_star"])
    arms = [main] + [float(v) for v in d["sweep"] if float(v) != main]
    names = [DAEJob("", 0, v, 0).arm for v in arms]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key '{key}.sweep': split times {arms} are not distinct at 6 significant digits")
    sweep_ds = d["datasets"] if d.get("sweep_datasets") is None else d["sweep_datasets"]
    for i, ds in enumerate(d["datasets"]):
        if ds in plan.skipped:
            continue
        spec = plan.datasets[ds]
        if plan.modality[ds] != "image" or dsdata.DATASET_KINDS[spec["kind"]].cond != "label":
            raise ConfigError(f"config key '{key}.datasets[{i}]': dataset {ds!r} (kind {spec['kind']!r}) is not a "
                              f"labelled image dataset")
        res_list = _resolutions(key, ds, spec, d["resolutions"].get(ds))
        for res in res_list:
            over = d.get("latents_by_dataset", {}).get(ds, {})
            for role, lat in d["latents"].items():
                lat = {**lat, **over.get(role, {})}
                where = f"latents_by_dataset.{ds}" if "view_size" in over.get(role, {}) else "latents"
                if lat["view"] != "full" and int(lat["view_size"]) > res:
                    raise ConfigError(f"config key '{key}.{where}.{role}.view_size': {lat['view_size']} px exceeds "
                                      f"the {res} px images of dataset {ds!r}")
            for seed in d["seeds"]:
                for v in (arms if ds in sweep_ds else [main]):
                    plan.dae.append(DAEJob(ds, res, v, int(seed)))
                if d["plain"]:
                    plan.dae.append(DAEJob(ds, res, None, int(seed)))
                plan.add_classifier(ds, res, seed)

"""Dataset registry and loaders: a dataset is a config entry ``name -> spec``.

Example entries (``config.yaml``, under ``datasets:``)::

    digits:  {kind: sklearn_digits, resolutions: [8], max_train: 1500, max_test: 297}
    fashion: {kind: idx, params: {path: /usr/share/datasets/fashion-mnist, optional: true},
              resolutions: [7, 14, 28], max_train: 6000, max_test: 1000}
    cifar:   {kind: cifar10_binary, params: {path: /data/cifar-10-batches-bin}, resolutions: [16, 32]}
    mine:    {kind: npz, params: {path: my.npz}, resolutions: [16]}
    synth:   {kind: synthetic_separable, params: {num_classes: 4, texture: 0.5}, resolutions: [8, 16, 32]}
    gauss:   {kind: joint_gaussian, params: {dx: 25, dy: 15, noise: 1.0}}
    mix:     {kind: gaussian_mixture, params: {k: 4, d: 2}}

Common spec keys (:data:`SPEC_KEYS`): ``kind`` (required), ``params`` (kind-specific, see
:data:`KIND_PARAMS`), ``resolutions`` (image side lengths; vector kinds default to
``[dimension]``), ``classes`` (subset of label ids, relabelled 0..K-1 in the given order),
``max_train`` / ``max_test`` (caps: deterministic subsample stratified by label, using
``seed``), ``seed`` (default 0), ``allow_upsample`` (default false), ``test_fraction`` (default
0.2; used only where the data have no test split of their own: sklearn digits, an npz without
``images_test``; the split is stratified by label and deterministic in ``seed``), ``dequantize``
(image kinds without an exact law: the number of grey levels the images are stored with, e.g. 17 for
digits, 256 for 8-bit files; the prepared images are uniformly dequantized, see
:func:`diffsep.data.images.dequantize`; default null: off).

:func:`prepare` loads, validates, splits, subsets, caps, resamples (area downsampling, see
:mod:`diffsep.data.images`), scales (images to ``[-1, 1]``) and dequantizes (when asked), in that order, and returns a
:class:`Prepared`. :func:`save_prepared` / :func:`load_prepared` store it as a pickle-free
``.npz``. Every user-caused problem raises :class:`DataError` with one line naming the file or
the config key.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..rng import derive_seed
from .base import REQUIRED, Ctx, DataError, Kind, Prepared, Raw, file_entry, is_int, is_num, key
from .formats import CIFAR10_BINARY, IDX, NPZ, read_cifar_batch, read_idx, validate_npz_params
from .images import MAX_LEVELS, SKLEARN_DIGITS, dequantize, resample, to_unit_range
from .synthetic import SYNTHETIC_SEPARABLE
from .texture import GAUSSIAN_TEXTURE
from .vectors import GAUSSIAN_MIXTURE, JOINT_GAUSSIAN

__all__ = [
    "DataError", "Prepared", "DATASET_KINDS", "KIND_PARAMS", "SPEC_KEYS", "REQUIRED",
    "prepare", "save_prepared", "load_prepared", "native_resolution", "available", "source_files",
    "validate_spec", "params_json_schema", "read_idx", "read_cifar_batch",
]

DATASET_KINDS: dict[str, Kind] = {k.name: k for k in (
    SKLEARN_DIGITS, IDX, CIFAR10_BINARY, NPZ, SYNTHETIC_SEPARABLE, GAUSSIAN_TEXTURE, JOINT_GAUSSIAN,
    GAUSSIAN_MIXTURE)}

#: kind -> {param: (type, default or REQUIRED, description)}
KIND_PARAMS: dict[str, dict] = {name: dict(k.params) for name, k in DATASET_KINDS.items()}

#: common spec keys: key -> (type, default or REQUIRED, description)
SPEC_KEYS: dict[str, tuple] = {
    "kind": (str, REQUIRED, f"loader kind: one of {', '.join(DATASET_KINDS)}"),
    "params": (dict, None, "kind-specific parameters (see KIND_PARAMS)"),
    "resolutions": (list, None, "image side lengths to prepare (vector kinds: [dimension])"),
    "classes": (list, None, "subset of label ids, relabelled to 0..K-1 in the given order"),
    "max_train": (int, None, "cap on training examples (stratified deterministic subsample)"),
    "max_test": (int, None, "cap on test examples (stratified deterministic subsample)"),
    "seed": (int, 0, "seed of splits, caps and generated data"),
    "allow_upsample": (bool, False, "allow resolutions above the native one (bilinear)"),
    "test_fraction": (float, 0.2, "test share where the data have no test split of their own"),
    "dequantize": (int, None, "grey levels the images are stored with (17: digits, 256: 8-bit): prepared images "
                              "are uniformly dequantized to a continuous law (null: off)"),
}

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
#: resolutions above the native one (with allow_upsample) at most this factor above it
MAX_UPSAMPLE = 8
#: no image side above this (the U-Net and the prepared arrays grow with its square)
MAX_RESOLUTION = 1024


def memory_bytes() -> int:
    """Physical memory of this machine (the bound on what one prepare job may hold)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 40
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a mapping"}


def _type_ok(v, t) -> bool:
    if t is int:
        return is_int(v)
    if t is float:
        return is_num(v)
    if t is bool:
        return isinstance(v, (bool, np.bool_))
    if t is str:
        return isinstance(v, (str, Path))
    return isinstance(v, t)


def params_json_schema(kind: str) -> dict:
    """A JSON schema (draft 7) for ``params`` of ``kind``, derived from :data:`KIND_PARAMS`."""
    if kind not in DATASET_KINDS:
        raise DataError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(DATASET_KINDS)}")
    js = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object"}
    props, req = {}, []
    for p, (t, d, desc) in KIND_PARAMS[kind].items():
        typ = js[t] if d is not None else [js[t], "null"]
        props[p] = {"type": typ, "description": desc}
        if d is REQUIRED:
            req.append(p)
        elif d is not None:
            props[p]["default"] = d
    return {"type": "object", "properties": props, "required": req, "additionalProperties": False}


def _kind_of(name: str, spec) -> Kind:
    if not isinstance(spec, dict):
        raise DataError(f"{key(name)}: must be a mapping with at least 'kind', got {type(spec).__name__}")
    k = spec.get("kind")
    if k is None:
        raise DataError(f"{key(name, 'kind')}: missing; known kinds: {', '.join(DATASET_KINDS)}")
    if k not in DATASET_KINDS:
        raise DataError(f"{key(name, 'kind')}: unknown dataset kind {k!r}; known kinds: "
                        f"{', '.join(DATASET_KINDS)}")
    return DATASET_KINDS[k]


def _params(name: str, kind: Kind, spec: dict) -> dict:
    given = spec.get("params") or {}
    if not isinstance(given, dict):
        raise DataError(f"{key(name, 'params')}: must be a mapping, got {type(given).__name__}")
    unknown = sorted(set(given) - set(kind.params))
    if unknown:
        known = ", ".join(kind.params) or "none"
        raise DataError(f"{key(name, 'params', unknown[0])}: unknown parameter for kind "
                        f"{kind.name!r} (known: {known})")
    out = {}
    for p, (t, default, _desc) in kind.params.items():
        if p in given:
            v = given[p]
            if v is None and default is None:
                out[p] = None
            elif not _type_ok(v, t):
                raise DataError(f"{key(name, 'params', p)}: must be {_TYPE_NAMES[t]}, got {v!r}")
            else:
                out[p] = str(v) if t is str else v
        elif default is REQUIRED:
            raise DataError(f"{key(name, 'params', p)}: required for kind {kind.name!r} ({_desc})")
        else:
            out[p] = copy.deepcopy(default)
    return out


def validate_spec(name: str, spec: dict, check_files: bool = False) -> dict:
    """Validate ``spec`` without loading data; return it normalised (defaults filled in).

    With ``check_files`` also read the native resolution (cheap: headers only) and check the
    ``resolutions`` against it. Raises :class:`DataError`.
    """
    kind = _kind_of(name, spec)
    out = {"kind": kind.name, "params": _params(name, kind, spec)}
    for k in ("seed", "allow_upsample", "test_fraction", "max_train", "max_test", "classes", "dequantize"):
        t, default, _ = SPEC_KEYS[k]
        v = spec.get(k, default)
        if v is not None and not _type_ok(v, t):
            raise DataError(f"{key(name, k)}: must be {_TYPE_NAMES[t]}, got {v!r}")
        out[k] = v
    if out["seed"] is None or out["seed"] < 0:
        raise DataError(f"{key(name, 'seed')}: must be an integer >= 0, got {out['seed']!r}")
    if out["allow_upsample"] is None:
        out["allow_upsample"] = False
    tf = out["test_fraction"]
    if tf is None or not 0 < tf < 1:
        raise DataError(f"{key(name, 'test_fraction')}: must be a number in (0, 1), got {tf!r}")
    for k in ("max_train", "max_test"):
        if out[k] is not None and out[k] < 1:
            raise DataError(f"{key(name, k)}: must be a positive integer or null, got {out[k]!r}")
    dq = out["dequantize"]
    if dq is not None:
        if kind.modality != "image" or kind.truth is not None:
            raise DataError(f"{key(name, 'dequantize')}: not supported for kind {kind.name!r} (only image kinds "
                            f"without an exact law: dequantizing would change the law their truth is computed for)")
        if not 2 <= dq <= MAX_LEVELS:
            raise DataError(f"{key(name, 'dequantize')}: must be a number of grey levels in [2, {MAX_LEVELS}] "
                            f"(17 for digits, 256 for 8-bit images) or null, got {dq!r}")
        out["dequantize"] = int(dq)
    cl = out["classes"]
    if cl is not None:
        if kind.cond != "label" or kind.modality == "vector":
            raise DataError(f"{key(name, 'classes')}: not supported for kind {kind.name!r} "
                            f"(only labelled image datasets can be subset by class)")
        if not cl or not all(is_int(c) and c >= 0 for c in cl):
            raise DataError(f"{key(name, 'classes')}: must be a non-empty list of label ids >= 0, got {cl!r}")
        if len(set(cl)) != len(cl):
            raise DataError(f"{key(name, 'classes')}: repeated label id in {cl!r}")
        if len(cl) < 2:
            raise DataError(f"{key(name, 'classes')}: needs at least 2 classes, got {cl!r}")
        out["classes"] = [int(c) for c in cl]
    if kind.check is not None:
        kind.check(Ctx(name, out["params"], out["seed"], spec))
    if kind.footprint is not None:
        need, have = int(kind.footprint(Ctx(name, out["params"], out["seed"], spec))), memory_bytes()
        if need > have:
            raise DataError(f"{key(name, 'params')}: preparing this dataset needs about {need / 2**30:,.1f} GiB, more "
                            f"than this machine's {have / 2**30:,.1f} GiB of memory; lower its sizes")
    res = spec.get("resolutions")
    if res is not None:
        if not isinstance(res, (list, tuple)) or not res or not all(is_int(r) and r >= 1 for r in res):
            raise DataError(f"{key(name, 'resolutions')}: must be a non-empty list of positive "
                            f"integers, got {res!r}")
        res = [int(r) for r in res]
        if max(res) > MAX_RESOLUTION:
            raise DataError(f"{key(name, 'resolutions')}: {max(res)} px is above the largest supported "
                            f"{MAX_RESOLUTION} px")
    ctx = Ctx(name, out["params"], int(out["seed"]), spec)
    if kind.modality == "vector":
        dim = kind.native(ctx)
        if res is not None and res != [dim]:
            raise DataError(f"{key(name, 'resolutions')}: a {kind.name} dataset has the single "
                            f"'resolution' {dim} (its dimension), got {res!r}; omit the key")
        res = [dim]
    elif res is None:
        raise DataError(f"{key(name, 'resolutions')}: missing; list the image side lengths to prepare")
    out["resolutions"] = res
    if kind.resolution_ok is not None:
        for r in res:
            _kind_resolution(name, kind, ctx, r)
    if kind.modality == "image" and not kind.sources(ctx):  # generated images: native known without files
        for r in res:
            _check_resolution(name, kind, out, kind.native(ctx), r)
    if check_files:
        native = kind.native(ctx)
        for r in res:
            _check_resolution(name, kind, out, native, r)
    return out


def known_sizes(spec: dict) -> tuple[int | None, int | None]:
    """``(n_train, n_test)`` of a normalised spec where config alone fixes them (generated kinds,
    after the caps); ``None`` where only the files tell."""
    p = spec.get("params") or {}
    n_tr, n_te = p.get("n_train"), p.get("n_test")
    if spec.get("max_train") is not None and n_tr is not None:
        n_tr = min(n_tr, spec["max_train"])
    if spec.get("max_test") is not None and n_te is not None:
        n_te = min(n_te, spec["max_test"])
    return n_tr, n_te


def _check_resolution(name: str, kind: Kind, norm: dict, native: int, r) -> None:
    if not is_int(r) or r < 1:
        raise DataError(f"{key(name, 'resolutions')}: resolution must be a positive integer, got {r!r}")
    if kind.modality == "vector":
        if r != native:
            raise DataError(f"{key(name, 'resolutions')}: a {kind.name} dataset has the single "
                            f"'resolution' {native} (its dimension), got {r}")
    elif r > native and not norm["allow_upsample"]:
        raise DataError(f"{key(name, 'resolutions')}: resolution {r} is above the native "
                        f"resolution {native}; set {key(name, 'allow_upsample')}: true to upsample")
    elif r > MAX_UPSAMPLE * native:
        raise DataError(f"{key(name, 'resolutions')}: resolution {r} is more than {MAX_UPSAMPLE}x the native "
                        f"resolution {native}; upsampling that far invents the images")


def _kind_resolution(name: str, kind: Kind, ctx: Ctx, r: int) -> None:
    why = kind.resolution_ok(ctx, int(r)) if kind.resolution_ok is not None else None
    if why:
        raise DataError(f"{key(name, 'resolutions')}: resolution {r} {why}")


def _ctx(name: str, spec: dict) -> tuple[Kind, Ctx, dict]:
    norm = validate_spec(name, spec)
    return DATASET_KINDS[norm["kind"]], Ctx(name, norm["params"], int(norm["seed"]), spec), norm


def native_resolution(spec: dict, name: str = "<dataset>") -> int:
    """The native image side length (vector kinds: the dimension). Reads headers only."""
    kind, ctx, _ = _ctx(name, spec)
    return int(kind.native(ctx))


def source_files(spec: dict, name: str = "<dataset>") -> list[str]:
    """The files a dataset is read from (none for generated kinds): the prepare rule's inputs, so
    that changing one re-prepares the dataset and re-runs what depends on it."""
    kind, ctx, _ = _ctx(name, spec)
    return [str(p) for p in kind.sources(ctx) if Path(p).exists()]


def available(spec: dict, name: str = "<dataset>", strict: bool = True) -> tuple[bool, str]:
    """Whether the dataset's files are present: ``(True, '')`` or ``(False, one-line reason)``.

    ``(False, reason)`` is returned for a dataset with ``params.optional: true``. A missing
    file of a non-optional dataset raises :class:`DataError` (caught early, at config time);
    with ``strict=False`` it is reported as ``(False, reason)`` instead.
    """
    kind, ctx, norm = _ctx(name, spec)
    ok, reason = kind.check_sources(ctx)
    if ok:
        return True, ""
    if norm["params"].get("optional"):
        from .packages import install_hint

        how = install_hint(norm["params"].get("path", "")) or "; install the files to include it"
        return False, f"{reason} (optional dataset {key(name)} skipped{how})"
    if strict:
        raise DataError(f"{reason} (required by {key(name, 'params', 'path')}; set "
                        f"{key(name, 'params', 'optional')}: true to skip it when absent)")
    return False, reason


# ------------------------------------------------------------------------------------------------
# the pipeline
# ------------------------------------------------------------------------------------------------
def _rng(seed: int, tag: str) -> np.random.Generator:
    return np.random.default_rng(derive_seed("diffsep.data", int(seed), tag))


def _stratified(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sorted indices, stratified by label (largest-remainder quotas); random if y is 2-D."""
    total = y.shape[0]
    if n >= total:
        return np.arange(total)
    if y.ndim != 1:
        return np.sort(rng.choice(total, size=n, replace=False))
    labels, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = counts * (n / total)
    quota = np.floor(exact).astype(np.int64)
    rest = n - int(quota.sum())
    if rest:
        order = np.lexsort((np.arange(len(labels)), -(exact - quota)))
        quota[order[:rest]] += 1
    keep = []
    for j in range(len(labels)):
        idx = np.flatnonzero(inv == j)
        keep.append(rng.permutation(idx)[:quota[j]])
    return np.sort(np.concatenate(keep))


def _where(raw: Raw, name: str) -> str:
    """The file(s) to name in a message about the data as a whole."""
    if raw.sources:
        return str(raw.sources[0].parent if len(raw.sources) > 1 else raw.sources[0])
    return key(name)


def _counts(y: np.ndarray, k: int) -> list[int]:
    return np.bincount(y, minlength=k).astype(int).tolist()


def prepare(name: str, spec: dict, resolution: int) -> Prepared:
    """Load, validate, split, subset classes, cap, resample and scale one dataset."""
    kind, ctx, norm = _ctx(name, spec)
    native = int(kind.native(ctx))
    _check_resolution(name, kind, norm, native, resolution)
    _kind_resolution(name, kind, ctx, resolution)
    resolution = int(resolution)
    raw = kind.load(ctx)
    where = _where(raw, name)
    seed = int(norm["seed"])
    labelled = kind.cond == "label"

    if raw.x_train.shape[0] == 0:
        raise DataError(f"{where}: empty dataset (0 training examples)")
    split = "dataset"
    if raw.x_test is None:  # seeded, stratified split
        n = raw.x_train.shape[0]
        if n < 2:
            raise DataError(f"{where}: {n} example(s); need at least 2 to split train/test")
        n_test = min(max(1, int(round(n * norm["test_fraction"]))), n - 1)
        te = _stratified(raw.y_train, n_test, _rng(seed, "split"))
        mask = np.ones(n, dtype=bool)
        mask[te] = False
        raw.x_test, raw.y_test = raw.x_train[te], raw.y_train[te]
        raw.x_train, raw.y_train = raw.x_train[mask], raw.y_train[mask]
        split = f"seeded (test_fraction={norm['test_fraction']}, seed={seed})"
    if raw.x_test.shape[0] == 0:
        raise DataError(f"{where}: empty test split (0 examples)")

    names = list(raw.class_names)
    if norm["classes"] is not None:
        cl = norm["classes"]
        bad = [c for c in cl if c >= len(names)]
        if bad:
            raise DataError(f"{key(name, 'classes')}: label id {bad[0]} out of range; the dataset "
                            f"has {len(names)} classes (0..{len(names) - 1})")
        lut = np.full(len(names), -1, dtype=np.int64)
        lut[cl] = np.arange(len(cl))
        keep_tr, keep_te = lut[raw.y_train] >= 0, lut[raw.y_test] >= 0
        raw.x_train, raw.y_train = raw.x_train[keep_tr], lut[raw.y_train[keep_tr]]
        raw.x_test, raw.y_test = raw.x_test[keep_te], lut[raw.y_test[keep_te]]
        names = [names[c] for c in cl]
        if raw.x_train.shape[0] == 0 or raw.x_test.shape[0] == 0:
            raise DataError(f"{key(name, 'classes')}: no examples of classes {cl} in {where}")

    if norm["max_train"] is not None:
        i = _stratified(raw.y_train, int(norm["max_train"]), _rng(seed, "cap_train"))
        raw.x_train, raw.y_train = raw.x_train[i], raw.y_train[i]
    if norm["max_test"] is not None:
        i = _stratified(raw.y_test, int(norm["max_test"]), _rng(seed, "cap_test"))
        raw.x_test, raw.y_test = raw.x_test[i], raw.y_test[i]

    k = len(names)
    if labelled:
        dup = sorted({str(n) for n in names if names.count(n) > 1})
        if dup:
            raise DataError(f"{where}: class name {dup[0]!r} is used by more than one class")
        missing = [names[j] for j, c in enumerate(_counts(raw.y_train, k)) if c == 0]
        if missing:
            raise DataError(f"{where}: class {missing[0]!r} has no training examples "
                            f"(after classes/max_train); select classes with {key(name, 'classes')}")
        absent = [names[j] for j, c in enumerate(_counts(raw.y_test, k)) if c == 0]
        if absent:  # per-class rows of these classes stay empty: said once, in the log and the meta
            log.warning("%s: %d of %d classes (e.g. %r) have no test examples (after classes/max_test); their "
                        "per-class measurements will be missing", where, len(absent), k, absent[0])
            raw.meta["test_classes_absent"] = [str(a) for a in absent]

    meta = {
        "name": name, "kind": kind.name, "modality": kind.modality, "cond": kind.cond,
        "format_version": FORMAT_VERSION, "seed": seed, "split": split,
        "native_resolution": native, "resolution": resolution,
        "n_train": int(raw.x_train.shape[0]), "n_test": int(raw.x_test.shape[0]),
        "sources": [file_entry(p) for p in raw.sources],
        "max_train": norm["max_train"], "max_test": norm["max_test"], "classes": norm["classes"],
        "spec": json.loads(json.dumps(spec, default=str)),
    }
    if kind.modality == "image":
        xtr, method = resample(to_unit_range(raw.x_train), resolution)
        xte, _ = resample(to_unit_range(raw.x_test), resolution)
        meta.update(channels=int(xtr.shape[1]), resample=method, value_range=[-1.0, 1.0])
        if norm["dequantize"] is not None:  # each split and resolution its own seeded draws
            xtr = dequantize(xtr, norm["dequantize"], _rng(seed, f"dequantize/train/{resolution}"))
            xte = dequantize(xte, norm["dequantize"], _rng(seed, f"dequantize/test/{resolution}"))
            meta.update(dequantized_levels=int(norm["dequantize"]))
    else:
        xtr = np.ascontiguousarray(raw.x_train, dtype=np.float32)
        xte = np.ascontiguousarray(raw.x_test, dtype=np.float32)
        meta.update(dim=int(xtr.shape[1]), standardised=False)
    if labelled:
        ytr = np.ascontiguousarray(raw.y_train, dtype=np.int64)
        yte = np.ascontiguousarray(raw.y_test, dtype=np.int64)
        meta.update(num_classes=k, train_class_counts=_counts(ytr, k), test_class_counts=_counts(yte, k))
    else:
        ytr = np.ascontiguousarray(raw.y_train, dtype=np.float32)
        yte = np.ascontiguousarray(raw.y_test, dtype=np.float32)
        names = []
        meta.update(num_classes=None, y_dim=int(ytr.shape[1]))
    for k_, v in raw.meta.items():
        meta.setdefault(k_, v)
    if kind.truth is not None:
        meta.update(kind.truth(ctx, resolution))
    meta = json.loads(json.dumps(meta, default=str))  # guarantee JSON-able
    return Prepared(xtr, ytr, xte, yte, [str(s) for s in names], kind.modality, kind.cond, meta)


# ------------------------------------------------------------------------------------------------
# storage
# ------------------------------------------------------------------------------------------------
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def save_prepared(p: Prepared, path) -> None:
    """Write ``p`` atomically as a pickle-free ``.npz`` (names and meta as unicode arrays)."""
    names = np.array([str(s) for s in p.class_names], dtype=np.str_)
    if names.size == 0:
        names = np.zeros(0, dtype="<U1")
    arrays = {a: np.ascontiguousarray(getattr(p, a)) for a in _ARRAYS}
    for a, v in arrays.items():
        if v.dtype == object:
            raise DataError(f"{path}: refusing to save object array {a}")
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays, class_names=names,
                     modality=np.array([p.modality], dtype=np.str_),
                     cond=np.array([p.cond], dtype=np.str_),
                     meta=np.array([json.dumps(p.meta, sort_keys=True, default=str)], dtype=np.str_))


def load_prepared(path) -> Prepared:
    """Read a file written by :func:`save_prepared` (``allow_pickle=False``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: prepared dataset not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise DataError(f"{path}: not an .npz archive")
            missing = [k for k in (*_ARRAYS, "class_names", "modality", "cond", "meta") if k not in z.files]
            if missing:
                raise DataError(f"{path}: not a prepared dataset (missing {', '.join(missing)})")
            arr = {k: z[k] for k in _ARRAYS}
            names = [str(s) for s in z["class_names"]]
            modality, cond = str(z["modality"][0]), str(z["cond"][0])
            meta = json.loads(str(z["meta"][0]))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt zip, pickled members, bad JSON
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable prepared dataset ({msg})") from None
    return Prepared(arr["x_train"], arr["y_train"], arr["x_test"], arr["y_test"], names, modality,
                    cond, meta)

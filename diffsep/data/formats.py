"""File-format kinds: ``idx`` (MNIST family), ``cifar10_binary`` and ``npz`` (user arrays).

Every reader validates what it reads and raises :class:`DataError` with a one-line message that
names the file. Nothing here unpickles: IDX and CIFAR binaries are parsed with numpy from raw
bytes, and ``.npz`` archives are opened with ``allow_pickle=False`` (object arrays are refused).

``idx``
    A directory ``params.path`` holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each raw or ``.gz``; the dotted
    spelling ``train-images.idx3-ubyte`` of the original MNIST site is accepted too; an optional
    ``params.prefix`` is prepended, e.g. ``emnist-balanced-``). Header: a 4-byte magic
    (``0x00000803`` images, ``0x00000801`` labels: two zero bytes, dtype ``0x08`` = uint8, number
    of dimensions) then one big-endian uint32 per dimension; the payload must have exactly the
    number of bytes the header promises. The t10k files are the test split.
``cifar10_binary``
    The CIFAR-10 binary distribution: ``data_batch_1.bin`` .. ``data_batch_5.bin`` (train),
    ``test_batch.bin`` (test), optional ``batches.meta.txt`` (class names, one per line). Each
    record is 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32x32).
``npz``
    A NumPy archive with ``images`` and ``labels`` and optionally ``images_test``,
    ``labels_test`` (both or neither; without them the test split is drawn with the dataset's
    ``seed`` and ``test_fraction``) and ``class_names`` (a unicode array). Image layouts:
    ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` with ``C`` in {1, 3} and ``H == W``.
    Values: ``uint8`` (or any integer dtype) are 0..255; float images are taken as ``[0, 1]``
    when no value is negative, else as ``[-1, 1]`` (``params.value_range`` overrides the
    detection: ``auto``, ``0-255``, ``0-1``, ``-1-1``). Labels: integers (or integral floats)
    ``>= 0``, shape ``(N,)`` or ``(N, 1)``, below ``len(class_names)`` when names are given.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .base import REQUIRED, Ctx, DataError, Kind, Raw, is_int

__all__ = ["read_idx", "read_cifar_batch", "IDX", "CIFAR10_BINARY", "NPZ"]

_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}


# ------------------------------------------------------------------------------------------------
# IDX
# ------------------------------------------------------------------------------------------------
def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    """All bytes of ``path`` (first ``limit`` bytes if given), gunzipping ``*.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read() if limit is None else fh.read(limit)
        with open(path, "rb") as fh:
            return fh.read() if limit is None else fh.read(limit)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _idx_header(buf: bytes, path: Path, ndim: int) -> tuple[int, ...]:
    what = "images" if ndim == 3 else "labels"
    if len(buf) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(buf)} bytes)")
    magic = int.from_bytes(buf[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise DataError(f"{path}: bad IDX magic number 0x{magic:08x}, expected "
                        f"0x{_IDX_MAGIC[ndim]:08x} for uint8 {what} with {ndim} dimension(s)")
    hlen = 4 + 4 * ndim
    if len(buf) < hlen:
        raise DataError(f"{path}: truncated IDX header ({len(buf)} of {hlen} bytes)")
    return tuple(int.from_bytes(buf[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))


def read_idx(path, ndim: int) -> np.ndarray:
    """Read a uint8 IDX file (raw or gzipped) with ``ndim`` dimensions, validating everything."""
    path = Path(path)
    buf = _read_bytes(path)
    dims = _idx_header(buf, path, ndim)
    hlen = 4 + 4 * ndim
    need = int(np.prod(dims, dtype=np.int64))
    have = len(buf) - hlen
    if have != need:
        state = "truncated" if have < need else "has trailing bytes"
        raise DataError(f"{path}: payload {state}: header {'x'.join(map(str, dims))} promises "
                        f"{need} bytes, file holds {have}")
    if dims[0] == 0:
        raise DataError(f"{path}: empty dataset (0 items in the IDX header)")
    if ndim == 3 and (dims[1] != dims[2] or dims[1] == 0):
        raise DataError(f"{path}: images must be square and non-empty, header says "
                        f"{dims[1]}x{dims[2]}")
    return np.frombuffer(buf, dtype=np.uint8, offset=hlen).reshape(dims)


def _idx_file(ctx: Ctx, stem: str) -> Path:
    """Resolve e.g. ``train-images-idx3-ubyte`` under the directory (raw, .gz, dotted)."""
    root = Path(ctx.params["path"]).expanduser()
    prefix = ctx.params.get("prefix") or ""
    split, what, fmt = stem.split("-", 2)
    names = [f"{prefix}{stem}", f"{prefix}{split}-{what}.{fmt}"]
    cands = [root / n for n in names] + [root / (n + ".gz") for n in names]
    for c in cands:
        if c.exists():
            return c
    return root / names[0]  # canonical name for "not found" messages


_IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _idx_sources(ctx: Ctx) -> list[Path]:
    root = Path(ctx.params["path"]).expanduser()
    if not root.is_dir():
        return [root]
    return [_idx_file(ctx, s) for s in _IDX_STEMS]


def _idx_native(ctx: Ctx) -> int:
    root = Path(ctx.params["path"]).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: directory not found (set {ctx.pkey('path')})")
    p = _idx_file(ctx, _IDX_STEMS[0])
    if not p.exists():
        raise DataError(f"{p}: file not found (neither raw nor .gz; IDX dataset {ctx.pkey('path')})")
    dims = _idx_header(_read_bytes(p, 16), p, 3)
    if dims[1] != dims[2]:
        raise DataError(f"{p}: images must be square, header says {dims[1]}x{dims[2]}")
    return dims[1]


def _check_names(ctx: Ctx, names) -> list[str] | None:
    if names is None:
        return None
    if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names) or not names:
        raise DataError(f"{ctx.pkey('class_names')}: must be a non-empty list of strings")
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise DataError(f"{ctx.pkey('class_names')}: repeats {dup[0]!r}; each class needs its own name")
    return list(names)


def _idx_check(ctx: Ctx) -> None:
    names = _check_names(ctx, ctx.params.get("class_names"))
    nc = ctx.params.get("num_classes")
    if nc is not None and (not is_int(nc) or nc < 2):
        raise DataError(f"{ctx.pkey('num_classes')}: must be an integer >= 2, got {nc!r}")
    if names is not None and nc is not None and len(names) != nc:
        raise DataError(f"{ctx.pkey('class_names')}: {len(names)} names for num_classes = {nc}")


def _labels_in_range(y: np.ndarray, k: int | None, path: Path, what: str = "label") -> None:
    if y.size and int(y.min()) < 0:
        raise DataError(f"{path}: negative {what} {int(y.min())}")
    if k is not None and y.size and int(y.max()) >= k:
        raise DataError(f"{path}: {what} {int(y.max())} out of range for {k} classes "
                        f"(labels must be 0..{k - 1})")


def _idx_load(ctx: Ctx) -> Raw:
    root = Path(ctx.params["path"]).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: directory not found (set {ctx.pkey('path')})")
    files = {s: _idx_file(ctx, s) for s in _IDX_STEMS}
    for p in files.values():
        if not p.exists():
            raise DataError(f"{p}: file not found (neither raw nor .gz; IDX dataset "
                            f"{ctx.pkey('path')})")
    names = _check_names(ctx, ctx.params.get("class_names"))
    k = len(names) if names else ctx.params.get("num_classes")
    if names and ctx.params.get("num_classes") not in (None, len(names)):
        raise DataError(f"{ctx.pkey('num_classes')}: {ctx.params['num_classes']} disagrees with "
                        f"{len(names)} class_names")
    out = []
    for split in ("train", "t10k"):
        pi, pl = files[f"{split}-images-idx3-ubyte"], files[f"{split}-labels-idx1-ubyte"]
        x = read_idx(pi, 3)
        y = read_idx(pl, 1)
        if x.shape[0] != y.shape[0]:
            raise DataError(f"{pl}: {y.shape[0]} labels for {x.shape[0]} images in {pi.name}")
        _labels_in_range(y, k, pl)
        out.append((x[:, None], y.astype(np.int64)))
    (xtr, ytr), (xte, yte) = out
    if xtr.shape[2:] != xte.shape[2:]:
        raise DataError(f"{files['t10k-images-idx3-ubyte']}: test images are "
                        f"{xte.shape[2]}x{xte.shape[3]}, train images {xtr.shape[2]}x{xtr.shape[3]}")
    if k is None:
        k = int(max(ytr.max(), yte.max())) + 1
    names = names or [str(i) for i in range(k)]
    return Raw(xtr, ytr, xte, yte, names, native=xtr.shape[-1], sources=list(files.values()))


IDX = Kind(
    name="idx", modality="image", cond="label",
    params={
        "path": (str, REQUIRED, "directory holding the four IDX files (raw or .gz)"),
        "optional": (bool, False, "skip the dataset (with a reason) when its files are absent"),
        "prefix": (str, "", "file-name prefix, e.g. 'emnist-balanced-'"),
        "class_names": (list, None, "names of labels 0..K-1 (default: '0', '1', ...)"),
        "num_classes": (int, None, "number of classes K (labels must be < K; default: max label + 1)"),
    },
    load=_idx_load, native=_idx_native, sources=_idx_sources, check=_idx_check,
    doc="MNIST-family IDX files (train-*/t10k-* images and labels, raw or gzipped)",
)


# ------------------------------------------------------------------------------------------------
# CIFAR-10 binary
# ------------------------------------------------------------------------------------------------
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]
_CIFAR_REC = 1 + 3 * 32 * 32


def read_cifar_batch(path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch file: ``(uint8 (N, 3, 32, 32), int64 (N,))``."""
    path = Path(path)
    buf = _read_bytes(path)
    if len(buf) == 0:
        raise DataError(f"{path}: empty file")
    if len(buf) % _CIFAR_REC:
        raise DataError(f"{path}: size {len(buf)} bytes is not a multiple of the {_CIFAR_REC}-byte "
                        f"CIFAR-10 record (truncated or not a CIFAR-10 binary batch)")
    rec = np.frombuffer(buf, dtype=np.uint8).reshape(-1, _CIFAR_REC)
    y = rec[:, 0].astype(np.int64)
    _labels_in_range(y, num_classes, path)
    return rec[:, 1:].reshape(-1, 3, 32, 32), y


def _cifar_files(ctx: Ctx):
    root = Path(ctx.params["path"]).expanduser()
    train = [root / f"data_batch_{i}.bin" for i in range(1, 6)]
    return root, train, root / "test_batch.bin"


def _cifar_sources(ctx: Ctx) -> list[Path]:
    root, train, test = _cifar_files(ctx)
    return [root] if not root.is_dir() else train + [test]


def _cifar_load(ctx: Ctx) -> Raw:
    root, train, test = _cifar_files(ctx)
    if not root.is_dir():
        raise DataError(f"{root}: directory not found (set {ctx.pkey('path')})")
    for p in train + [test]:
        if not p.exists():
            raise DataError(f"{p}: file not found (CIFAR-10 binary dataset {ctx.pkey('path')})")
    parts = [read_cifar_batch(p) for p in train]
    xtr = np.concatenate([a for a, _ in parts])
    ytr = np.concatenate([b for _, b in parts])
    xte, yte = read_cifar_batch(test)
    names = list(CIFAR10_NAMES)
    sources = train + [test]
    meta_txt = root / "batches.meta.txt"
    if meta_txt.exists():
        lines = [s.strip() for s in meta_txt.read_text(errors="replace").splitlines() if s.strip()]
        if len(lines) != 10:
            raise DataError(f"{meta_txt}: expected 10 class names, found {len(lines)}")
        names = lines
        sources.append(meta_txt)
    return Raw(xtr, ytr, xte, yte, names, native=32, sources=sources)


CIFAR10_BINARY = Kind(
    name="cifar10_binary", modality="image", cond="label",
    params={
        "path": (str, REQUIRED, "directory with data_batch_1..5.bin, test_batch.bin"),
        "optional": (bool, False, "skip the dataset (with a reason) when its files are absent"),
    },
    load=_cifar_load, native=lambda ctx: 32, sources=_cifar_sources,
    doc="CIFAR-10 binary distribution (1 label byte + 3072 pixel bytes per record)",
)


# ------------------------------------------------------------------------------------------------
# npz
# ------------------------------------------------------------------------------------------------
_VALUE_RANGES = ("auto", "0-255", "0-1", "-1-1")


def _npz_path(ctx: Ctx) -> Path:
    return Path(ctx.params["path"]).expanduser()


def _open_npz(path: Path):
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as exc:  # pickled data refused
        raise DataError(f"{path}: not loadable without pickle ({str(exc).splitlines()[0]})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single .npy array, expected an .npz archive with 'images' and 'labels'")
    return z


def _npy_header(path: Path, k: str):
    """``(shape, dtype)`` from the header of member ``k`` of the .npz at ``path``, checked against the
    bytes the member holds (a truncated or absurd header is refused before anything is allocated);
    ``None`` when the header cannot be read this way (the loader then explains)."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{k}.npy")
            with zf.open(info) as fh:
                ver = np.lib.format.read_magic(fh)
                shape, _fortran, dtype = (np.lib.format.read_array_header_1_0(fh, max_header_size=10000)
                                          if ver == (1, 0) else
                                          np.lib.format.read_array_header_2_0(fh, max_header_size=10000))
                offset = fh.tell()
    except (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    if dtype.hasobject:
        raise DataError(f"{path}: array '{k}' is an object (pickled) array, which is refused; store plain "
                        f"numeric/unicode arrays")
    count = 1
    for d in shape:
        count *= int(d)
    need, have = count * dtype.itemsize, info.file_size - offset
    if need != have:
        what = "truncated" if need > have else "longer than its header says"
        raise DataError(f"{path}: array '{k}' is {what}: its header promises shape {tuple(shape)} of {dtype} "
                        f"({need:,} bytes), the archive holds {have:,} bytes")
    return tuple(shape), dtype


def _get(z, path: Path, k: str) -> np.ndarray:
    _npy_header(path, k)
    try:
        a = z[k]
    except ValueError as exc:
        if "pickle" in str(exc):  # object array refused by allow_pickle=False
            raise DataError(f"{path}: array '{k}' is an object (pickled) array, which is refused; "
                            f"store plain numeric/unicode arrays ({str(exc).splitlines()[0]})") from None
        raise DataError(f"{path}: array '{k}' is corrupt or truncated ({str(exc).splitlines()[0]})") from None
    except MemoryError:
        raise DataError(f"{path}: array '{k}' does not fit in memory") from None
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: array '{k}' is corrupt or truncated ({exc})") from None
    if a.dtype == object:
        raise DataError(f"{path}: array '{k}' has dtype object, which is refused")
    return a


LAYOUTS = ("auto", "NCHW", "NHWC", "NHW")


def _npz_layout(shape: tuple, path: Path, k: str, layout: str = "auto") -> tuple[str, int, int]:
    """(layout, channels, side) for an image array shape; ``layout='auto'`` guesses only when one
    reading fits (an (N, 3, 3, 3) array could be either, and is refused)."""
    if layout != "auto":
        want = {"NCHW": 4, "NHWC": 4, "NHW": 3}[layout]
        if len(shape) != want:
            raise DataError(f"{path}: '{k}' has shape {shape}, which is not {layout}")
        c = {"NCHW": shape[1] if len(shape) == 4 else 1, "NHWC": shape[-1], "NHW": 1}[layout]
        h, w = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
        if c not in (1, 3):
            raise DataError(f"{path}: '{k}' read as {layout} has {c} channels; expected 1 or 3")
        if h != w or h == 0:
            raise DataError(f"{path}: '{k}' read as {layout} holds {h}x{w} images; only square, non-empty "
                            f"images are supported")
        return layout, c, h
    first = len(shape) == 4 and shape[1] in (1, 3) and shape[2] == shape[3]
    last = len(shape) == 4 and shape[3] in (1, 3) and shape[1] == shape[2]
    if first and last:
        raise DataError(f"{path}: '{k}' has shape {shape}: channels-first and channels-last both fit; set "
                        f"params.layout to NCHW or NHWC")
    if len(shape) == 3:
        lay, c, h, w = "NHW", 1, shape[1], shape[2]
    elif len(shape) == 4 and shape[1] in (1, 3) and shape[2] == shape[3]:
        lay, c, h, w = "NCHW", shape[1], shape[2], shape[3]
    elif len(shape) == 4 and shape[3] in (1, 3) and shape[1] == shape[2]:
        lay, c, h, w = "NHWC", shape[3], shape[1], shape[2]
    elif len(shape) == 4:
        raise DataError(f"{path}: '{k}' has shape {shape}; expected (N, C, H, W) or (N, H, W, C) "
                        f"with C in (1, 3) and square images")
    else:
        raise DataError(f"{path}: '{k}' has shape {shape}; expected (N, H, W), (N, H, W, C) or "
                        f"(N, C, H, W)")
    if h != w:
        raise DataError(f"{path}: '{k}' holds {h}x{w} images; only square images are supported")
    if h == 0:
        raise DataError(f"{path}: '{k}' images have zero size")
    return lay, c, h


def _npz_native(ctx: Ctx) -> int:
    path = _npz_path(ctx)
    if not path.exists():
        raise DataError(f"{path}: file not found (set {ctx.pkey('path')})")
    shape = None
    try:  # read only the .npy header of 'images'
        with zipfile.ZipFile(path) as zf, zf.open("images.npy") as fh:
            ver = np.lib.format.read_magic(fh)
            shape = (np.lib.format.read_array_header_1_0(fh) if ver == (1, 0)
                     else np.lib.format.read_array_header_2_0(fh))[0]
    except Exception:  # noqa: BLE001 - let the validating loader explain what is wrong
        pass
    if shape is None:
        with _open_npz(path) as z:
            missing = [k for k in ("images", "labels") if k not in z.files]
            if missing:
                raise DataError(f"{path}: missing array(s) {', '.join(repr(m) for m in missing)} "
                                f"(found: {', '.join(sorted(z.files)) or 'none'})")
            shape = _get(z, path, "images").shape
    return _npz_layout(tuple(shape), path, "images", ctx.params.get("layout", "auto"))[2]


def _to_nchw(a: np.ndarray, path: Path, k: str, layout: str = "auto") -> np.ndarray:
    lay, c, side = _npz_layout(a.shape, path, k, layout)
    if a.shape[0] == 0:
        raise DataError(f"{path}: '{k}' is empty (0 images)")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise DataError(f"{path}: '{k}' has dtype {a.dtype}; expected uint8 or float images")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise DataError(f"{path}: '{k}' contains {bad} NaN/inf value(s)")
    if lay == "NHW":
        a = a[:, None]
    elif lay == "NHWC":
        a = np.moveaxis(a, 3, 1)
    return np.ascontiguousarray(a)


_TOL = 1e-4
_BOUNDS = {"0-255": (0.0, 255.0), "0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0)}


def _detect_range(arrs: list[np.ndarray], path: Path) -> str:
    """``auto``: integers are 0..255; floats are [0, 1] unless some value is negative."""
    if np.issubdtype(arrs[0].dtype, np.integer):
        return "0-255"
    lo = min(float(a.min()) for a in arrs)
    hi = max(float(a.max()) for a in arrs)
    if lo >= -_TOL and hi <= 1 + _TOL:
        return "0-1"
    if lo >= -1 - _TOL and hi <= 1 + _TOL:
        return "-1-1"
    hint = " (store uint8, or set params.value_range: 0-255)" if lo >= 0 and hi <= 255 else ""
    raise DataError(f"{path}: float images lie in {lo:g}..{hi:g}; expected [0, 1] or [-1, 1]{hint}")


def _scale(a: np.ndarray, path: Path, k: str, value_range: str) -> np.ndarray:
    """Map images in ``value_range`` to float32 in [-1, 1], checking the bounds."""
    lo_b, hi_b = _BOUNDS[value_range]
    lo, hi = float(a.min()), float(a.max())
    span = hi_b - lo_b
    if np.issubdtype(a.dtype, np.integer):
        if value_range != "0-255":
            raise DataError(f"{path}: '{k}' is integer ({a.dtype}) but value_range is {value_range}")
        if lo < 0 or hi > 255:
            raise DataError(f"{path}: integer '{k}' must lie in 0..255, found {lo:g}..{hi:g}")
    elif lo < lo_b - _TOL * span or hi > hi_b + _TOL * span:
        raise DataError(f"{path}: '{k}' lies in {lo:g}..{hi:g}, outside value_range {value_range}")
    out = (a.astype(np.float32) - np.float32(lo_b)) * np.float32(2.0 / span) - np.float32(1.0)
    return np.clip(out, -1, 1).astype(np.float32, copy=False)


def _labels(a: np.ndarray, n: int, path: Path, k: str) -> np.ndarray:
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise DataError(f"{path}: '{k}' has shape {a.shape}; expected (N,) integer labels")
    if a.shape[0] != n:
        raise DataError(f"{path}: '{k}' has {a.shape[0]} labels for {n} images")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise DataError(f"{path}: '{k}' has dtype {a.dtype}; labels must be integers")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise DataError(f"{path}: '{k}' contains NaN/inf labels")
        if not np.all(a == np.round(a)):
            bad = a[a != np.round(a)][0]
            raise DataError(f"{path}: '{k}' has non-integer label {bad:g}; labels must be integers")
    y = a.astype(np.int64)
    _labels_in_range(y, None, path)
    return y


def _npz_load(ctx: Ctx) -> Raw:
    path = _npz_path(ctx)
    z = _open_npz(path)
    with z:
        files = set(z.files)
        missing = [k for k in ("images", "labels") if k not in files]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(repr(m) for m in missing)} "
                            f"(found: {', '.join(sorted(files)) or 'none'})")
        if ("images_test" in files) != ("labels_test" in files):
            raise DataError(f"{path}: 'images_test' and 'labels_test' must be given together")
        vr = ctx.params.get("value_range", "auto")
        lay = ctx.params.get("layout", "auto")
        xtr = _to_nchw(_get(z, path, "images"), path, "images", lay)
        ytr = _labels(_get(z, path, "labels"), xtr.shape[0], path, "labels")
        xte = yte = None
        if "images_test" in files:
            xte = _to_nchw(_get(z, path, "images_test"), path, "images_test", lay)
            if xte.shape[1:] != xtr.shape[1:]:
                raise DataError(f"{path}: 'images_test' has image shape {xte.shape[1:]}, "
                                f"'images' has {xtr.shape[1:]}")
            if (np.issubdtype(xte.dtype, np.integer) != np.issubdtype(xtr.dtype, np.integer)):
                raise DataError(f"{path}: 'images' is {xtr.dtype} but 'images_test' is {xte.dtype}")
            yte = _labels(_get(z, path, "labels_test"), xte.shape[0], path, "labels_test")
        # one range for both splits, so train and test are scaled alike
        detected = vr if vr != "auto" else _detect_range([a for a in (xtr, xte) if a is not None], path)
        xtr = _scale(xtr, path, "images", detected)
        if xte is not None:
            xte = _scale(xte, path, "images_test", detected)
        names = None
        if "class_names" in files:
            cn = _get(z, path, "class_names")
            if cn.dtype.kind == "S":
                cn = np.char.decode(cn, "utf-8", errors="replace")
            if cn.dtype.kind != "U" or cn.ndim != 1 or cn.size == 0:
                raise DataError(f"{path}: 'class_names' must be a non-empty 1-D string array")
            names = [str(s) for s in cn]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise DataError(f"{path}: 'class_names' repeats {dup[0]!r}; each class needs its own name")
    k = len(names) if names else ctx.params.get("num_classes")
    _labels_in_range(ytr, k, path, "label in 'labels':")
    if yte is not None:
        _labels_in_range(yte, k, path, "label in 'labels_test':")
    if k is None:
        k = int(max(ytr.max(), yte.max() if yte is not None else 0)) + 1
    names = names or [str(i) for i in range(k)]
    return Raw(xtr, ytr, xte, yte, names, native=xtr.shape[-1], sources=[path],
               meta={"source_value_range": detected})


NPZ = Kind(
    name="npz", modality="image", cond="label",
    params={
        "path": (str, REQUIRED, ".npz with 'images', 'labels' [, 'images_test', 'labels_test', "
                                "'class_names']"),
        "optional": (bool, False, "skip the dataset (with a reason) when the file is absent"),
        "value_range": (str, "auto", "pixel range of float images: auto | 0-255 | 0-1 | -1-1"),
        "layout": (str, "auto", "axis order of the image arrays: auto (refused when ambiguous) | NCHW | NHWC | NHW"),
        "num_classes": (int, None, "number of classes K (labels must be < K; default: "
                                   "len(class_names) or max label + 1)"),
    },
    load=_npz_load, native=_npz_native, sources=lambda ctx: [_npz_path(ctx)], check=lambda ctx: validate_npz_params(ctx),
    doc="user arrays in a NumPy .npz archive (no pickle)",
)


def validate_npz_params(ctx: Ctx) -> None:
    if ctx.params.get("value_range", "auto") not in _VALUE_RANGES:
        raise DataError(f"{ctx.pkey('value_range')}: {ctx.params['value_range']!r} is not one of "
                        f"{', '.join(_VALUE_RANGES)}")
    if ctx.params.get("layout", "auto") not in LAYOUTS:
        raise DataError(f"{ctx.pkey('layout')}: {ctx.params['layout']!r} is not one of {', '.join(LAYOUTS)}")
    nc = ctx.params.get("num_classes")
    if nc is not None and (not is_int(nc) or nc < 2):
        raise DataError(f"{ctx.pkey('num_classes')}: must be an integer >= 2, got {nc!r}")

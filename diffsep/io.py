"""Atomic file writes, safe checkpoint loading and model files (one home for each)."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "append_parquet", "current_umask", "save_torch", "load_torch", "write_json", "read_json", "save_artifact", "load_artifact"]


def current_umask() -> int:
    """The process umask: from ``/proc/self/status`` where Linux gives it, else by setting it and
    restoring it at once (which another thread could observe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On any exception the temporary file is removed, so nothing half-written is left behind; a full
    disk is reported as such (``OSError(ENOSPC)`` naming ``path``). After a success, temporary
    files of ``path`` that a killed earlier writer left behind (``.<name>.*<suffix>``) are removed.
    The file gets the mode an ordinary ``open(path, "w")`` would give it (``0o666`` less the process
    umask): ``mkstemp`` creates it ``0o600``, and that mode would otherwise survive the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:  # make the bytes durable before the rename
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, Exception) and _disk_full(exc, path.parent):
            raise OSError(errno.ENOSPC, f"no space left on device while writing {path} "
                                        f"({_free(path.parent)} free in {path.parent})") from None
        raise
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{glob.escape(suffix)}"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc`` is (or, for libraries that hide the errno such as torch's zip writer, looks
    like) a write that failed for want of space."""
    e = exc
    while e is not None:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        e = e.__cause__ or e.__context__
    if "write" in str(exc).lower():
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free < (1 << 20)
    return False


def _free(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free:,} bytes"
    except OSError:
        return "unknown space"


def save_torch(obj, path) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path, map_location="cpu"):
    """Load a checkpoint with ``weights_only=True``: tensors and plain containers only."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling refused or a truncated file
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a loadable diffsep checkpoint ({msg})") from None


def append_parquet(df, path):
    """Write the rows of ``df`` to the Parquet file ``path`` after the rows already there (a
    benchmark's table grows run by run), atomically: nothing half-written on failure. Returns the
    whole table."""
    import pandas as pd  # here, not at import: checkpoint loading needs no pandas

    path = Path(path)
    if path.exists():
        df = pd.concat([pd.read_parquet(path), df], ignore_index=True)
    with atomic_path(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return df


def write_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def save_artifact(path, fmt: str, module, meta: dict | None = None, **fields) -> None:
    """Write a model file atomically: ``format`` tag, the CPU state dict, ``meta`` and ``fields``
    (constructor spec, process, ...) as JSON text, so it loads with ``weights_only=True``."""
    save_torch({"format": fmt, "state": {k: v.detach().cpu() for k, v in module.state_dict().items()},
                "meta": json.dumps(meta or {}, default=str),
                **{k: json.dumps(v, default=str) for k, v in fields.items()}}, path)


def load_artifact(path, fmt: str, what: str) -> tuple[dict, dict]:
    """Read a file written by :func:`save_artifact` with format ``fmt``: ``(fields, state)``, the
    JSON fields decoded (``meta`` among them). ``what`` names the kind of file in the error."""
    obj = load_torch(path)
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        got = obj.get("format") if isinstance(obj, dict) else None
        raise ValueError(f"{path}: not a diffsep {what} file (format {got!r})")
    fields = {k: json.loads(v) if isinstance(v, str) else v for k, v in obj.items() if k not in ("format", "state")}
    return fields, obj["state"]

"""Atomic file writes, safe checkpoint loading and model files (one home for each)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "current_umask", "save_torch", "load_torch", "write_json", "read_json", "save_artifact", "load_artifact"]


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

    On any exception the temporary file is removed, so nothing half-written is left behind. The
    file gets the mode an ordinary ``open(path, "w")`` would give it (``0o666`` less the process
    umask): ``mkstemp`` creates it ``0o600``, and that mode would otherwise survive the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:  # make the bytes durable before the rename
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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

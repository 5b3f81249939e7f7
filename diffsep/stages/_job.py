"""Job plumbing shared by every stage (one home): threads and device, provenance columns, and
writing a frame to its declared table."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .. import tables

__all__ = ["pick_device", "setup", "provenance", "write_table", "cond_tensor"]

log = logging.getLogger(__name__)


def pick_device(device: str = "auto"):
    """``auto``: CUDA when available (and only then); ``cuda`` fails clearly when absent."""
    import torch

    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(threads: int, device: str):
    """torch threads and device, and the same thread cap for numpy's BLAS (small matrix work, e.g.
    Fréchet distances and exact Gaussian laws, is ~50x slower with idle BLAS threads spinning on a
    busy machine). On CUDA: no TF32 and deterministic cuDNN, so runs repeat."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:  # threadpoolctl comes with scikit-learn (a dependency)
        from threadpoolctl import threadpool_limits

        threadpool_limits(max(1, int(threads)))
    except ImportError:  # pragma: no cover
        log.warning("threadpoolctl missing: numpy's BLAS threads are not capped")
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return dev


def provenance(dev=None) -> dict:
    """The provenance columns of every table that records where a job ran: ``device``,
    ``precision``, ``torch_version``. ``dev=None``: analytic (exact-score) computation in float64."""
    import torch

    if dev is None:
        return {"device": "cpu (analytic)", "precision": "float64", "torch_version": torch.__version__}
    name = str(dev) if dev.type == "cpu" else f"cuda:{dev.index or 0} ({torch.cuda.get_device_name(dev)})"
    return {"device": name, "precision": "float32", "torch_version": torch.__version__}


def write_table(df: pd.DataFrame, table: str, path: str | Path, csv: str | Path | None = None, **columns) -> Path:
    """Shape ``df`` to the schema of ``table`` (:func:`diffsep.tables.fit`, with ``columns`` such as
    the identity assigned) and write it atomically (also as CSV at ``csv`` when given)."""
    return tables.write(tables.fit(df, table, **columns), table, path, csv=csv)


def cond_tensor(y, cond: str | None, dev):
    """Conditions of a prepared dataset as a tensor: class labels as int64, vectors as float32."""
    import torch

    if cond == "label":
        return torch.as_tensor(y, device=dev).long()
    return torch.as_tensor(y, dtype=torch.float32, device=dev)

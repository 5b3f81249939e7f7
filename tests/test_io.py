"""Atomic writes honour the process umask (colleagues in the group can read what a run writes)."""

import contextlib
import os
import stat

import numpy as np
import pytest

from diffsep import io, tables
from diffsep.data import Prepared, save_prepared


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_writes_get_the_mode_open_would_give(tmp_path, mask):
    with umask(mask):
        assert io.current_umask() == mask
        io.write_json({"a": 1}, tmp_path / "a.json")
        with open(tmp_path / "plain.txt", "w") as fh:  # the reference: an ordinary open()
            fh.write("x")
        io.save_torch({"w": np.zeros(3).tolist()}, tmp_path / "m.pt")
        tables.write(tables.empty("claims"), "claims", tmp_path / "t" / "claims.parquet")
        save_prepared(Prepared(x_train=np.zeros((4, 2), np.float32), y_train=np.zeros(4, np.int64),
                               x_test=np.zeros((4, 2), np.float32), y_test=np.zeros(4, np.int64),
                               class_names=["a"], modality="vector", cond="label", meta={}),
                      tmp_path / "d.npz")
    want = 0o666 & ~mask
    assert mode(tmp_path / "plain.txt") == want
    for f in ("a.json", "m.pt", "t/claims.parquet", "d.npz"):
        assert mode(tmp_path / f) == want, (f, oct(mode(tmp_path / f)), oct(want))


def test_failed_atomic_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with io.atomic_path(tmp_path / "x.bin") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_report_files_honour_umask(tmp_path):
    from diffsep import report

    with umask(0o022):
        html = report.render({"information": tmp_path / "missing.parquet"}, tmp_path / "report" / "index.html",
                             meta={"title": "t"})
    assert mode(html) == 0o644


def test_append_parquet_adds_rows_and_leaves_the_table_whole_on_failure(tmp_path):
    import pandas as pd

    out = tmp_path / "sub" / "bench.parquet"
    io.append_parquet(pd.DataFrame({"a": [1, 2]}), out)
    whole = io.append_parquet(pd.DataFrame({"a": [3]}), out)
    assert whole["a"].tolist() == [1, 2, 3] and pd.read_parquet(out)["a"].tolist() == [1, 2, 3]
    with pytest.raises(Exception):  # a column Parquet cannot hold: the old table stays, no temporary file
        io.append_parquet(pd.DataFrame({"a": [object()]}), out)
    assert pd.read_parquet(out)["a"].tolist() == [1, 2, 3]
    assert [p.name for p in out.parent.iterdir()] == ["bench.parquet"]

"""Stage ``collect``: per-job Parquet files of one table -> ``tables/<table>.parquet`` (schema-checked)."""

from __future__ import annotations

import logging

from .. import tables

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, *, table: str, **_) -> None:
    paths = inp["parts"] if isinstance(inp["parts"], (list, tuple)) else [inp["parts"]]
    df = tables.collect(table, paths, out["table"], csv=out.get("csv"))
    log.info("collected %d rows into %s", len(df), out["table"])

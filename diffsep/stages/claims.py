"""Stage ``claims``: the collected tables of a run -> table ``claims`` (the verdicts on the paper's
three claims; the rules are stated in :mod:`diffsep.claims`). Reads whichever of
:data:`diffsep.claims.INPUTS` the run has (a run without guidance or DAE experiments lacks theirs)."""

from __future__ import annotations

import logging

from .. import claims, tables
from ._job import write_table

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, **_) -> None:
    frames = {name: tables.read(inp[name], name) for name in claims.INPUTS if inp.get(name)}
    df = claims.decide(frames)
    if not len(df):
        df = tables.empty("claims")
    now = tables.identity("", 0, "", 0)["created_at"]
    write_table(df, "claims", out["table"], csv=out.get("csv"), git_rev=tables.git_rev(), created_at=now)
    counts = df["verdict"].value_counts()
    log.info("claims: %d rows from %s: %s", len(df), ", ".join(sorted(frames)) or "no tables",
             ", ".join(f"{v} {int(counts.get(v, 0))}" for v in claims.VERDICTS))

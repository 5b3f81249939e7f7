"""Stage ``bounds``: collected ``information`` + ``classifier`` (+ ``training``) tables -> table
``bounds`` (every labelled estimate against ``[H(Y) - CE, log K]``, flags with likely causes;
the rule is stated in :mod:`diffsep.bounds`)."""

from __future__ import annotations

import logging

import pandas as pd

from .. import tables
from ..bounds import RISE, SIGMAS, WEAK, check_tables

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, *, sigmas: float = SIGMAS, weak: float = WEAK, rise_limit: float = RISE, **_) -> None:
    info = tables.read(inp["information"], "information")
    clf = tables.read(inp["classifier"], "classifier")
    tr = tables.read(inp["training"], "training") if inp.get("training") else None
    df = check_tables(info, clf, tr, sigmas, weak, rise_limit)
    if not len(df):
        df = tables.empty("bounds")
    for c in ("label_entropy", "classifier_accuracy", "holdout_rise"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    now = tables.identity("", 0, "", 0)["created_at"]
    tables.write(tables.fit(df, "bounds", git_rev=tables.git_rev(), created_at=now, sigmas=float(sigmas)),
                 "bounds", out["table"], csv=out.get("csv"))
    n = int(df["flag"].sum()) if len(df) else 0
    log.info("bounds: %d of %d estimates flagged (%s)", n, len(df),
             dict(df.loc[df["flag"], "cause"].value_counts()) if n else {})

"""Stage ``report``: the collected tables -> one HTML page with its figures (no torch needed)."""

from __future__ import annotations


def run(inp: dict, out: dict, *, meta: dict, **_) -> None:
    from ..report import render

    render(dict(inp), out["html"], meta=meta)

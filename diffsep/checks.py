"""One-line config errors from the checks that jobs and ``diffsep validate`` share.

A check function lives beside the code it protects (``TrainConfig``, a network's constructor, a
dataset kind) and raises ``ValueError('<arg>: ...')`` or ``ValueError("config key '...': ...")``;
:func:`keyed` names the full config key, so a job and the validation report the same line.
"""

from __future__ import annotations

import re

__all__ = ["keyed"]

_ARG = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): (.*)$", re.S)


def keyed(prefix: str, exc: BaseException) -> str:
    """``"config key '<prefix>.<arg>': <why>"`` from an error ``'<arg>: <why>'`` (or the message as is
    under ``prefix`` when it names no argument; unchanged when it already names a config key)."""
    msg = " ".join(str(exc).split())
    if msg.startswith("config key "):
        return msg
    m = _ARG.match(msg)
    if m:
        return f"config key '{prefix}.{m.group(1)}': {m.group(2)}"
    return f"config key '{prefix}': {msg}"

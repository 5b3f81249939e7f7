"""Stage ``prepare``: load, validate, resample and cache one dataset at one resolution."""

from __future__ import annotations

import logging

from ..data import prepare as prepare_dataset, save_prepared

log = logging.getLogger(__name__)


def run(inp: dict, out: dict, *, name: str, spec: dict, resolution: int, **_) -> None:
    """``spec`` (the dataset's config entry) at ``resolution`` -> ``out['data']`` (.npz)."""
    p = prepare_dataset(name, spec, int(resolution))
    save_prepared(p, out["data"])
    log.info("%s @ %s: %d train / %d test, %s", name, resolution, len(p.x_train), len(p.x_test), p.x_train.shape[1:])

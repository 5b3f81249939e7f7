"""Shared fixtures: running the real Snakemake workflow in a temporary directory."""

from __future__ import annotations

import pytest

from helpers import CONFIGS, run_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole DAG on tests/configs/tiny.yaml, run once per session; returns the work dir."""
    return run_config(tmp_path_factory, CONFIGS / "tiny.yaml", "tiny")

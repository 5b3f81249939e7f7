"""Shared fixtures: running the real Snakemake workflow in a temporary directory."""

from __future__ import annotations

import shutil

import pytest

from helpers import CONFIGS, snakemake


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole DAG on tests/configs/tiny.yaml, run once per session; returns the work dir."""
    wd = tmp_path_factory.mktemp("tiny")
    shutil.copy(CONFIGS / "tiny.yaml", wd / "tiny.yaml")
    snakemake(wd, configfile=wd / "tiny.yaml")
    return wd

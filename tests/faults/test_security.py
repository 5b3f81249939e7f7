"""Security basics: no unpickling, names cannot escape results/, no shell, escaped report."""

import pickle
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from diffsep import config as dsconfig
from diffsep.classifier import load_classifier
from diffsep.io import load_torch
from diffsep.report import render
from diffsep import tables

from helpers import CONFIGS, REPO, snakemake

pytestmark = pytest.mark.faults
FLAG = Path("/tmp/diffsep_pwned")


class _Evil:
    def __reduce__(self):
        return (exec, (f"open({str(FLAG)!r}, 'w').write('x')",))


@pytest.mark.parametrize("loader", [load_torch, load_classifier])
def test_crafted_pickle_refused_by_every_checkpoint_loader(tmp_path, loader):
    FLAG.unlink(missing_ok=True)
    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"format": "diffsep-classifier-1", "state": _Evil()}))
    with pytest.raises(ValueError):
        loader(bad)
    assert not FLAG.exists()


def test_no_code_path_unpickles_or_loads_unsafely():
    src = "\n".join(p.read_text() for p in (REPO / "diffsep").rglob("*.py"))
    assert not re.search(r"pickle\.loads?\(", src)
    assert "allow_pickle=True" not in src
    for m in re.finditer(r"torch\.load\(([^)]*)\)", src):
        assert "weights_only=True" in m.group(1), m.group(0)


def test_rules_never_build_shell_commands():
    rules = "\n".join(p.read_text() for p in (REPO / "workflow").rglob("*.smk")) + (REPO / "Snakefile").read_text()
    assert not re.search(r"^\s*shell:", rules, re.M), "rules must use script:/the CLI, not shell:"
    py = "\n".join(p.read_text() for p in (REPO / "diffsep").rglob("*.py"))
    assert "shell=True" not in py and "os.system(" not in py


@pytest.mark.parametrize("name", ["../escape", "a/b", "/abs", "x y", "dots..", "nul\x00"])
def test_dataset_names_cannot_escape_results(name):
    cfg = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())
    cfg["datasets"] = {name: cfg["datasets"]["gauss_small"]}
    with pytest.raises(dsconfig.ConfigError, match="invalid name"):
        dsconfig.load(cfg)


def test_config_values_with_shell_metacharacters_stay_data(tmp_path):
    FLAG.unlink(missing_ok=True)
    cfg = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())
    cfg["datasets"]["gauss_small"] = {"kind": "npz", "params": {"path": f"/tmp/$(touch {FLAG}); touch {FLAG}.npz"},
                                      "resolutions": [8]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", configfile=tmp_path / "c.yaml", check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr
    assert not FLAG.exists()


def test_report_escapes_strings_from_config_and_data(tmp_path):
    ident = tables.identity("d1", 8, "m", 0)
    pc = pd.DataFrame([{**ident, "label": 0, "class_name": "<script>alert('x')</script>", "p": 1.0, "n": 10,
                        "mi_minde": 0.1, "mi_minde_se": 0.01, "S_cond": 1.0, "S_cond_se": 0.1,
                        "mi_minde_cross": None, "mi_minde_cross_se": None, "mi_mmse_cross": None,
                        "mi_mmse_cross_se": None}])
    path = tmp_path / "per_class.parquet"
    tables.write(pc, "per_class", path)
    out = render({"per_class": path}, tmp_path / "r" / "index.html",
                 meta={"title": "<img src=x onerror=alert(1)>", "skipped": {"<b>bad</b>": "<i>why</i>"}})
    html = out.read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bad</b>" not in html and "<i>why</i>" not in html
    assert "<script>alert" not in html

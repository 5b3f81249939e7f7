"""The guidance report sections on stage outputs of tiny untrained models (fast)."""

import numpy as np
import pytest
import torch

from diffsep.process import VPProcess
from diffsep.report import render
from diffsep.report import guidance as rg

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("guidance_test_stage", Path(__file__).with_name("test_stage.py"))
ts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ts)  # shared settings and the rates-table helper

P = VPProcess()
NAME = "<b>dig</b>"  # markup in a dataset name must be shown, not interpreted


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("greport")
    from diffsep.classifier import save_classifier
    from diffsep.data import prepare, save_prepared
    from diffsep.stages.guidance import run as _guidance
    from diffsep.models import build_score_model, save_model
    from diffsep.nets.classifier import SmallCNN
    from diffsep.models import net_kwargs

    data = prepare("digits", {"kind": "sklearn_digits", "resolutions": [8]}, 8)
    save_prepared(data, d / "data.npz")
    mcfg = {"net": "unet", "net_params": {"base": 8, "mults": [1, 2], "attention": False, "emb_dim": 16,
                                          "fourier_dim": 8}}
    torch.manual_seed(0)
    sm = build_score_model({"net": "unet", "kwargs": net_kwargs(mcfg, data)}, P)
    with torch.no_grad():
        for p in sm.net.out.parameters():
            p.normal_(0, 0.05)
    save_model(d / "model.pt", sm)
    save_classifier(d / "clf.pt", SmallCNN(1, 8, 10, width=4))
    lam = np.linspace(*P.log_snr_range, 12)
    ts._rates(d / "rates.parquet", lam, np.exp(-(lam + 1) ** 2 / 4))
    inp = {"data": str(d / "data.npz"), "model": str(d / "model.pt"), "classifier": str(d / "clf.pt"),
           "rates": str(d / "rates.parquet")}
    _guidance(inp, {"table": str(d / "guidance.parquet"), "per_class": str(d / "guidance_per_class.parquet")},
               kind="labels", dataset=NAME, resolution=8, model="m", seed=0, settings=ts.SETTINGS, process=P.to_dict(),
               device="cpu", progress=False)
    return d


def test_sections_render_with_verdicts_and_escape_names(outputs):
    from diffsep.stages.claims import run as decide_claims

    paths = {t: outputs / f"{t}.parquet" for t in ("guidance", "guidance_per_class")}
    paths["claims"] = outputs / "claims.parquet"
    decide_claims({"guidance": str(paths["guidance"])}, {"table": str(paths["claims"])})
    html_path = render(paths, outputs / "report" / "index.html", meta={"process": P.to_dict()},
                       sections=rg.SECTIONS)
    html = html_path.read_text()
    assert "Guidance: weight sweep" in html and "early/late splits" in html and "frontier" in html
    assert NAME not in html and "&lt;b&gt;dig&lt;/b&gt;" in html
    assert html.count('class="verdict') == 2  # early/late and highest-noise window
    assert "guidance only early (λ &lt; " in html and "of the highest-noise window" in html
    figs = sorted(p.name for p in (outputs / "report" / "figures").glob("*.png"))
    assert "guidance_weights.png" in figs and any(f.startswith("guidance_windows__b_dig__b_") for f in figs)
    for f in figs:
        assert f'data-file="figures/{f}"' in html  # embedded; the file is for snakemake --report


def test_sections_skip_absent_tables(outputs):
    ctx = type("C", (), {"table": lambda self, n: __import__("pandas").DataFrame(), "meta": {}})()
    assert all(fn(ctx) is None for fn in rg.SECTIONS)

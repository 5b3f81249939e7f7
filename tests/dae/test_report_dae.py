"""The DAE report section: the verdict rule, and rendering from the stage outputs (incl. a claim
that does not hold, and markup in dataset names)."""

import pandas as pd
import pytest

from diffsep import claims, tables
from diffsep.claims import CARRY, DECIDABLE, LEAK, SWAP, judge
from diffsep.report import render
from diffsep.report.dae import dae_section

VERDICT = {True: claims.HOLDS, False: claims.FAILS, None: claims.UNDECIDED}


@pytest.mark.parametrize("mi_sem,mi_per,fa,fb,rec,ok", [
    (2.0, 0.05, 0.6, 0.1, 0.7, True),            # label info in z_sem, none in z_per, swaps follow A
    (1.0, 0.05, 0.6, 0.1, 0.7, False),           # z_sem carries too little
    (2.0, 0.5, 0.6, 0.1, 0.7, False),            # z_per leaks label information
    (2.0, 0.05, 0.1, 0.6, 0.7, False),           # swaps follow B
    (2.0, 0.05, 0.12, 0.1, 0.12, None),          # reconstructions at chance: the swap test cannot decide
    (2.0, 0.05, float("nan"), float("nan"), float("nan"), None),  # no classifier: undecided
])
def test_judge(mi_sem, mi_per, fa, fb, rec, ok):
    got, parts = judge(2.2, mi_sem, mi_per, fa, fb, rec, 0.1)
    assert got == VERDICT[ok] and [p["part"] for p in parts] == ["2a", "2b", "2c", "2d"]


def test_thresholds_are_stated():
    assert 0 < LEAK < CARRY <= 1 and 0 < SWAP <= 1 and DECIDABLE > 1


def _tables(stage_run, tmp_path, rename=None):
    paths = {}
    for table, key in (("dae", "summary"), ("dae_latents", "latents"), ("dae_rates", "rates"),
                       ("dae_samples", "samples"), ("dae_training", "history")):
        df = pd.concat([tables.read(stage_run[a][key], table) for a in ("ladder", "plain")], ignore_index=True)
        if rename:
            df["dataset"] = rename
        paths[table] = tables.write(df, table, tmp_path / f"{table}.parquet")
    frames = {t: tables.read(paths[t], t) for t in ("dae", "dae_latents")}
    decided = tables.fit(claims.decide(frames), "claims", git_rev="x", created_at=frames["dae"]["created_at"][0])
    paths["claims"] = tables.write(decided, "claims", tmp_path / "claims.parquet")
    return paths


def test_section_renders_with_verdict_and_figures(stage_run, tmp_path):
    paths = _tables(stage_run, tmp_path, rename="<b>synth</b>")
    out = render(paths, tmp_path / "report" / "index.html", meta={"process": {}}, sections=[dae_section])
    html = out.read_text()
    assert "Semantic vs perceptual latents" in html
    assert "&lt;b&gt;synth&lt;/b&gt;" in html and "<b>synth</b>" not in html  # data strings are escaped
    # a 20-step model does not reconstruct: the verdict is not drawn from it, and the report says why
    assert 'class="verdict na"' in html and "undecided" in html.lower()
    assert "reconstructions" in html and "split time s*: where the semantic latent collapses" in html.lower()
    figs = {p.name for p in (tmp_path / "report" / "figures").glob("*.png")}
    assert {"dae_sweep.png", "dae_rates.png", "dae_reconstructions.png", "dae_training.png"} <= figs
    assert any(f.startswith("dae_swaps_") for f in figs)


def test_section_absent_without_tables(tmp_path):
    out = render({}, tmp_path / "index.html", meta={}, sections=[dae_section])
    assert "Semantic vs perceptual" not in out.read_text()

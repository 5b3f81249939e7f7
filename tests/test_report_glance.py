"""The report opens with the claims at a glance (from table claims), is one self-contained file, and
writes every collected table as CSV beside its Parquet file."""

import re

import pandas as pd

from diffsep import report, tables


def _claims():
    base = {c: None for c in tables.schema("claims").names}
    rows = []
    for claim, part, ds, res, model, verdict, value, lo, hi, thr in [
        (1, "all", "digits", 0, "unet", "holds", None, None, None, None),
        (1, "1a", "digits", 8, "unet", "holds", 0.0079, None, None, 0.01),
        (1, "1a", "digits", 16, "unet", "holds", 0.0012, None, None, 0.01),
        (3, "early_late", "digits", 8, "unet", "undecided", 0.92, 0.83, 1.0, 0.5),
    ]:
        rows.append({**base, "claim": claim, "part": part, "dataset": ds, "resolution": res, "model": model,
                     "seed": 0, "verdict": verdict, "n_seeds": 1, "statistic": "s", "rule": "r", "value": value,
                     "value_lo": lo, "value_hi": hi, "threshold": thr, "reason": f"because {part}",
                     "cause": "not_significant" if claim == 3 else None, "git_rev": "x", "created_at": pd.Timestamp("2026-01-01", tz="UTC")})
    return tables.fit(pd.DataFrame(rows), "claims")


def test_claims_at_a_glance_first_with_links_and_intervals(tmp_path):
    tpath = tmp_path / "tables" / "claims.parquet"
    tables.write(_claims(), "claims", tpath, csv=tmp_path / "tables" / "claims.csv")
    assert pd.read_csv(tmp_path / "tables" / "claims.csv").shape[0] == 4  # CSV beside the Parquet file
    html = report.render({"claims": tpath}, tmp_path / "report" / "index.html").read_text()
    sections = re.findall(r'<section id="([^"]+)"><h2>([^<]+)</h2>', html)
    assert sections[0] == ("claims", "Claims at a glance")
    assert sections[1][0] == "run"  # the provenance stays below it
    glance = html[html.index('<section id="claims">'):html.index("</section>")]
    assert glance.count("<tr>") == 1 + 2  # header + claim 1 on digits + claim 3 on digits (early_late)
    assert "0.920 [0.830, 1.00] vs 0.500" in glance and "1a 16 px" in glance and "not significant" in glance
    ids = set(re.findall(r'id="([^"]+)"', html))
    for href in re.findall(r'href="#([^"]+)"', glance):
        assert href in ids, href


def test_report_is_self_contained(tmp_path):
    from diffsep.report.base import Context, plt

    ctx = Context(tables={}, meta={}, fig_dir=tmp_path / "figures", fig_rel="figures")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    el = ctx.save(fig, "f", "alt")
    assert 'src="data:image/png;base64,' in el and (tmp_path / "figures" / "f.png").exists()
    html = report.render({"information": tmp_path / "no.parquet"}, tmp_path / "r" / "index.html",
                         meta={"title": "t"}).read_text()
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # nothing outside the file


def test_published_setup_is_prose_and_prose_cells_are_left_aligned(tmp_path):
    from diffsep.report import information
    from diffsep.report.base import Context, html_table

    ctx = Context(tables={}, meta={}, fig_dir=tmp_path, fig_rel="figures")
    html = information.published_section(ctx).html
    assert "{" not in html and "dx = 25" in html
    cell = html_table(pd.DataFrame({"reason": ["a paragraph-long reason " * 3], "v": [1.0]}))
    assert '<td class="txt">a paragraph' in cell and "<td>1.000</td>" in cell


def test_mi_figure_keeps_exact_and_trained_rows_apart(tmp_path, monkeypatch):
    from diffsep.report import information
    from diffsep.report.base import Context, sns

    seen = {}
    real = sns.barplot

    def spy(*a, data=None, **k):
        seen["data"], seen["y"] = data, k.get("y")
        return real(*a, data=data, **k)

    monkeypatch.setattr(information.sns, "barplot", spy)
    base = {"dataset": "g", "resolution": 4, "seed": 0, "true_mi": 1.0}
    info = pd.DataFrame([{**base, "model": "exact", "mi_minde": 0.999, "mi_minde_se": 0.01},
                         {**base, "model": "mlp", "mi_minde": 0.92, "mi_minde_se": 0.01}],
                        columns=tables.schema("information").names)
    ctx = Context(tables={"information": info}, meta={}, fig_dir=tmp_path, fig_rel="figures")
    information.estimators_section(ctx)
    d = seen["data"]
    assert seen["y"] == "rel_error_pct"  # percent, like the table
    assert sorted(d["rel_error_pct"].round(1)) == [-8.0, -0.1] and d["unit"].nunique() == 2


class _Keep:
    """A Context whose save() keeps the figure (for inspection) instead of writing it."""

    def __init__(self, tables):
        from diffsep.report.base import Context

        self.ctx = Context(tables=tables, meta={}, fig_dir=None, fig_rel="figures")
        self.figs = {}
        self.ctx.save = self.save

    def save(self, fig, name, alt, caption=""):
        self.figs[name] = fig
        return f"<figure>{name}</figure>"


def test_rate_figures_one_colour_per_model_and_a_legend_in_every_panel():
    import numpy as np

    from diffsep.report import information

    s = np.geomspace(1e-3, 1, 8)
    rows = []
    for model in ("exact", "mlp"):
        for v in s:
            rows.append({"dataset": "g", "resolution": 4, "model": model, "seed": 0, "s": v, "log_snr": -np.log(v),
                         "edm_sigma": v, **{c: 1.0 + v for c in ("r_marg", "r_marg_se", "r_marg_lam", "i_rate",
                                                                   "i_rate_se", "i_rate_lam")}})
    keep = _Keep({"rates": pd.DataFrame(rows)})
    information.rates_section(keep.ctx)
    [fig] = keep.figs.values()
    seen = {}
    for ax in fig.axes:
        assert ax.get_legend() is not None
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                seen.setdefault(line.get_label(), set()).add(line.get_color() if isinstance(line.get_color(), str)
                                                            else tuple(line.get_color()))
    assert set(seen) == {"exact", "mlp"} and all(len(c) == 1 for c in seen.values()), seen


def test_claims_figure_shows_every_claim_against_its_threshold(tmp_path):
    from diffsep.report import glance

    keep = _Keep({"claims": _claims()})
    sec = glance.glance_section(keep.ctx, anchors=set())
    assert "<figure>claims</figure>" in sec.html
    fig = keep.figs["claims"]
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split(":")[0] for t in titles] == ["Claim 1", "Claim 2", "Claim 3"]
    assert fig.get_size_inches()[0] <= 13  # shown at about full size on the page

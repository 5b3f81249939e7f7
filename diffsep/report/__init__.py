"""The HTML comparison report: one self-contained page (figures embedded as data URIs; the PNG files
are also written to ``figures/`` for ``snakemake --report``), built from the collected Parquet
tables by a list of sections, with the claims at a glance first."""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from pathlib import Path

import pandas as pd

from ..io import atomic_path
from .base import Context, Section, esc, fmt
from . import dae, exact, glance, guidance, images, information

__all__ = ["render", "SECTIONS"]

# Each section: function(ctx) -> Section | None. Later stages append theirs.
SECTIONS = [information.run_section, information.estimators_section, information.rates_section,
            information.published_section, information.training_section]
SECTIONS += [images.images_section, exact.exact_images_section, images.bounds_section]
SECTIONS += guidance.SECTIONS
SECTIONS += [dae.dae_section]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table.tbl{border-collapse:collapse;font-size:.82rem;margin:.6rem 0}
table.tbl th,table.tbl td{border:1px solid #ddd;padding:.2rem .45rem;text-align:right}
table.tbl th{background:#f4f4f4}table.tbl td:first-child,table.tbl th:first-child{text-align:left}
tr.flag td{background:#fff1f0}figure{margin:1rem 0}figure img{max-width:100%}
figcaption{font-size:.85rem;color:#555}.verdict{padding:.4rem .6rem;border-left:4px solid #999;background:#fafafa}
.verdict.ok{border-color:#2e7d32}.verdict.bad{border-color:#c62828}.verdict.na{border-color:#999}
.note{color:#555;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}nav a{margin-right:.8rem}
table.tbl td.txt{text-align:left;max-width:36rem}
table.glance td,table.glance th{text-align:left;vertical-align:top}table.glance td.parts{font-size:.78rem}
a.badge{display:inline-block;padding:.05rem .45rem;border-radius:.7rem;color:#fff;text-decoration:none;white-space:nowrap}
a.badge.ok{background:#2e7d32}a.badge.bad{background:#c62828}a.badge.na{background:#777}
a.part{text-decoration:none;color:#222;border-left:3px solid #999;padding-left:.3rem}
a.part.ok{border-color:#2e7d32}a.part.bad{border-color:#c62828}
"""


def _load(paths: dict) -> dict:
    out = {}
    for name, p in paths.items():
        p = Path(p)
        if p.suffix == ".parquet" and p.exists():
            out[name] = pd.read_parquet(p)
    return out


def render(table_paths: dict, out_html, meta: dict | None = None, sections=None) -> Path:
    """Render the report to ``out_html`` (figures in ``figures/`` beside it); returns the path."""
    meta = dict(meta or {})
    out_html = Path(out_html)
    fig_dir = out_html.parent / "figures"
    if fig_dir.exists():
        shutil.rmtree(fig_dir)
    ctx = Context(tables=_load(table_paths), meta=meta, fig_dir=fig_dir, fig_rel="figures")
    meta.setdefault("generated", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    meta["table_links"] = {k: Path(v) for k, v in table_paths.items()}
    meta["html_dir"] = out_html.parent
    parts = []
    for fn in sections or SECTIONS:
        if fn is glance.glance_section:
            continue
        sec = fn(ctx)
        if sec is None:
            continue
        anchor = sec.anchor or fn.__name__
        parts.append((anchor, sec))
    fig_dir.mkdir(parents=True, exist_ok=True)  # declared output, even with no figures
    anchors = {a for a, _ in parts} | {m for _, s in parts for m in re.findall(r'id="([^"]+)"', s.html)}
    top = glance.glance_section(ctx, anchors) if sections is None or glance.glance_section in sections else None
    if top is not None:
        parts.insert(0, (top.anchor, top))
    nav = " ".join(f'<a href="#{esc(a)}">{esc(s.title)}</a>' for a, s in parts)
    body = "\n".join(f'<section id="{esc(a)}"><h2>{esc(s.title)}</h2>\n{s.html}\n</section>' for a, s in parts)
    title = esc(meta.get("title", "diffsep report"))
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{CSS}</style></head><body><h1>{title}</h1><nav>{nav}</nav>\n{body}\n"
            f"<p class=\"note\">Generated {esc(meta['generated'])}. Numbers in nats unless stated.</p>"
            f"</body></html>\n")
    with atomic_path(out_html, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_html


__all__ += ["Context", "Section", "fmt"]

"""Report building blocks: escaping, tables, figure files, the section interface.

Every string that comes from config or data goes through :func:`esc` (or a function that calls
it), so a dataset or class name with markup is shown, never interpreted.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .. import claims  # noqa: E402
from ..process import VPProcess  # noqa: E402

__all__ = ["esc", "fmt", "html_table", "Section", "Context", "plt", "sns", "pm", "verdict", "verdicts", "claim_rows",
           "safe_name", "mpl_text", "time_axes", "claim_anchor", "series_colours", "VERDICT_CLASS"]


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def safe_name(name) -> str:
    """``name`` as a file-name part (letters, digits, ``_`` and ``-``)."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in str(name))


def mpl_text(s) -> str:
    """A data string safe for matplotlib text (no mathtext)."""
    return str(s).replace("$", r"\$")


def fmt(v, digits: int = 4) -> str:
    """Format a number compactly (significant digits); None/NaN as an en dash (:func:`diffsep.claims.fmt`, escaped)."""
    return esc(claims.fmt(v, digits))


def pm(v, se, digits: int = 4) -> str:
    """``value ± se``."""
    return esc(claims.pm(v, se, digits))


def html_table(df: pd.DataFrame, formats: dict | None = None, classes: str = "tbl",
               row_class=None) -> str:
    """An HTML table; cells are escaped unless a formatter returns markup it built itself."""
    formats = formats or {}
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            f = formats.get(c)
            v = r[c]
            txt = not f and isinstance(v, str) and len(v) > 24  # prose (reasons, notes) reads left-aligned
            cells.append(f"<td{' class=' + chr(34) + 'txt' + chr(34) if txt else ''}>"
                         f"{f(v) if f else (fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else esc(v))}</td>")
        rc = row_class(r) if row_class else ""
        rows.append(f"<tr{f' class={chr(34)}{esc(rc)}{chr(34)}' if rc else ''}>{''.join(cells)}</tr>")
    return f'<table class="{esc(classes)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


#: verdict of table claims -> (CSS class, words shown)
VERDICT_CLASS = {claims.HOLDS: ("ok", "holds"), claims.FAILS: ("bad", "does not hold"),
                  claims.UNDECIDED: ("na", "undecided")}


def verdict(v: str, text: str, anchor: str = "") -> str:
    """A verdict line: ``v`` a verdict of table ``claims`` (holds, does_not_hold, undecided); ``text`` HTML;
    ``anchor`` its id (the claims-at-a-glance table links to it)."""
    cls, word = VERDICT_CLASS[v]
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f'<p class="verdict {cls}"{ident}><b>{word}:</b> {text}</p>'


def claim_anchor(row) -> str:
    """The id of a claims row's verdict line in the page: ``claim<c>-<part>-<dataset>-<res>-<model>-s<seed>``."""
    return "-".join(["claim" + str(int(row["claim"])), safe_name(row["part"]), safe_name(row["dataset"]),
                     str(int(row["resolution"])), safe_name(row["model"]), "s" + str(int(row["seed"]))])


def claim_rows(ctx: "Context", claim: int, part: str, **key) -> pd.DataFrame:
    """Rows of table ``claims`` for ``claim``/``part`` matching ``key`` (e.g. ``dataset=...``)."""
    c = ctx.table("claims")
    if not len(c):
        return c
    sel = (c["claim"] == claim) & (c["part"] == part)
    for k, v in key.items():
        sel &= c[k] == v
    return c[sel]


def verdicts(rows: pd.DataFrame, prefix=None) -> str:
    """Verdict lines for rows of table ``claims``: their verdict and (escaped) reason, after
    ``prefix(row)`` (HTML); a note where there is no row."""
    if not len(rows):
        return "<p class='note'>No verdict: table claims has no row for this.</p>"
    return "".join(verdict(r["verdict"], (prefix(r) if prefix else "") + esc(r["reason"]), claim_anchor(r))
                   for _, r in rows.iterrows())


def series_colours(names) -> dict:
    """One colour per series name, the same in every panel of a figure (and across figures for the
    same sorted names): seaborn's "deep" palette in sorted order."""
    names = sorted({str(n) for n in names})
    return dict(zip(names, sns.color_palette("deep", max(len(names), 1))))


def _edm_sigma(process: VPProcess, lam):
    with np.errstate(all="ignore"):
        return process.edm_sigma(process.s_from_log_snr(np.asarray(lam, float)))


def _log_snr_of_edm(process: VPProcess, sig):
    with np.errstate(all="ignore"):
        return process.log_snr(process.s_from_edm_sigma(np.clip(np.asarray(sig, float), 1e-12, None)))


def time_axes(ax, process: VPProcess) -> None:
    """log-SNR on the x axis, with EDM sigma on top and diffusion time s below (secondary axes;
    the conversions are the process's)."""
    top = ax.secondary_xaxis("top", functions=(lambda lam: _edm_sigma(process, lam),
                                               lambda sig: _log_snr_of_edm(process, sig)))
    top.set_xlabel("EDM σ = σ/μ")
    top.set_xscale("log")
    lo, hi = process.log_snr_range

    def to_s(lam):
        return process.s_from_log_snr(np.clip(np.asarray(lam, float), lo - 5, hi + 5))

    def from_s(s):
        return process.log_snr(np.clip(np.asarray(s, float), 1e-9, 1.0))

    bottom = ax.secondary_xaxis(-0.28, functions=(to_s, from_s))
    ticks = [t for t in (1.0, 0.6, 0.3, 0.1, 0.03, 0.01, 1e-3, 1e-4) if t >= process.s_min]
    bottom.set_xticks(ticks, [f"{t:g}" for t in ticks])
    bottom.set_xlabel("diffusion time s (1 = start of generation)")
    ax.set_xlabel("log-SNR λ (low = early in generation = high noise)")


@dataclass
class Section:
    title: str
    html: str
    anchor: str = ""


@dataclass
class Context:
    """What a section gets: the tables (DataFrames), the run metadata, and a figure writer."""

    tables: dict  # name -> DataFrame (possibly empty)
    meta: dict
    fig_dir: Path
    fig_rel: str  # figure directory relative to the HTML file
    figures: list = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())

    def save(self, fig, name: str, alt: str, caption: str = "") -> str:
        """Write ``fig`` as PNG into ``figures/`` (for ``snakemake --report``) and return a <figure>
        element with the same PNG embedded (a data URI), so the page needs nothing beside it."""
        import base64

        self.fig_dir.mkdir(parents=True, exist_ok=True)
        path = self.fig_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        cap = f"<figcaption>{caption}</figcaption>" if caption else ""
        return (f'<figure id="fig-{esc(safe_name(name))}"><img src="data:image/png;base64,{data}" '
                f'alt="{esc(alt)}" data-file="{esc(self.fig_rel)}/{esc(path.name)}">{cap}</figure>')

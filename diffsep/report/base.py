"""Report building blocks: escaping, tables, figure files, the section interface.

Every string that comes from config or data goes through :func:`esc` (or a function that calls
it), so a dataset or class name with markup is shown, never interpreted.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

__all__ = ["esc", "fmt", "html_table", "Section", "Context", "plt", "sns", "pm", "verdict"]


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def fmt(v, digits: int = 4) -> str:
    """Format a number compactly (significant digits); None/NaN as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return esc(v)
    if math.isnan(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits or abs(x) < 10 ** -3:
        return f"{x:.{digits - 1}e}"
    return f"{x:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))}f}"


def pm(v, se, digits: int = 4) -> str:
    """``value ± se``."""
    if se is None or (isinstance(se, float) and math.isnan(se)):
        return fmt(v, digits)
    return f"{fmt(v, digits)} ± {fmt(se, 2)}"


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
            cells.append(f"<td>{f(v) if f else (fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else esc(v))}</td>")
        rc = row_class(r) if row_class else ""
        rows.append(f"<tr{f' class={chr(34)}{esc(rc)}{chr(34)}' if rc else ''}>{''.join(cells)}</tr>")
    return f'<table class="{esc(classes)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def verdict(ok: bool | None, text: str) -> str:
    """A verdict line: ``ok`` True (holds), False (does not hold), None (undecided)."""
    cls, word = {True: ("ok", "holds"), False: ("bad", "does not hold"), None: ("na", "undecided")}[ok]
    return f'<p class="verdict {cls}"><b>{word}:</b> {text}</p>'


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
        """Write ``fig`` as PNG; return an <figure> element with a relative link."""
        self.fig_dir.mkdir(parents=True, exist_ok=True)
        path = self.fig_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        cap = f"<figcaption>{caption}</figcaption>" if caption else ""
        return f'<figure><img src="{esc(self.fig_rel)}/{esc(path.name)}" alt="{esc(alt)}">{cap}</figure>'

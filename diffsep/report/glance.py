"""Claims at a glance: the first thing in the report. One row per claim and dataset (and
resolution, or part, where the claim is decided per resolution or per part), read from table
``claims`` only: the verdict, the deciding numbers with their intervals and thresholds, the cause
when our own limits decide; each verdict links to its line in the section that shows the evidence."""

from __future__ import annotations

import math

from matplotlib.ticker import NullFormatter

from .. import claims
from .base import VERDICT_CLASS, Context, Section, claim_anchor, esc, fmt, plt

TITLES = {1: "perceptual information dominates", 2: "autoencoders separate a semantic latent",
          3: "label information is produced early"}
# where each claim's evidence is shown (section anchors), per part
SECTION_OF = {1: "images", 2: "dae", "early_late": "guidance-windows", "top_window": "guidance-windows",
              "gaussian_exact": "guidance-gaussian"}
PART_NAMES = {"1a": "I/S_NN", "1b": "S_NN rise (SE)", "1c": "(I - log K)/SE, direct estimators",
              "2a": "I(Z_sem;Y) share", "2b": "I(Z_per;Y) share", "2c": "swaps follow z_sem",
              "2d": "reconstructions' accuracy / classifier's", "2x": "I(Z;Y) above its view's exact (nats)",
              "early_late": "early-only share", "top_window": "FD change without top window",
              "gaussian_exact": "early-only share (exact)"}


def _num(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def numbers(r) -> str:
    """``value [lo, hi] vs threshold`` (plain text) of one claims row."""
    if not _num(r.get("value")):
        return ""
    s = fmt(r["value"], 3)
    if _num(r.get("value_lo")) and _num(r.get("value_hi")):
        s += f" [{fmt(r['value_lo'], 3)}, {fmt(r['value_hi'], 3)}]"
    if _num(r.get("threshold")):
        s += f" vs {fmt(r['threshold'], 3)}"
    return s


VERDICT_COLOURS = {claims.HOLDS: "#2e7d32", claims.FAILS: "#c62828", claims.UNDECIDED: "#888888"}
# per claim: (parts shown, x-axis label, panel title); one panel per claim
PANELS = {1: (["1a"], "I / S_NN (●: I + 2 SE ≤ log K; bar: from the lower bound)", "Claim 1: label information is a tiny part of S_NN"),
          2: (["2a", "2b"], "I(Z;Y) / I(X;Y)  (●: semantic latent, ■: perceptual latent)",
              "Claim 2: the semantic latent carries the label"),
          3: (["early_late", "gaussian_exact"], "share of the full-guidance gain from early-only guidance",
              "Claim 3: guidance acts early in generation")}


def claims_figure(ctx: Context, c) -> str:
    """One panel per claim: each dataset's deciding statistic with its interval against the
    threshold, coloured by verdict; readable without the text."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.9 + 0.42 * max(3, len(c[c["part"].isin(["1a", "2a",
                             "early_late", "gaussian_exact"])]) / 2)), squeeze=False)
    for ax, (claim, (parts, xlabel, title)) in zip(axes[0], PANELS.items()):
        rows = c[(c["claim"] == claim) & c["part"].isin(parts) & c["value"].notna()]
        labels = []
        for _, r in rows.sort_values(["dataset", "resolution", "part"]).iterrows():
            px = f" {int(r['resolution'])} px" if int(r["resolution"]) > 0 else ""
            label = f"{r['dataset']}{px}"
            if claim == 2:
                label = f"{r['dataset']}{px} {r['part']}"
            y = len(labels)
            labels.append(label)
            col = VERDICT_COLOURS.get(r["verdict"], "#888888")
            lo = r["value_lo"] if _num(r["value_lo"]) else r["value"]
            hi = r["value_hi"] if _num(r["value_hi"]) else r["value"]
            ax.errorbar([r["value"]], [y], xerr=[[r["value"] - lo], [hi - r["value"]]],
                        fmt="s" if r["part"] == "2b" else "o", color=col, ms=7, capsize=3)
            if _num(r["threshold"]):
                ax.plot([r["threshold"]] * 2, [y - 0.4, y + 0.4], color="k", lw=1.5)
        ax.set_yticks(range(len(labels)), labels, fontsize=10)
        ax.invert_yaxis()
        if claim == 1:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # the minor labels of a narrow decade overlap
        ax.set_xlabel(xlabel, fontsize=10)
        ax.set_title(title, fontsize=11)
        if not labels:
            ax.text(0.5, 0.5, "not decided in this run", ha="center", va="center", transform=ax.transAxes)
    handles = [plt.Line2D([], [], marker="o", ls="", color=v, label=VERDICT_CLASS[k][1])
               for k, v in VERDICT_COLOURS.items()]
    handles.append(plt.Line2D([], [], color="k", lw=1.5, label="threshold"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=10, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return ctx.save(fig, "claims", "the deciding statistic of each claim per dataset against its threshold",
                    "Each dot is a dataset's deciding statistic (bars: its interval) against the claim's threshold "
                    "(black tick); colour is the verdict. Claim 1 needs the dot left of the tick, claims 2 (●) "
                    "and 3 right of it, claim 2 (■) left of it.")


def _badge(v: str, href: str) -> str:
    cls, word = VERDICT_CLASS.get(v, ("na", v))
    return f'<a class="badge {cls}" href="#{esc(href)}">{esc(word)}</a>'


def glance_section(ctx: Context, anchors: set) -> Section | None:
    """``anchors``: the ids present in the page (a verdict line, else its section, is linked)."""
    c = ctx.table("claims")
    if not len(c):
        return None

    def href(r):
        a = claim_anchor(r)
        if a in anchors:
            return a
        sec = SECTION_OF.get(r["part"], SECTION_OF.get(int(r["claim"])))
        return sec if sec in anchors else "claims"

    rows = []
    for (claim, ds), g in c.groupby(["claim", "dataset"], sort=True):
        claim = int(claim)
        units = [g[g["part"] == p] for p in g["part"].unique() if p != "all"] if claim == 3 else [g]
        if claim == 2:
            units = [u for _, u in g.groupby("resolution")]
        for u in units:
            head = u[u["part"] == "all"]
            parts = u[u["part"] != "all"].sort_values(["part", "resolution"])
            top = head.iloc[0] if len(head) else parts.iloc[0]
            res = sorted({int(x) for x in u["resolution"] if int(x) > 0})
            detail = []
            for _, r in parts.iterrows():
                where = f" {int(r['resolution'])} px" if claim == 1 and int(r["resolution"]) > 0 else ""
                cls = VERDICT_CLASS.get(r["verdict"], ("na", ""))[0]
                num = numbers(r)
                detail.append(f'<a class="part {cls}" href="#{esc(href(r))}" title="{esc(r["reason"])}">'
                              f'{esc(r["part"])}{esc(where)}: {esc(PART_NAMES.get(r["part"], r["part"]))}'
                              f'{" " + esc(num) if num else ""}</a>')
            cause = top.get("cause") if isinstance(top.get("cause"), str) else ""
            rows.append(
                f"<tr><td><a href='#{esc(href(top))}'>{claim} · {esc(TITLES.get(claim, ''))}</a></td>"
                f"<td>{esc(ds)}</td><td>{esc(', '.join(map(str, res)) or '–')}</td>"
                f"<td>{_badge(top['verdict'], href(top))}</td><td class='parts'>{'<br>'.join(detail)}</td>"
                f"<td>{esc(cause.replace('_', ' ')) if cause else ''}</td></tr>")
    counts = c[c["part"].isin(["all", "early_late", "top_window", "gaussian_exact"])]["verdict"].value_counts()
    summary = ", ".join(f"{int(counts.get(v, 0))} {VERDICT_CLASS[v][1]}" for v in claims.VERDICTS)
    html = (f"<p>Each claim decided per dataset from table <code>claims</code> (rules in "
            f"<code>diffsep/claims.py</code>): {esc(summary)}. A verdict links to its evidence; the numbers are "
            f"the deciding statistic [its interval] vs the threshold, part by part (hover for the reason).</p>"
            "<table class='tbl glance'><thead><tr><th>claim</th><th>dataset</th><th>px</th><th>verdict</th>"
            "<th>deciding numbers</th><th>cause (our limits)</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>" + claims_figure(ctx, c))
    return Section("Claims at a glance", html, "claims")


__all__ = ["glance_section", "numbers"]

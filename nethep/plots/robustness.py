"""The robustness forest plot (notebook 05): every hazard ratio of the closing
robustness table on one log axis, in the compact layout (:mod:`nethep.plots.compact`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nethep.plots import compact
from nethep.plots.layout import MM_PER_INCH
from nethep.plots.style import GROUP_COLORS, caption

if TYPE_CHECKING:
    from nethep.robustness import RobustnessSummary

FOREST_MARGIN = 0.06  # inches at the left edge
TRUNCATED = ", weights truncated "  # a long label part the forest spells out in a note


def _hr(x: float) -> str:
    return f"{x:.2f}" if x >= 0.01 else f"{x:.3f}"


def _not_estimable_figure(omitted: list[str], reconstructed: bool, width_mm: float,
                          f: dict[str, float]) -> Figure:
    """A short figure saying that no hazard ratio could be plotted, and why."""
    width = width_mm / MM_PER_INCH
    text = compact.wrap("No hazard ratio is estimable in this cohort (for example, no deaths "
                        "in one arm), so there is nothing to plot. Not estimable: "
                        + "; ".join(omitted) + ".", width - 0.3, f["text"])
    fig = plt.figure(figsize=(width, 0.6 + compact.lines(text) * f["text"] * 1.3 / 72))
    fig.text(0.03, 0.8, text, fontsize=f["text"], va="top", ha="left")
    fig.text(0.03, 0.08, caption(reconstructed), fontsize=max(7, f["text"] - 1),
             va="bottom", ha="left", color="#555555")
    return fig


def _hazard_ratio_rows(summary: RobustnessSummary,
                       min_cell: int) -> tuple[pd.DataFrame, list[str]]:
    """The summary's hazard-ratio rows with a finite positive estimate and CI, and the
    analyses left out because theirs are not (e.g. no deaths in one arm)."""
    table = summary.table(min_cell=min_cell)
    rows = table[table["measure"] == "hazard ratio"].reset_index(drop=True)
    if rows.empty:
        raise ValueError("the summary has no hazard-ratio rows to plot")
    values = rows[["estimate", "lower", "upper"]].to_numpy(float)
    plottable = (np.isfinite(values) & (values > 0)).all(axis=1)
    omitted = [str(a) for a in rows.loc[~plottable, "analysis"]]
    return rows[plottable].reset_index(drop=True), omitted


def _row_names(analyses: pd.Series) -> tuple[list[str], list[str]]:
    """Row labels (capitalised; a truncated-weights rule shortened) and the notes that
    spell the shortened rules out."""
    names, notes = [], []
    for a in analyses:
        head, sep, rest = str(a).partition(TRUNCATED)
        if sep:  # the full rule goes in a note, the row keeps a short label
            notes.append(f"Truncated weights: capped {rest}.")
            a = f"{head}, truncated weights"
        names.append(a[:1].upper() + a[1:])
    return names, notes


def robustness_forest_figure(summary: RobustnessSummary, *, reconstructed: bool,
                             min_cell: int = 0, width_mm: float = 180) -> Figure:
    """Forest plot of every hazard ratio in the closing robustness table.

    One row per hazard-ratio row of :meth:`RobustnessSummary.table` (RMST differences
    and P values have other scales and are left out), in the table's order: point
    estimate and 95% CI on a log axis, a vertical line at 1 (no difference), the label
    on the left and ``HR (lower-upper)`` on the right (under the label below 120 mm, so
    the axis keeps its width). Marker: square for the naive (reference) model, filled
    circle for a main analysis, open circle for an alternative choice shown beside it
    (``role`` column). A long truncated-weights label is shortened in the row and spelt
    out in a note. Ticks: 1-2-5 on the log scale, thinned so labels never touch. A row
    whose hazard ratio is not estimable is omitted and named in a note; when none is
    estimable the figure is that message. ``min_cell`` goes to the table; its
    hazard-ratio rows show no patient counts.
    """
    rows, omitted = _hazard_ratio_rows(summary, min_cell)
    f = compact.fonts(width_mm)
    if rows.empty:
        return _not_estimable_figure(omitted, reconstructed, width_mm, f)
    roles = list(rows["role"]) if "role" in rows else ["main"] * len(rows)
    est, lo, hi = (rows[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
    width = width_mm / MM_PER_INCH
    narrow = width_mm < compact.NARROW_MM
    margin = FOREST_MARGIN
    names, notes = _row_names(rows["analysis"])
    cis = [f"{_hr(e)} ({_hr(lw)}\u2013{_hr(up)})" for e, lw, up in zip(est, lo, hi, strict=True)]
    if narrow:  # the CI sits under the label, leaving the width to the plot
        label_w = min(max(compact.text_width_in(c, f["text"]) for c in names) + 0.1,
                      0.45 * width)
        ci_w = 0.0
    else:
        label_w = 0.3 * width
        ci_w = max(compact.text_width_in(c, f["text"]) for c in cis) + 0.25
    plot_w = width - label_w - ci_w - 2 * margin - 0.1
    labels = [compact.wrap(n, label_w - 0.08, f["text"]) for n in names]
    line_h = f["text"] * 1.2 / 72
    row_lines = [compact.lines(lab) + (1 if narrow else 0) for lab in labels]
    row_h = [max(0.24, k * line_h + 0.1) for k in row_lines]
    title = compact.wrap("Hazard ratio of death, surgical vs non-surgical, by analysis",
                         width - 0.1, f["title"])
    if omitted:  # e.g. no deaths in one arm: HR 0 or infinite, no finite interval
        notes.append("Not estimable, omitted: " + "; ".join(omitted) + ".")
    notes = ["Square: naive Cox model (reference); filled: main analyses; open: alternative "
             "choices shown beside them. Lines: 95% confidence intervals.", *notes,
             caption(reconstructed)]
    xlabel = ("Hazard ratio (log scale)\n< 1 favours surgery" if narrow
              else "Hazard ratio (log scale); < 1 favours surgery")
    footer_h = compact.footer_height(notes, width)
    axis_h = 0.12 + f["tick"] / 72 + 0.08 + compact.lines(xlabel) * f["text"] * 1.2 / 72
    plot_h = sum(row_h)
    height = compact.title_height(title, f["title"]) + 0.26 + plot_h + axis_h + footer_h + 0.1
    fig = plt.figure(figsize=(width, height))
    bottom = footer_h + axis_h
    x0 = margin + label_w
    ax = compact.axes_in(fig, x0, bottom, plot_w, plot_h)
    edges = np.concatenate([[0.0], np.cumsum(row_h)])
    centres = (edges[:-1] + edges[1:]) / 2
    xmin = min(float(np.nanmin(lo)), 1.0) / 1.35
    xmax = max(float(np.nanmax(hi)), 1.0) * 1.35
    ax.set_xscale("log")
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(plot_h, 0)
    ax.axvline(1.0, color="#777777", linewidth=0.8, zorder=1)
    for i, (y, role) in enumerate(zip(centres, roles, strict=True)):
        color = "#000000" if role == "reference" else GROUP_COLORS["surgical"]
        ax.plot([lo[i], hi[i]], [y, y], color=color, linewidth=1.3, zorder=2,
                solid_capstyle="butt")
        ax.plot([est[i]], [y], linestyle="none", marker="s" if role == "reference" else "o",
                markersize=5.5, markerfacecolor="white" if role == "alternative" else color,
                markeredgecolor=color, markeredgewidth=1.2, zorder=3,
                gid=f"estimate:{rows['analysis'][i]}")
        y_fig = (bottom + plot_h - y) / height
        if narrow:
            half_block = row_lines[i] * line_h / 2
            fig.text(margin / width, y_fig + half_block / height, labels[i],
                     fontsize=f["text"], ha="left", va="top", linespacing=1.2,
                     gid="forest_label")
            fig.text(margin / width, y_fig - half_block / height, cis[i], fontsize=f["text"],
                     color="#333333", ha="left", va="bottom", gid="forest_ci")
        else:
            fig.text(margin / width, y_fig, labels[i], fontsize=f["text"], ha="left",
                     va="center", linespacing=1.2, gid="forest_label")
            fig.text((x0 + plot_w + 0.15) / width, y_fig, cis[i], fontsize=f["text"],
                     ha="left", va="center", gid="forest_ci")
    for y in edges[1:-1]:
        ax.axhline(y, color="#EEEEEE", linewidth=0.6, zorder=0)
    ticks = compact.log_ticks(xmin, xmax, plot_w, f["tick"])
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.tick_params(axis="x", labelsize=f["tick"])
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(xlabel, fontsize=f["text"], linespacing=1.2)
    head_y = (bottom + plot_h + 0.06) / height
    fig.text(margin / width, head_y, "Analysis, HR (95% CI)" if narrow else "Analysis",
             fontsize=f["text"], fontweight="bold", ha="left", va="bottom")
    if not narrow:
        fig.text((x0 + plot_w + 0.15) / width, head_y, "HR (95% CI)", fontsize=f["text"],
                 fontweight="bold", ha="left", va="bottom")
    compact.title(fig, title, width, height, f["title"])
    compact.footer(fig, notes, width)
    return fig

"""The robustness forest plot (notebook 05): every hazard ratio of the closing
robustness table on one log axis, in the compact layout (:mod:`nethep.plots.compact`).

No title is drawn: :func:`robustness_forest_caption` gives the title and the caption
(markers, intervals, rules), shown under the figure by ``Notebook.figure``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nethep.cox import HazardRatio
from nethep.formats import join_and
from nethep.plots import compact
from nethep.plots.layout import MM_PER_INCH
from nethep.plots.style import GROUP_COLORS, Caption, caption, figure_caption

if TYPE_CHECKING:
    from nethep.robustness import RobustnessSummary

FOREST_MARGIN = 0.06  # inches at the left edge
TRUNCATED = ", weights truncated "  # a long label part the forest spells out in a note
FOREST_TITLE = "Hazard ratio of death, surgical vs non-surgical, by analysis"
NOT_ESTIMABLE = "not estimable"


def _hr(x: float) -> str:
    return HazardRatio.number(x)  # 0.16, 0.037, 0.00033: never 0.000


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
                       min_cell: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The summary's hazard-ratio rows, and which have a finite positive estimate and CI
    (the others, e.g. no deaths in one arm, are shown as "not estimable")."""
    table = summary.table(min_cell=min_cell)
    rows = table[table["measure"] == "hazard ratio"].reset_index(drop=True)
    if rows.empty:
        raise ValueError("the summary has no hazard-ratio rows to plot")
    values = rows[["estimate", "lower", "upper"]].to_numpy(float)
    return rows, (np.isfinite(values) & (values > 0)).all(axis=1)


def _row_names(rows: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Row labels (capitalised; the primary marked; a truncated-weights rule shortened)
    and the notes that spell the shortened rules out."""
    names, notes = [], []
    roles = list(rows["role"]) if "role" in rows else ["sensitivity"] * len(rows)
    for a, role in zip(rows["analysis"], roles, strict=True):
        head, sep, rest = str(a).partition(TRUNCATED)
        if sep:  # the full rule goes in a note, the row keeps a short label
            notes.append(f"Truncated weights: capped {rest}.")
            a = f"{head}, truncated weights"
        if role == "primary":
            a = f"{a} (primary)"
        names.append(a[:1].upper() + a[1:])
    return names, notes


@dataclass(frozen=True)
class _Columns:
    """Horizontal plan (inches) of the forest at one print width, and the row heights."""

    width: float
    narrow: bool
    fonts: dict[str, float]
    label_w: float
    plot_w: float
    labels: list[str]  # wrapped row labels
    row_lines: list[int]  # text lines per row (the CI's own line when narrow)
    line_h: float

    @property
    def x0(self) -> float:
        """Left edge of the plot."""
        return FOREST_MARGIN + self.label_w

    @property
    def ci_x(self) -> float:
        """Left edge of the CI column (wide layout)."""
        return self.x0 + self.plot_w + 0.15

    @property
    def row_h(self) -> list[float]:
        return [max(0.24, k * self.line_h + 0.1) for k in self.row_lines]


def _columns(names: list[str], cis: list[str], width_mm: float) -> _Columns:
    """Label column, plot and CI column: below :data:`compact.NARROW_MM` the CI sits
    under the label, leaving the width to the plot."""
    f = compact.fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < compact.NARROW_MM
    if narrow:
        label_w = min(max(compact.text_width_in(c, f["text"]) for c in names) + 0.1,
                      0.45 * width)
        ci_w = 0.0
    else:
        label_w = 0.3 * width
        ci_w = max(compact.text_width_in(c, f["text"]) for c in cis) + 0.25
    labels = [compact.wrap(n, label_w - 0.08, f["text"]) for n in names]
    return _Columns(
        width=width, narrow=narrow, fonts=f, label_w=label_w,
        plot_w=width - label_w - ci_w - 2 * FOREST_MARGIN - 0.1, labels=labels,
        row_lines=[compact.lines(lab) + (1 if narrow else 0) for lab in labels],
        line_h=f["text"] * 1.2 / 72)


def _draw_intervals(ax: Axes, rows: pd.DataFrame, centres: np.ndarray,
                    plottable: np.ndarray) -> None:
    """Each estimable row's 95% CI line and marker: square for the primary analysis,
    filled circle for a sensitivity analysis, open circle for an alternative choice
    shown beside one; nothing for a row that is not estimable."""
    roles = list(rows["role"]) if "role" in rows else ["sensitivity"] * len(rows)
    choices = list(rows["choice"]) if "choice" in rows else ["main"] * len(rows)
    est, lo, hi = (rows[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
    for i, y in enumerate(centres):
        if not plottable[i]:
            continue
        primary = roles[i] == "primary"
        color = "#000000" if primary else GROUP_COLORS["surgical"]
        ax.plot([lo[i], hi[i]], [y, y], color=color, linewidth=1.3, zorder=2,
                solid_capstyle="butt")
        ax.plot([est[i]], [y], linestyle="none", marker="s" if primary else "o",
                markersize=5.5,
                markerfacecolor="white" if choices[i] == "alternative" else color,
                markeredgecolor=color, markeredgewidth=1.2, zorder=3,
                gid=f"estimate:{rows['analysis'][i]}")


def _draw_row_texts(fig: Figure, cols: _Columns, centres: np.ndarray, cis: list[str],
                    plot_top: float) -> None:
    """Each row's label and ``HR (lower-upper)`` (beside the plot, or under the label
    when narrow), then the column headings above the rows."""
    width, height, f = cols.width, fig.get_figheight(), cols.fonts
    margin = FOREST_MARGIN / width
    for i, y in enumerate(centres):
        y_fig = (plot_top - y) / height
        if cols.narrow:
            half_block = cols.row_lines[i] * cols.line_h / 2
            fig.text(margin, y_fig + half_block / height, cols.labels[i],
                     fontsize=f["text"], ha="left", va="top", linespacing=1.2,
                     gid="forest_label")
            fig.text(margin, y_fig - half_block / height, cis[i], fontsize=f["text"],
                     color="#333333", ha="left", va="bottom", gid="forest_ci")
        else:
            fig.text(margin, y_fig, cols.labels[i], fontsize=f["text"], ha="left",
                     va="center", linespacing=1.2, gid="forest_label")
            fig.text(cols.ci_x / width, y_fig, cis[i], fontsize=f["text"],
                     ha="left", va="center", gid="forest_ci")
    head_y = (plot_top + 0.06) / height
    fig.text(margin, head_y, "Analysis, HR (95% CI)" if cols.narrow else "Analysis",
             fontsize=f["text"], fontweight="bold", ha="left", va="bottom")
    if not cols.narrow:
        fig.text(cols.ci_x / width, head_y, "HR (95% CI)", fontsize=f["text"],
                 fontweight="bold", ha="left", va="bottom")


def _finish_axis(ax: Axes, limits: tuple[float, float], cols: _Columns, xlabel: str) -> None:
    """1-2-5 log ticks thinned to fit (:func:`compact.log_ticks`), no y axis, the label."""
    f = cols.fonts
    ticks = compact.log_ticks(*limits, cols.plot_w, f["tick"])
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(mpl.ticker.NullLocator())
    ax.tick_params(axis="x", labelsize=f["tick"])
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(xlabel, fontsize=f["text"], linespacing=1.2)


def robustness_forest_caption(summary: RobustnessSummary, *, reconstructed: bool,
                              min_cell: int = 0) -> Caption:
    """The caption of :func:`robustness_forest_figure` (same arguments): markers, which
    analysis is primary, the intervals, shortened rules and rows not estimable."""
    rows, plottable = _hazard_ratio_rows(summary, min_cell)
    _, notes = _row_names(rows)
    primary = rows.loc[rows["role"] == "primary", "analysis"] if "role" in rows else []
    name = str(primary.iloc[0]) if len(primary) else "the first row"
    sentences = [
        f"Square: the primary analysis ({name}); filled circles: sensitivity analyses; "
        "open circles: alternative choices shown beside them. Lines: 95% confidence "
        "intervals (profile likelihood for Firth, robust sandwich for IPTW, Wald "
        "otherwise) on a log scale; a hazard ratio below 1 favours surgery. The analyses "
        "share the same patients and deaths, so their agreement is not independent "
        "confirmation. Restricted mean survival differences and P values are in the "
        "table, not on this scale.", *notes]
    missing = [str(a) for a in rows.loc[~plottable, "analysis"]]
    if missing:
        sentences.append(f"Not estimable, shown without an interval: {join_and(missing)} "
                         "(for example, no deaths in one arm).")
    return figure_caption(FOREST_TITLE, sentences, reconstructed=reconstructed,
                          min_cell=min_cell)


def robustness_forest_figure(summary: RobustnessSummary, *, reconstructed: bool,
                             min_cell: int = 0, width_mm: float = 180) -> Figure:
    """Forest plot of every hazard ratio in the closing robustness table.

    One row per hazard-ratio row of :meth:`RobustnessSummary.table` (RMST differences
    and P values have other scales and are left out), in the table's order: point
    estimate and 95% CI on a log axis, a vertical line at 1 (no difference), the label
    on the left (the primary analysis marked "(primary)") and ``HR (lower-upper)`` on
    the right (under the label below 120 mm, so the axis keeps its width). Marker:
    square for the primary analysis (``role``), filled circle for a sensitivity
    analysis, open circle for an alternative choice (``choice``). A long
    truncated-weights label is shortened in the row and spelt out in the caption. A row
    whose hazard ratio is not estimable keeps its label and reads "not estimable" (no
    marker); when none is estimable the figure is that message. Ticks: 1-2-5 on the log
    scale, thinned so labels never touch. No title: :func:`robustness_forest_caption`.
    ``min_cell`` goes to the table; its hazard-ratio rows show no patient counts.
    """
    rows, plottable = _hazard_ratio_rows(summary, min_cell)
    if not plottable.any():
        return _not_estimable_figure([str(a) for a in rows["analysis"]], reconstructed,
                                     width_mm, compact.fonts(width_mm))
    est, lo, hi = (rows[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
    names, _ = _row_names(rows)
    cis = [f"{_hr(e)} ({_hr(lw)}\u2013{_hr(up)})" if ok else NOT_ESTIMABLE
           for e, lw, up, ok in zip(est, lo, hi, plottable, strict=True)]
    cols = _columns(names, cis, width_mm)
    width, f = cols.width, cols.fonts
    notes = [caption(reconstructed)]
    xlabel = ("Hazard ratio (log scale)\n< 1 favours surgery" if cols.narrow
              else "Hazard ratio (log scale); < 1 favours surgery")
    footer_h = compact.footer_height(notes, width)
    axis_h = 0.12 + f["tick"] / 72 + 0.08 + compact.lines(xlabel) * f["text"] * 1.2 / 72
    row_h = cols.row_h
    plot_h = sum(row_h)
    height = 0.28 + plot_h + axis_h + footer_h + 0.1  # 0.28: the column headings
    fig = plt.figure(figsize=(width, height))
    bottom = footer_h + axis_h
    ax = compact.axes_in(fig, cols.x0, bottom, cols.plot_w, plot_h)
    edges = np.concatenate([[0.0], np.cumsum(row_h)])
    centres = (edges[:-1] + edges[1:]) / 2
    limits = (min(float(np.min(lo[plottable])), 1.0) / 1.35,
              max(float(np.max(hi[plottable])), 1.0) * 1.35)
    ax.set_xscale("log")
    ax.set_xlim(*limits)
    ax.set_ylim(plot_h, 0)
    ax.axvline(1.0, color="#777777", linewidth=0.8, zorder=1)
    _draw_intervals(ax, rows, centres, plottable)
    _draw_row_texts(fig, cols, centres, cis, bottom + plot_h)
    for y in edges[1:-1]:
        ax.axhline(y, color="#EEEEEE", linewidth=0.6, zorder=0)
    _finish_axis(ax, limits, cols, xlabel)
    compact.footer(fig, notes, width)
    return fig

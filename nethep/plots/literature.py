"""The literature forest plot (notebook 03): published hazard ratios beside this
cohort's, on a log axis, laid out in inches at its print width."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory

from nethep.plots.layout import (
    PAD_IN,
    draw_notes,
    notes_block,
    text_size_in,
    width_in,
    wrap_text,
)
from nethep.plots.style import Caption, caption, figure_caption

FOREST_FS, FOREST_HEAD_FS, FOREST_TICK_FS = 8, 8, 8
NUMBERS_APART_MM = 130  # from this width the HR (95% CI) numbers get their own column
#: One step of the vertical plan: (kind, top in inches, height, payload); kind is
#: "rule" (between sections), "heading" (payload: text, section) or "row" (row index).
PlanStep = tuple[str, float, float, Any]


def _positive(v: float | None) -> bool:
    return v is not None and math.isfinite(v) and v > 0


def hr_text(estimate: float, lower: float, upper: float) -> str:
    """``0.34 (0.21–0.55)``; limits that are not finite read "NE" (not estimable)."""
    def fmt(v: float) -> str:
        return f"{v:.2f}" if _positive(v) else "NE"

    if estimate is None or not math.isfinite(estimate):
        return "not estimable"
    return f"{fmt(estimate)} ({fmt(lower)}\u2013{fmt(upper)})"


def _heading(r: dict[str, Any]) -> str:
    if r["section"] == "this_cohort":
        return f"{r['source']}: {r['design']}"
    return f"{r['source']}, {r['design']}"


def _plan(rows: list[dict[str, Any]], labels: list[str],
          inner: float) -> tuple[list[PlanStep], float]:
    """Headings, rules and rows from the top of the row area down; returns the plan and
    the area's height in inches. A group of rows (same section and source) opens with
    its heading; a rule separates sections."""
    plan: list[PlanStep] = []
    y = 0.0
    previous = None
    for i, r in enumerate(rows):
        key = (r["section"], r["source"])
        if key != previous:
            if previous is not None:
                y += 0.1
                if r["section"] != previous[0]:
                    plan.append(("rule", y, 0.0, r["section"]))
                    y += 0.1
            head = wrap_text(_heading(r), inner, FOREST_HEAD_FS, "bold")
            h = text_size_in(head, FOREST_HEAD_FS, "bold")[1]
            plan.append(("heading", y, h, (head, r["section"])))
            y += h + 0.06
            previous = key
        h = max(text_size_in(labels[i], FOREST_FS)[1], 0.2)
        plan.append(("row", y, h, i))
        y += h + 0.06
    return plan, y + 0.04


def _log_axis(ax: Axes, rows: list[dict[str, Any]], plot_w: float) -> tuple[float, float]:
    """Axis range: every finite positive limit and 1, with a margin; ticks 1-2-5 (1 and
    5 only when crowded). Returns the range."""
    values = [v for r in rows for v in (r["estimate"], r["lower"], r["upper"])
              if _positive(v)]
    lo = min([*values, 1.0]) / 1.35
    hi = max([*values, 1.0]) * 1.35
    ax.set_xlim(lo, hi)
    candidates = [m * 10.0 ** e for e in range(-3, 4) for m in (1, 2, 5)]
    ticks = [t for t in candidates if lo <= t <= hi]
    if len(ticks) > 1 and plot_w / len(ticks) < 0.4:  # crowded: keep 1s and 5s
        ticks = [t for t in ticks if f"{t:g}".lstrip("0.").startswith(("1", "5"))]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    return lo, hi


def _draw_plan(ax: Axes, plan: list[PlanStep], w: float) -> dict[int, tuple[float, float]]:
    """Draw the rules and headings across the figure; return each row's (top, height)."""
    row_of = {}
    fig_x = blended_transform_factory(ax.figure.transFigure, ax.transData)
    for kind, y_top, h, payload in plan:
        if kind == "rule":
            ax.plot([PAD_IN / w, 1 - PAD_IN / w], [y_top, y_top], transform=fig_x,
                    color="#999999", linewidth=0.8, clip_on=False)
        elif kind == "heading":
            head, section = payload
            ax.text(PAD_IN / w, y_top, head, transform=fig_x, ha="left", va="top",
                    fontsize=FOREST_HEAD_FS, fontweight="bold", gid=f"heading:{section}",
                    color="#000000")
        else:
            row_of[payload] = (y_top, h)
    return row_of


def _draw_backdrop(ax: Axes, rows: list[dict[str, Any]], plan: list[PlanStep],
                   row_of: dict[int, tuple[float, float]], w: float) -> None:
    """A grey band behind this cohort's heading and rows, and a dashed HR = 1 line per
    section."""
    fig_x = blended_transform_factory(ax.figure.transFigure, ax.transData)
    in_cohort = [i for i, r in enumerate(rows) if r["section"] == "this_cohort"]
    if in_cohort:
        first = min(row_of[i][0] for i in in_cohort)
        last = max(row_of[i][0] + row_of[i][1] for i in in_cohort)
        heading_top = max(y_top for kind, y_top, _, p in plan
                          if kind == "heading" and p[1] == "this_cohort")
        band_top = min(first, heading_top) - 0.05
        ax.add_patch(Rectangle((PAD_IN / w, band_top), 1 - 2 * PAD_IN / w,
                               last - band_top + 0.05, transform=fig_x, clip_on=False,
                               facecolor="#EFEFEF", edgecolor="none", zorder=0))
    for section in dict.fromkeys(r["section"] for r in rows):
        ys = [row_of[i] for i, r in enumerate(rows) if r["section"] == section]
        ax.plot([1, 1], [min(a for a, _ in ys) - 0.03, max(a + b for a, b in ys) + 0.03],
                color="#777777", linewidth=0.8, linestyle=(0, (3, 2)), zorder=1)


def _draw_interval(ax: Axes, r: dict[str, Any], mid: float, limits: tuple[float, float]
                   ) -> None:
    """One row's CI line (an arrow where a limit is clipped at the axis) and marker:
    filled diamond for a published row, open square for this cohort."""
    est, lower, upper = r["estimate"], r["lower"], r["upper"]
    if est is None or not math.isfinite(est) or est <= 0:
        return
    lo, hi = limits
    ours = r["section"] == "this_cohort"
    color = "#333333" if ours else "#000000"
    left_end = lower if _positive(lower) else lo
    right_end = upper if upper is not None and math.isfinite(upper) else hi
    left_end, right_end = max(left_end, lo), min(right_end, hi)
    ax.plot([left_end, right_end], [mid, mid], color=color, linewidth=1.3,
            solid_capstyle="butt", zorder=2, gid=f"ci:{r['section']}")
    for end, clipped, marker in ((left_end, left_end != lower, "<"),
                                 (right_end, right_end != upper, ">")):
        if clipped:
            ax.plot([end], [mid], marker=marker, color=color, markersize=5, zorder=2)
    if ours:
        ax.plot([est], [mid], marker="s", markersize=6.5, markerfacecolor="white",
                markeredgecolor=color, markeredgewidth=1.4, zorder=3,
                gid="estimate:this_cohort")
    else:
        ax.plot([est], [mid], marker="D", markersize=6.5, color=color, zorder=3,
                gid=f"estimate:{r['section']}")


def literature_forest_figure(table: pd.DataFrame, *, reconstructed: bool, min_cell: int = 0,
                             width_mm: float = 180) -> Figure:
    """Forest plot of published hazard ratios beside this cohort's, on a log axis.

    ``table`` is :func:`nethep.literature.literature_table`: rows in order, grouped by
    ``section`` and ``source``. Each group gets a bold heading that names its source
    (and design); the ``this_cohort`` group sits below a rule, on a grey band, with
    open square markers, and its heading says when the cohort is reconstructed.
    Published rows: filled diamonds. Lines: 95% CI (clipped at the axis with an arrow
    when a limit is not finite). A dashed line marks HR = 1. At ``width_mm`` below
    130 the numbers move under each row's label to leave the plot room. The figure
    shows no patient counts, so ``min_cell`` changes nothing. No title is drawn; the
    title, the markers' meaning and the sources are in :func:`literature_caption`.
    """
    w = width_in(width_mm)
    inner = w - 2 * PAD_IN
    rows = table.to_dict("records")
    if not rows:
        raise ValueError("literature_forest_figure needs at least one row")
    hr_texts = [hr_text(r["estimate"], r["lower"], r["upper"]) for r in rows]
    num_w = max(text_size_in(t, FOREST_FS)[0] for t in [*hr_texts, "HR (95% CI)"])
    numbers_apart = width_mm >= NUMBERS_APART_MM
    label_w = min(2.6, 0.36 * inner) if numbers_apart else 0.5 * inner
    plot_left = PAD_IN + label_w + 0.12
    plot_w = w - PAD_IN - (num_w + 0.15 if numbers_apart else 0.1) - plot_left
    labels = []
    for r, hr in zip(rows, hr_texts, strict=True):
        label = wrap_text(str(r["comparison"]), label_w, FOREST_FS)
        labels.append(label if numbers_apart else f"{label}\nHR {hr}")
    plan, area_h = _plan(rows, labels, inner)
    x_axis_label = wrap_text("Hazard ratio of death (log scale)", plot_w, 9, balanced=True)
    x_axis_h = (text_size_in("0.1", FOREST_TICK_FS)[1] + 7.0 / 72 + 4.0 / 72
                + text_size_in(x_axis_label, 9)[1])
    notes, notes_h = notes_block([caption(reconstructed)], w)
    top = PAD_IN + (text_size_in("HR", FOREST_FS)[1] + 0.04 if numbers_apart else 0.0)
    height = top + area_h + x_axis_h + 0.14 + notes_h + PAD_IN

    fig = plt.figure(figsize=(w, height))
    ax = fig.add_axes((plot_left / w, 1 - (top + area_h) / height, plot_w / w,
                       area_h / height))
    ax.set_ylim(area_h, 0)
    ax.set_xscale("log")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.tick_params(axis="x", labelsize=FOREST_TICK_FS)
    ax.set_xlabel(x_axis_label, fontsize=9)
    limits = _log_axis(ax, rows, plot_w)
    row_of = _draw_plan(ax, plan, w)
    _draw_backdrop(ax, rows, plan, row_of, w)
    fig_x = blended_transform_factory(fig.transFigure, ax.transData)
    if numbers_apart:
        ax.text(1 - PAD_IN / w, -0.04, "HR (95% CI)", transform=fig_x, ha="right",
                va="bottom", fontsize=FOREST_FS, fontweight="bold")
    for i, r in enumerate(rows):
        y_top, h = row_of[i]
        mid = y_top + h / 2
        ax.text(PAD_IN / w, mid, labels[i], transform=fig_x, ha="left", va="center",
                fontsize=FOREST_FS, gid=f"row:{r['section']}")
        if numbers_apart:
            ax.text(1 - PAD_IN / w, mid, hr_texts[i], transform=fig_x, ha="right",
                    va="center", fontsize=FOREST_FS, gid=f"hr:{r['section']}")
        _draw_interval(ax, r, mid, limits)
    draw_notes(fig, notes)
    return fig


def literature_caption(table: pd.DataFrame, *, reconstructed: bool,
                       min_cell: int = 0) -> Caption:
    """The caption of :func:`literature_forest_figure`: markers, lines and sources."""
    rows = table.to_dict("records")
    sources = list(dict.fromkeys(
        r["citation"] + (f" doi:{r['doi']}" if r.get("doi") else "")
        for r in rows if r["section"] != "this_cohort"))
    return figure_caption(
        "Surgery vs non-surgical treatment: this analysis beside the published literature",
        ["Markers: hazard ratio of death, surgery vs comparator (below 1 favours surgery; "
         "filled diamonds: published, open square: this analysis); lines: 95% confidence "
         "intervals, an arrow where a limit runs off the axis; NE: not estimable. "
         "Published estimates as printed in the source; this analysis computed here "
         "(Cox regression, Efron ties, Wald interval).",
         *[f"Source: {s}." for s in sources]],
        reconstructed=reconstructed, min_cell=min_cell)

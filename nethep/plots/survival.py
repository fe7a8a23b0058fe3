"""The Kaplan-Meier figure (notebook 03): curves, 95% bands, censoring marks and the
number-at-risk table under the plot, laid out in inches at its print width, and its
caption (:func:`km_caption`).

Each curve stops at the first time fewer than :data:`MIN_AT_RISK` (5) patients remain
at risk (Pocock, Clayton & Altman, Lancet 2002: the tail of a Kaplan-Meier curve
rests on a few patients and is read with more confidence than it deserves); the
numbers at risk are still given under the plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory, offset_copy

from nethep import privacy
from nethep.formats import join_and
from nethep.plots.layout import (
    PAD_IN,
    draw_notes,
    notes_block,
    place_legend,
    text_size_in,
    width_in,
    wrap_text,
)
from nethep.plots.style import Caption, caption, figure_caption, group_color, group_label

if TYPE_CHECKING:
    from nethep.km import KaplanMeier

#: ``Axes.get_label()`` of the number-at-risk table under a Kaplan-Meier plot.
AT_RISK_LABEL = "at_risk"
KM_TICK_FS, KM_LABEL_FS, KM_RISK_FS = 8, 9, 8
KM_ROW_H = 0.19  # inches per row of the at-risk table
KM_GAP = 0.06  # inches between legend and plot
#: A curve stops at the first time fewer than this many patients remain at risk.
MIN_AT_RISK = 5
#: Censoring marks are drawn only up to this many censored patients per group; beyond
#: it they would merge into a bar and bloat the file, so they are left out and a note
#: says so.
MAX_CENSOR_MARKS = 2000


def marks_omitted(fits: Mapping[str, KaplanMeier]) -> list[str]:
    """The groups drawn without censoring marks (over :data:`MAX_CENSOR_MARKS`)."""
    return [g for g, fit in fits.items() if int(fit.n_censor.sum()) > MAX_CENSOR_MARKS]


def censor_marks_note(omitted: Sequence[str], every: bool) -> str:
    """The note naming the groups drawn without censoring marks."""
    which = "every group" if every else ", ".join(omitted)
    return (f"Censoring marks omitted for n > {MAX_CENSOR_MARKS:,} censored patients per "
            f"group ({which}).")


def km_ticks(longest: float) -> list[float]:
    """Every 12 months (6 if follow-up is at most 36 months) from 0 to just past
    ``longest``."""
    step = 12.0 if longest > 36 else 6.0
    return [float(t) for t in np.arange(0.0, step * np.ceil(longest / step) + step / 2, step)]


def truncation_time(fit: KaplanMeier, min_at_risk: int = MIN_AT_RISK) -> float:
    """Where the curve of ``fit`` stops: the first observed time after which fewer than
    ``min_at_risk`` patients remain at risk (the drop at that time is drawn, being
    estimated from at least ``min_at_risk`` patients unless the arm is smaller); the
    last observed time when that never happens or ``min_at_risk`` is 0."""
    remaining = fit.n_risk - fit.n_event - fit.n_censor
    below = np.flatnonzero(remaining < min_at_risk)
    return float(fit.time[below[0]] if len(below) else fit.time[-1])


def truncated(fit: KaplanMeier, min_at_risk: int = MIN_AT_RISK) -> KaplanMeier:
    """``fit`` without the rows after :func:`truncation_time` (what the figure draws)."""
    keep = fit.time <= truncation_time(fit, min_at_risk)
    return replace(fit, time=fit.time[keep], n_risk=fit.n_risk[keep],
                   n_event=fit.n_event[keep], n_censor=fit.n_censor[keep],
                   surv=fit.surv[keep], std_err=fit.std_err[keep], lower=fit.lower[keep],
                   upper=fit.upper[keep])


@dataclass(frozen=True)
class _KMLayout:
    """Sizes (inches) and wrapped texts of a Kaplan-Meier figure at one print width."""

    w: float
    left: float
    plot_w: float
    plot_h: float
    xlabel: str
    x_axis_h: float
    risk_h: float
    risk_names: dict[str, str]


def _km_layout(fits: dict[str, KaplanMeier], width_mm: float) -> _KMLayout:
    """Measure the margins from the texts they must hold; the plot takes the rest."""
    w = width_in(width_mm)
    risk_names = {g: group_label(g, short=True) for g in fits}
    name_w = max(text_size_in(n, KM_RISK_FS)[0] for n in risk_names.values())
    y_axis_w = (text_size_in("0.0", KM_TICK_FS)[0] + (3.5 + 3.5 + 4.0) / 72
                + text_size_in("Overall survival", KM_LABEL_FS)[1])
    left = PAD_IN + max(y_axis_w, name_w + 0.1)
    plot_w = w - left - 0.16
    xlabel = wrap_text("Months since diagnosis of liver metastases", plot_w, KM_LABEL_FS)
    return _KMLayout(
        w=w, left=left, plot_w=plot_w, plot_h=min(3.3, max(2.1, 0.55 * plot_w)),
        xlabel=xlabel,
        x_axis_h=(text_size_in("0", KM_TICK_FS)[1] + (3.5 + 3.5 + 4.0) / 72
                  + text_size_in(xlabel, KM_LABEL_FS)[1]),
        risk_h=KM_ROW_H * (len(fits) + 1), risk_names=risk_names)


def _draw_curves(ax: Axes, fits: dict[str, KaplanMeier], omitted: Sequence[str],
                 min_cell: int) -> list[Line2D]:
    """Each fit's band, step curve and censoring marks; returns the legend handles."""
    handles = []
    for i, (group, fit) in enumerate(fits.items()):
        color = group_color(group, i)
        t = np.concatenate([[0.0], fit.time])
        s = np.concatenate([[1.0], fit.surv])
        # the band is undefined once S(t) = 0; carry the last interval up to that time so
        # the step before it is drawn (fill_between drops any segment touching a NaN)
        last = np.maximum.accumulate(np.where(np.isnan(np.concatenate([[1.0], fit.lower])),
                                              0, np.arange(len(t))))
        lo = np.concatenate([[1.0], fit.lower])[last]
        hi = np.concatenate([[1.0], fit.upper])[last]
        ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.15, linewidth=0)
        (line,) = ax.step(t, s, where="post", color=color, linewidth=1.4,
                          label=group_label(group, fit.n, min_cell=min_cell))
        if group not in omitted:
            censored = fit.n_censor > 0
            ax.plot(fit.time[censored], fit.surv[censored], linestyle="none", marker="|",
                    markersize=6, markeredgewidth=1.0, color=color)
        handles.append(line)
    return handles


def _draw_at_risk(risk: Axes, fits: dict[str, KaplanMeier], ticks: Sequence[float],
                  lay: _KMLayout, min_cell: int) -> None:
    """The number-at-risk table: numbers centred on the x ticks, names just left of the
    axis, the heading flush left with the figure."""
    fig = risk.figure
    name_x = offset_copy(blended_transform_factory(risk.transAxes, risk.transData),
                         fig=fig, x=-0.1, units="inches")
    head_x = blended_transform_factory(fig.transFigure, risk.transData)
    risk.text(PAD_IN / lay.w, -1, "Number at risk", transform=head_x, ha="left",
              va="center", fontsize=KM_RISK_FS, fontweight="bold")
    for row, (group, fit) in enumerate(fits.items()):
        color = group_color(group, row)
        risk.text(0, row, lay.risk_names[group], transform=name_x, ha="right", va="center",
                  fontsize=KM_RISK_FS, color=color)
        for t, n in zip(ticks, fit.n_at_risk(ticks), strict=True):
            risk.text(t, row, str(privacy.mark(int(n), min_cell)), ha="center", va="center",
                      fontsize=KM_RISK_FS, color=color, gid=f"{AT_RISK_LABEL}:{group}")
    risk.set_ylim(len(fits) - 0.5, -1.5)
    risk.set_yticks([])
    risk.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in risk.spines.values():
        spine.set_visible(False)
    risk.patch.set_visible(False)


def km_figure(
    fits: dict[str, KaplanMeier],
    title: str | None = None,
    times: Sequence[float] | None = None,
    *,
    reconstructed: bool,
    min_cell: int = 0,
    min_at_risk: int = MIN_AT_RISK,
    width_mm: float = 180,
) -> Figure:
    """Kaplan-Meier curves with 95% bands, censoring marks and a number-at-risk table.

    One step curve per fit in the house colours; the shaded band is each fit's own
    pointwise interval (log-log by default in :func:`nethep.km.kaplan_meier`);
    ``|`` marks censored times. Each curve, band and its marks stop at
    :func:`truncation_time`: the first time fewer than ``min_at_risk`` (default
    :data:`MIN_AT_RISK`, 5; 0 draws the whole curve) patients remain at risk. Under
    the plot, a second axes sharing x (label :data:`AT_RISK_LABEL`) lists
    :meth:`KaplanMeier.n_at_risk` at each x tick (``times``; default :func:`km_ticks`,
    every 12 months to the last drawn time), one row per group, coloured by group.

    ``title`` is not drawn: it heads the caption (:func:`km_caption`). Laid out in
    inches for a print width of ``width_mm`` (85: single column, 180: double column):
    the legend flush left above the plot (as many columns as fit), the at-risk table
    and one grey line naming the data below it; the height follows from the content.

    A group with more than :data:`MAX_CENSOR_MARKS` censored patients gets no censoring
    marks (the caption says so). With ``min_cell`` > 1 (small-cell suppression) numbers
    at risk and legend n from 1 to ``min_cell`` - 1 read ``<min_cell``.
    """
    if not fits:
        raise ValueError("km_figure needs at least one Kaplan-Meier fit")
    drawn = {g: truncated(f, min_at_risk) for g, f in fits.items()}
    longest = max(float(f.time[-1]) for f in drawn.values())
    ticks = [float(t) for t in (times if times is not None else km_ticks(longest))]
    lay = _km_layout(fits, width_mm)
    w = lay.w
    notes, notes_h = notes_block([caption(reconstructed)], w)

    fig = plt.figure(figsize=(w, 6.0))  # height set once the legend is measured
    ax = fig.add_axes((0.1, 0.5, 0.8, 0.4))
    risk = fig.add_axes((0.1, 0.1, 0.8, 0.2), sharex=ax, label=AT_RISK_LABEL)
    handles = _draw_curves(ax, drawn, marks_omitted(fits), min_cell)
    legend, legend_h = place_legend(ax, handles, w - 2 * PAD_IN, handlelength=1.8,
                                    borderaxespad=0, borderpad=0, columnspacing=1.5)
    ax.set_xticks(ticks)
    ax.set_xlim(min(ticks[0], 0.0) - 0.02 * (ticks[-1] - ticks[0]),
                ticks[-1] + 0.02 * (ticks[-1] - ticks[0]))
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel(lay.xlabel)
    ax.set_ylabel("Overall survival")

    # ---- final height, then every position in inches from the top
    top = PAD_IN + legend_h + KM_GAP
    below_plot = lay.x_axis_h + 0.14
    height = top + lay.plot_h + below_plot + lay.risk_h + 0.1 + notes_h + PAD_IN
    fig.set_size_inches(w, height)
    ax.set_position((lay.left / w, 1 - (top + lay.plot_h) / height, lay.plot_w / w,
                     lay.plot_h / height))
    risk.set_position((lay.left / w,
                       1 - (top + lay.plot_h + below_plot + lay.risk_h) / height,
                       lay.plot_w / w, lay.risk_h / height))
    legend.set_bbox_to_anchor((PAD_IN / w, 1 - PAD_IN / height), transform=fig.transFigure)
    _draw_at_risk(risk, fits, ticks, lay, min_cell)
    draw_notes(fig, notes)
    return fig


def _months(t: float) -> str:
    return f"{t:.0f} months" if t >= 10 else f"{t:.1f} months"


def km_caption(fits: dict[str, KaplanMeier], title: str | None = None,
               times: Sequence[float] | None = None, *, reconstructed: bool,
               min_cell: int = 0, min_at_risk: int = MIN_AT_RISK) -> Caption:
    """The caption of :func:`km_figure` (same arguments): the estimator and its interval,
    the censoring marks, where and why each curve stops, and the numbers at risk."""
    first = next(iter(fits.values()))
    omitted = marks_omitted(fits)
    sentences = [
        "Kaplan-Meier estimates of overall survival from the diagnosis of liver "
        f"metastases; shaded bands: pointwise {100 * first.conf_level:.0f}% confidence "
        f"intervals ({first.conf_type} transformation, Greenwood variance).",
        "" if len(omitted) == len(fits) else "Tick marks: censored times.",
    ]
    if omitted:
        sentences.append(censor_marks_note([group_label(g, short=True) for g in omitted],
                                           len(omitted) == len(fits)))
    cut = {g: truncation_time(f, min_at_risk) for g, f in fits.items()
           if truncation_time(f, min_at_risk) < f.time[-1]} if min_at_risk > 0 else {}
    if cut:
        stops = join_and([f"{group_label(g, short=True).lower()} at {_months(t)}"
                          for g, t in cut.items()])
        sentences.append(
            f"A curve stops at the first time fewer than {min_at_risk} patients remain at "
            f"risk ({stops}), because estimates resting on fewer patients are unstable; "
            "the numbers at risk under the plot are counted at each tick.")
    else:
        sentences.append("Curves are drawn to the last observed time; numbers at risk "
                         "under the plot are counted at each tick.")
    return figure_caption(title or "Overall survival", sentences,
                          reconstructed=reconstructed, min_cell=min_cell)


def at_risk_table(fig: Figure) -> dict[str, list[int | str]]:
    """Read the number-at-risk rows back from a :func:`km_figure` (for tests and checks).

    Numbers come back as ``int``; a suppressed number (small-cell suppression) as the
    text it shows, e.g. ``"<5"``.
    """
    risk = next(a for a in fig.axes if a.get_label() == AT_RISK_LABEL)
    rows: dict[str, list[int | str]] = {}
    for text in risk.texts:
        gid = text.get_gid() or ""
        if gid.startswith(f"{AT_RISK_LABEL}:"):
            shown = text.get_text()
            rows.setdefault(gid.split(":", 1)[1], []).append(
                int(shown) if shown.isdigit() else shown)
    return rows

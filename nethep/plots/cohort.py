"""Cohort figures (notebooks 01 and 02): the patient flow and one variable by group.

Both are drawn from :mod:`nethep.describe` result objects and laid out in inches at
their print width (:mod:`nethep.plots.layout`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from nethep import privacy
from nethep.contract import GROUP_TITLES, TREATMENT_LABELS, TUMOR_LABELS
from nethep.describe import LOST_MARGIN_MONTHS
from nethep.formats import join_and, p_text
from nethep.plots.layout import (
    PAD_IN,
    draw_notes,
    fit_group_axes,
    group_axes,
    notes_block,
    text_size_in,
    width_in,
    wrap_text,
)
from nethep.plots.style import (
    NOTE_COLOR,
    Caption,
    caption,
    figure_caption,
    group_color,
    group_label,
)

if TYPE_CHECKING:
    from nethep.describe import GroupedValues, PatientFlow

# ---- patient flow: type sizes (pt) and gaps (inches)
FLOW_FS, FLOW_SUB_FS, FLOW_GROUP_FS = 8, 7.5, 8.5
FLOW_GAP_Y = 0.32  # vertical room for the connecting arrows
FLOW_STACK_GAP = 0.08  # between stacked treatment boxes (narrow layout)
FLOW_INDENT = 0.14  # of stacked treatment boxes under their group (narrow layout)
FLOW_WIDE_MM = 130  # from this width the treatments stand in one row
BOX_PAD = 0.07  # inches between a flow box's text and its edge


def _flow_box(ax: Axes, x: float, y: float, w: float, h: float, text: str, edge: str,
              face: str | tuple[float, ...] = "white", fontsize: float = 8,
              weight: str = "normal") -> None:
    """A rounded box centred on (x, y) in data coordinates (inches), with centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0,rounding_size=0.06",
                                linewidth=1.0, edgecolor=edge, facecolor=face))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, fontweight=weight,
            gid="flow_box", linespacing=1.15)


def _flow_arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float],
                head: bool = True) -> None:
    ax.annotate("", xy=end, xytext=start, xycoords="data", textcoords="data",
                arrowprops={"arrowstyle": "-|>" if head else "-", "color": "#444444",
                            "linewidth": 0.9, "shrinkA": 0, "shrinkB": 0,
                            "mutation_scale": 8})


def _split(ax: Axes, x0: float, y0: float, targets: list[float], y_bar: float,
           y_top: float) -> None:
    """Line down from (x0, y0) to a bar at ``y_bar``, then an arrow down to each target."""
    _flow_arrow(ax, (x0, y0), (x0, y_bar), head=False)
    if len(targets) > 1 or targets[0] != x0:
        xs = [*targets, x0]
        _flow_arrow(ax, (min(xs), y_bar), (max(xs), y_bar), head=False)
    for x in targets:
        _flow_arrow(ax, (x, y_bar), (x, y_top))


def _boxed(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
    """Width and height (inches) of a flow box that holds ``text``."""
    tw, th = text_size_in(text, fontsize, weight)
    return tw + 2 * BOX_PAD, th + 2 * BOX_PAD


@dataclass(frozen=True)
class _FlowLayout:
    """The flow diagram's box texts and sizes (inches) at one print width."""

    w: float
    wide: bool
    groups: list[str]
    treatments: list[str]
    members: dict[str, list[str]]
    top_text: str
    tumour_texts: list[str]
    group_texts: dict[str, str]
    sub_texts: dict[str, str]
    col_w: float  # narrow layout: the width of a group's column
    sub_w: float
    top_size: tuple[float, float]
    tumour_size: tuple[float, float]
    group_h: float
    sub_hs: dict[str, float]
    row1_h: float
    row3_h: float
    gap_y3: float
    label_h: float
    tumour_stack: float
    intake_text: str
    excluded_text: str
    intake_size: tuple[float, float]
    excluded_size: tuple[float, float]
    outcome_texts: dict[str, str]
    outcome_h: float
    outcome_w: float

    @property
    def row0_h(self) -> float:
        """Height of the intake row: the rows-read box and, under it, the gap that holds
        the excluded box beside the arrow down."""
        return self.intake_size[1] + max(FLOW_GAP_Y, self.excluded_size[1] + 0.12)


def _flow_layout(flow: PatientFlow, width_mm: float, min_cell: int) -> _FlowLayout:
    """Wrap every box text to the room it gets and measure the boxes and rows."""
    def mark(n: int) -> int | str:
        return privacy.mark(n, min_cell)

    w = width_in(width_mm)
    wide = width_mm >= FLOW_WIDE_MM
    groups = list(flow.by_group)
    treatments = list(flow.by_treatment)
    members = {g: [t for t in treatments if flow.group_of.get(t) == g] for g in groups}
    inner = w - 2 * PAD_IN
    years = "" if flow.first_year is None else f", diagnosed {flow.first_year}-{flow.last_year}"
    top_text = (wrap_text(f"Patients with liver-only neuroendocrine metastases identified"
                          f"{years}", min(2.6, 0.58 * inner) - 2 * BOX_PAD, FLOW_FS, "bold",
                          balanced=True) + f"\nn = {mark(flow.n_identified)}")
    tumour_texts = [f"{TUMOR_LABELS.get(t, t)}: n = {mark(n)}"
                    for t, n in flow.by_tumor_type.items()]
    group_texts = {g: f"{GROUP_TITLES.get(g, g)}\nn = {mark(flow.by_group[g])}" for g in groups}
    if wide:
        col_w = 0.0
        sub_w = inner / max(len(treatments), 1) - 0.08
    else:
        col_w = (inner - 2 * 0.08) / max(len(groups), 1)
        sub_w = col_w - FLOW_INDENT
    sub_texts = {t: wrap_text(TREATMENT_LABELS.get(t, t), sub_w - 0.1, FLOW_SUB_FS)
                 + f"\nn = {mark(flow.by_treatment[t])}" for t in treatments}

    tumour_sizes = [_boxed(t, FLOW_FS) for t in tumour_texts]
    tumour_w = max((s[0] for s in tumour_sizes), default=0.0)
    tumour_h = max((s[1] for s in tumour_sizes), default=0.0)
    sub_hs = {t: _boxed(sub_texts[t], FLOW_SUB_FS)[1] for t in treatments}
    if wide:
        row3_h = max(sub_hs.values(), default=0.0)
    else:
        row3_h = max((sum(sub_hs[t] for t in members[g])
                      + FLOW_STACK_GAP * (len(members[g]) - 1)
                      for g in groups if members[g]), default=0.0)
    label_h = text_size_in("By tumour type", FLOW_SUB_FS)[1]
    n_tumour = len(tumour_texts)
    tumour_stack = n_tumour * tumour_h + 0.06 * max(n_tumour - 1, 0)
    top_size = _boxed(top_text, FLOW_FS, "bold")
    intake_text = f"Rows read from the file\nn = {mark(flow.n_rows_read)}"
    reasons = "; ".join(f"{reason}: {mark(n)}" for reason, n in flow.excluded)
    excluded_text = wrap_text(f"Excluded before analysis\nn = {mark(flow.n_excluded)}"
                              + (f" ({reasons})" if reasons else ""),
                              min(2.4, 0.45 * inner) - 2 * BOX_PAD, FLOW_SUB_FS)
    slot = inner / max(len(treatments), 1)
    out_w = (min(2 * slot - 0.15, 2.2) if wide else col_w) - 2 * BOX_PAD
    outcome_texts = {
        g: "\n".join(wrap_text(line, out_w, FLOW_SUB_FS) for line in (
            f"Died: {mark(o.died)}", f"Alive at last contact: {mark(o.alive)}",
            f"of whom lost to follow-up: {mark(o.lost)}"))
        for g, o in flow.outcome.items()}
    return _FlowLayout(
        w=w, wide=wide, groups=groups, treatments=treatments, members=members,
        top_text=top_text, tumour_texts=tumour_texts, group_texts=group_texts,
        sub_texts=sub_texts, col_w=col_w, sub_w=sub_w, top_size=top_size,
        tumour_size=(tumour_w, tumour_h),
        group_h=max(_boxed(t, FLOW_GROUP_FS, "bold")[1] for t in group_texts.values()),
        sub_hs=sub_hs, row1_h=max(top_size[1], tumour_stack + label_h + 0.04),
        row3_h=row3_h,
        gap_y3=FLOW_GAP_Y if wide else 0.12,  # stacked treatments hang off a spine, no bar
        label_h=label_h, tumour_stack=tumour_stack,
        intake_text=intake_text, excluded_text=excluded_text,
        intake_size=_boxed(intake_text, FLOW_FS), excluded_size=_boxed(excluded_text, FLOW_SUB_FS),
        outcome_texts=outcome_texts,
        outcome_h=max((_boxed(t, FLOW_SUB_FS)[1] for t in outcome_texts.values()),
                      default=0.0),
        outcome_w=max((_boxed(t, FLOW_SUB_FS)[0] for t in outcome_texts.values()),
                      default=0.0))


def _draw_identified(ax: Axes, lay: _FlowLayout, row1_top: float) -> tuple[float, float]:
    """Row 1: the patients identified, the tumour types to its right; returns the
    centre of the identified box."""
    w = lay.w
    top_w, top_h = lay.top_size
    tumour_w, tumour_h = lay.tumour_size
    top_y = row1_top - lay.row1_h / 2
    top_x = w / 2 if lay.wide else PAD_IN + top_w / 2
    _flow_box(ax, top_x, top_y, top_w, top_h, lay.top_text, edge="#000000", face="#F2F2F2",
              weight="bold")
    n_tumour = len(lay.tumour_texts)
    if not n_tumour:
        return top_x, top_y
    tumour_x = w - PAD_IN - tumour_w / 2 if not lay.wide else min(
        w - PAD_IN - tumour_w / 2, top_x + top_w / 2 + 0.45 + tumour_w / 2)
    stack_top = top_y + (lay.tumour_stack - lay.label_h - 0.04) / 2 + lay.label_h / 2 + 0.02
    stack_top = min(stack_top, row1_top - lay.label_h - 0.04)
    tumour_ys = [stack_top - tumour_h / 2 - i * (tumour_h + 0.06) for i in range(n_tumour)]
    bracket_x = (top_x + top_w / 2 + tumour_x - tumour_w / 2) / 2
    _flow_arrow(ax, (top_x + top_w / 2, top_y), (bracket_x, top_y), head=False)
    if n_tumour > 1:
        _flow_arrow(ax, (bracket_x, min(tumour_ys)), (bracket_x, max(tumour_ys)), head=False)
    for y, text in zip(tumour_ys, lay.tumour_texts, strict=True):
        if n_tumour == 1:
            _flow_arrow(ax, (bracket_x, top_y), (bracket_x, y), head=False)
        _flow_arrow(ax, (bracket_x, y), (tumour_x - tumour_w / 2, y))
        _flow_box(ax, tumour_x, y, tumour_w, tumour_h, text, edge="#777777")
    ax.text(tumour_x, stack_top + 0.04, "By tumour type", ha="center", va="bottom",
            fontsize=FLOW_SUB_FS, color=NOTE_COLOR)
    return top_x, top_y


def _draw_groups(ax: Axes, lay: _FlowLayout, row1_top: float,
                 top: tuple[float, float]) -> None:
    """Row 2: the treatment groups; row 3: each group's treatments (one row when wide,
    else stacked in the group's column)."""
    groups, members = lay.groups, lay.members
    top_x, top_y = top
    inner = lay.w - 2 * PAD_IN
    group_h = lay.group_h
    group_y = row1_top - lay.row1_h - FLOW_GAP_Y - group_h / 2
    row3_top = group_y - group_h / 2 - lay.gap_y3
    if lay.wide:
        slot = inner / max(len(lay.treatments), 1)
        sub_x = {t: PAD_IN + (i + 0.5) * slot for i, t in enumerate(lay.treatments)}
        group_x = {g: float(np.mean([sub_x[t] for t in members[g]])) if members[g]
                   else PAD_IN + (i + 0.5) * inner / len(groups) for i, g in enumerate(groups)}
        group_w = {g: max(lay.sub_w * 1.15, (len(members[g]) - 0.35) * slot,
                          _boxed(lay.group_texts[g], FLOW_GROUP_FS, "bold")[0])
                   for g in groups}
    else:
        col_left = {g: PAD_IN + i * (lay.col_w + 0.08) for i, g in enumerate(groups)}
        group_x = {g: col_left[g] + lay.col_w / 2 for g in groups}
        group_w = dict.fromkeys(groups, lay.col_w)
    _split(ax, top_x, top_y - lay.top_size[1] / 2, [group_x[g] for g in groups],
           row1_top - lay.row1_h - FLOW_GAP_Y / 2, group_y + group_h / 2)
    for i, g in enumerate(groups):
        color = group_color(g, i)
        _flow_box(ax, group_x[g], group_y, group_w[g], group_h, lay.group_texts[g],
                  edge=color, face=to_rgba(color, 0.22), fontsize=FLOW_GROUP_FS,
                  weight="bold")
        if not members[g]:
            continue
        if lay.wide:
            _split(ax, group_x[g], group_y - group_h / 2, [sub_x[t] for t in members[g]],
                   row3_top + FLOW_GAP_Y * 0.5, row3_top)
            for t in members[g]:
                _flow_box(ax, sub_x[t], row3_top - lay.row3_h / 2, lay.sub_w, lay.row3_h,
                          lay.sub_texts[t], edge=color, fontsize=FLOW_SUB_FS)
        else:
            _draw_stack(ax, lay, g, col_left[g], (group_y - group_h / 2, row3_top), color)
    starts = {}
    for g in groups:
        height = (lay.row3_h if lay.wide else sum(lay.sub_hs[t] for t in members[g])
                  + FLOW_STACK_GAP * (len(members[g]) - 1))
        starts[g] = row3_top - height if members[g] else group_y - group_h / 2
    _draw_outcomes(ax, lay, group_x, starts, row3_top - lay.row3_h - FLOW_GAP_Y * 0.7,
                   lay.outcome_w if lay.wide else lay.col_w)


def _draw_stack(ax: Axes, lay: _FlowLayout, group: str, left: float,
                span: tuple[float, float], color: str) -> None:
    """A group's treatments stacked in its column, hanging off a spine from
    ``span[0]`` (the group box's bottom), the first box's top at ``span[1]``."""
    spine_x = left + FLOW_INDENT / 2
    y = span[1]
    mids = []
    for t in lay.members[group]:
        mids.append(y - lay.sub_hs[t] / 2)
        _flow_box(ax, left + FLOW_INDENT + lay.sub_w / 2, mids[-1], lay.sub_w, lay.sub_hs[t],
                  lay.sub_texts[t], edge=color, fontsize=FLOW_SUB_FS)
        y -= lay.sub_hs[t] + FLOW_STACK_GAP
    _flow_arrow(ax, (spine_x, span[0]), (spine_x, mids[-1]), head=False)
    for mid in mids:
        _flow_arrow(ax, (spine_x, mid), (left + FLOW_INDENT, mid))


def _draw_intake(ax: Axes, lay: _FlowLayout, row0_top: float, top_x: float,
                 next_top: float) -> None:
    """Row 0: the rows read, an arrow down to the patients identified and, to its
    right, the rows excluded before analysis."""
    (iw, ih), (ew, eh) = lay.intake_size, lay.excluded_size
    y = row0_top - ih / 2
    _flow_box(ax, top_x, y, iw, ih, lay.intake_text, edge="#000000")
    _flow_arrow(ax, (top_x, y - ih / 2), (top_x, next_top))
    mid = (y - ih / 2 + next_top) / 2
    ex_x = min(lay.w - PAD_IN - ew / 2, top_x + iw / 2 + 0.3 + ew / 2)
    _flow_arrow(ax, (top_x, mid), (ex_x - ew / 2, mid))
    _flow_box(ax, ex_x, mid, ew, eh, lay.excluded_text, edge="#777777",
              fontsize=FLOW_SUB_FS)


def _draw_outcomes(ax: Axes, lay: _FlowLayout, xs: dict[str, float], starts: dict[str, float],
                   row4_top: float, width: float) -> None:
    """Row 4: each group's deaths, patients alive at last contact and losses to
    follow-up, under the group's treatments (arrows from ``starts``)."""
    for i, g in enumerate(lay.groups):
        if g not in lay.outcome_texts:
            continue
        _flow_arrow(ax, (xs[g], starts[g]), (xs[g], row4_top))
        _flow_box(ax, xs[g], row4_top - lay.outcome_h / 2, width, lay.outcome_h,
                  lay.outcome_texts[g], edge=group_color(g, i), fontsize=FLOW_SUB_FS)


def patient_flow_figure(flow: PatientFlow, *, reconstructed: bool, min_cell: int = 0,
                        width_mm: float = 180) -> Figure:
    """Flow diagram from a :class:`nethep.describe.PatientFlow`.

    One box for the patients identified (with the accrual years), the tumour types
    beside it, then the three treatment groups in the house colours and each group's
    treatments beneath. Groups or treatments without patients keep their box, with
    n = 0; counts from 1 to ``min_cell`` - 1 read ``<min_cell``. Drawn in inches at
    ``width_mm``: from 130 mm wide the treatments stand in one row under their groups;
    narrower (single column, 85 mm) each group is a column with its treatments stacked
    under it. Box sizes follow from the text they hold.
    """
    lay = _flow_layout(flow, width_mm, min_cell)
    w = lay.w
    notes, notes_h = notes_block([caption(reconstructed)], w)
    row4_h = FLOW_GAP_Y * 0.7 + lay.outcome_h if lay.outcome_texts else 0.0
    height = (PAD_IN + lay.row0_h + lay.row1_h + FLOW_GAP_Y + lay.group_h
              + lay.gap_y3 + lay.row3_h + row4_h + 0.12 + notes_h + PAD_IN)
    fig = plt.figure(figsize=(w, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, w)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    row1_top = height - PAD_IN - lay.row0_h
    top = _draw_identified(ax, lay, row1_top)
    _draw_intake(ax, lay, height - PAD_IN, top[0], top[1] + lay.top_size[1] / 2)
    _draw_groups(ax, lay, row1_top, top)
    draw_notes(fig, notes)
    return fig


def values_by_group_figure(
    grouped: GroupedValues,
    p: float | None = None,
    test: str = "Kruskal-Wallis",
    ylabel: str | None = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    *,
    reconstructed: bool,
    min_cell: int = 0,
    width_mm: float = 180,
) -> Figure:
    """Box plot of one variable by treatment group: a distribution summary, no
    individual patient's value.

    Made from a :class:`nethep.describe.GroupedValues`; the line above the plot gives
    ``test`` and its ``p`` (:func:`nethep.formats.p_text`). Boxes: median and quartiles;
    whiskers: 10th and 90th percentiles (numpy linear quantiles, R type 7); no points
    and no outlier marks, so no single patient's value is drawn (issue 13: a
    clinician's own export must not leak individual values). A group without values
    keeps its place, marked "no patients"; with ``min_cell`` > 1 a group whose n is
    from 1 to ``min_cell`` - 1 is not drawn (its quantiles would describe a few
    patients) and is marked so. ``title`` is not drawn: it heads the caption
    (:func:`values_by_group_caption`). Laid out at ``width_mm`` (85 or 180).
    """
    groups = list(grouped.values)
    sizes = {g: len(grouped.values[g]) for g in groups}
    labels = [f"{group_label(g, short=True)}\n(n = {privacy.mark(sizes[g], min_cell)})"
              for g in groups]
    n_groups = sum(len(v) > 0 for v in grouped.values.values())
    note = (f"{test} {p_text(p)} ({n_groups} groups)" if p is not None
            else "No test across groups")
    fig, ax, layout = group_axes(width_mm, note, ylabel or grouped.label, labels,
                                 [caption(reconstructed)])
    for x, g in enumerate(groups):
        _draw_group_box(ax, x, g, np.asarray(grouped.values[g], dtype=float),
                        hidden=privacy.is_small(sizes[g], min_cell))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(labels)
    for x, tick in enumerate(ax.get_xticklabels()):
        tick.set_color(group_color(groups[x], x))
    ax.set_xlim(-0.6, len(groups) - 0.4)
    if ylim is not None:
        ax.set_ylim(*ylim)
    fit_group_axes(fig, ax, layout)
    return fig


#: Whiskers of :func:`values_by_group_figure`: these percentiles, not the extreme values.
WHISKER_PERCENTILES = (10, 90)


def values_by_group_caption(grouped: GroupedValues, p: float | None = None,
                            test: str = "Kruskal-Wallis", ylabel: str | None = None,
                            title: str | None = None,
                            ylim: tuple[float, float] | None = None, *,
                            reconstructed: bool, min_cell: int = 0) -> Caption:
    """The caption of :func:`values_by_group_figure` (same arguments)."""
    lo, hi = WHISKER_PERCENTILES
    sentences = [
        f"Boxes: median and interquartile range; whiskers: {lo}th and {hi}th percentiles. "
        "Individual patients' values are not shown.",
        f"{test} test across the groups with values: {p_text(p)}." if p is not None
        else "No test across groups.",
    ]
    small = [group_label(g, short=True) for g, v in grouped.values.items()
             if privacy.is_small(len(v), min_cell)]
    if small:
        sentences.append(f"Not drawn: groups with fewer than {min_cell} patients "
                         f"({join_and(small)}).")
    return figure_caption(title or f"{grouped.label} by treatment group", sentences,
                          reconstructed=reconstructed, min_cell=min_cell)


def _draw_group_box(ax: Axes, x: int, group: str, values: np.ndarray, hidden: bool) -> None:
    """One group's box at ``x`` (median, quartiles, 10th-90th percentile whiskers), or a
    word saying why there is none."""
    color = group_color(group, x)
    if len(values) == 0 or hidden:
        word = "no patients" if len(values) == 0 else "too few\nto show"
        ax.text(x, 0.5, word, transform=ax.get_xaxis_transform(),
                ha="center", va="center", fontsize=8, color=NOTE_COLOR)
        return
    # the whiskers end at the percentiles themselves (matplotlib's own whis=(10, 90)
    # would end them at the most extreme patient inside, an individual value)
    q10, q1, med, q3, q90 = np.percentile(values, [*WHISKER_PERCENTILES[:1], 25, 50, 75,
                                                   *WHISKER_PERCENTILES[1:]])
    stats = {"whislo": q10, "q1": q1, "med": med, "q3": q3, "whishi": q90, "fliers": []}
    ax.bxp([stats], positions=[x], widths=0.5, showfliers=False, patch_artist=True,
           zorder=1,
           boxprops={"facecolor": to_rgba(color, 0.18), "edgecolor": color, "linewidth": 1.2},
           medianprops={"color": color, "linewidth": 2.0},
           whiskerprops={"color": color, "linewidth": 1.0},
           capprops={"color": color, "linewidth": 1.0})


def patient_flow_caption(flow: PatientFlow, *, reconstructed: bool,
                         min_cell: int = 0) -> Caption:
    """The caption of :func:`patient_flow_figure`: what each row counts, and how loss to
    follow-up is defined (:func:`nethep.describe.lost_to_followup`)."""
    closure = ("" if flow.closure is None
               else f", here {int(flow.closure)}")
    sentences = [
        "Rows read from the file and rows excluded before analysis (the intake refuses a "
        "file with an invalid row rather than drop the patient, so only empty rows are "
        "left out); patients identified, by tumour type, treatment group and treatment; "
        "and per group the deaths and the patients alive at last contact (censored).",
        "Lost to follow-up: alive at last contact more than "
        f"{LOST_MARGIN_MONTHS:.0f} months before the data closure (the latest last contact "
        f"in the cohort{closure}); only the year of diagnosis is known, so each date is "
        "taken at mid-year and the margin covers that uncertainty.",
    ]
    return figure_caption("Patient flow", sentences, reconstructed=reconstructed,
                          min_cell=min_cell)

"""Figures from result objects, in one house style.

:func:`set_style` is the one place the style is set; every figure uses the
colour-blind-safe Okabe-Ito palette with a fixed colour per group
(:data:`GROUP_COLORS`). Every figure function takes ``width_mm`` (default 180)
and lays itself out in inches at that print width, with type no smaller than
7 pt; :func:`export_figure` draws it at single-column (85 mm) and double-column
(180 mm) width and writes PNG (300 dpi), PDF and SVG at true size with no
timestamps, so a rerun gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from nethep import privacy

# Okabe & Ito (2008) colour-blind-safe palette; one fixed colour per group.
GROUP_COLORS = {
    "medical": "#E69F00",  # orange
    "embolization": "#56B4E9",  # sky blue
    "surgical": "#009E73",  # bluish green
    "nonsurgical": "#CC79A7",  # reddish purple
    "all": "#000000",
}
GROUP_LABELS = {
    "medical": "Medical",
    "embolization": "Embolization",
    "surgical": "Surgical",
    "nonsurgical": "Non-surgical (medical + embolization)",
    "all": "All patients",
}
RECONSTRUCTED_NOTE = "Reconstructed cohort (from published aggregates), not the original records."
FORMATS = ("png", "pdf", "svg")
_METADATA: dict[str, dict[str, Any]] = {  # no timestamps or versions: same bytes on rerun
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    "svg": {"Date": None, "Creator": None},
}


def set_style() -> None:
    """Apply the house style (fonts >= 7 pt at print size, no top/right spines)."""
    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 300,
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "nethep",
        "svg.fonttype": "none",
        "pdf.fonttype": 42,
    })


def caption(reconstructed: bool) -> str:
    """The note every figure carries about the data it shows."""
    return RECONSTRUCTED_NOTE if reconstructed else "Data: user-supplied cohort."


#: Per-patient marks are drawn only up to these sizes; beyond them a figure draws a
#: summary and its note says what it left out (registry-sized files stay readable).
MAX_CENSOR_MARKS = 2000  # censored patients per group with a tick on a survival curve
MAX_POINTS = 2000  # patients per group drawn as points in a strip plot


def suppression_notes(min_cell: int) -> list[str]:
    """The figure note about small-cell suppression below ``min_cell`` ([] when it is off)."""
    note = privacy.note(min_cell)
    return [f"Small-cell suppression: {note}."] if note else []


def _censor_marks_note(omitted: Sequence[str], every: bool) -> str:
    which = "every group" if every else ", ".join(omitted)
    return (f"Censoring marks omitted for n > {MAX_CENSOR_MARKS:,} censored patients per "
            f"group ({which}).")


JOURNAL_WIDTHS_MM = (85, 180)  # single and double column
MM_PER_INCH = 25.4


def export_figure(name: str, output_dir: str | Path, make: Callable[..., Figure],
                  *args: Any, **kwargs: Any) -> Figure:
    """Draw ``make(*args, width_mm=w, **kwargs)`` at each journal width and save it.

    Writes ``<output_dir>/figures/<name>_{85,180}mm.{png,pdf,svg}`` at true size
    (no tight-bbox cropping, so the page is exactly ``w`` mm wide) and returns the
    double-column figure for display; the single-column one is closed.
    """
    folder = Path(output_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    shown = None
    for width in JOURNAL_WIDTHS_MM:
        fig = make(*args, width_mm=width, **kwargs)
        # dpi and the SVG id salt are fixed here, not left to rcParams: the files are
        # 300 dpi and byte-identical on rerun even if set_style() was not called
        with mpl.rc_context({"svg.hashsalt": "nethep", "svg.fonttype": "none",
                             "pdf.fonttype": 42}):
            for fmt in FORMATS:
                fig.savefig(folder / f"{name}_{width}mm.{fmt}", format=fmt,
                            metadata=_METADATA[fmt], dpi=EXPORT_DPI)
        if width == max(JOURNAL_WIDTHS_MM):
            shown = fig
        else:
            plt.close(fig)
    return shown


# ---- layout helpers: every figure is laid out in inches, at its print width
EXPORT_DPI = 300
MIN_FONT_PT = 7  # smallest type at print size
NOTE_FONT_PT = 7
NOTE_COLOR = "#555555"
PAD_IN = 0.06  # white margin at the figure edge


def width_in(width_mm: float) -> float:
    """Figure width in inches for a print width in millimetres."""
    return float(width_mm) / MM_PER_INCH


def _measure_figure(dpi: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


_MEASURE: dict[float, Figure] = {}
#: Text is measured at screen (100 dpi) and export (300 dpi) resolution and the larger
#: size is used: glyph hinting makes the same string up to ~5% wider on screen.
_MEASURE_DPI = (100.0, 300.0)


def text_size_in(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
    """Width and height in inches of ``text`` (may hold newlines) at ``fontsize`` points."""
    width = height = 0.0
    for dpi in _MEASURE_DPI:
        fig = _MEASURE.get(dpi) or _MEASURE.setdefault(dpi, _measure_figure(dpi))
        artist = fig.text(0, 0, text, fontsize=fontsize, fontweight=weight)
        box = artist.get_window_extent(fig.canvas.get_renderer())
        artist.remove()
        width, height = max(width, box.width / dpi), max(height, box.height / dpi)
    return width, height


def wrap_text(text: str, max_width_in: float, fontsize: float, weight: str = "normal",
              balanced: bool = False) -> str:
    """Break ``text`` at spaces so that no line is wider than ``max_width_in`` inches.

    Existing newlines are kept; a single word wider than the limit stays whole.
    ``balanced``: use the narrowest width that needs no more lines (no orphan word).
    """
    wrapped = _greedy_wrap(text, max_width_in, fontsize, weight)
    if not balanced or wrapped.count("\n") == text.count("\n"):
        return wrapped
    lo, hi = 0.0, max_width_in
    for _ in range(12):
        mid = (lo + hi) / 2
        if _greedy_wrap(text, mid, fontsize, weight).count("\n") > wrapped.count("\n"):
            lo = mid
        else:
            hi = mid
    return _greedy_wrap(text, hi, fontsize, weight)


def _greedy_wrap(text: str, max_width_in: float, fontsize: float, weight: str) -> str:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = word if not line else f"{line} {word}"
            if line and text_size_in(candidate, fontsize, weight)[0] > max_width_in:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def notes_block(notes: Sequence[str], width_in_: float) -> tuple[list[str], float]:
    """Wrap figure notes to the figure width; return them and their height in inches."""
    wrapped = [wrap_text(n, width_in_ - 2 * PAD_IN, NOTE_FONT_PT) for n in notes]
    height = sum(text_size_in(n, NOTE_FONT_PT)[1] for n in wrapped)
    return wrapped, height + 0.03 * max(len(wrapped) - 1, 0)


def draw_notes(fig: Figure, wrapped: Sequence[str], bottom_in: float = PAD_IN) -> None:
    """Stack the wrapped notes from ``bottom_in`` up, last note lowest, flush left."""
    w, h = fig.get_size_inches()
    y = bottom_in
    for note in reversed(wrapped):
        fig.text(PAD_IN / w, y / h, note, fontsize=NOTE_FONT_PT, color=NOTE_COLOR,
                 ha="left", va="bottom", linespacing=1.2)
        y += text_size_in(note, NOTE_FONT_PT)[1] + 0.03


def _renderer(fig: Figure):
    canvas = fig.canvas
    if hasattr(canvas, "get_renderer"):
        return canvas.get_renderer()
    return fig._get_renderer()  # pragma: no cover - non-Agg canvases


def _place_legend(ax, handles: list, width_avail_in: float, **kwargs: Any):
    """A legend in one row if it fits in ``width_avail_in`` inches, else one column.

    (Two columns of three entries would read out of order.) Returns the legend and
    its height in inches; the caller anchors it.
    """
    fig = ax.figure
    for ncol in sorted({len(handles), 1}, reverse=True):
        legend = ax.legend(handles=handles, ncol=ncol, loc="upper left", **kwargs)
        box = legend.get_window_extent(_renderer(fig))
        if box.width / fig.dpi <= width_avail_in or ncol == 1:
            return legend, box.height / fig.dpi
        legend.remove()
    raise ValueError("a legend needs at least one entry")  # pragma: no cover


@dataclass(frozen=True)
class _Layout:
    """Vertical sizes (inches) of a :func:`_labelled_axes` figure, for the final fit."""

    title: str
    title_fs: float
    sub_h: float
    plot_h: float


def _labelled_axes(width_mm: float, title: str, subtitle: str, ylabel: str,
                   tick_labels: Sequence[str], notes: Sequence[str],
                   plot_h: float | None = None) -> tuple[Figure, Any, _Layout]:
    """Figure and axes for a plot by group: title and subtitle flush left above it,
    multi-line x tick labels and the notes below, all sized at ``width_mm``.

    Call :func:`_fit_labelled_axes` once the axes are drawn: it measures the y tick
    labels and sets the left margin.
    """
    w = width_in(width_mm)
    title_fs, sub_fs, label_fs, tick_fs = 10, 8, 9, 8
    wrapped_title = wrap_text(title, w - 2 * PAD_IN, title_fs)
    wrapped_sub = wrap_text(subtitle, w - 2 * PAD_IN, sub_fs)
    title_h = text_size_in(wrapped_title, title_fs)[1]
    sub_h = text_size_in(wrapped_sub, sub_fs)[1]
    top = PAD_IN + title_h + 0.04 + sub_h + 0.14
    if plot_h is None:
        plot_h = min(2.8, max(2.0, 0.45 * w))
    tick_h = max(text_size_in(t, tick_fs)[1] for t in tick_labels) if tick_labels else 0.15
    wrapped_notes, notes_h = notes_block(notes, w)
    bottom = PAD_IN + notes_h + 0.12 + tick_h + 7.0 / 72
    height = top + plot_h + bottom
    fig = plt.figure(figsize=(w, height))
    ax = fig.add_axes((0.15, bottom / height, 0.8, plot_h / height))
    ax.set_ylabel(wrap_text(ylabel, plot_h, label_fs, balanced=True), fontsize=label_fs)
    ax.set_xticks(range(len(tick_labels)))
    ax.set_xticklabels(tick_labels, fontsize=tick_fs)
    ax.text(0, 1, wrapped_sub, transform=ax.transAxes, ha="left", va="bottom",
            fontsize=sub_fs, gid="subtitle")
    draw_notes(fig, wrapped_notes)
    return fig, ax, _Layout(wrapped_title, title_fs, sub_h, plot_h)


def _fit_labelled_axes(fig: Figure, ax, layout: _Layout) -> None:
    """Set the left margin from the drawn y tick labels and y label; place the titles."""
    w, _ = fig.get_size_inches()
    renderer = _renderer(fig)
    tick_w = max((t.get_window_extent(renderer).width / fig.dpi
                  for t in ax.get_yticklabels() if t.get_text()), default=0.0)
    label_w = ax.yaxis.label.get_window_extent(renderer).width / fig.dpi
    left = PAD_IN + label_w + (4.0 + 3.5 + 3.5) / 72 + tick_w
    plot_w = w - left - 0.12
    pos = ax.get_position()
    ax.set_position((left / w, pos.y0, plot_w / w, pos.height))
    x = (PAD_IN - left) / plot_w  # flush left with the figure margin
    ax.set_title(layout.title, loc="left", fontsize=layout.title_fs, pad=0, va="bottom",
                 x=x, y=1 + (0.14 + layout.sub_h + 0.04) / layout.plot_h)
    for text in ax.texts:
        if text.get_gid() == "subtitle":
            text.set_position((x, 1 + 0.14 / layout.plot_h))


# ---- survival and palliation figures (03, 04)
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from nethep.palliation import PalliationResult
    from nethep.survival import KaplanMeier

#: ``Axes.get_label()`` of the number-at-risk table under a Kaplan-Meier plot.
AT_RISK_LABEL = "at_risk"
_FALLBACK_COLORS = ("#0072B2", "#D55E00", "#F0E442", "#999999")


def group_color(group: str, position: int = 0) -> str:
    """The house colour of a group; unknown groups take the unused Okabe-Ito colours."""
    return GROUP_COLORS.get(group, _FALLBACK_COLORS[position % len(_FALLBACK_COLORS)])


def group_label(group: str, n: int | None = None, short: bool = False,
                min_cell: int = 0) -> str:
    """Display label of a group, e.g. ``Surgical (n = 13)``; ``short`` drops any gloss;
    an n from 1 to ``min_cell`` - 1 reads ``<min_cell``."""
    label = GROUP_LABELS.get(group, group.replace("_", " ").capitalize())
    if "(" in label:  # "Non-surgical (medical + embolization)"
        head, gloss = label.split(" (", 1)
        label = head if short else f"{head}, {gloss.rstrip(')')}"
    return label if n is None else f"{label} (n = {privacy.mark(n, min_cell)})"


def _km_ticks(fits: dict[str, KaplanMeier]) -> list[float]:
    """Every 12 months (6 if follow-up is short) from 0 to just past the longest time."""
    import numpy as np

    longest = max(float(f.time[-1]) for f in fits.values())
    step = 12.0 if longest > 36 else 6.0
    return [float(t) for t in np.arange(0.0, step * np.ceil(longest / step) + step / 2, step)]


def km_figure(
    fits: dict[str, KaplanMeier],
    title: str,
    times: Sequence[float] | None = None,
    *,
    reconstructed: bool,
    min_cell: int = 0,
    width_mm: float = 180,
) -> Figure:
    """Kaplan-Meier curves with 95% bands, censoring marks and a number-at-risk table.

    One step curve per fit in the house colours; the shaded band is each fit's own
    pointwise interval (log-log by default in :func:`nethep.survival.kaplan_meier`);
    ``|`` marks censored times. Under the plot, a second axes sharing x (label
    :data:`AT_RISK_LABEL`) lists :meth:`KaplanMeier.n_at_risk` at each x tick
    (``times``; default every 12 months), one row per group, coloured by group, each
    number centred on its tick.

    Laid out in inches for a print width of ``width_mm`` (85: single column, 180:
    double column): title and legend flush left above the plot (the legend takes as
    many columns as fit), the at-risk table and the notes below it; the height
    follows from the content, the type sizes do not change with the width.

    A group with more than :data:`MAX_CENSOR_MARKS` censored patients gets no censoring
    marks (they would merge into a bar and bloat the file), and the note says so. With
    ``min_cell`` > 1 (small-cell suppression) numbers at risk and legend n from 1 to
    ``min_cell`` - 1 read ``<min_cell``, and a note says so.
    """
    import numpy as np
    from matplotlib.transforms import blended_transform_factory, offset_copy

    if not fits:
        raise ValueError("km_figure needs at least one Kaplan-Meier fit")
    ticks = [float(t) for t in (times if times is not None else _km_ticks(fits))]
    groups = list(fits)
    k = len(groups)
    first = next(iter(fits.values()))

    # ---- sizes in inches, measured from the text they must hold
    w = width_in(width_mm)
    tick_fs, label_fs, risk_fs, title_fs = 8, 9, 8, 10
    risk_names = {g: group_label(g, short=True) for g in groups}
    name_w = max(text_size_in(n, risk_fs)[0] for n in risk_names.values())
    y_axis_w = (text_size_in("0.0", tick_fs)[0] + (3.5 + 3.5 + 4.0) / 72
                + text_size_in("Overall survival", label_fs)[1])
    left = PAD_IN + max(y_axis_w, name_w + 0.1)
    right = 0.16
    plot_w = w - left - right
    plot_h = min(3.3, max(2.1, 0.55 * plot_w))
    xlabel = wrap_text("Months since diagnosis of liver metastases", plot_w, label_fs)
    x_axis_h = (text_size_in("0", tick_fs)[1] + (3.5 + 3.5 + 4.0) / 72
                + text_size_in(xlabel, label_fs)[1])
    row_h = 0.19
    risk_h = row_h * (k + 1)
    wrapped_title = wrap_text(title, w - 2 * PAD_IN, title_fs)
    title_h = text_size_in(wrapped_title, title_fs)[1]
    omitted = [g for g, fit in fits.items() if int(fit.n_censor.sum()) > MAX_CENSOR_MARKS]
    shaded = f"Shaded: pointwise {100 * first.conf_level:.0f}% CI ({first.conf_type})."
    if not omitted:
        first_note = f"Tick marks: censored times. {shaded}"
    else:
        names = [group_label(g, short=True) for g in omitted]
        every = len(omitted) == len(fits)
        first_note = (("" if every else "Tick marks: censored times. ") + f"{shaded} "
                      + _censor_marks_note(names, every))
    notes, notes_h = notes_block(
        [first_note, *suppression_notes(min_cell), caption(reconstructed)], w)

    fig = plt.figure(figsize=(w, 6.0))  # height set once the legend is measured
    ax = fig.add_axes((0.1, 0.5, 0.8, 0.4))
    risk = fig.add_axes((0.1, 0.1, 0.8, 0.2), sharex=ax, label=AT_RISK_LABEL)

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
    legend, legend_h = _place_legend(ax, handles, w - 2 * PAD_IN, handlelength=1.8,
                                     borderaxespad=0, borderpad=0, columnspacing=1.5)
    ax.set_xticks(ticks)
    ax.set_xlim(min(ticks[0], 0.0) - 0.02 * (ticks[-1] - ticks[0]),
                ticks[-1] + 0.02 * (ticks[-1] - ticks[0]))
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Overall survival")

    # ---- final height, then every position in inches from the top
    gap = 0.06
    top = PAD_IN + title_h + gap + legend_h + gap
    below_plot = x_axis_h + 0.14
    height = top + plot_h + below_plot + risk_h + 0.1 + notes_h + PAD_IN
    fig.set_size_inches(w, height)
    ax.set_position((left / w, 1 - (top + plot_h) / height, plot_w / w, plot_h / height))
    risk.set_position((left / w, 1 - (top + plot_h + below_plot + risk_h) / height,
                       plot_w / w, risk_h / height))
    legend.set_bbox_to_anchor((PAD_IN / w, 1 - (PAD_IN + title_h + gap) / height),
                              transform=fig.transFigure)
    ax.set_title(wrapped_title, loc="left", fontsize=title_fs, pad=0, va="bottom",
                 x=(PAD_IN - left) / plot_w, y=1 + (legend_h + 2 * gap) / plot_h)

    # number-at-risk table: numbers centred on the x ticks, names just left of the axis,
    # the heading flush left with the title
    name_x = offset_copy(blended_transform_factory(risk.transAxes, risk.transData),
                         fig=fig, x=-0.1, units="inches")
    head_x = blended_transform_factory(fig.transFigure, risk.transData)
    risk.text(PAD_IN / w, -1, "Number at risk", transform=head_x, ha="left", va="center",
              fontsize=risk_fs, fontweight="bold")
    for row, (group, fit) in enumerate(fits.items()):
        color = group_color(group, row)
        risk.text(0, row, risk_names[group], transform=name_x, ha="right", va="center",
                  fontsize=risk_fs, color=color)
        for t, n in zip(ticks, fit.n_at_risk(ticks), strict=True):
            risk.text(t, row, str(privacy.mark(int(n), min_cell)), ha="center", va="center",
                      fontsize=risk_fs, color=color, gid=f"{AT_RISK_LABEL}:{group}")
    risk.set_ylim(k - 0.5, -1.5)
    risk.set_yticks([])
    risk.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in risk.spines.values():
        spine.set_visible(False)
    risk.patch.set_visible(False)
    draw_notes(fig, notes)
    return fig


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


def palliation_figure(result: PalliationResult, *, reconstructed: bool, min_cell: int = 0,
                      width_mm: float = 180) -> Figure:
    """Palliation rate per group with exact (Clopper-Pearson) CI bars and the exact P.

    Made from a :class:`nethep.palliation.PalliationResult`; a group without symptomatic
    patients keeps its place on the axis, marked "no symptomatic patients". Laid out
    at ``width_mm`` (85 or 180 for the journal widths).
    """
    labels = []
    for g in result.groups:
        if g.rate is None:
            labels.append(f"{group_label(g.group, short=True)}\nno symptomatic\npatients")
        else:
            labels.append(f"{group_label(g.group, short=True)}\n"
                          f"{privacy.mark(g.n_palliated, min_cell)} of "
                          f"{privacy.mark(g.n_symptomatic, min_cell)}")
    if result.exact_p is not None:
        test = (f"Fisher-Freeman-Halton exact P = {result.exact_p:.2f} "
                f"({len(result.tested_groups)} groups)")
    else:
        test = f"No test across groups: {result.test_note}"
    fig, ax, layout = _labelled_axes(
        width_mm, "Palliation of symptoms by treatment group", test,
        "Proportion of symptomatic patients palliated", labels,
        [f"Points: proportion palliated; bars: exact {100 * result.conf_level:.0f}% CI "
         f"(Clopper-Pearson).", *suppression_notes(min_cell), caption(reconstructed)])
    for x, g in enumerate(result.groups):
        if g.rate is None:
            continue
        ax.errorbar([x], [g.rate], yerr=[[g.rate - g.lower], [g.upper - g.rate]], fmt="o",
                    color=group_color(g.group, x), markersize=6, capsize=4, elinewidth=1.3,
                    capthick=1.3)
    for x, tick in enumerate(ax.get_xticklabels()):
        tick.set_color(group_color(result.groups[x].group, x))
    ax.set_xlim(-0.6, len(result.groups) - 0.4)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    _fit_labelled_axes(fig, ax, layout)
    return fig


def _hr_text(estimate: float, lower: float, upper: float) -> str:
    """``0.34 (0.21–0.55)``; limits that are not finite read "NE" (not estimable)."""
    import math

    def fmt(v: float) -> str:
        return f"{v:.2f}" if v is not None and math.isfinite(v) and v > 0 else "NE"

    if estimate is None or not math.isfinite(estimate):
        return "not estimable"
    return f"{fmt(estimate)} ({fmt(lower)}\u2013{fmt(upper)})"


def literature_forest_figure(table, *, reconstructed: bool, min_cell: int = 0,
                             width_mm: float = 180) -> Figure:
    """Forest plot of published hazard ratios beside this cohort's, on a log axis.

    ``table`` is :func:`nethep.literature.literature_table`: rows in order, grouped by
    ``section`` and ``source``. Each group gets a bold heading that names its source
    (and design); the ``this_cohort`` group sits below a rule, on a grey band, with
    open square markers, and its heading says when the cohort is reconstructed.
    Published rows: filled diamonds. Lines: 95% CI (clipped at the axis with an arrow
    when a limit is not finite). A dashed line marks HR = 1. At ``width_mm`` below
    130 the numbers move under each row's label to leave the plot room.
    """
    import math

    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    w = width_in(width_mm)
    inner = w - 2 * PAD_IN
    fs, head_fs, title_fs, tick_fs = 8, 8, 10, 8
    rows = table.to_dict("records")
    if not rows:
        raise ValueError("literature_forest_figure needs at least one row")
    hr_texts = [_hr_text(r["estimate"], r["lower"], r["upper"]) for r in rows]
    num_w = max(text_size_in(t, fs)[0] for t in [*hr_texts, "HR (95% CI)"])
    numbers_apart = width_mm >= 130
    label_w = min(2.6, 0.36 * inner) if numbers_apart else 0.5 * inner
    plot_left = PAD_IN + label_w + 0.12
    plot_right = w - PAD_IN - (num_w + 0.15 if numbers_apart else 0.1)
    plot_w = plot_right - plot_left
    labels = []
    for r, hr in zip(rows, hr_texts, strict=True):
        label = wrap_text(str(r["comparison"]), label_w, fs)
        labels.append(label if numbers_apart else f"{label}\nHR {hr}")

    # ---- vertical plan, in inches from the top of the row area
    def heading(r: dict) -> str:
        if r["section"] == "this_cohort":
            return f"{r['source']}: {r['design']}"
        return f"{r['source']}, {r['design']}"

    plan = []  # (kind, y_top, height, payload)
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
            head = wrap_text(heading(r), inner, head_fs, "bold")
            h = text_size_in(head, head_fs, "bold")[1]
            plan.append(("heading", y, h, (head, r["section"])))
            y += h + 0.06
            previous = key
        h = max(text_size_in(labels[i], fs)[1], 0.2)
        plan.append(("row", y, h, i))
        y += h + 0.06
    area_h = y + 0.04
    x_axis_label = wrap_text("Hazard ratio of death (log scale)", plot_w, 9, balanced=True)
    x_axis_h = (text_size_in("0.1", tick_fs)[1] + 7.0 / 72 + 4.0 / 72
                + text_size_in(x_axis_label, 9)[1])
    title = wrap_text("Surgery vs non-surgical treatment: this analysis beside the "
                      "published literature", inner, title_fs)
    title_h = text_size_in(title, title_fs)[1]
    sources = list(dict.fromkeys(
        r["citation"] + (f" doi:{r['doi']}" if r.get("doi") else "")
        for r in rows if r["section"] != "this_cohort"))
    notes, notes_h = notes_block(
        ["Markers: hazard ratio of death, surgery vs comparator (below 1 favours surgery); "
         "lines: 95% CI. Published estimates as printed in the source; this analysis "
         "computed here.", *[f"Source: {s}" for s in sources], caption(reconstructed)], w)
    top = PAD_IN + title_h + 0.12 + (text_size_in("HR", fs)[1] + 0.04 if numbers_apart
                                     else 0.0)
    height = top + area_h + x_axis_h + 0.14 + notes_h + PAD_IN

    fig = plt.figure(figsize=(w, height))
    ax = fig.add_axes((plot_left / w, 1 - (top + area_h) / height, plot_w / w,
                       area_h / height))
    ax.set_ylim(area_h, 0)
    ax.set_xscale("log")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.tick_params(axis="x", labelsize=tick_fs)
    ax.set_xlabel(x_axis_label, fontsize=9)

    # axis range: every finite positive limit and 1, with a margin; ticks 1-2-5
    values = [v for r in rows for v in (r["estimate"], r["lower"], r["upper"])
              if v is not None and math.isfinite(v) and v > 0]
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

    row_of = {}
    fig_x = blended_transform_factory(fig.transFigure, ax.transData)
    for kind, y_top, h, payload in plan:
        if kind == "rule":
            ax.plot([PAD_IN / w, 1 - PAD_IN / w], [y_top, y_top], transform=fig_x,
                    color="#999999", linewidth=0.8, clip_on=False)
        elif kind == "heading":
            head, section = payload
            ax.text(PAD_IN / w, y_top, head, transform=fig_x, ha="left", va="top",
                    fontsize=head_fs, fontweight="bold", gid=f"heading:{section}",
                    color="#000000")
        else:
            row_of[payload] = (y_top, h)

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

    if numbers_apart:
        ax.text(1 - PAD_IN / w, -0.04, "HR (95% CI)", transform=fig_x, ha="right",
                va="bottom", fontsize=fs, fontweight="bold")
    for i, r in enumerate(rows):
        y_top, h = row_of[i]
        mid = y_top + h / 2
        ours = r["section"] == "this_cohort"
        color = "#333333" if ours else "#000000"
        ax.text(PAD_IN / w, mid, labels[i], transform=fig_x, ha="left", va="center",
                fontsize=fs, gid=f"row:{r['section']}")
        if numbers_apart:
            ax.text(1 - PAD_IN / w, mid, hr_texts[i], transform=fig_x, ha="right",
                    va="center", fontsize=fs, gid=f"hr:{r['section']}")
        est, lower, upper = r["estimate"], r["lower"], r["upper"]
        if est is None or not math.isfinite(est) or est <= 0:
            continue
        left_end = lower if lower is not None and math.isfinite(lower) and lower > 0 else lo
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
    ax.set_title(title, loc="left", fontsize=title_fs, pad=0, va="bottom",
                 x=(PAD_IN - plot_left) / plot_w,
                 y=1 + (top - PAD_IN - title_h) / area_h)
    draw_notes(fig, notes)
    return fig


# ---- cohort figures (01, 02)
if TYPE_CHECKING:
    from nethep.describe import GroupedValues, PatientFlow


def _flow_box(ax, x: float, y: float, w: float, h: float, text: str, edge: str,
              face: str = "white", fontsize: float = 8, weight: str = "normal") -> None:
    """A rounded box centred on (x, y) in data coordinates (inches), with centred text."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0,rounding_size=0.06",
                                linewidth=1.0, edgecolor=edge, facecolor=face))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, fontweight=weight,
            gid="flow_box", linespacing=1.15)


def _flow_arrow(ax, start: tuple[float, float], end: tuple[float, float],
                head: bool = True) -> None:
    ax.annotate("", xy=end, xytext=start, xycoords="data", textcoords="data",
                arrowprops={"arrowstyle": "-|>" if head else "-", "color": "#444444",
                            "linewidth": 0.9, "shrinkA": 0, "shrinkB": 0,
                            "mutation_scale": 8})


def _split(ax, x0: float, y0: float, targets: list[float], y_bar: float,
           y_top: float) -> None:
    """Line down from (x0, y0) to a bar at ``y_bar``, then an arrow down to each target."""
    _flow_arrow(ax, (x0, y0), (x0, y_bar), head=False)
    if len(targets) > 1 or targets[0] != x0:
        xs = [*targets, x0]
        _flow_arrow(ax, (min(xs), y_bar), (max(xs), y_bar), head=False)
    for x in targets:
        _flow_arrow(ax, (x, y_bar), (x, y_top))


_BOX_PAD = 0.07  # inches between a flow box's text and its edge


def _boxed(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
    """Width and height (inches) of a flow box that holds ``text``."""
    tw, th = text_size_in(text, fontsize, weight)
    return tw + 2 * _BOX_PAD, th + 2 * _BOX_PAD


def patient_flow_figure(flow: PatientFlow, *, reconstructed: bool, min_cell: int = 0,
                        width_mm: float = 180) -> Figure:
    """Flow diagram from a :class:`nethep.describe.PatientFlow`.

    One box for the patients identified (with the accrual years), the tumour types
    beside it, then the three treatment groups in the house colours and each group's
    treatments beneath. Groups or treatments without patients keep their box, with
    n = 0. Drawn in inches at ``width_mm``: from 130 mm wide the treatments stand in one
    row under their groups; narrower (single column, 85 mm) each group is a column
    with its treatments stacked under it. Box sizes follow from the text they hold.
    """
    import numpy as np
    from matplotlib.colors import to_rgba

    from nethep.describe import GROUP_TITLES, TREATMENT_LABELS, TUMOR_LABELS

    def mark(n: int) -> int | str:
        return privacy.mark(n, min_cell)

    w = width_in(width_mm)
    wide = width_mm >= 130
    groups = list(flow.by_group)
    treatments = list(flow.by_treatment)
    members = {g: [t for t in treatments if flow.group_of.get(t) == g] for g in groups}
    inner = w - 2 * PAD_IN
    fs, sub_fs, group_fs, title_fs = 8, 7.5, 8.5, 10
    gap_y = 0.32  # vertical room for the connecting arrows

    # ---- texts, wrapped to the room they get
    years = "" if flow.first_year is None else f", diagnosed {flow.first_year}-{flow.last_year}"
    top_text = (wrap_text(f"Patients with liver-only neuroendocrine metastases identified"
                          f"{years}", min(2.6, 0.58 * inner) - 2 * _BOX_PAD, fs, "bold",
                          balanced=True) + f"\nn = {mark(flow.n_identified)}")
    tumour_texts = [f"{TUMOR_LABELS.get(t, t)}: n = {mark(n)}"
                    for t, n in flow.by_tumor_type.items()]
    group_texts = {g: f"{GROUP_TITLES.get(g, g)}\nn = {mark(flow.by_group[g])}" for g in groups}
    if wide:
        sub_w = inner / max(len(treatments), 1) - 0.08
    else:
        col_w = (inner - 2 * 0.08) / max(len(groups), 1)
        indent = 0.14
        sub_w = col_w - indent
    sub_texts = {t: wrap_text(TREATMENT_LABELS.get(t, t), sub_w - 0.1, sub_fs)
                 + f"\nn = {mark(flow.by_treatment[t])}" for t in treatments}

    # ---- sizes
    top_w, top_h = _boxed(top_text, fs, "bold")
    tumour_sizes = [_boxed(t, fs) for t in tumour_texts]
    tumour_w = max((s[0] for s in tumour_sizes), default=0.0)
    tumour_h = max((s[1] for s in tumour_sizes), default=0.0)
    group_h = max(_boxed(t, group_fs, "bold")[1] for t in group_texts.values())
    sub_hs = {t: _boxed(sub_texts[t], sub_fs)[1] for t in treatments}
    if wide:
        row3_h = max(sub_hs.values(), default=0.0)
    else:
        stack_gap = 0.08
        row3_h = max((sum(sub_hs[t] for t in members[g]) + stack_gap * (len(members[g]) - 1)
                      for g in groups if members[g]), default=0.0)
    title_h = text_size_in("Patient flow", title_fs)[1]
    label_h = text_size_in("By tumour type", sub_fs)[1]
    n_tumour = len(tumour_texts)
    tumour_stack = n_tumour * tumour_h + 0.06 * max(n_tumour - 1, 0)
    row1_h = max(top_h, tumour_stack + label_h + 0.04)
    notes, notes_h = notes_block([*suppression_notes(min_cell), caption(reconstructed)], w)
    gap_y3 = gap_y if wide else 0.12  # stacked treatments hang off a spine, no bar
    height = (PAD_IN + title_h + 0.1 + row1_h + gap_y + group_h + gap_y3 + row3_h + 0.12
              + notes_h + PAD_IN)

    fig = plt.figure(figsize=(w, height))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, w)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    fig.text(PAD_IN / w, 1 - PAD_IN / height, "Patient flow", fontsize=title_fs, ha="left",
             va="top")

    # ---- row 1: identified, tumour types to its right
    row1_top = height - PAD_IN - title_h - 0.1
    top_y = row1_top - row1_h / 2
    top_x = w / 2 if wide else PAD_IN + top_w / 2
    _flow_box(ax, top_x, top_y, top_w, top_h, top_text, edge="#000000", face="#F2F2F2",
              weight="bold")
    if n_tumour:
        tumour_x = w - PAD_IN - tumour_w / 2 if not wide else min(
            w - PAD_IN - tumour_w / 2, top_x + top_w / 2 + 0.45 + tumour_w / 2)
        stack_top = top_y + (tumour_stack - label_h - 0.04) / 2 + label_h / 2 + 0.02
        stack_top = min(stack_top, row1_top - label_h - 0.04)
        tumour_ys = [stack_top - tumour_h / 2 - i * (tumour_h + 0.06) for i in range(n_tumour)]
        bracket_x = (top_x + top_w / 2 + tumour_x - tumour_w / 2) / 2
        _flow_arrow(ax, (top_x + top_w / 2, top_y), (bracket_x, top_y), head=False)
        if n_tumour > 1:
            _flow_arrow(ax, (bracket_x, min(tumour_ys)), (bracket_x, max(tumour_ys)),
                        head=False)
        for y, text in zip(tumour_ys, tumour_texts, strict=True):
            if n_tumour == 1:
                _flow_arrow(ax, (bracket_x, top_y), (bracket_x, y), head=False)
            _flow_arrow(ax, (bracket_x, y), (tumour_x - tumour_w / 2, y))
            _flow_box(ax, tumour_x, y, tumour_w, tumour_h, text, edge="#777777")
        ax.text(tumour_x, stack_top + 0.04, "By tumour type", ha="center", va="bottom",
                fontsize=sub_fs, color=NOTE_COLOR)

    # ---- row 2: groups; row 3: treatments
    group_y = row1_top - row1_h - gap_y - group_h / 2
    row3_top = group_y - group_h / 2 - gap_y3
    if wide:
        k = len(treatments)
        slot = inner / max(k, 1)
        sub_x = {t: PAD_IN + (i + 0.5) * slot for i, t in enumerate(treatments)}
        group_x = {g: float(np.mean([sub_x[t] for t in members[g]])) if members[g]
                   else PAD_IN + (i + 0.5) * inner / len(groups) for i, g in enumerate(groups)}
        group_w = {g: max(sub_w * 1.15, (len(members[g]) - 0.35) * slot,
                          _boxed(group_texts[g], group_fs, "bold")[0]) for g in groups}
    else:
        col_left = {g: PAD_IN + i * (col_w + 0.08) for i, g in enumerate(groups)}
        group_x = {g: col_left[g] + col_w / 2 for g in groups}
        group_w = dict.fromkeys(groups, col_w)
    _split(ax, top_x, top_y - top_h / 2, [group_x[g] for g in groups],
           row1_top - row1_h - gap_y / 2, group_y + group_h / 2)
    for i, g in enumerate(groups):
        color = group_color(g, i)
        _flow_box(ax, group_x[g], group_y, group_w[g], group_h, group_texts[g], edge=color,
                  face=to_rgba(color, 0.22), fontsize=group_fs, weight="bold")
        if not members[g]:
            continue
        if wide:
            _split(ax, group_x[g], group_y - group_h / 2, [sub_x[t] for t in members[g]],
                   row3_top + gap_y * 0.5, row3_top)
            for t in members[g]:
                _flow_box(ax, sub_x[t], row3_top - row3_h / 2, sub_w, row3_h, sub_texts[t],
                          edge=color, fontsize=sub_fs)
        else:
            spine_x = col_left[g] + indent / 2
            y = row3_top
            mids = []
            for t in members[g]:
                mids.append(y - sub_hs[t] / 2)
                _flow_box(ax, col_left[g] + indent + sub_w / 2, mids[-1], sub_w, sub_hs[t],
                          sub_texts[t], edge=color, fontsize=sub_fs)
                y -= sub_hs[t] + stack_gap
            _flow_arrow(ax, (spine_x, group_y - group_h / 2), (spine_x, mids[-1]), head=False)
            for mid in mids:
                _flow_arrow(ax, (spine_x, mid), (col_left[g] + indent, mid))
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
    """Strip plot over a box plot of one variable by treatment group.

    Made from a :class:`nethep.describe.GroupedValues`. Boxes: median and quartiles
    (numpy linear quantiles, whiskers to the most extreme value within 1.5 IQR, no
    separate outlier marks since every point is drawn). Points are spread sideways by a
    deterministic golden-ratio offset (no random jitter, so reruns give the same
    figure). A group without values keeps its place, marked "no patients". Laid out at
    ``width_mm`` (85 or 180 for the journal widths).

    Points are left out, and the box drawn alone, for a group with more than
    :data:`MAX_POINTS` patients (unreadable, and heavy in PDF and SVG) and, with
    small-cell suppression on, for a group whose n is suppressed (its points could be
    counted); the note names those groups.
    """
    import numpy as np
    from matplotlib.colors import to_rgba

    from nethep.describe import format_p

    groups = list(grouped.values)
    sizes = {g: len(grouped.values[g]) for g in groups}
    labels = [f"{group_label(g, short=True)}\n(n = {privacy.mark(sizes[g], min_cell)})"
              for g in groups]
    n_groups = sum(len(v) > 0 for v in grouped.values.values())
    note = (f"{test} P = {format_p(p)} ({n_groups} groups)" if p is not None
            else "No test across groups")
    large = [g for g in groups if sizes[g] > MAX_POINTS]
    small = [g for g in groups if privacy.is_small(sizes[g], min_cell)]
    notes = ["Points: patients; boxes: median and quartiles; whiskers: most extreme values "
             "within 1.5 IQR."]
    if large:
        notes.append(f"Points omitted for groups with n > {MAX_POINTS:,} patients (boxes "
                     f"only): {', '.join(group_label(g, short=True) for g in large)}.")
    if small:
        notes.append(f"Points omitted for groups with fewer than {min_cell} "
                     f"patients (small-cell suppression): "
                     f"{', '.join(group_label(g, short=True) for g in small)}.")
    fig, ax, layout = _labelled_axes(
        width_mm, title or f"{grouped.label} by treatment group", note,
        ylabel or grouped.label, labels,
        [*notes, *suppression_notes(min_cell), caption(reconstructed)])
    for x, g in enumerate(groups):
        values = np.sort(np.asarray(grouped.values[g], dtype=float))
        color = group_color(g, x)
        if len(values) == 0:
            ax.text(x, 0.5, "no patients", transform=ax.get_xaxis_transform(),
                    ha="center", va="center", fontsize=8, color="#555555")
            continue
        ax.boxplot([values], positions=[x], widths=0.5, showfliers=False,
                   patch_artist=True, zorder=1,
                   boxprops={"facecolor": to_rgba(color, 0.18),
                             "edgecolor": color, "linewidth": 1.2},
                   medianprops={"color": color, "linewidth": 2.0},
                   whiskerprops={"color": color, "linewidth": 1.0},
                   capprops={"color": color, "linewidth": 1.0})
        if g in large or g in small:
            continue
        offsets = ((np.arange(len(values)) * 0.6180339887) % 1.0 - 0.5) * 0.36
        ax.scatter(x + offsets, values, s=14, color=color, edgecolor="white",
                   linewidth=0.5, zorder=2, gid=f"points:{g}")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(labels)
    for x, tick in enumerate(ax.get_xticklabels()):
        tick.set_color(group_color(groups[x], x))
    ax.set_xlim(-0.6, len(groups) - 0.4)
    if ylim is not None:
        ax.set_ylim(*ylim)
    _fit_labelled_axes(fig, ax, layout)
    return fig


# ---- robustness figures (05)
# Each function takes ``width_mm`` (figure width = width_mm / 25.4 inches, the height
# follows from the content), lays its parts out in inches so that nothing depends on
# the width but the wrapping and the tick density, uses fonts of 7 pt or more, and is
# saved at 85 and 180 mm by :func:`export_figure`.
if TYPE_CHECKING:
    from nethep.robustness import IPTWCox, Propensity, RobustnessSummary

#: How the propensity figure's note names each covariate.
ROBUSTNESS_COVARIATE_WORDS = {"tumor_type": "tumour type",
                              "liver_involvement_pct": "liver involvement", "age_years": "age"}
#: Display labels of the design terms in the propensity balance (love) plot.
ROBUSTNESS_TERM_LABELS = {
    "tumor_type=islet_cell": "Islet cell tumour",
    "liver_involvement_pct": "Liver involved, %",
    "age_years": "Age, years",
}
_NARROW_MM = 120  # below this, panels stack and fonts step down half a point


def _rb_fonts(width_mm: float) -> dict[str, float]:
    narrow = width_mm < _NARROW_MM
    return {"title": 8.5 if narrow else 9.5, "text": 7.5 if narrow else 8.0,
            "tick": 7.5 if narrow else 8.0}


def _rb_wrap(text: str, width_in: float, fontsize: float) -> str:
    """Wrap ``text`` to lines that fit ``width_in`` inches at ``fontsize`` (DejaVu Sans)."""
    import textwrap

    chars = max(8, int(width_in * 72 / (fontsize * 0.6)))
    return "\n".join(textwrap.fill(part, chars, break_on_hyphens=False)
                     for part in text.split("\n"))


def _rb_lines(text: str) -> int:
    return text.count("\n") + 1


def _rb_footer(fig: Figure, lines: Sequence[str], width_in: float, fontsize: float = 7.0
               ) -> None:
    """Wrapped grey notes at the bottom-left (the data caption last), in one text."""
    text = _rb_wrap("\n".join(lines), width_in - 0.1, fontsize)
    fig.text(0.04 / width_in, 0.04 / fig.get_figheight(), text, fontsize=fontsize,
             color="#555555", ha="left", va="bottom", linespacing=1.25, gid="notes")


def _rb_footer_height(lines: Sequence[str], width_in: float, fontsize: float = 7.0) -> float:
    """Inches that :func:`_rb_footer` needs for ``lines``."""
    text = _rb_wrap("\n".join(lines), width_in - 0.1, fontsize)
    return 0.08 + _rb_lines(text) * fontsize * 1.25 / 72


def _rb_title(fig: Figure, title: str, width_in: float, height_in: float,
              fontsize: float) -> None:
    fig.text(0.04 / width_in, 1 - 0.06 / height_in, title, fontsize=fontsize,
             fontweight="bold", ha="left", va="top", linespacing=1.2)


def _rb_title_height(title: str, fontsize: float) -> float:
    return 0.1 + _rb_lines(title) * fontsize * 1.2 / 72


def _rb_axes(fig: Figure, left: float, bottom: float, width: float, height: float,
             **kwargs: Any):
    """Axes placed in inches from the figure's bottom-left corner."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    return fig.add_axes((left / w, bottom / h, width / w, height / h), **kwargs)


def _rb_log_ticks(lo: float, hi: float, axis_in: float, fontsize: float) -> list[float]:
    """1-2-5 ticks within [lo, hi] on a log axis ``axis_in`` inches long, thinned so that
    neighbouring labels keep a gap; 1 (no effect) is always kept when in range."""
    import math

    import numpy as np

    cands = sorted(m * 10.0**k for k in range(math.floor(math.log10(lo)) - 1,
                                              math.ceil(math.log10(hi)) + 1)
                   for m in (1, 2, 5))
    cands = [c for c in cands if lo <= c <= hi]
    span = math.log10(hi) - math.log10(lo)

    def pos(v: float) -> float:
        return (math.log10(v) - math.log10(lo)) / span * axis_in

    def half(v: float) -> float:
        return len(f"{v:g}") * fontsize * 0.6 / 72 / 2

    anchor = 1.0 if lo <= 1 <= hi else cands[-1]
    kept = [anchor]
    for direction in (-1, 1):
        seq = [c for c in cands if (c - anchor) * direction > 0]
        seq = sorted(seq, reverse=direction < 0)
        last = anchor
        for c in seq:
            if abs(pos(c) - pos(last)) >= half(c) + half(last) + 0.06:
                kept.append(c)
                last = c
    return [float(x) for x in np.sort(kept)]


def _rb_hr(x: float) -> str:
    return f"{x:.2f}" if x >= 0.01 else f"{x:.3f}"


def _rb_not_estimable_figure(omitted: list[str], reconstructed: bool, width_mm: float,
                             f: dict[str, float]) -> Figure:
    """A short figure saying that no hazard ratio could be plotted, and why."""
    width = width_mm / MM_PER_INCH
    text = _rb_wrap("No hazard ratio is estimable in this cohort (for example, no deaths in "
                    "one arm), so there is nothing to plot. Not estimable: "
                    + "; ".join(omitted) + ".", width - 0.3, f["text"])
    fig = plt.figure(figsize=(width, 0.6 + _rb_lines(text) * f["text"] * 1.3 / 72))
    fig.text(0.03, 0.8, text, fontsize=f["text"], va="top", ha="left")
    fig.text(0.03, 0.08, caption(reconstructed), fontsize=max(7, f["text"] - 1),
             va="bottom", ha="left", color="#555555")
    return fig


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
    out in a note. Ticks: 1-2-5 on the log scale, thinned so labels never touch.
    """
    import numpy as np

    table = summary.table()
    rows = table[table["measure"] == "hazard ratio"].reset_index(drop=True)
    if rows.empty:
        raise ValueError("the summary has no hazard-ratio rows to plot")
    values = rows[["estimate", "lower", "upper"]].to_numpy(float)
    plottable = (np.isfinite(values) & (values > 0)).all(axis=1)
    omitted = [str(a) for a in rows.loc[~plottable, "analysis"]]
    f = _rb_fonts(width_mm)
    if not plottable.any():
        return _rb_not_estimable_figure(omitted, reconstructed, width_mm, f)
    rows = rows[plottable].reset_index(drop=True)
    roles = list(rows["role"]) if "role" in rows else ["main"] * len(rows)
    est, lo, hi = (rows[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
    width = width_mm / MM_PER_INCH
    narrow = width_mm < _NARROW_MM
    margin = 0.06
    names, notes = [], []
    for a in rows["analysis"]:
        head, sep, rest = str(a).partition(", weights truncated ")
        if sep:  # the full rule goes in a note, the row keeps a short label
            notes.append(f"Truncated weights: capped {rest}.")
            a = f"{head}, truncated weights"
        names.append(a[:1].upper() + a[1:])
    cis = [f"{_rb_hr(e)} ({_rb_hr(lw)}\u2013{_rb_hr(up)})"
           for e, lw, up in zip(est, lo, hi, strict=True)]
    longest = max(len(c) for c in cis) * f["text"] * 0.6 / 72
    if narrow:  # the CI sits under the label, leaving the width to the plot
        label_w = min(max(len(c) for c in names) * f["text"] * 0.6 / 72 + 0.1, 0.45 * width)
        ci_w = 0.0
    else:
        label_w, ci_w = 0.3 * width, longest + 0.25
    plot_w = width - label_w - ci_w - 2 * margin - 0.1
    labels = [_rb_wrap(n, label_w - 0.08, f["text"]) for n in names]
    line_h = f["text"] * 1.2 / 72
    row_lines = [_rb_lines(lab) + (1 if narrow else 0) for lab in labels]
    row_h = [max(0.24, k * line_h + 0.1) for k in row_lines]
    title = _rb_wrap("Hazard ratio of death, surgical vs non-surgical, by analysis",
                     width - 0.1, f["title"])
    if omitted:  # e.g. no deaths in one arm: HR 0 or infinite, no finite interval
        notes.append("Not estimable, omitted: " + "; ".join(omitted) + ".")
    notes = ["Square: naive Cox model (reference); filled: main analyses; open: alternative "
             "choices shown beside them. Lines: 95% confidence intervals.", *notes,
             caption(reconstructed)]
    xlabel = ("Hazard ratio (log scale)\n< 1 favours surgery" if narrow
              else "Hazard ratio (log scale); < 1 favours surgery")
    footer_h = _rb_footer_height(notes, width)
    axis_h = 0.12 + f["tick"] / 72 + 0.08 + _rb_lines(xlabel) * f["text"] * 1.2 / 72
    header_h = 0.26
    plot_h = sum(row_h)
    top_h = _rb_title_height(title, f["title"])
    height = top_h + header_h + plot_h + axis_h + footer_h + 0.1
    fig = plt.figure(figsize=(width, height))
    bottom = footer_h + axis_h
    x0 = margin + label_w
    ax = _rb_axes(fig, x0, bottom, plot_w, plot_h)
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
        marker = "s" if role == "reference" else "o"
        face = "white" if role == "alternative" else color
        ax.plot([lo[i], hi[i]], [y, y], color=color, linewidth=1.3, zorder=2,
                solid_capstyle="butt")
        ax.plot([est[i]], [y], linestyle="none", marker=marker, markersize=5.5,
                markerfacecolor=face, markeredgecolor=color, markeredgewidth=1.2, zorder=3,
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
    ticks = _rb_log_ticks(xmin, xmax, plot_w, f["tick"])
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
    _rb_title(fig, title, width, height, f["title"])
    _rb_footer(fig, notes, width)
    return fig


def propensity_overlap_figure(prop: Propensity, *, reconstructed: bool, min_cell: int = 0,
                              width_mm: float = 180) -> Figure:
    """Overlap of propensity scores by arm (a) and covariate balance (b).

    (a) Mirrored histogram of the propensity score (probability of surgery from
    :func:`nethep.robustness.propensity`): surgical patients above the line, non-surgical
    below, common bins 0.02 wide; the arms' score ranges must overlap for weighting to
    compare like with like. (b) Love plot: standardized mean difference of each design
    term before (open) and after (filled) stabilized inverse-probability weighting,
    with the usual |SMD| < 0.1 band. Panels side by side from 120 mm, stacked below.

    With small-cell suppression on and a histogram bar from 1 to N - 1 patients, panel
    (a) shows instead one box per arm (median, quartiles, whiskers to the smallest and
    largest score), which still shows the overlap, and the note says so.
    """
    import numpy as np

    f = _rb_fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < _NARROW_MM
    scores = prop.scores
    ps = scores["ps"].to_numpy(float)
    treated = scores["surgical"].to_numpy(bool)
    step = 0.02
    lo_edge = np.floor(ps.min() / step) * step
    hi_edge = np.ceil(ps.max() / step) * step
    if hi_edge - lo_edge < 5 * step:
        mid = (lo_edge + hi_edge) / 2
        lo_edge, hi_edge = max(0.0, mid - 2.5 * step), min(1.0, mid + 2.5 * step)
    bins = np.arange(lo_edge, hi_edge + step / 2, step)
    up, _ = np.histogram(ps[treated], bins)
    down, _ = np.histogram(ps[~treated], bins)
    as_boxes = any(privacy.is_small(c, min_cell) for c in (*up, *down))
    balance = prop.balance
    terms = [ROBUSTNESS_TERM_LABELS.get(t, t) for t in balance["term"]]
    words = [ROBUSTNESS_COVARIATE_WORDS.get(c, c.replace("_", " ")) for c in prop.covariates]
    on = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    title = _rb_wrap("Propensity of surgery: overlap and covariate balance", width - 0.1,
                     f["title"])
    truncation = ("no trimming" if prop.truncate is None else
                  f"truncated at percentiles {100 * prop.truncate[0]:g} and "
                  f"{100 * prop.truncate[1]:g}")
    notes = [f"Propensity score: logistic regression of surgery on {on}. Weights: "
             f"stabilized inverse probability of treatment ({truncation}). Dashed band: "
             "|SMD| < 0.1.",
             *([f"Panel a shows boxes (median, quartiles, whiskers to the extremes) instead "
                f"of a histogram: some bins hold fewer than {min_cell} patients "
                "(small-cell suppression)."] if as_boxes else []),
             *suppression_notes(min_cell), caption(reconstructed)]
    footer_h = _rb_footer_height(notes, width)
    top_h = _rb_title_height(title, f["title"])
    label_w = max(len(t) for t in terms) * f["tick"] * 0.6 / 72 + 0.15
    axis_h = 0.12 + f["tick"] / 72 + 0.1 + 2 * f["text"] * 1.2 / 72
    panel_title_h = 0.28
    hist_h = 1.55 if narrow else 1.9
    love_h = max(0.75, 0.32 * len(terms) + 0.3)
    legend_h = 0.22
    left_hist = 0.5
    if narrow:
        height = (top_h + 2 * (panel_title_h + axis_h) + hist_h + legend_h + love_h
                  + footer_h + 0.05)
    else:
        love_h = hist_h - legend_h
        height = top_h + panel_title_h + hist_h + axis_h + footer_h + 0.05
    fig = plt.figure(figsize=(width, height))
    if narrow:
        love_bottom = footer_h + axis_h
        hist_bottom = love_bottom + love_h + legend_h + panel_title_h + axis_h
        hist_box = (left_hist, hist_bottom, width - left_hist - 0.15, hist_h)
        love_box = (label_w + 0.05, love_bottom, width - label_w - 0.2, love_h)
        panel_x = (0.04, 0.04)
    else:
        half = width / 2
        bottom = footer_h + axis_h
        hist_box = (left_hist, bottom, half - left_hist - 0.3, hist_h)
        love_box = (half + label_w + 0.05, bottom, half - label_w - 0.2, love_h)
        panel_x = (0.04, half + 0.04)
    for x_in, top_in, text in (
            (panel_x[0], hist_box[1] + hist_box[3], "a  Overlap of propensity scores"),
            (panel_x[1], love_box[1] + love_box[3] + legend_h, "b  Covariate balance")):
        fig.text(x_in / width, (top_in + 0.1) / height, text, fontsize=f["text"],
                 fontweight="bold", ha="left", va="bottom")
    ax = _rb_axes(fig, *hist_box)
    c1, c0 = GROUP_COLORS["surgical"], GROUP_COLORS["nonsurgical"]
    n1, n0 = int(treated.sum()), int((~treated).sum())
    if as_boxes:
        _ps_boxes(ax, ps, treated, (c1, c0), f)
    else:
        centres = (bins[:-1] + bins[1:]) / 2
        ax.bar(centres, up, width=step * 0.92, color=c1, edgecolor="white", linewidth=0.4,
               gid="ps:surgical")
        ax.bar(centres, -down, width=step * 0.92, color=c0, edgecolor="white", linewidth=0.4,
               gid="ps:nonsurgical")
        ax.axhline(0, color="#333333", linewidth=0.8)
        top = max(int(up.max()), int(down.max()), 1)
        ax.set_ylim(-top * 1.3, top * 1.3)
        yt = mpl.ticker.MaxNLocator(nbins=6, integer=True, symmetric=True).tick_values(-top,
                                                                                        top)
        yt = [t for t in yt if abs(t) <= top * 1.3]
        ax.set_yticks(yt)
        ax.set_yticklabels([f"{abs(int(t))}" for t in yt])
    ax.set_xlim(bins[0] - step / 2, bins[-1] + step / 2)
    xt = mpl.ticker.MaxNLocator(nbins=6 if narrow else 7).tick_values(bins[0], bins[-1])
    ax.set_xticks([t for t in xt if bins[0] - step / 2 <= t <= bins[-1] + step / 2])
    ax.tick_params(labelsize=f["tick"])
    ax.set_xlabel("Propensity score\n(estimated probability of surgery)", fontsize=f["text"],
                  linespacing=1.2)
    if not as_boxes:
        ax.set_ylabel("Patients", fontsize=f["text"])
    ax.text(0.02, 0.97, group_label("surgical", n1, short=True, min_cell=min_cell),
            transform=ax.transAxes,
            ha="left", va="top", fontsize=f["text"], color=c1, fontweight="bold")
    ax.text(0.02, 0.03, group_label("nonsurgical", n0, short=True, min_cell=min_cell),
            transform=ax.transAxes,
            ha="left", va="bottom", fontsize=f["text"], color=c0, fontweight="bold")

    bx = _rb_axes(fig, *love_box)
    y = np.arange(len(terms))
    before = balance["smd_before"].to_numpy(float)
    after = balance["smd_after"].to_numpy(float)
    reach = max(0.25, float(np.nanmax(np.abs(np.concatenate([before, after])))) * 1.2)
    bx.axvspan(-0.1, 0.1, color="#EEEEEE", zorder=0)
    for v in (-0.1, 0.1):
        bx.axvline(v, color="#999999", linewidth=0.7, linestyle="--", zorder=1)
    bx.axvline(0, color="#333333", linewidth=0.8, zorder=1)
    for i in y:
        bx.plot([before[i], after[i]], [i, i], color="#999999", linewidth=0.8, zorder=2)
    bx.plot(before, y, linestyle="none", marker="o", markersize=5.5, markerfacecolor="white",
            markeredgecolor="#000000", markeredgewidth=1.1, zorder=3, label="Unweighted",
            gid="smd:before")
    bx.plot(after, y, linestyle="none", marker="o", markersize=5.5, color="#0072B2",
            zorder=4, label="Weighted", gid="smd:after")
    bx.set_yticks(y)
    bx.set_yticklabels(terms)
    bx.set_ylim(len(terms) - 0.5, -0.5)
    bx.set_xlim(-reach, reach)
    tick_step = 0.1 if reach <= 0.5 else (0.25 if reach <= 1.25 else 0.5)
    bx.set_xticks([t for t in np.arange(-np.floor(reach / tick_step), np.floor(
        reach / tick_step) + 0.5) * tick_step])
    bx.tick_params(labelsize=f["tick"])
    bx.tick_params(axis="y", length=0)
    bx.spines["left"].set_visible(False)
    bx.set_xlabel("Standardized mean difference\n(surgical \u2212 non-surgical)",
                  fontsize=f["text"], linespacing=1.2)
    bx.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, fontsize=f["text"],
              handletextpad=0.3, columnspacing=1.2, borderaxespad=0.2, borderpad=0.1)
    _rb_title(fig, title, width, height, f["title"])
    _rb_footer(fig, notes, width)
    return fig


def _ps_boxes(ax, ps, treated, colors: tuple[str, str], f: dict[str, float]) -> None:
    """Panel (a) of :func:`propensity_overlap_figure` as one horizontal box per arm."""
    from matplotlib.colors import to_rgba

    major, minor = (int(x) for x in mpl.__version__.split(".")[:2])
    horizontal = ({"orientation": "horizontal"} if (major, minor) >= (3, 10)
                  else {"vert": False})
    for y, mask, color, arm in ((0.6, treated, colors[0], "surgical"),
                                (-0.6, ~treated, colors[1], "nonsurgical")):
        drawn = ax.boxplot([ps[mask]], positions=[y], widths=0.5, whis=(0, 100),
                           showfliers=False, patch_artist=True, **horizontal,
                           boxprops={"facecolor": to_rgba(color, 0.25), "edgecolor": color,
                                     "linewidth": 1.2},
                           medianprops={"color": color, "linewidth": 2.0},
                           whiskerprops={"color": color, "linewidth": 1.0},
                           capprops={"color": color, "linewidth": 1.0})
        drawn["boxes"][0].set_gid(f"ps_box:{arm}")
        for whisker in drawn["whiskers"]:
            whisker.set_gid(f"ps_whisker:{arm}")
    ax.set_ylim(-1.6, 1.6)
    ax.set_yticks([])


def iptw_km_figure(iptw: IPTWCox, unweighted: dict[str, KaplanMeier] | None = None, *,
                   reconstructed: bool, min_cell: int = 0,
                   width_mm: float = 180) -> Figure:
    """Kaplan-Meier curves weighted by stabilized inverse probability of treatment.

    Coloured: the weighted product-limit curve of each arm (``IPTWCox.curves``). When
    ``unweighted`` (:func:`nethep.survival.fit_by` on ``"arm"``) is given, a thin black
    dashed line over each shows the ordinary Kaplan-Meier curve, so the effect of the
    weighting is visible, and tick marks on the weighted curve show censored times
    (none for an arm with more than :data:`MAX_CENSOR_MARKS` censored patients; the
    note says so). The weighted Cox hazard ratio with its robust 95% CI is printed
    under the title.
    """
    import numpy as np
    from matplotlib.lines import Line2D

    f = _rb_fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < _NARROW_MM
    curves = iptw.curves
    arms = [a for a in ("surgical", "nonsurgical") if a in set(curves["arm"])]
    n = {a: int(iptw.propensity.n[a]) for a in arms}
    title = _rb_wrap("Overall survival weighted for the propensity of surgery", width - 0.1,
                     f["title"])
    subtitle = _rb_wrap(f"Weighted Cox hazard ratio {iptw.hr:.2f} (95% CI {iptw.lower:.2f}"
                        f"\u2013{iptw.upper:.2f}, robust standard error)", width - 0.1,
                        f["text"])
    truncation = ("no trimming" if iptw.propensity.truncate is None else
                  "weights truncated at percentiles "
                  f"{100 * iptw.propensity.truncate[0]:g} and "
                  f"{100 * iptw.propensity.truncate[1]:g}")
    omitted = [a for a in arms if unweighted and a in unweighted
               and int(unweighted[a].n_censor.sum()) > MAX_CENSOR_MARKS]
    notes = [f"Coloured: Kaplan-Meier curves weighted by stabilized inverse probability of "
             f"treatment ({truncation})"
             + ("; black dashed: unweighted Kaplan-Meier curves; tick marks: censored "
                "times." if unweighted else "."),
             *([_censor_marks_note([group_label(a, short=True) for a in omitted],
                                   len(omitted) == len(arms))] if omitted else []),
             *suppression_notes(min_cell), caption(reconstructed)]
    footer_h = _rb_footer_height(notes, width)
    top_h = _rb_title_height(title, f["title"]) + _rb_lines(subtitle) * f["text"] * 1.2 / 72
    legend_h = 0.42 if narrow else 0.24  # narrow: two columns (arms, then line style)
    axis_h = 0.12 + f["tick"] / 72 + 0.1 + f["text"] * 1.2 / 72
    plot_h = 2.0 if narrow else 2.9
    left = 0.55
    height = top_h + legend_h + plot_h + axis_h + footer_h + 0.08
    fig = plt.figure(figsize=(width, height))
    ax = _rb_axes(fig, left, footer_h + axis_h, width - left - 0.15, plot_h)
    longest = float(curves["time"].max())
    if unweighted:
        longest = max(longest, *(float(k.time[-1]) for k in unweighted.values()))
    for arm in arms:
        color = group_color(arm)
        c = iptw.curve(arm)
        t_w, s_w = c["time"].to_numpy(float), c["surv"].to_numpy(float)
        ax.step(t_w, s_w, where="post", color=color, linewidth=1.8, zorder=2,
                gid=f"weighted:{arm}")
        if unweighted and arm in unweighted:
            km = unweighted[arm]
            ax.step(np.concatenate([[0.0], km.time]), np.concatenate([[1.0], km.surv]),
                    where="post", color="#000000", linewidth=0.8, linestyle=(0, (3, 2)),
                    zorder=3, gid=f"unweighted:{arm}")
            if arm in omitted:
                continue
            censored = km.time[km.n_censor > 0]
            on_curve = s_w[np.searchsorted(t_w, censored, side="right") - 1]
            ax.plot(censored, on_curve, linestyle="none", marker="|", markersize=6,
                    markeredgewidth=1.1, color=color, zorder=4, gid=f"censored:{arm}")
    stepm = 12.0 if longest > 36 else 6.0
    ticks = np.arange(0.0, stepm * np.ceil(longest / stepm) + stepm / 2, stepm)
    ax.set_xticks(ticks)
    ax.set_xlim(-0.02 * ticks[-1], ticks[-1] * 1.02)
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.tick_params(labelsize=f["tick"])
    ax.set_xlabel("Months since diagnosis of liver metastases", fontsize=f["text"])
    ax.set_ylabel("Overall survival", fontsize=f["text"])
    handles = [Line2D([], [], color=group_color(a), linewidth=1.7,
                      label=group_label(a, n[a], short=True,
                                                      min_cell=min_cell)) for a in arms]
    if unweighted:
        handles.append(Line2D([], [], color="#000000", linewidth=0.8,
                              linestyle=(0, (3, 2)), label="Unweighted"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=2 if narrow else len(handles), fontsize=f["text"],
              handlelength=1.6 if narrow else 2.0, handletextpad=0.4, columnspacing=1.2,
              borderaxespad=0.2, borderpad=0.1)
    _rb_title(fig, title, width, height, f["title"])
    fig.text(0.04 / width, 1 - _rb_title_height(title, f["title"]) / height, subtitle,
             fontsize=f["text"], ha="left", va="top", linespacing=1.2)
    _rb_footer(fig, notes, width)
    return fig

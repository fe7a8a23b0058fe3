"""Lay a figure out in inches at its print width: measure and wrap text, stack notes,
place a legend, and build the axes of a plot by group (no title: captions hold titles).

Every figure is laid out at ``width_mm`` (85: single column, 180: double column): the
type sizes do not change with the width, only the wrapping, and the height follows
from the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from nethep.plots.style import NOTE_COLOR, NOTE_FONT_PT

MM_PER_INCH = 25.4
PAD_IN = 0.06  # white margin at the figure edge
#: Text is measured at screen (100 dpi) and export (300 dpi) resolution and the larger
#: size is used: glyph hinting makes the same string up to ~5% wider on screen.
MEASURE_DPI = (100.0, 300.0)


def width_in(width_mm: float) -> float:
    """Figure width in inches for a print width in millimetres."""
    return float(width_mm) / MM_PER_INCH


@cache
def _measuring_figure(dpi: float) -> Figure:
    """An off-screen Agg figure at ``dpi`` that only measures text (one per dpi)."""
    fig = Figure(dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def text_size_in(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
    """Width and height in inches of ``text`` (may hold newlines) at ``fontsize`` points,
    the larger of its sizes at the :data:`MEASURE_DPI` resolutions, in the font the
    current style sets (measured once per text, size, weight and font)."""
    font = (tuple(plt.rcParams["font.family"]), tuple(plt.rcParams["font.sans-serif"]))
    return _text_size_in(text, float(fontsize), weight, font)


@cache
def _text_size_in(text: str, fontsize: float, weight: str,
                  font: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[float, float]:
    """:func:`text_size_in`, cached; ``font`` (the style's font settings) is part of the
    key so that a change of style is measured anew."""
    width = height = 0.0
    for dpi in MEASURE_DPI:
        fig = _measuring_figure(dpi)
        artist = fig.text(0, 0, text, fontsize=fontsize, fontweight=weight)
        box = artist.get_window_extent(fig.canvas.get_renderer())
        artist.remove()
        width, height = max(width, box.width / dpi), max(height, box.height / dpi)
    return width, height


def wrap_text(text: str, max_width_in: float, fontsize: float, weight: str = "normal",
              balanced: bool = False) -> str:
    """Break ``text`` at spaces so that no line is wider than ``max_width_in`` inches.

    Existing newlines are kept; a single word wider than the limit stays whole.
    ``balanced``: use the narrowest width that needs no more lines (no orphan word),
    found by 12 bisection steps.
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


def renderer(fig: Figure) -> RendererBase:
    """The renderer of ``fig``'s canvas (to measure drawn artists)."""
    canvas = fig.canvas
    if hasattr(canvas, "get_renderer"):
        return canvas.get_renderer()
    return fig._get_renderer()  # pragma: no cover - non-Agg canvases


def place_legend(ax: Axes, handles: list, width_avail_in: float,
                 **kwargs: Any) -> tuple[Legend, float]:
    """A legend in one row if it fits in ``width_avail_in`` inches, else one column.

    (Two columns of three entries would read out of order.) Returns the legend and
    its height in inches; the caller anchors it.
    """
    fig = ax.figure
    for ncol in sorted({len(handles), 1}, reverse=True):
        legend = ax.legend(handles=handles, ncol=ncol, loc="upper left", **kwargs)
        box = legend.get_window_extent(renderer(fig))
        if box.width / fig.dpi <= width_avail_in or ncol == 1:
            return legend, box.height / fig.dpi
        legend.remove()
    raise ValueError("a legend needs at least one entry")  # pragma: no cover


@dataclass(frozen=True)
class GroupAxesLayout:
    """Vertical sizes (inches) of a :func:`group_axes` figure, for :func:`fit_group_axes`."""

    sub_h: float
    plot_h: float


def group_axes(width_mm: float, subtitle: str, ylabel: str, tick_labels: Sequence[str],
               notes: Sequence[str], plot_h: float | None = None
               ) -> tuple[Figure, Axes, GroupAxesLayout]:
    """Figure and axes for a plot by group: a one-line ``subtitle`` (e.g. the test and
    its P) flush left above it, multi-line x tick labels and the notes below, all sized
    at ``width_mm``. No title: a figure's title belongs to its caption.

    Call :func:`fit_group_axes` once the axes are drawn: it measures the y tick labels
    and sets the left margin.
    """
    w = width_in(width_mm)
    sub_fs, label_fs, tick_fs = 8, 9, 8
    wrapped_sub = wrap_text(subtitle, w - 2 * PAD_IN, sub_fs)
    sub_h = text_size_in(wrapped_sub, sub_fs)[1]
    top = PAD_IN + sub_h + 0.14
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
    return fig, ax, GroupAxesLayout(sub_h, plot_h)


def fit_group_axes(fig: Figure, ax: Axes, layout: GroupAxesLayout) -> None:
    """Set the left margin from the drawn y tick labels and y label; place the subtitle
    flush left with the figure margin."""
    w, _ = fig.get_size_inches()
    drawn = renderer(fig)
    tick_w = max((t.get_window_extent(drawn).width / fig.dpi
                  for t in ax.get_yticklabels() if t.get_text()), default=0.0)
    label_w = ax.yaxis.label.get_window_extent(drawn).width / fig.dpi
    left = PAD_IN + label_w + (4.0 + 3.5 + 3.5) / 72 + tick_w
    plot_w = w - left - 0.12
    pos = ax.get_position()
    ax.set_position((left / w, pos.y0, plot_w / w, pos.height))
    x = (PAD_IN - left) / plot_w  # flush left with the figure margin
    for text in ax.texts:
        if text.get_gid() == "subtitle":
            text.set_position((x, 1 + 0.14 / layout.plot_h))

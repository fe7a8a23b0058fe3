"""The compact layout of the robustness figures (notebook 05).

Each robustness figure takes ``width_mm`` (figure width = width_mm / 25.4 inches, the
height follows from the content) and lays its parts out in inches, so that nothing
depends on the width but the wrapping and the tick density. Type steps down half a
point below :data:`NARROW_MM` and never goes below 7 pt. Text is wrapped by a character
count estimated for DejaVu Sans (0.6 em per character), not measured.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

NARROW_MM = 120  # below this, panels stack and fonts step down half a point
CHAR_EM = 0.6  # estimated width of a DejaVu Sans character, in em


def fonts(width_mm: float) -> dict[str, float]:
    """Type sizes (pt) of the title, text and tick labels at ``width_mm``."""
    narrow = width_mm < NARROW_MM
    return {"title": 8.5 if narrow else 9.5, "text": 7.5 if narrow else 8.0,
            "tick": 7.5 if narrow else 8.0}


def text_width_in(text: str, fontsize: float) -> float:
    """Estimated width in inches of one line of ``text`` at ``fontsize``."""
    return len(text) * fontsize * CHAR_EM / 72


def wrap(text: str, width_in: float, fontsize: float) -> str:
    """Wrap ``text`` to lines that fit ``width_in`` inches at ``fontsize`` (estimated)."""
    chars = max(8, int(width_in * 72 / (fontsize * CHAR_EM)))
    return "\n".join(textwrap.fill(part, chars, break_on_hyphens=False)
                     for part in text.split("\n"))


def lines(text: str) -> int:
    """Number of lines of ``text``."""
    return text.count("\n") + 1


def footer(fig: Figure, notes: Sequence[str], width_in: float, fontsize: float = 7.0
           ) -> None:
    """Wrapped grey notes at the bottom-left (the data caption last), in one text."""
    text = wrap("\n".join(notes), width_in - 0.1, fontsize)
    fig.text(0.04 / width_in, 0.04 / fig.get_figheight(), text, fontsize=fontsize,
             color="#555555", ha="left", va="bottom", linespacing=1.25, gid="notes")


def footer_height(notes: Sequence[str], width_in: float, fontsize: float = 7.0) -> float:
    """Inches that :func:`footer` needs for ``notes``."""
    text = wrap("\n".join(notes), width_in - 0.1, fontsize)
    return 0.08 + lines(text) * fontsize * 1.25 / 72


def title(fig: Figure, text: str, width_in: float, height_in: float,
          fontsize: float) -> None:
    """The bold title, flush left at the top."""
    fig.text(0.04 / width_in, 1 - 0.06 / height_in, text, fontsize=fontsize,
             fontweight="bold", ha="left", va="top", linespacing=1.2)


def title_height(text: str, fontsize: float) -> float:
    """Inches that :func:`title` needs for ``text``."""
    return 0.1 + lines(text) * fontsize * 1.2 / 72


def axes_in(fig: Figure, left: float, bottom: float, width: float, height: float,
            **kwargs: Any) -> Axes:
    """Axes placed in inches from the figure's bottom-left corner."""
    w, h = fig.get_figwidth(), fig.get_figheight()
    return fig.add_axes((left / w, bottom / h, width / w, height / h), **kwargs)


def log_ticks(lo: float, hi: float, axis_in: float, fontsize: float) -> list[float]:
    """1-2-5 ticks within [lo, hi] on a log axis ``axis_in`` inches long, thinned so that
    neighbouring labels keep a gap; 1 (no effect) is always kept when in range."""
    cands = sorted(m * 10.0**k for k in range(math.floor(math.log10(lo)) - 1,
                                              math.ceil(math.log10(hi)) + 1)
                   for m in (1, 2, 5))
    cands = [c for c in cands if lo <= c <= hi]
    span = math.log10(hi) - math.log10(lo)

    def pos(v: float) -> float:
        return (math.log10(v) - math.log10(lo)) / span * axis_in

    def half(v: float) -> float:
        return text_width_in(f"{v:g}", fontsize) / 2

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


def not_estimable_figure(what: str, reason: str, width_mm: float,
                         notes: Sequence[str] = ()) -> Figure:
    """A figure that says in words that ``what`` cannot be drawn on this cohort, and why
    (e.g. one arm: no overlap to show), instead of empty or misleading axes."""
    f = fonts(width_mm)
    width = width_mm / 25.4
    text = wrap(f"{what}: not estimable on this cohort ({reason}).", width - 0.3, f["text"])
    height = 0.5 + lines(text) * f["text"] * 1.3 / 72 + (
        footer_height(notes, width) if notes else 0.0)
    fig = Figure(figsize=(width, height))
    fig.text(0.15 / width, 1 - 0.2 / height, text, fontsize=f["text"], ha="left", va="top",
             linespacing=1.3, gid="not_estimable")
    if notes:
        footer(fig, notes, width)
    return fig

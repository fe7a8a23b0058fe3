"""The house style: rcParams, a fixed colour and label per group, and the figure notes.

:func:`set_style` is the one place the style is set. Every figure uses the
colour-blind-safe Okabe-Ito palette (Okabe & Ito 2008) with a fixed colour per
group (:data:`GROUP_COLORS`); group names come from :data:`nethep.contract.GROUP_LABELS`.
A figure carries no title and no explanatory notes: those are its :class:`Caption`
(:func:`figure_caption`: the title, what is shown, the estimator and interval, the
small-cell suppression when it is on, and which data), shown under the figure by
:meth:`nethep.notebook.Notebook.figure` and saved into results.json. Inside the figure
only one grey line says which data it shows (:func:`caption`), so that a figure file
reused without its caption still says that the cohort is reconstructed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import matplotlib as mpl

from nethep import privacy
from nethep.contract import GROUP_LABELS

#: One fixed Okabe-Ito colour per group, arm and the whole cohort.
GROUP_COLORS: Mapping[str, str] = MappingProxyType({
    "medical": "#E69F00",  # orange
    "embolization": "#56B4E9",  # sky blue
    "surgical": "#009E73",  # bluish green
    "nonsurgical": "#CC79A7",  # reddish purple
    "all": "#000000",
})
#: The unused Okabe-Ito colours, for groups outside the contract.
FALLBACK_COLORS = ("#0072B2", "#D55E00", "#F0E442", "#999999")
RECONSTRUCTED_NOTE = "Reconstructed cohort (from published aggregates), not the original records."
MIN_FONT_PT = 7  # smallest type at print size
NOTE_FONT_PT = 7
NOTE_COLOR = "#555555"


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


def group_color(group: str, position: int = 0) -> str:
    """The house colour of a group; unknown groups take the unused Okabe-Ito colours
    (:data:`FALLBACK_COLORS`, by ``position``)."""
    return GROUP_COLORS.get(group, FALLBACK_COLORS[position % len(FALLBACK_COLORS)])


def group_label(group: str, n: int | None = None, short: bool = False,
                min_cell: int = 0) -> str:
    """Display label of a group, e.g. ``Surgical (n = 13)``; ``short`` drops any gloss;
    an n from 1 to ``min_cell`` - 1 reads ``<min_cell``."""
    label = GROUP_LABELS.get(group, group.replace("_", " ").capitalize())
    if "(" in label:  # "Non-surgical (medical + embolization)"
        head, gloss = label.split(" (", 1)
        label = head if short else f"{head}, {gloss.rstrip(')')}"
    return label if n is None else f"{label} (n = {privacy.mark(n, min_cell)})"


def caption(reconstructed: bool) -> str:
    """The note every figure carries about the data it shows."""
    return RECONSTRUCTED_NOTE if reconstructed else "Data: user-supplied cohort."


def suppression_notes(min_cell: int) -> list[str]:
    """The figure note about small-cell suppression below ``min_cell`` ([] when it is off)."""
    note = privacy.note(min_cell)
    return [f"Small-cell suppression: {note}."] if note else []


@dataclass(frozen=True)
class Caption:
    """A figure's caption: a short ``title`` and the ``text`` that follows it."""

    title: str
    text: str

    def __str__(self) -> str:
        return f"{self.title}. {self.text}".strip()

    def markdown(self) -> str:
        """The caption as shown under a figure in a notebook (title in bold)."""
        return f"**{self.title}.** {self.text}".strip()

    def to_results(self) -> dict[str, Any]:
        """``figures.<name>`` in results.json: ``title`` and the full ``caption``."""
        return {"title": self.title, "caption": str(self)}


def figure_caption(title: str, sentences: Sequence[str], *, reconstructed: bool,
                   min_cell: int = 0) -> Caption:
    """A :class:`Caption`: ``title``, then each sentence, then the small-cell suppression
    note (when ``min_cell`` > 1) and, last, which data the figure shows."""
    data = ("Reconstructed cohort: built from the published aggregates of Musunuru et al. "
            "(Arch Surg 2006), not the original patient records." if reconstructed
            else "Data: user-supplied cohort.")
    parts = [s.strip() for s in (*sentences, *suppression_notes(min_cell), data) if s.strip()]
    return Caption(title.rstrip("."), " ".join(parts))

"""The palliation figure (notebook 04): rate per group with exact CIs and the exact P,
and its caption (:func:`palliation_caption`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from nethep import privacy
from nethep.formats import p_text
from nethep.plots.layout import fit_group_axes, group_axes
from nethep.plots.style import Caption, caption, figure_caption, group_color, group_label

if TYPE_CHECKING:
    from nethep.palliation import PalliationResult


def palliation_figure(result: PalliationResult, *, reconstructed: bool, min_cell: int = 0,
                      width_mm: float = 180) -> Figure:
    """Palliation rate per group with exact (Clopper-Pearson) CI bars and the exact P.

    Made from a :class:`nethep.palliation.PalliationResult`; a group without symptomatic
    patients keeps its place on the axis, marked "no symptomatic patients"; counts from
    1 to ``min_cell`` - 1 read ``<min_cell``. No title is drawn (it heads
    :func:`palliation_caption`). Laid out at ``width_mm`` (85 or 180 for the journal
    widths).
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
        test = (f"Fisher-Freeman-Halton exact {p_text(result.exact_p)} "
                f"({len(result.tested_groups)} groups)")
    else:
        test = f"No test across groups: {result.test_note}"
    fig, ax, layout = group_axes(width_mm, test,
                                 "Proportion of symptomatic patients palliated", labels,
                                 [caption(reconstructed)])
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
    fit_group_axes(fig, ax, layout)
    return fig


def palliation_caption(result: PalliationResult, *, reconstructed: bool,
                       min_cell: int = 0) -> Caption:
    """The caption of :func:`palliation_figure`: what the points and bars show, who is
    counted, and the test."""
    level = f"{100 * result.conf_level:.0f}%"
    test = (f"Fisher-Freeman-Halton exact test across the {len(result.tested_groups)} "
            f"groups with symptomatic patients: {p_text(result.exact_p)}."
            if result.exact_p is not None else f"No test across groups: {result.test_note}.")
    return figure_caption(
        "Palliation of symptoms by treatment group",
        ["Points: proportion of symptomatic patients whose symptoms were palliated; bars: "
         f"exact (Clopper-Pearson) {level} confidence intervals. Under each group: "
         "patients palliated of those symptomatic.", test],
        reconstructed=reconstructed, min_cell=min_cell)

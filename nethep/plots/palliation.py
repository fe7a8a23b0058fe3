"""The palliation figure (notebook 04): rate per group with exact CIs and the exact P."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from nethep import privacy
from nethep.formats import p_text
from nethep.plots.layout import fit_titled_axes, titled_axes
from nethep.plots.style import caption, group_color, group_label, suppression_notes

if TYPE_CHECKING:
    from nethep.palliation import PalliationResult


def palliation_figure(result: PalliationResult, *, reconstructed: bool, min_cell: int = 0,
                      width_mm: float = 180) -> Figure:
    """Palliation rate per group with exact (Clopper-Pearson) CI bars and the exact P.

    Made from a :class:`nethep.palliation.PalliationResult`; a group without symptomatic
    patients keeps its place on the axis, marked "no symptomatic patients"; counts from
    1 to ``min_cell`` - 1 read ``<min_cell``. Laid out at ``width_mm`` (85 or 180 for
    the journal widths).
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
    fig, ax, layout = titled_axes(
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
    fit_titled_axes(fig, ax, layout)
    return fig

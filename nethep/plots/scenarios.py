"""The known-truth scenario figure (notebook 06): bias, coverage and rejection of every
method in every scenario, with Monte Carlo error bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from nethep.estimable import words
from nethep.plots.compact import not_estimable_figure, wrap
from nethep.plots.layout import MM_PER_INCH, text_size_in
from nethep.plots.style import NOTE_COLOR, Caption, caption, figure_caption

if TYPE_CHECKING:
    from nethep.robustness.scenarios import ScenarioStudy

#: One Okabe-Ito colour and marker per kind of scenario.
KIND_STYLE = (
    ("null", "No bias", "#000000", "o"),
    ("confounding", "Confounding", "#E69F00", "s"),
    ("immortal", "Immortal time", "#0072B2", "D"),
    ("censoring", "Informative censoring", "#D55E00", "^"),
)
TITLE = "What the methods detect in cohorts with a known truth"
MEASURES = (
    ("bias", "Bias, log hazard ratio", 0.0, "Bias, log HR"),
    ("coverage", "Coverage of the 95% CI", 0.95, "Coverage"),
    ("rejection", "Share with P < .05", 0.05, "P < .05"),
)


def scenario_caption(study: ScenarioStudy, *, reconstructed: bool,
                     min_cell: int = 0) -> Caption:
    """The caption of :func:`scenario_figure` (not estimable: the reason, in words)."""
    if study.reason:
        return figure_caption(
            TITLE, [f"No cohort was simulated: the known-truth scenarios are "
                    f"{words(study.reason)}."],
            reconstructed=reconstructed, min_cell=min_cell)
    return figure_caption(
        TITLE,
        [f"{study.n_replicates} simulated cohorts per scenario, each shaped like the "
         "analysed cohort; rows: methods, columns: bias (estimate minus the true log "
         "hazard ratio), coverage of the 95% CI and share of replicates with P < .05 (the "
         "type I error at true HR 1, the power at true HR 0.5); one panel row per true "
         "HR.",
         "Points: the mean over the replicates where the method was estimable; bars: "
         "±1.96 Monte Carlo SE. Dotted lines: no bias, 95% coverage, 5% rejection.",
         "The RMST difference (bias in months, in the table) and the permutation test "
         "(a test only) appear in the columns they have."],
        reconstructed=reconstructed, min_cell=min_cell)


def scenario_figure(study: ScenarioStudy, *, reconstructed: bool, min_cell: int = 0,
                    width_mm: float = 180) -> Figure:
    """Bias, coverage and rejection per method (rows) and scenario kind (colours), one
    panel row per true HR; at 85 mm the measures are stacked instead (one panel
    column per true HR). Made from a :class:`~nethep.robustness.scenarios.ScenarioStudy`;
    a study with a ``reason`` (no cohort simulated) gives a figure that says so in words
    (:func:`nethep.plots.compact.not_estimable_figure`)."""
    if study.reason:
        return not_estimable_figure("Known-truth scenarios", study.reason, width_mm,
                                    [caption(reconstructed)])
    rows = study.rows
    hrs = sorted({s.true_hr for s in study.scenarios}, reverse=True)
    methods = list(dict.fromkeys(rows["method"]))
    labels = list(dict.fromkeys(rows["label"]))
    narrow = width_mm < 120
    n_m, n_h = len(MEASURES), len(hrs)
    shape = (n_m, n_h) if narrow else (n_h, n_m)
    width = width_mm / MM_PER_INCH
    panel_h = 0.16 * len(methods) + 0.55
    left = max(text_size_in(lab, 7)[0] for lab in labels) + 0.3
    top = 0.8 if narrow else 0.62
    height = shape[0] * panel_h + top + 0.3
    fig, axes = plt.subplots(*shape, figsize=(width, height), squeeze=False, sharey=True)
    fig.subplots_adjust(left=left / width, right=1 - 0.12 / width, top=1 - top / height,
                        bottom=(0.6 if narrow else 0.45) / height, wspace=0.15,
                        hspace=0.62 if narrow else 0.5)
    y = np.arange(len(methods))[::-1].astype(float)
    offsets = np.linspace(-0.27, 0.27, len(KIND_STYLE))
    for hi, hr in enumerate(hrs):
        for mi, (measure, title, ref, short) in enumerate(MEASURES):
            ax = axes[mi, hi] if narrow else axes[hi, mi]
            for (kind, _, color, marker), dy in zip(KIND_STYLE, offsets, strict=True):
                sub = rows[(rows["kind"] == kind) & (rows["true_hr"] == hr)]
                if sub.empty:
                    continue
                sub = sub.set_index("method").reindex(methods)
                values = sub[measure].to_numpy(float)
                if measure == "bias":
                    values = np.where(sub["scale"] == "months", np.nan, values)
                err = 1.96 * sub[f"mcse_{measure}"].to_numpy(float)
                ax.errorbar(values, y + dy, xerr=err, fmt=marker, color=color,
                            markersize=3, elinewidth=0.8, capsize=0)
            if not (measure == "rejection" and hr != 1):
                ax.axvline(ref, color=NOTE_COLOR, linestyle=":", linewidth=0.8)
            name = short if narrow else title
            if measure == "rejection" and hr != 1:
                name += " (power)"
            ax.set_title(f"{name}\ntrue HR {hr:g}", fontsize=7, loc="left")
            ax.tick_params(labelsize=7)
            ax.set_yticks(y)
            ax.set_yticklabels(labels, fontsize=7)
            ax.set_ylim(-0.6, len(methods) - 0.4)
            ax.xaxis.set_major_locator(MaxNLocator(3 if narrow else 4))
            if measure == "bias":
                finite = rows.loc[rows["scale"] != "months", "bias"].to_numpy(float)
                bound = max(0.25, float(np.nanmax(np.abs(finite))) + 0.15)
                ax.set_xlim(-bound, bound)
            if measure == "coverage":
                ax.set_xlim(min(0.5, float(np.nanmin(rows["coverage"])) - 0.05), 1.0)
            if measure == "rejection":
                ax.set_xlim(0, 1)
    handles = [Line2D([], [], linestyle="", marker=m, color=c, markersize=4, label=lab)
               for _, lab, c, m in KIND_STYLE]
    fig.legend(handles=handles, loc="upper left", ncol=2 if narrow else 4, fontsize=7,
               bbox_to_anchor=(0.0, 1.0), frameon=False, handletextpad=0.2,
               columnspacing=0.8, borderaxespad=0.2)
    fig.text(0.01, 0.01, wrap(caption(reconstructed), width - 0.2, 7), fontsize=7,
             color=NOTE_COLOR, ha="left", va="bottom")
    return fig

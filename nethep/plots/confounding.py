"""Confounding figures (notebook 05): propensity overlap with covariate balance, and
Kaplan-Meier curves weighted by the inverse probability of treatment, in the compact
layout (:mod:`nethep.plots.compact`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nethep import privacy
from nethep.contract import COVARIATE_WORDS
from nethep.formats import join_and
from nethep.plots import compact
from nethep.plots.layout import MM_PER_INCH
from nethep.plots.style import (
    GROUP_COLORS,
    caption,
    group_color,
    group_label,
    suppression_notes,
)
from nethep.plots.survival import censor_marks_note, km_ticks, marks_omitted

if TYPE_CHECKING:
    import pandas as pd

    from nethep.km import KaplanMeier
    from nethep.robustness import IPTWCox, Propensity

#: Display labels of the design terms in the propensity balance (love) plot.
TERM_LABELS: Mapping[str, str] = MappingProxyType({
    "tumor_type=islet_cell": "Islet cell tumour",
    "liver_involvement_pct": "Liver involved, %",
    "age_years": "Age, years",
})
PS_BIN = 0.02  # width of a propensity-score histogram bin


def _weights_rule(truncate: tuple[float, float] | None, prefix: str = "") -> str:
    if truncate is None:
        return "no trimming"
    return (f"{prefix}truncated at percentiles {100 * truncate[0]:g} and "
            f"{100 * truncate[1]:g}")


def _ps_bins(ps: np.ndarray) -> np.ndarray:
    """Bin edges :data:`PS_BIN` apart covering the scores, at least five bins wide."""
    step = PS_BIN
    lo_edge = np.floor(ps.min() / step) * step
    hi_edge = np.ceil(ps.max() / step) * step
    if hi_edge - lo_edge < 5 * step:
        mid = (lo_edge + hi_edge) / 2
        lo_edge, hi_edge = max(0.0, mid - 2.5 * step), min(1.0, mid + 2.5 * step)
    return np.arange(lo_edge, hi_edge + step / 2, step)


def _draw_histogram(ax: Axes, centres: np.ndarray, up: np.ndarray, down: np.ndarray,
                    colors: tuple[str, str]) -> None:
    """Panel (a): surgical patients' bars above the line, non-surgical below."""
    ax.bar(centres, up, width=PS_BIN * 0.92, color=colors[0], edgecolor="white",
           linewidth=0.4, gid="ps:surgical")
    ax.bar(centres, -down, width=PS_BIN * 0.92, color=colors[1], edgecolor="white",
           linewidth=0.4, gid="ps:nonsurgical")
    ax.axhline(0, color="#333333", linewidth=0.8)
    top = max(int(up.max()), int(down.max()), 1)
    ax.set_ylim(-top * 1.3, top * 1.3)
    yt = mpl.ticker.MaxNLocator(nbins=6, integer=True, symmetric=True).tick_values(-top, top)
    yt = [t for t in yt if abs(t) <= top * 1.3]
    ax.set_yticks(yt)
    ax.set_yticklabels([f"{abs(int(t))}" for t in yt])


def _draw_boxes(ax: Axes, ps: np.ndarray, treated: np.ndarray,
                colors: tuple[str, str]) -> None:
    """Panel (a) as one horizontal box per arm (median, quartiles, whiskers to the
    extremes), when a histogram bar would show a small cell."""
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


def _draw_balance(bx: Axes, balance: pd.DataFrame, terms: list[str],
                  f: dict[str, float]) -> None:
    """Panel (b), the love plot: |SMD| < 0.1 band, each term before (open) and after
    (filled) weighting, joined by a grey line."""
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


LOVE_LEGEND_H = 0.22  # inches above the love plot for its legend
Box = tuple[float, float, float, float]  # left, bottom, width, height in inches


def _panels(width_mm: float, footer_h: float, top_h: float, label_w: float,
            n_terms: int) -> tuple[float, Box, Box]:
    """Figure height and the boxes of panels a (histogram) and b (love plot): side by
    side from :data:`compact.NARROW_MM`, else a above b; ``label_w`` is the width of the
    love plot's term labels."""
    f = compact.fonts(width_mm)
    width = width_mm / MM_PER_INCH
    axis_h = 0.12 + f["tick"] / 72 + 0.1 + 2 * f["text"] * 1.2 / 72
    panel_title_h = 0.28
    left_hist = 0.5
    if width_mm < compact.NARROW_MM:
        hist_h = 1.55
        love_h = max(0.75, 0.32 * n_terms + 0.3)
        height = (top_h + 2 * (panel_title_h + axis_h) + hist_h + LOVE_LEGEND_H + love_h
                  + footer_h + 0.05)
        love_bottom = footer_h + axis_h
        hist_bottom = love_bottom + love_h + LOVE_LEGEND_H + panel_title_h + axis_h
        return (height, (left_hist, hist_bottom, width - left_hist - 0.15, hist_h),
                (label_w + 0.05, love_bottom, width - label_w - 0.2, love_h))
    hist_h = 1.9
    height = top_h + panel_title_h + hist_h + axis_h + footer_h + 0.05
    half = width / 2
    bottom = footer_h + axis_h
    return (height, (left_hist, bottom, half - left_hist - 0.3, hist_h),
            (half + label_w + 0.05, bottom, half - label_w - 0.2, hist_h - LOVE_LEGEND_H))


def _overlap_notes(prop: Propensity, as_boxes: bool, min_cell: int) -> list[str]:
    """What the propensity model and weights are, and why panel a shows boxes."""
    words = [COVARIATE_WORDS.get(c, c.replace("_", " ")) for c in prop.covariates]
    return [f"Propensity score: logistic regression of surgery on {join_and(words)}. Weights: "
            f"stabilized inverse probability of treatment "
            f"({_weights_rule(prop.truncate)}). Dashed band: |SMD| < 0.1.",
            *([f"Panel a shows boxes (median, quartiles, whiskers to the extremes) instead "
               f"of a histogram: some bins hold fewer than {min_cell} patients "
               "(small-cell suppression)."] if as_boxes else [])]


def propensity_overlap_figure(prop: Propensity, *, reconstructed: bool, min_cell: int = 0,
                              width_mm: float = 180) -> Figure:
    """Overlap of propensity scores by arm (a) and covariate balance (b).

    (a) Mirrored histogram of the propensity score (probability of surgery from
    :func:`nethep.robustness.propensity`): surgical patients above the line, non-surgical
    below, common bins 0.02 wide; the arms' score ranges must overlap for weighting to
    compare like with like. (b) Love plot: standardized mean difference of each design
    term before (open) and after (filled) stabilized inverse-probability weighting,
    with the usual |SMD| < 0.1 band. Panels side by side from 120 mm, stacked below.

    With ``min_cell`` > 1 and a histogram bar from 1 to ``min_cell`` - 1 patients,
    panel (a) shows instead one box per arm (median, quartiles, whiskers to the
    smallest and largest score), which still shows the overlap, and the note says so.
    """
    f = compact.fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < compact.NARROW_MM
    ps = prop.scores["ps"].to_numpy(float)
    treated = prop.scores["surgical"].to_numpy(bool)
    bins = _ps_bins(ps)
    up, _ = np.histogram(ps[treated], bins)
    down, _ = np.histogram(ps[~treated], bins)
    as_boxes = any(privacy.is_small(c, min_cell) for c in (*up, *down))
    terms = [TERM_LABELS.get(t, t) for t in prop.balance["term"]]
    title = compact.wrap("Propensity of surgery: overlap and covariate balance",
                         width - 0.1, f["title"])
    notes = [*_overlap_notes(prop, as_boxes, min_cell), *suppression_notes(min_cell),
             caption(reconstructed)]
    height, hist_box, love_box = _panels(
        width_mm, compact.footer_height(notes, width), compact.title_height(title, f["title"]),
        max(compact.text_width_in(t, f["tick"]) for t in terms) + 0.15, len(terms))
    fig = plt.figure(figsize=(width, height))
    panel_x = (0.04, 0.04) if narrow else (0.04, width / 2 + 0.04)
    for x_in, top_in, text in (
            (panel_x[0], hist_box[1] + hist_box[3], "a  Overlap of propensity scores"),
            (panel_x[1], love_box[1] + love_box[3] + LOVE_LEGEND_H, "b  Covariate balance")):
        fig.text(x_in / width, (top_in + 0.1) / height, text, fontsize=f["text"],
                 fontweight="bold", ha="left", va="bottom")
    ax = compact.axes_in(fig, *hist_box)
    colors = (GROUP_COLORS["surgical"], GROUP_COLORS["nonsurgical"])
    if as_boxes:
        _draw_boxes(ax, ps, treated, colors)
    else:
        _draw_histogram(ax, (bins[:-1] + bins[1:]) / 2, up, down, colors)
    ax.set_xlim(bins[0] - PS_BIN / 2, bins[-1] + PS_BIN / 2)
    xt = mpl.ticker.MaxNLocator(nbins=6 if narrow else 7).tick_values(bins[0], bins[-1])
    ax.set_xticks([t for t in xt if bins[0] - PS_BIN / 2 <= t <= bins[-1] + PS_BIN / 2])
    ax.tick_params(labelsize=f["tick"])
    ax.set_xlabel("Propensity score\n(estimated probability of surgery)", fontsize=f["text"],
                  linespacing=1.2)
    if not as_boxes:
        ax.set_ylabel("Patients", fontsize=f["text"])
    for y, va, arm, n, color in ((0.97, "top", "surgical", int(treated.sum()), colors[0]),
                                 (0.03, "bottom", "nonsurgical", int((~treated).sum()),
                                  colors[1])):
        ax.text(0.02, y, group_label(arm, n, short=True, min_cell=min_cell),
                transform=ax.transAxes, ha="left", va=va, fontsize=f["text"], color=color,
                fontweight="bold")
    _draw_balance(compact.axes_in(fig, *love_box), prop.balance, terms, f)
    compact.title(fig, title, width, height, f["title"])
    compact.footer(fig, notes, width)
    return fig


def _draw_weighted_curves(ax: Axes, iptw: IPTWCox, arms: list[str],
                          unweighted: dict[str, KaplanMeier] | None,
                          omitted: list[str]) -> None:
    """Each arm's weighted curve; over it the unweighted curve (black dashed) and tick
    marks at its censored times, when ``unweighted`` is given."""
    for arm in arms:
        color = group_color(arm)
        c = iptw.curve(arm)
        t_w, s_w = c["time"].to_numpy(float), c["surv"].to_numpy(float)
        ax.step(t_w, s_w, where="post", color=color, linewidth=1.8, zorder=2,
                gid=f"weighted:{arm}")
        if not unweighted or arm not in unweighted:
            continue
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


def iptw_km_figure(iptw: IPTWCox, unweighted: dict[str, KaplanMeier] | None = None, *,
                   reconstructed: bool, min_cell: int = 0,
                   width_mm: float = 180) -> Figure:
    """Kaplan-Meier curves weighted by stabilized inverse probability of treatment.

    Coloured: the weighted product-limit curve of each arm (``IPTWCox.curves``). When
    ``unweighted`` (:func:`nethep.survival.fit_by` on ``"arm"``) is given, a thin black
    dashed line over each shows the ordinary Kaplan-Meier curve, so the effect of the
    weighting is visible, and tick marks on the weighted curve show censored times
    (none for an arm with more than :data:`nethep.plots.survival.MAX_CENSOR_MARKS`
    censored patients; the note says so). The weighted Cox hazard ratio with its robust
    95% CI (``IPTWCox.hazard_ratio``) is printed under the title. Legend n from 1 to
    ``min_cell`` - 1 read ``<min_cell``.
    """
    f = compact.fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < compact.NARROW_MM
    curves = iptw.curves
    arms = [a for a in ("surgical", "nonsurgical") if a in set(curves["arm"])]
    title = compact.wrap("Overall survival weighted for the propensity of surgery",
                         width - 0.1, f["title"])
    hr = iptw.hazard_ratio
    subtitle = compact.wrap(f"Weighted Cox hazard ratio {hr.hr:.2f} (95% CI "
                            f"{hr.lower:.2f}\u2013{hr.upper:.2f}, robust standard error)",
                            width - 0.1, f["text"])
    omitted = [a for a in arms if a in marks_omitted(unweighted or {})]
    notes = [f"Coloured: Kaplan-Meier curves weighted by stabilized inverse probability of "
             f"treatment ({_weights_rule(iptw.propensity.truncate, 'weights ')})"
             + ("; black dashed: unweighted Kaplan-Meier curves; tick marks: censored "
                "times." if unweighted else "."),
             *([censor_marks_note([group_label(a, short=True) for a in omitted],
                                  len(omitted) == len(arms))] if omitted else []),
             *suppression_notes(min_cell), caption(reconstructed)]
    footer_h = compact.footer_height(notes, width)
    top_h = (compact.title_height(title, f["title"])
             + compact.lines(subtitle) * f["text"] * 1.2 / 72)
    legend_h = 0.42 if narrow else 0.24  # narrow: two columns (arms, then line style)
    axis_h = 0.12 + f["tick"] / 72 + 0.1 + f["text"] * 1.2 / 72
    plot_h = 2.0 if narrow else 2.9
    left = 0.55
    height = top_h + legend_h + plot_h + axis_h + footer_h + 0.08
    fig = plt.figure(figsize=(width, height))
    ax = compact.axes_in(fig, left, footer_h + axis_h, width - left - 0.15, plot_h)
    longest = float(curves["time"].max())
    if unweighted:
        longest = max(longest, *(float(k.time[-1]) for k in unweighted.values()))
    _draw_weighted_curves(ax, iptw, arms, unweighted, omitted)
    ticks = km_ticks(longest)
    ax.set_xticks(ticks)
    ax.set_xlim(-0.02 * ticks[-1], ticks[-1] * 1.02)
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.tick_params(labelsize=f["tick"])
    ax.set_xlabel("Months since diagnosis of liver metastases", fontsize=f["text"])
    ax.set_ylabel("Overall survival", fontsize=f["text"])
    handles = [Line2D([], [], color=group_color(a), linewidth=1.7,
                      label=group_label(a, int(iptw.propensity.n[a]), short=True,
                                        min_cell=min_cell)) for a in arms]
    if unweighted:
        handles.append(Line2D([], [], color="#000000", linewidth=0.8,
                              linestyle=(0, (3, 2)), label="Unweighted"))
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=2 if narrow else len(handles), fontsize=f["text"],
              handlelength=1.6 if narrow else 2.0, handletextpad=0.4, columnspacing=1.2,
              borderaxespad=0.2, borderpad=0.1)
    compact.title(fig, title, width, height, f["title"])
    fig.text(0.04 / width, 1 - compact.title_height(title, f["title"]) / height, subtitle,
             fontsize=f["text"], ha="left", va="top", linespacing=1.2)
    compact.footer(fig, notes, width)
    return fig

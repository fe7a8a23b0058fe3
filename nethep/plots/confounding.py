"""Confounding figures (notebook 05): propensity overlap with covariate balance, and
Kaplan-Meier curves weighted by the inverse probability of treatment with numbers at
risk, in the compact layout (:mod:`nethep.plots.compact`).

No title is drawn in a figure: :func:`propensity_overlap_caption` and
:func:`iptw_km_caption` give each figure's title and caption, shown under it by
``Notebook.figure``; the figure keeps only the line naming the data."""

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
from matplotlib.transforms import offset_copy

from nethep import privacy
from nethep.contract import COVARIATE_WORDS
from nethep.formats import join_and
from nethep.plots import compact
from nethep.plots.layout import MM_PER_INCH
from nethep.plots.style import (
    GROUP_COLORS,
    Caption,
    caption,
    figure_caption,
    group_color,
    group_label,
)
from nethep.plots.survival import (
    MIN_AT_RISK,
    censor_marks_note,
    km_ticks,
    marks_omitted,
    truncated,
)

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


def _weights_words(prop: Propensity) -> str:
    """The weights of the propensity model's estimand, and their trimming."""
    if prop.estimand == "ATT":
        kind = ("ATT weights (average effect in patients like those operated on: 1 for "
                "surgical, e/(1 - e) for non-surgical patients)")
    else:
        kind = ("stabilized ATE weights (average effect in the whole cohort: P(surgical)/e "
                "and (1 - P(surgical))/(1 - e))")
    return f"{kind}, {_weights_rule(prop.truncate)}"


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


def _as_boxes(prop: Propensity, min_cell: int) -> bool:
    """True when a histogram bar would show 1 to ``min_cell - 1`` patients."""
    ps = prop.scores["ps"].to_numpy(float)
    treated = prop.scores["surgical"].to_numpy(bool)
    bins = _ps_bins(ps)
    counts = (*np.histogram(ps[treated], bins)[0], *np.histogram(ps[~treated], bins)[0])
    return any(privacy.is_small(c, min_cell) for c in counts)


def propensity_overlap_caption(prop: Propensity, *, reconstructed: bool,
                               min_cell: int = 0) -> Caption:
    """The caption of :func:`propensity_overlap_figure` (same arguments): the model, the
    weights and their estimand, the overlap region, and why panel a shows boxes."""
    words = [COVARIATE_WORDS.get(c, c.replace("_", " ")) for c in prop.covariates]
    pos = prop.positivity
    overlap = ("The arms' scores do not overlap." if pos.overlap is None else
               f"Grey band in a: the common support ({pos.overlap[0]:.2f} to "
               f"{pos.overlap[1]:.2f}), the scores seen in both arms; "
               f"{privacy.mark(sum(pos.n_outside.values()), min_cell)} patient(s) lie "
               "outside it.")
    sentences = [
        "a: propensity scores by arm (surgical above the line, non-surgical below); b: "
        "standardized mean difference (SMD) of each covariate before (open) and after "
        "(filled) weighting; dashed band: |SMD| < 0.1.",
        f"Propensity score: logistic regression of surgery on {join_and(words)}. Weights: "
        f"{_weights_words(prop)}.", overlap]
    if _as_boxes(prop, min_cell):
        sentences.append(f"Panel a shows boxes (median, quartiles, whiskers to the extremes) "
                         f"instead of a histogram: some bins hold fewer than {min_cell} "
                         "patients (small-cell suppression).")
    return figure_caption("Propensity of surgery: overlap and covariate balance", sentences,
                          reconstructed=reconstructed, min_cell=min_cell)


def propensity_overlap_figure(prop: Propensity, *, reconstructed: bool, min_cell: int = 0,
                              width_mm: float = 180) -> Figure:
    """Overlap of propensity scores by arm (a) and covariate balance (b).

    (a) Mirrored histogram of the propensity score (probability of surgery from
    :func:`nethep.robustness.propensity`): surgical patients above the line, non-surgical
    below, common bins 0.02 wide; the arms' score ranges must overlap for weighting to
    compare like with like. (b) Love plot: standardized mean difference of each design
    term before (open) and after (filled) inverse-probability weighting (the model's
    estimand, ATT by default),
    with the usual |SMD| < 0.1 band. Panels side by side from 120 mm, stacked below.

    With ``min_cell`` > 1 and a histogram bar from 1 to ``min_cell`` - 1 patients,
    panel (a) shows instead one box per arm (median, quartiles, whiskers to the
    smallest and largest score), which still shows the overlap, and the caption says so.
    A grey band marks the common support (scores seen in both arms). No title: see
    :func:`propensity_overlap_caption`.
    """
    if prop.n_empty:
        return compact.not_estimable_figure("Overlap of propensity scores",
                                            prop.positivity.reason, width_mm,
                                            [caption(reconstructed)])
    f = compact.fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < compact.NARROW_MM
    ps = prop.scores["ps"].to_numpy(float)
    treated = prop.scores["surgical"].to_numpy(bool)
    bins = _ps_bins(ps)
    up, _ = np.histogram(ps[treated], bins)
    down, _ = np.histogram(ps[~treated], bins)
    as_boxes = _as_boxes(prop, min_cell)
    terms = [TERM_LABELS.get(t, t) for t in prop.balance["term"]]
    notes = [caption(reconstructed)]
    height, hist_box, love_box = _panels(
        width_mm, compact.footer_height(notes, width), 0.05,
        max((compact.text_width_in(t, f["tick"]) for t in terms), default=0.0) + 0.15,
        len(terms))
    fig = plt.figure(figsize=(width, height))
    panel_x = (0.04, 0.04) if narrow else (0.04, width / 2 + 0.04)
    for x_in, top_in, text in (
            (panel_x[0], hist_box[1] + hist_box[3], "a  Overlap of propensity scores"),
            (panel_x[1], love_box[1] + love_box[3] + LOVE_LEGEND_H, "b  Covariate balance")):
        fig.text(x_in / width, (top_in + 0.1) / height, text, fontsize=f["text"],
                 fontweight="bold", ha="left", va="bottom")
    ax = compact.axes_in(fig, *hist_box)
    overlap = prop.positivity.overlap
    if overlap is not None:
        ax.axvspan(*overlap, color="#E6E6E6", zorder=0, linewidth=0, gid="common_support")
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
    compact.footer(fig, notes, width)
    return fig


def stop_time(iptw: IPTWCox, arm: str, min_at_risk: int = MIN_AT_RISK) -> float:
    """Where the weighted curve of ``arm`` stops: the first observed time after which
    fewer than ``min_at_risk`` patients (unweighted count) remain at risk, as
    :func:`nethep.plots.survival.truncation_time`; the last time when that never happens
    or ``min_at_risk`` is 0."""
    curve = iptw.curve(arm)
    times = curve["time"].to_numpy(float)[1:]  # the first row is time 0
    if iptw.frame is None or min_at_risk <= 0 or not len(times):
        return float(curve["time"].max())
    sub = iptw.frame[iptw.frame["surgical"].to_numpy(bool) == (arm == "surgical")]
    t = np.sort(sub["T"].to_numpy(float))
    remaining = len(t) - np.searchsorted(t, times, side="right")
    below = np.flatnonzero(remaining < min_at_risk)
    return float(times[below[0]] if len(below) else times[-1])


def _draw_weighted_curves(ax: Axes, iptw: IPTWCox, arms: list[str],
                          unweighted: dict[str, KaplanMeier] | None,
                          omitted: list[str], min_at_risk: int) -> None:
    """Each arm's weighted curve to :func:`stop_time`; over it the unweighted curve
    (black dashed, truncated by the same rule) and tick marks at its censored times,
    when ``unweighted`` is given."""
    for arm in arms:
        color = group_color(arm)
        c = iptw.curve(arm)
        c = c[c["time"] <= stop_time(iptw, arm, min_at_risk)]
        t_w, s_w = c["time"].to_numpy(float), c["surv"].to_numpy(float)
        ax.step(t_w, s_w, where="post", color=color, linewidth=1.8, zorder=2,
                gid=f"weighted:{arm}")
        if not unweighted or arm not in unweighted:
            continue
        km = truncated(unweighted[arm], min_at_risk)
        ax.step(np.concatenate([[0.0], km.time]), np.concatenate([[1.0], km.surv]),
                where="post", color="#000000", linewidth=0.8, linestyle=(0, (3, 2)),
                zorder=3, gid=f"unweighted:{arm}")
        if arm in omitted:
            continue
        censored = km.time[km.n_censor > 0]
        on_curve = s_w[np.searchsorted(t_w, censored, side="right") - 1]
        ax.plot(censored, on_curve, linestyle="none", marker="|", markersize=6,
                markeredgewidth=1.1, color=color, zorder=4, gid=f"censored:{arm}")


def iptw_km_caption(iptw: IPTWCox, unweighted: dict[str, KaplanMeier] | None = None, *,
                    reconstructed: bool, min_cell: int = 0,
                    min_at_risk: int = MIN_AT_RISK) -> Caption:
    """The caption of :func:`iptw_km_figure` (same arguments): the weights and estimand,
    the unweighted curves, the weighted hazard ratio with both intervals, the numbers at
    risk."""
    hr = iptw.hazard_ratio
    arms = [a for a in ("surgical", "nonsurgical") if a in set(iptw.curves["arm"])]
    omitted = [a for a in arms if a in marks_omitted(unweighted or {})]
    result = (f"Weighted Cox {hr.words()} with the robust (sandwich) standard error; "
              f"{iptw.bootstrap_words()}." if hr.estimable else
              f"Weighted Cox hazard ratio: {hr.words()}.")
    sentences = [
        "Coloured: Kaplan-Meier curves weighted by the inverse probability of treatment, "
        f"{_weights_words(iptw.propensity)}."
        + (" Black dashed: unweighted Kaplan-Meier curves; tick marks: censored times."
           if unweighted else ""),
        *([censor_marks_note([group_label(a, short=True) for a in omitted],
                             len(omitted) == len(arms))] if omitted else []),
        result,
        (f"Each curve stops at the first time fewer than {min_at_risk} patients remain at "
         "risk (" + join_and([f"{group_label(a, short=True).lower()} at "
                              f"{stop_time(iptw, a, min_at_risk):g} months" for a in arms])
         + "), because estimates resting on fewer patients are unstable." if min_at_risk > 0
         else "Curves are drawn to the last observed time."),
        "Numbers at risk under the plot, at each tick: patients still followed (unweighted "
        "count) and, below, the sum of their weights (weighted number at risk).",
    ]
    return figure_caption(
        f"Overall survival weighted for the propensity of surgery ({iptw.estimand})",
        sentences, reconstructed=reconstructed, min_cell=min_cell)


def _draw_at_risk(fig: Figure, iptw: IPTWCox, arms: list[str], ticks: list[float],
                  box: tuple[float, float, float, float], f: dict[str, float],
                  min_cell: int) -> Axes:
    """Per arm, the unweighted count and the weighted number at risk at each tick, in an
    axes sharing the plot's x range (``box`` in inches: left, bottom, width, height)."""
    risk = compact.axes_in(fig, *box)
    rows = len(arms) * 2
    fig.text(0.04 / fig.get_figwidth(), (box[1] + box[3] + 0.04) / fig.get_figheight(),
             "Number at risk", fontsize=f["text"], fontweight="bold", ha="left",
             va="bottom")
    for k, arm in enumerate(arms):
        color = group_color(arm)
        count, weighted = iptw.at_risk(arm, ticks)
        small = [privacy.is_small(int(c), min_cell) for c in count]
        for j, (label, values) in enumerate((
                (group_label(arm, short=True), [str(privacy.mark(int(c), min_cell))
                                                for c in count]),
                ("weighted", ["" if s else f"{w:.1f}" for s, w in
                              zip(small, weighted, strict=True)]))):
            y = 2 * k + j
            risk.text(0, y, label, transform=offset_copy(risk.get_yaxis_transform(),
                                                         fig=fig, x=-0.22, units="inches"),
                      ha="right",
                      va="center", fontsize=f["tick"] - 0.5, color=color,
                      style="italic" if j else "normal")
            for t, v in zip(ticks, values, strict=True):
                risk.text(t, y, v, ha="center", va="center", fontsize=f["tick"] - 0.5,
                          color=color, gid=f"at_risk:{arm}:{label}")
    risk.set_ylim(rows - 0.5, -0.5)
    risk.set_xticks([])
    risk.set_yticks([])
    for spine in risk.spines.values():
        spine.set_visible(False)
    risk.patch.set_visible(False)
    return risk


def iptw_km_figure(iptw: IPTWCox, unweighted: dict[str, KaplanMeier] | None = None, *,
                   reconstructed: bool, min_cell: int = 0, min_at_risk: int = MIN_AT_RISK,
                   width_mm: float = 180) -> Figure:
    """Kaplan-Meier curves weighted by the inverse probability of treatment, with numbers
    at risk.

    Coloured: the weighted product-limit curve of each arm (``IPTWCox.curves``). When
    ``unweighted`` (:func:`nethep.survival.fit_by` on ``"arm"``) is given, a thin black
    dashed line over each shows the ordinary Kaplan-Meier curve, so the effect of the
    weighting is visible, and tick marks on the weighted curve show censored times
    (none for an arm with more than :data:`nethep.plots.survival.MAX_CENSOR_MARKS`
    censored patients; the caption says so). Under the plot, per arm, the patients
    still followed at each tick and the sum of their weights (:meth:`IPTWCox.at_risk`);
    with ``min_cell`` > 1 a count from 1 to ``min_cell`` - 1 reads ``<min_cell`` and its
    weighted number is left blank. Each curve stops at :func:`stop_time` (fewer than
    ``min_at_risk``, default 5, patients left at risk). No title or hazard ratio in the
    figure: see :func:`iptw_km_caption`.
    """
    f = compact.fonts(width_mm)
    width = width_mm / MM_PER_INCH
    narrow = width_mm < compact.NARROW_MM
    curves = iptw.curves
    arms = [a for a in ("surgical", "nonsurgical") if a in set(curves["arm"])]
    omitted = [a for a in arms if a in marks_omitted(unweighted or {})]
    notes = [caption(reconstructed)]
    footer_h = compact.footer_height(notes, width)
    legend_h = 0.42 if narrow else 0.24  # narrow: two columns (arms, then line style)
    axis_h = 0.12 + f["tick"] / 72 + 0.1 + f["text"] * 1.2 / 72
    risk_h = len(arms) * 2 * (f["tick"] * 1.35 / 72)
    risk_head = 0.06 + f["text"] * 1.3 / 72
    plot_h = 2.0 if narrow else 2.9
    left = 0.95 if narrow else 1.0
    height = 0.05 + legend_h + plot_h + axis_h + risk_head + risk_h + footer_h + 0.1
    fig = plt.figure(figsize=(width, height))
    risk_bottom = footer_h + 0.05
    ax = compact.axes_in(fig, left, risk_bottom + risk_h + risk_head + axis_h,
                         width - left - 0.15, plot_h)
    _draw_weighted_curves(ax, iptw, arms, unweighted, omitted, min_at_risk)
    longest = max(stop_time(iptw, a, min_at_risk) for a in arms)
    ticks = [float(t) for t in km_ticks(longest)]
    ax.set_xticks(ticks)
    xlim = (-0.02 * ticks[-1], ticks[-1] * 1.02)
    ax.set_xlim(*xlim)
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
    if iptw.frame is not None:
        risk = _draw_at_risk(fig, iptw, arms, ticks,
                             (left, risk_bottom, width - left - 0.15, risk_h), f, min_cell)
        risk.set_xlim(*xlim)
    compact.footer(fig, notes, width)
    return fig

"""Figures from result objects, in one house style.

:func:`set_style` is the one place the style is set; every figure uses the
colour-blind-safe Okabe-Ito palette with a fixed colour per group
(:data:`GROUP_COLORS`). :func:`save_figure` writes PNG (300 dpi), PDF and SVG
with no timestamps, so a rerun gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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


def add_caption(fig: Figure, reconstructed: bool) -> None:
    """Put the data caption in the figure's bottom-left corner."""
    fig.text(0.01, 0.005, caption(reconstructed), fontsize=7, color="#555555",
             ha="left", va="bottom")


def save_figure(fig: Figure, name: str, output_dir: str | Path) -> list[Path]:
    """Write ``fig`` as ``<output_dir>/figures/<name>.{png,pdf,svg}`` without timestamps."""
    folder = Path(output_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = folder / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, metadata=_METADATA[fmt], bbox_inches="tight")
        paths.append(path)
    return paths


def close(fig: Figure) -> None:
    plt.close(fig)


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
        for fmt in FORMATS:
            fig.savefig(folder / f"{name}_{width}mm.{fmt}", format=fmt,
                        metadata=_METADATA[fmt])
        if width == max(JOURNAL_WIDTHS_MM):
            shown = fig
        else:
            plt.close(fig)
    return shown


# ---- survival and palliation figures (03, 04)
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Sequence

    from nethep.palliation import PalliationResult
    from nethep.survival import KaplanMeier

#: ``Axes.get_label()`` of the number-at-risk table under a Kaplan-Meier plot.
AT_RISK_LABEL = "at_risk"
_FALLBACK_COLORS = ("#0072B2", "#D55E00", "#F0E442", "#999999")


def group_color(group: str, position: int = 0) -> str:
    """The house colour of a group; unknown groups take the unused Okabe-Ito colours."""
    return GROUP_COLORS.get(group, _FALLBACK_COLORS[position % len(_FALLBACK_COLORS)])


def group_label(group: str, n: int | None = None, short: bool = False) -> str:
    """Display label of a group, e.g. ``Surgical (n = 13)``; ``short`` drops any gloss."""
    label = GROUP_LABELS.get(group, group.replace("_", " ").capitalize())
    if "(" in label:  # "Non-surgical (medical + embolization)"
        head, gloss = label.split(" (", 1)
        label = head if short else f"{head}, {gloss.rstrip(')')}"
    return label if n is None else f"{label} (n = {n})"


def _km_ticks(fits: dict[str, KaplanMeier]) -> list[float]:
    """Every 12 months (6 if follow-up is short) from 0 to just past the longest time."""
    import numpy as np

    longest = max(float(f.time[-1]) for f in fits.values())
    step = 12.0 if longest > 36 else 6.0
    return [float(t) for t in np.arange(0.0, step * np.ceil(longest / step) + step / 2, step)]


def km_figure(
    fits: dict[str, KaplanMeier],
    title: str,
    reconstructed: bool,
    times: Sequence[float] | None = None,
) -> Figure:
    """Kaplan-Meier curves with 95% bands, censoring marks and a number-at-risk table.

    One step curve per fit in the house colours; the shaded band is each fit's own
    pointwise interval (log-log by default in :func:`nethep.survival.kaplan_meier`);
    ``|`` marks censored times. Under the plot, a second axes sharing x (label
    :data:`AT_RISK_LABEL`) lists :meth:`KaplanMeier.n_at_risk` at each x tick
    (``times``; default every 12 months), one row per group, coloured by group.
    """
    import numpy as np
    from matplotlib.transforms import blended_transform_factory

    if not fits:
        raise ValueError("km_figure needs at least one Kaplan-Meier fit")
    ticks = [float(t) for t in (times if times is not None else _km_ticks(fits))]
    groups = list(fits)
    k = len(groups)

    # layout in inches, so the at-risk rows keep their size whatever the number of groups
    width, left, right = 6.5, 1.25, 0.25
    top, plot_h, gap, row_h, bottom = 0.62, 3.3, 0.5, 0.2, 0.42
    risk_h = row_h * (k + 1)
    height = top + plot_h + gap + risk_h + bottom
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes(((left / width), (bottom + risk_h + gap) / height,
                       (width - left - right) / width, plot_h / height))
    risk = fig.add_axes(((left / width), bottom / height, (width - left - right) / width,
                         risk_h / height), sharex=ax, label=AT_RISK_LABEL)

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
        (line,) = ax.step(t, s, where="post", color=color, linewidth=1.6,
                          label=group_label(group, fit.n))
        censored = fit.n_censor > 0
        ax.plot(fit.time[censored], fit.surv[censored], linestyle="none", marker="|",
                markersize=7, markeredgewidth=1.2, color=color)
        handles.append(line)
    # legend in one row above the plot, clear of the curves whatever the data
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncol=min(k, 3), handlelength=1.8, borderaxespad=0.3, columnspacing=1.5)
    ax.set_xticks(ticks)
    ax.set_xlim(min(ticks[0], 0.0) - 0.02 * (ticks[-1] - ticks[0]),
                ticks[-1] + 0.02 * (ticks[-1] - ticks[0]))
    ax.set_ylim(0, 1.03)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel("Months since diagnosis of liver metastases")
    ax.set_ylabel("Overall survival")
    ax.set_title(title, loc="left", pad=8 + 13 * ((k + 2) // 3))

    # number-at-risk table: numbers centred on the x ticks, labels in the left margin
    label_x = blended_transform_factory(risk.transAxes, risk.transData)
    risk.text(-0.02, -1, "Number at risk", transform=label_x, ha="right", va="center",
              fontsize=8, fontweight="bold")
    for row, (group, fit) in enumerate(fits.items()):
        color = group_color(group, row)
        risk.text(-0.02, row, group_label(group, short=True), transform=label_x, ha="right",
                  va="center", fontsize=8, color=color)
        for t, n in zip(ticks, fit.n_at_risk(ticks), strict=True):
            risk.text(t, row, str(int(n)), ha="center", va="center", fontsize=8, color=color,
                      gid=f"{AT_RISK_LABEL}:{group}")
    risk.set_ylim(k - 0.5, -1.5)
    risk.set_yticks([])
    risk.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in risk.spines.values():
        spine.set_visible(False)
    risk.patch.set_visible(False)
    first = next(iter(fits.values()))
    fig.text(0.01, 0.2 / height, f"Tick marks: censored times. Shaded: pointwise "
             f"{100 * first.conf_level:.0f}% CI ({first.conf_type}).", fontsize=7,
             color="#555555", ha="left", va="bottom")
    add_caption(fig, reconstructed)
    return fig


def at_risk_table(fig: Figure) -> dict[str, list[int]]:
    """Read the number-at-risk rows back from a :func:`km_figure` (for tests and checks)."""
    risk = next(a for a in fig.axes if a.get_label() == AT_RISK_LABEL)
    rows: dict[str, list[int]] = {}
    for text in risk.texts:
        gid = text.get_gid() or ""
        if gid.startswith(f"{AT_RISK_LABEL}:"):
            rows.setdefault(gid.split(":", 1)[1], []).append(int(text.get_text()))
    return rows


def palliation_figure(result: PalliationResult, reconstructed: bool) -> Figure:
    """Palliation rate per group with exact (Clopper-Pearson) CI bars and the exact P.

    Made from a :class:`nethep.palliation.PalliationResult`; a group without symptomatic
    patients keeps its place on the axis, marked "no symptomatic patients".
    """
    fig, ax = plt.subplots(figsize=(5.0, 3.9))
    fig.subplots_adjust(left=0.16, right=0.97, top=0.84, bottom=0.22)
    labels = []
    for x, g in enumerate(result.groups):
        color = group_color(g.group, x)
        if g.rate is None:
            labels.append(f"{group_label(g.group, short=True)}\nno symptomatic\npatients")
            continue
        ax.errorbar([x], [g.rate], yerr=[[g.rate - g.lower], [g.upper - g.rate]], fmt="o",
                    color=color, markersize=7, capsize=5, elinewidth=1.5, capthick=1.5)
        labels.append(f"{group_label(g.group, short=True)}\n{g.n_palliated} of {g.n_symptomatic}")
    ax.set_xticks(range(len(result.groups)))
    ax.set_xticklabels(labels)
    for tick, g in zip(ax.get_xticklabels(), result.groups, strict=True):
        tick.set_color(group_color(g.group, result.groups.index(g)))
    ax.set_xlim(-0.6, len(result.groups) - 0.4)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("Symptoms palliated\n(proportion of symptomatic patients)")
    ax.set_title("Palliation of symptoms by treatment group", loc="left", pad=18)
    if result.exact_p is not None:
        test = (f"Fisher-Freeman-Halton exact P = {result.exact_p:.2f} "
                f"({len(result.tested_groups)} groups)")
    else:
        test = f"No test across groups: {result.test_note}"
    ax.text(0.0, 1.03, test, transform=ax.transAxes, ha="left", va="bottom", fontsize=8)
    fig.text(0.01, 0.045, f"Points: proportion palliated; bars: exact "
             f"{100 * result.conf_level:.0f}% CI (Clopper-Pearson).", fontsize=7,
             color="#555555", ha="left", va="bottom")
    add_caption(fig, reconstructed)
    return fig


# ---- cohort figures (01, 02)
if TYPE_CHECKING:
    from nethep.describe import GroupedValues, PatientFlow


def _flow_box(ax, x: float, y: float, w: float, h: float, text: str, edge: str,
              face: str = "white", fontsize: float = 8, weight: str = "normal") -> None:
    """A rounded box centred on (x, y) in axes coordinates, with centred text."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0,rounding_size=0.012",
                                linewidth=1.2, edgecolor=edge, facecolor=face,
                                transform=ax.transAxes))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, fontweight=weight,
            transform=ax.transAxes, gid="flow_box")


def _flow_arrow(ax, start: tuple[float, float], end: tuple[float, float],
                head: bool = True) -> None:
    ax.annotate("", xy=end, xytext=start, xycoords="axes fraction",
                textcoords="axes fraction",
                arrowprops={"arrowstyle": "-|>" if head else "-", "color": "#444444",
                            "linewidth": 1.0, "shrinkA": 0, "shrinkB": 0,
                            "mutation_scale": 9})


def _split(ax, x0: float, y0: float, targets: list[float], y_bar: float,
           y_top: float) -> None:
    """Line down from (x0, y0) to a bar at ``y_bar``, then an arrow down to each target."""
    _flow_arrow(ax, (x0, y0), (x0, y_bar), head=False)
    if len(targets) > 1 or targets[0] != x0:
        xs = [*targets, x0]
        _flow_arrow(ax, (min(xs), y_bar), (max(xs), y_bar), head=False)
    for x in targets:
        _flow_arrow(ax, (x, y_bar), (x, y_top))


def patient_flow_figure(flow: PatientFlow, reconstructed: bool) -> Figure:
    """Flow diagram from a :class:`nethep.describe.PatientFlow`.

    One box for the patients identified (with the accrual years), two boxes for the
    tumour types beside it, then the three treatment groups in the house colours and
    each group's treatments beneath. Groups or treatments without patients keep their
    box, with n = 0.
    """
    import textwrap

    import numpy as np
    from matplotlib.colors import to_rgba

    from nethep.describe import GROUP_TITLES, TREATMENT_LABELS, TUMOR_LABELS

    groups = list(flow.by_group)
    treatments = list(flow.by_treatment)
    fig = plt.figure(figsize=(7.5, 4.6))
    ax = fig.add_axes((0.0, 0.05, 1.0, 0.88))
    ax.set_axis_off()

    # row 1: identified, with tumour types to the right
    years = ("" if flow.first_year is None
             else f",\ndiagnosed {flow.first_year}-{flow.last_year}")
    top_y, top_h, top_w = 0.9, 0.17, 0.34
    _flow_box(ax, 0.5, top_y, top_w, top_h,
              f"Patients with liver-only neuroendocrine\nmetastases identified{years}\n"
              f"n = {flow.n_identified}", edge="#000000", face="#F2F2F2", weight="bold")
    tumour_x, tumour_w, tumour_h = 0.86, 0.17, 0.075
    tumour_ys = np.linspace(top_y + 0.045, top_y - 0.045, len(flow.by_tumor_type)) if len(
        flow.by_tumor_type) > 1 else np.array([top_y])
    bracket_x = 0.72
    _flow_arrow(ax, (0.5 + top_w / 2, top_y), (bracket_x, top_y), head=False)
    _flow_arrow(ax, (bracket_x, tumour_ys.min()), (bracket_x, tumour_ys.max()), head=False)
    for y, (t, n) in zip(tumour_ys, flow.by_tumor_type.items(), strict=True):
        _flow_arrow(ax, (bracket_x, y), (tumour_x - tumour_w / 2, y))
        _flow_box(ax, tumour_x, y, tumour_w, tumour_h, f"{TUMOR_LABELS.get(t, t)}: n = {n}",
                  edge="#777777")
    ax.text(tumour_x, top_y + 0.045 + tumour_h / 2 + 0.015, "By tumour type", ha="center",
            va="bottom", fontsize=7.5, color="#555555", transform=ax.transAxes)

    # row 3: treatments, evenly spaced; row 2: groups centred over their treatments
    k = len(treatments)
    sub_x = {t: (i + 0.5) / k for i, t in enumerate(treatments)}
    sub_w, sub_h, sub_y = 0.92 / k, 0.2, 0.14
    group_y, group_h = 0.53, 0.12
    members = {g: [t for t in treatments if flow.group_of.get(t) == g] for g in groups}
    group_x = {g: float(np.mean([sub_x[t] for t in members[g]])) if members[g]
               else (i + 0.5) / len(groups) for i, g in enumerate(groups)}
    _split(ax, 0.5, top_y - top_h / 2, [group_x[g] for g in groups], 0.7,
           group_y + group_h / 2)
    for g in groups:
        color = group_color(g, groups.index(g))
        width = max(sub_w * 1.15, (len(members[g]) - 0.35) / k)
        _flow_box(ax, group_x[g], group_y, width, group_h,
                  f"{GROUP_TITLES.get(g, g)}\nn = {flow.by_group[g]}", edge=color,
                  face=to_rgba(color, 0.22), fontsize=8.5, weight="bold")
        if members[g]:
            _split(ax, group_x[g], group_y - group_h / 2, [sub_x[t] for t in members[g]],
                   0.34, sub_y + sub_h / 2)
        for t in members[g]:
            label = textwrap.fill(TREATMENT_LABELS.get(t, t), 16)
            _flow_box(ax, sub_x[t], sub_y, sub_w, sub_h,
                      f"{label}\nn = {flow.by_treatment[t]}", edge=color, fontsize=7.5)
    ax.set_title("Patient flow", loc="left", fontsize=10, pad=4)
    add_caption(fig, reconstructed)
    return fig


def values_by_group_figure(
    grouped: GroupedValues,
    reconstructed: bool,
    p: float | None = None,
    test: str = "Kruskal-Wallis",
    ylabel: str | None = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Strip plot over a box plot of one variable by treatment group.

    Made from a :class:`nethep.describe.GroupedValues`. Boxes: median and quartiles
    (numpy linear quantiles, whiskers to the most extreme value within 1.5 IQR, no
    separate outlier marks since every point is drawn). Points are spread sideways by a
    deterministic golden-ratio offset (no random jitter, so reruns give the same
    figure). A group without values keeps its place, marked "no patients".
    """
    import numpy as np
    from matplotlib.colors import to_rgba

    from nethep.describe import format_p

    groups = list(grouped.values)
    fig, ax = plt.subplots(figsize=(5.0, 3.9))
    fig.subplots_adjust(left=0.14, right=0.97, top=0.84, bottom=0.2)
    labels = []
    for x, g in enumerate(groups):
        values = np.sort(np.asarray(grouped.values[g], dtype=float))
        color = group_color(g, x)
        labels.append(f"{group_label(g, short=True)}\n(n = {len(values)})")
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
        offsets = ((np.arange(len(values)) * 0.6180339887) % 1.0 - 0.5) * 0.36
        ax.scatter(x + offsets, values, s=16, color=color, edgecolor="white",
                   linewidth=0.5, zorder=2, gid=f"points:{g}")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(labels)
    for x, tick in enumerate(ax.get_xticklabels()):
        tick.set_color(group_color(groups[x], x))
    ax.set_xlim(-0.6, len(groups) - 0.4)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel or grouped.label)
    ax.set_title(title or f"{grouped.label} by treatment group", loc="left", pad=18)
    n_groups = sum(len(v) > 0 for v in grouped.values.values())
    note = (f"{test} P = {format_p(p)} ({n_groups} groups)" if p is not None
            else "No test across groups")
    ax.text(0.0, 1.03, note, transform=ax.transAxes, ha="left", va="bottom", fontsize=8)
    fig.text(0.01, 0.045, "Points: patients; boxes: median and quartiles; whiskers: "
             "most extreme values within 1.5 IQR.", fontsize=7, color="#555555",
             ha="left", va="bottom")
    add_caption(fig, reconstructed)
    return fig

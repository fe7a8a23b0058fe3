"""Kaplan-Meier and palliation figures: what they show.

Sizes, type, the at-risk alignment at both journal widths, and the saved files (three
formats at both widths, the same bytes as the session's ``nethep run`` writes) are
checked in tests/test_figures_journal.py.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text

from nethep.cohort import load_cohort
from nethep.formats import p_text
from nethep.palliation import palliation
from nethep.plots import (
    at_risk_table,
    km_caption,
    km_figure,
    palliation_caption,
    palliation_figure,
    set_style,
)
from nethep.plots.style import GROUP_COLORS, RECONSTRUCTED_NOTE
from nethep.plots.survival import AT_RISK_LABEL, MIN_AT_RISK, truncated, truncation_time
from nethep.survival import fit_by, kaplan_meier


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    set_style()
    return load_cohort()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _main_axes(fig: Figure):
    return next(a for a in fig.axes if a.get_label() != AT_RISK_LABEL)


def _risk_axes(fig: Figure):
    return next(a for a in fig.axes if a.get_label() == AT_RISK_LABEL)


def _all_text(fig: Figure) -> str:
    """Every text in the figure, with line breaks (from wrapping) turned into spaces."""
    texts = (t.get_text() for t in fig.findobj(match=lambda o: hasattr(o, "get_text")))
    return "\n".join(" ".join(t.split()) for t in texts)


@pytest.mark.parametrize("width_mm", [85, 180])
@pytest.mark.parametrize("by", ["treatment_group", "arm"])
def test_at_risk_rows_equal_n_at_risk_at_the_ticks(cohort, by, width_mm):
    fits = fit_by(cohort, by)
    fig = km_figure(fits, "Overall survival", reconstructed=True, width_mm=width_mm)
    assert isinstance(fig, Figure)
    ticks = list(_main_axes(fig).get_xticks())
    assert ticks[0] == 0 and ticks[-1] >= max(truncation_time(f) for f in fits.values())
    rows = at_risk_table(fig)
    assert list(rows) == list(fits)
    for group, fit in fits.items():
        assert rows[group] == fit.n_at_risk(ticks).tolist()
        assert rows[group][0] == fit.n
    # numbers sit on the tick positions, and the table shares x with the plot
    risk = _risk_axes(fig)
    xs = sorted({t.get_position()[0] for t in risk.texts if t.get_gid()})
    assert xs == ticks
    assert risk.get_shared_x_axes().joined(risk, _main_axes(fig))
    assert risk.get_xlim() == _main_axes(fig).get_xlim()


def test_at_risk_text_is_coloured_by_group(cohort):
    fig = km_figure(fit_by(cohort, "treatment_group"), "Overall survival", reconstructed=True)
    for text in _risk_axes(fig).texts:
        gid = text.get_gid()
        if gid:
            group = gid.split(":", 1)[1]
            assert to_hex(text.get_color()).lower() == GROUP_COLORS[group].lower()


def _at_risk(cohort: pd.DataFrame, column: str, group: str, ticks) -> list[int]:
    """Patients of ``group`` still under observation at each tick, from the raw times."""
    times = cohort.loc[cohort[column] == group, "followup_months"].to_numpy(float)
    return [int((times >= tick).sum()) for tick in ticks]


def _mark(n: int, min_cell: int) -> int | str:
    return f"<{min_cell}" if 0 < n < min_cell else n


def test_bundled_at_risk_numbers(cohort):
    fits = fit_by(cohort, "treatment_group")
    fig = km_figure(fits, "Overall survival", reconstructed=True)
    # the axis starts at 0 with even steps and reaches past the last drawn curve
    ticks = list(_main_axes(fig).get_xticks())
    assert ticks[0] == 0 and len(set(np.diff(ticks))) == 1
    assert ticks[-1] >= max(truncation_time(fit) for fit in fits.values())
    for group in fits:
        assert at_risk_table(fig)[group] == _at_risk(cohort, "treatment_group", group, ticks)


def test_custom_times_set_the_ticks(cohort):
    fits = fit_by(cohort, "arm")
    fig = km_figure(fits, "Overall survival", reconstructed=True, times=[0, 24, 48])
    assert list(_main_axes(fig).get_xticks()) == [0, 24, 48]
    assert at_risk_table(fig)["nonsurgical"] == fits["nonsurgical"].n_at_risk([0, 24, 48]).tolist()


def test_legend_axis_labels_and_caption(cohort):
    fig = km_figure(fit_by(cohort, "treatment_group"), "By group", reconstructed=True)
    ax = _main_axes(fig)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Medical (n = 17)", "Embolization (n = 18)", "Surgical (n = 13)"]
    assert ax.get_xlabel() == "Months since diagnosis of liver metastases"
    assert ax.get_ylabel() == "Overall survival"
    assert ax.get_title(loc="left") == ""  # the title is the caption's
    assert "By group" not in _all_text(fig)
    assert RECONSTRUCTED_NOTE in _all_text(fig)
    arms = km_figure(fit_by(cohort, "arm"), "By arm", reconstructed=False)
    legend = [t.get_text() for t in _main_axes(arms).get_legend().get_texts()]
    assert legend == ["Surgical (n = 13)", "Non-surgical, medical + embolization (n = 35)"]
    assert RECONSTRUCTED_NOTE not in _all_text(arms)


def test_single_column_legend_title_and_notes_stay_above_and_below(cohort):
    fits = fit_by(cohort, "arm")
    wide = km_figure(fits, "Overall survival, surgical vs non-surgical", reconstructed=True)
    narrow = km_figure(fits, "Overall survival, surgical vs non-surgical", reconstructed=True,
                       width_mm=85)
    assert wide.get_size_inches()[0] == pytest.approx(180 / 25.4)
    assert narrow.get_size_inches()[0] == pytest.approx(85 / 25.4)
    for fig, columns in ((wide, 2), (narrow, 1)):
        renderer = fig.canvas.get_renderer()
        fig.draw(renderer)
        ax, risk = _main_axes(fig), _risk_axes(fig)
        entries = ax.get_legend().get_texts()
        # the long pooled label does not fit beside the other at 85 mm: one entry per row
        assert len({round(t.get_window_extent(renderer).x0) for t in entries}) == columns
        plot = ax.get_window_extent(renderer)
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.y0 >= plot.y1 - 0.5  # legend above the curves
        assert legend.y1 <= fig.bbox.y1  # and inside the figure
        assert not [t for t in ax.findobj(Text) if "surgical vs" in t.get_text()]
        assert ax.xaxis.label.get_window_extent(renderer).y0 > max(
            t.get_window_extent(renderer).y1 for t in risk.texts)  # table under the axis
        assert RECONSTRUCTED_NOTE in _all_text(fig)
        assert "Number at risk" in _all_text(fig)


def test_curves_bands_and_censoring_marks(cohort):
    fits = {g: truncated(f) for g, f in fit_by(cohort, "treatment_group").items()}
    fig = km_figure(fits, "Overall survival", reconstructed=True)
    ax = _main_axes(fig)
    assert len(ax.collections) == len(fits)  # one CI band per group
    marks = [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert len(marks) == len(fits)
    for line, fit in zip(marks, fits.values(), strict=True):
        censored = fit.n_censor > 0
        np.testing.assert_allclose(line.get_xdata(), fit.time[censored])
        np.testing.assert_allclose(line.get_ydata(), fit.surv[censored])
    steps = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
    assert len(steps) == len(fits)
    assert all(line.get_ydata()[0] == 1.0 for line in steps)


def test_band_reaches_a_curve_that_drops_to_zero():
    fit = kaplan_meier([1, 2, 3, 10], [1, 0, 0, 1])
    assert fit.surv[-1] == 0 and np.isnan(fit.lower[-1])
    fig = km_figure({"all": fit}, "Small", reconstructed=False, min_at_risk=0)
    band = _main_axes(fig).collections[0]
    xmax = max(path.vertices[:, 0].max() for path in band.get_paths())
    assert xmax == pytest.approx(10.0)


def test_km_figure_needs_a_fit():
    with pytest.raises(ValueError, match="at least one"):
        km_figure({}, "Nothing", reconstructed=True)


def _palliation_labels(cohort: pd.DataFrame, min_cell: int = 0) -> list[str]:
    """'Group\nk of n' per group, counted from the symptomatic patients here."""
    sym = cohort[cohort["symptomatic"] == 1]
    return [f"{g.capitalize()}\n{_mark(int(rows['palliated'].sum()), min_cell)} of "
            f"{_mark(len(rows), min_cell)}"
            for g in ("medical", "embolization", "surgical")
            for rows in [sym[sym["treatment_group"] == g]]]


def test_palliation_figure(cohort):
    result = palliation(cohort)
    fig = palliation_figure(result, reconstructed=True)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == _palliation_labels(cohort)
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose([p.get_ydata()[0] for p in points],
                               [g.rate for g in result.groups])
    assert f"exact {p_text(result.exact_p)} (3 groups)" in _all_text(fig)
    assert "Palliation of symptoms" not in _all_text(fig)  # the title is the caption's
    cap = palliation_caption(result, reconstructed=True)
    assert cap.title == "Palliation of symptoms by treatment group"
    assert "exact (Clopper-Pearson) 95% confidence intervals" in cap.text
    assert f"3 groups with symptomatic patients: {p_text(result.exact_p)}." in cap.text


def test_palliation_figure_with_a_group_without_symptoms(cohort):
    df = cohort.copy()
    rows = df["treatment_group"] == "surgical"
    df.loc[rows, "symptomatic"] = 0
    df.loc[rows, "palliated"] = pd.NA
    fig = palliation_figure(palliation(df), reconstructed=False)
    ax = fig.axes[0]
    assert ax.get_xticklabels()[2].get_text() == "Surgical\nno symptomatic\npatients"
    assert len([line for line in ax.get_lines() if line.get_marker() == "o"]) == 2


# --------------------------------------------------------------------------- suppression, size


def test_at_risk_rows_and_legend_show_small_counts_as_marked(cohort):
    fig = km_figure(fit_by(cohort, "treatment_group"), "Overall survival", reconstructed=True,
                    min_cell=5)
    rows = at_risk_table(fig)
    ticks = list(_main_axes(fig).get_xticks())
    assert rows["surgical"] == [_mark(n, 5) for n in _at_risk(cohort, "treatment_group",
                                                              "surgical", ticks)]
    for group, numbers in rows.items():
        assert not [n for n in numbers if isinstance(n, int) and 0 < n < 5], group
    cap = km_caption(fit_by(cohort, "treatment_group"), reconstructed=True, min_cell=5)
    assert "Small-cell suppression: counts below 5 are shown as <5." in cap.text
    small = cohort[(cohort["treatment_group"] != "medical")
                   | cohort["patient_id"].isin(["NET001", "NET009", "NET015"])]
    fig = km_figure(fit_by(small, "treatment_group"), "Overall survival", reconstructed=False,
                    min_cell=5)
    legend = [t.get_text() for t in _main_axes(fig).get_legend().get_texts()]
    assert legend == ["Medical (n = <5)", "Embolization (n = 18)", "Surgical (n = 13)"]
    ticks = list(_main_axes(fig).get_xticks())
    assert at_risk_table(fig)["medical"] == [
        _mark(n, 5) for n in _at_risk(small, "treatment_group", "medical", ticks)]


def test_at_risk_rows_unchanged_without_suppression(cohort):
    fig = km_figure(fit_by(cohort, "treatment_group"), "Overall survival", reconstructed=True)
    assert all(isinstance(n, int) for row in at_risk_table(fig).values() for n in row)
    assert "suppression" not in _all_text(fig)


def test_palliation_ticks_show_small_counts_as_marked(cohort):
    fig = palliation_figure(palliation(cohort), reconstructed=True, min_cell=5)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == _palliation_labels(cohort, min_cell=5)
    df = cohort.copy()
    df.loc[df.index[(df["treatment_group"] == "surgical") & (df["symptomatic"] == 1)][:6],
           ["symptomatic", "palliated"]] = [0, pd.NA]
    fig = palliation_figure(palliation(df), reconstructed=True, min_cell=5)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[2] == "Surgical\n<5 of <5"


def _registry(n: int, seed: int = 2006) -> dict:
    """Two groups of n / 2 patients, mostly censored, times in tenths of a month."""
    rng = np.random.default_rng(seed)
    fits = {}
    for group, scale in (("surgical", 90.0), ("nonsurgical", 40.0)):
        t = np.round(rng.exponential(scale, n // 2), 1) + 0.1
        censor = np.round(rng.uniform(0, 72, n // 2), 1) + 0.1
        fits[group] = kaplan_meier(np.minimum(t, censor), (t <= censor).astype(int))
    return fits


def test_km_figure_on_20000_patients_draws_no_censoring_marks():
    fits = _registry(20_000)
    assert all(int(f.n_censor.sum()) > 2000 for f in fits.values())
    fig = km_figure(fits, "Registry", reconstructed=False)
    ax = _main_axes(fig)
    assert not [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert len([line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]) == 2
    text = km_caption(fits, "Registry", reconstructed=False).text
    assert ("Censoring marks omitted for n > 2,000 censored patients per group "
            "(every group).") in text
    assert "Tick marks: censored times" not in text
    assert at_risk_table(fig)["surgical"][0] == 10_000


def test_km_figure_omits_marks_only_for_the_large_group(cohort):
    fits = {**_registry(20_000), "all": fit_by(cohort, "arm")["surgical"]}
    fig = km_figure(fits, "Registry beside a small cohort", reconstructed=False,
                    min_at_risk=0)
    marks = [line for line in _main_axes(fig).get_lines() if line.get_marker() == "|"]
    assert len(marks) == 1
    np.testing.assert_allclose(marks[0].get_xdata(), fits["all"].time[fits["all"].n_censor > 0])
    text = km_caption(fits, reconstructed=False, min_at_risk=0).text
    assert "Tick marks: censored times." in text
    assert "omitted for n > 2,000 censored patients per group (Surgical, Non-surgical)" in text


# --------------------------------------------------------------------------- truncation


def _first_below(time: np.ndarray, min_at_risk: int) -> float:
    """The first observed time after which fewer than ``min_at_risk`` patients have a
    longer time, counted from the raw times (independently of the fitted curve)."""
    for t in np.unique(time):
        if (time > t).sum() < min_at_risk:
            return float(t)
    return float(time.max())


@pytest.mark.parametrize("by", ["treatment_group", "arm"])
def test_curves_stop_where_fewer_than_5_remain_at_risk(cohort, by):
    assert MIN_AT_RISK == 5
    fits = fit_by(cohort, by)
    fig = km_figure(fits, "Overall survival", reconstructed=True)
    steps = [line for line in _main_axes(fig).get_lines() if line.get_drawstyle() == "steps-post"]
    for line, (group, fit) in zip(steps, fits.items(), strict=True):
        times = cohort.loc[cohort[by] == group, "followup_months"].to_numpy(float)
        stop = _first_below(times, 5)
        assert truncation_time(fit) == stop
        assert max(line.get_xdata()) == stop
        assert stop < times.max()  # on the bundled cohort every curve is cut
    cap = km_caption(fits, "Overall survival", reconstructed=True).text
    assert "A curve stops at the first time fewer than 5 patients remain at risk" in cap
    for fit in fits.values():
        assert f"at {truncation_time(fit):.0f} months" in cap


def test_surgical_curve_stops_and_numbers_at_risk_go_on(cohort):
    fits = fit_by(cohort, "arm")
    for arm in ("surgical", "nonsurgical"):
        times = cohort.loc[cohort["arm"] == arm, "followup_months"].to_numpy(float)
        assert truncation_time(fits[arm]) == pytest.approx(_first_below(times, 5))
    fig = km_figure(fits, reconstructed=True, times=[0, 12, 24, 36, 48, 60])
    assert at_risk_table(fig)["surgical"] == fits["surgical"].n_at_risk(
        [0, 12, 24, 36, 48, 60]).tolist()


def test_min_at_risk_0_draws_the_whole_curve(cohort):
    fits = fit_by(cohort, "arm")
    fig = km_figure(fits, reconstructed=True, min_at_risk=0)
    steps = [line for line in _main_axes(fig).get_lines() if line.get_drawstyle() == "steps-post"]
    assert [max(line.get_xdata()) for line in steps] == [f.time[-1] for f in fits.values()]
    assert "drawn to the last observed time" in km_caption(fits, reconstructed=True,
                                                             min_at_risk=0).text

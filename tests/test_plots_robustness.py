"""Robustness figures (notebook 05): content from the result objects, print-size layout.

Every figure is checked at both journal widths (85 and 180 mm): true width, no type
below 7 pt, every text inside the page, and no two texts overlapping; then what it
shows is compared with the result object it was drawn from, and the files written by
``export_figure`` are compared byte for byte with those the session's ``nethep run``
wrote in another process (conftest ``bundled_run``).
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from nethep import robustness as rb  # noqa: E402
from nethep.cohort import load_cohort  # noqa: E402
from nethep.plots import (  # noqa: E402
    export_figure,
    iptw_km_figure,
    propensity_overlap_figure,
    robustness_forest_figure,
    set_style,
)
from nethep.plots.confounding import (  # noqa: E402
    iptw_km_caption,
    propensity_overlap_caption,
    stop_time,
)
from nethep.plots.export import JOURNAL_WIDTHS_MM  # noqa: E402
from nethep.plots.layout import MM_PER_INCH  # noqa: E402
from nethep.plots.robustness import robustness_forest_caption  # noqa: E402
from nethep.plots.style import RECONSTRUCTED_NOTE  # noqa: E402
from nethep.survival import cox_surgical, fit_by  # noqa: E402

NAMES = ("robustness_forest", "propensity_overlap", "iptw_km")
#: The exact log-rank P of notebook 05's closing table (a P value row: not drawn, so its
#: value does not change the forest plot the session's ``nethep run`` draws).
EXACT_P = 0.0021


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    set_style()
    return load_cohort()


@pytest.fixture(scope="module")
def iptw(df) -> rb.IPTWCox:
    return rb.iptw_cox(df)


@pytest.fixture(scope="module")
def summary(df, iptw) -> rb.RobustnessSummary:
    """The closing table's hazard-ratio rows as notebook 05 builds them."""
    return rb.robustness_summary(
        cox_surgical(df), rb.cox_adjusted(df), iptw,
        [rb.landmark(df, m) for m in rb.LANDMARK_MONTHS], rb.time_varying_cox(df),
        rb.restricted_means(df).results,
        iptw_truncated=rb.iptw_cox(df, truncate=rb.TRUNCATION_ALTERNATIVE),
        landmark_alternatives=[rb.landmark(df, m) for m in rb.LANDMARK_ALTERNATIVES],
        small_events=rb.small_event_inference(df), iptw_ate=rb.iptw_cox(df, estimand="ATE"),
        exact_p=EXACT_P)


@pytest.fixture(scope="module")
def makers(df, iptw, summary):
    """name -> (figure function, positional arguments), as notebook 05 calls them (each
    with ``reconstructed=True``)."""
    return {
        "robustness_forest": (robustness_forest_figure, (summary,)),
        "propensity_overlap": (propensity_overlap_figure, (iptw.propensity,)),
        "iptw_km": (iptw_km_figure, (iptw, fit_by(df, "arm"))),
    }


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _drawn_texts(fig) -> list[tuple[Text, object]]:
    """Every visible, non-empty text with its extent in pixels (tick labels only when
    their tick is drawn)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn_ticks = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis._update_ticks():  # the ticks matplotlib actually draws
                drawn_ticks.update({id(tick.label1), id(tick.label2)})
    tick_labels = {id(t) for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()}
    out = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if id(text) in tick_labels and id(text) not in drawn_ticks:
            continue
        out.append((text, text.get_window_extent(renderer)))
    return out


@pytest.mark.parametrize("width_mm", JOURNAL_WIDTHS_MM)
@pytest.mark.parametrize("name", NAMES)
def test_print_layout(makers, name, width_mm):
    make, args = makers[name]
    _check_print_layout(make(*args, reconstructed=True, width_mm=width_mm), width_mm)


def _check_print_layout(fig, width_mm: float) -> None:
    assert fig.get_figwidth() == pytest.approx(width_mm / MM_PER_INCH, rel=1e-12)
    texts = _drawn_texts(fig)
    assert texts
    page = fig.bbox
    for text, box in texts:
        assert text.get_fontsize() >= 7, (text.get_text(), text.get_fontsize())
        assert (box.x0 >= page.x0 - 0.5 and box.y0 >= page.y0 - 0.5
                and box.x1 <= page.x1 + 0.5 and box.y1 <= page.y1 + 0.5), text.get_text()
    overlaps = [(a.get_text(), b.get_text()) for (a, ba), (b, bb)
                in itertools.combinations(texts, 2) if ba.overlaps(bb)]
    assert not overlaps
    assert any(RECONSTRUCTED_NOTE in t.get_text().replace("\n", " ") for t, _ in texts)


def test_forest_rows_follow_the_summary(summary):
    hr = summary.table().query("measure == 'hazard ratio'").reset_index(drop=True)
    for width in JOURNAL_WIDTHS_MM:
        fig = robustness_forest_figure(summary, reconstructed=True, width_mm=width)
        ax = fig.axes[0]
        marks = [line for line in ax.get_lines() if (line.get_gid() or "").startswith(
            "estimate:")]
        assert [m.get_gid().split(":", 1)[1] for m in marks] == hr["analysis"].tolist()
        np.testing.assert_allclose([m.get_xdata()[0] for m in marks], hr["estimate"])
        for mark, role, choice in zip(marks, hr["role"], hr["choice"], strict=True):
            assert mark.get_marker() == ("s" if role == "primary" else "o")
            open_marker = to_hex(mark.get_markerfacecolor()) == "#ffffff"
            assert open_marker == (choice == "alternative")
        assert [m.get_marker() for m in marks].count("s") == 1
        cis = [t.get_text() for t in fig.texts if t.get_gid() == "forest_ci"]
        # two decimals from 0.1 up, two significant digits below (never 0.00)
        assert hr["lower"][0] < 0.1 <= hr["estimate"][0]  # the naive Cox row shows both
        assert cis[0] == (f"{hr['estimate'][0]:.2f} ({hr['lower'][0]:.2g}\u2013"
                          f"{hr['upper'][0]:.2f})")
        assert len(cis) == len(hr)
        labels = [t.get_text().replace("\n", " ") for t in fig.texts
                  if t.get_gid() == "forest_label"]
        assert [lab for lab in labels if lab.endswith("(primary)")] == ["Firth Cox (primary)"]
        assert ax.get_xscale() == "log"
        lo, hi = ax.get_xlim()
        assert lo < hr["lower"].min() and hi > max(1.0, hr["upper"].max())
        assert 1.0 in ax.get_xticks()
        drawn = " ".join(t.get_text() for t in fig.texts)
        assert "Hazard ratio of death, surgical vs non-surgical" not in drawn  # no title
    cap = robustness_forest_caption(summary, reconstructed=True)
    assert cap.title == "Hazard ratio of death, surgical vs non-surgical, by analysis"
    assert "Square: the primary analysis (Firth Cox)" in cap.text
    assert "percentiles 1 and 99" in cap.text and "not independent confirmation" in cap.text


def test_forest_needs_hazard_ratio_rows():
    class Empty:
        def table(self, min_cell: int = 0):
            return pd.DataFrame([{"analysis": "x", "measure": "P value", "estimate": 0.5,
                                  "lower": None, "upper": None, "role": "main"}])

    with pytest.raises(ValueError, match="no hazard-ratio rows"):
        robustness_forest_figure(Empty(), reconstructed=True)


def test_overlap_counts_every_patient_and_shows_the_balance(iptw):
    prop = iptw.propensity
    for width in JOURNAL_WIDTHS_MM:
        fig = propensity_overlap_figure(prop, reconstructed=True, width_mm=width)
        hist, love = fig.axes
        heights = {"ps:surgical": 0.0, "ps:nonsurgical": 0.0}
        for patch in hist.patches:  # one bar per bin and arm, tagged with its arm
            if (patch.get_gid() or "").startswith("ps:"):
                heights[patch.get_gid()] += abs(patch.get_height())
        assert heights == {"ps:surgical": 13, "ps:nonsurgical": 35}
        below = [p.get_height() for p in hist.patches if p.get_gid() == "ps:nonsurgical"]
        assert max(below) <= 0  # non-surgical patients are drawn below the line
        lines = {line.get_gid(): line for line in love.get_lines() if line.get_gid()}
        np.testing.assert_allclose(lines["smd:before"].get_xdata(), prop.balance["smd_before"])
        np.testing.assert_allclose(lines["smd:after"].get_xdata(), prop.balance["smd_after"])
        assert [t.get_text() for t in love.get_yticklabels()] == [
            "Islet cell tumour", "Liver involved, %", "Age, years"]
        lo, hi = love.get_xlim()
        assert lo <= prop.balance[["smd_before", "smd_after"]].min().min()
        assert hi >= prop.balance[["smd_before", "smd_after"]].max().max()
        band = [p for p in hist.patches if p.get_gid() == "common_support"]
        assert len(band) == 1
        x0, width = band[0].get_x(), band[0].get_width()  # a Rectangle (axvspan)
        assert (x0, x0 + width) == pytest.approx(prop.positivity.overlap)
    cap = propensity_overlap_caption(prop, reconstructed=True)
    assert cap.title == "Propensity of surgery: overlap and covariate balance"
    assert "ATT weights" in cap.text and f"({prop.positivity.overlap[0]:.2f} to" in cap.text


def test_iptw_km_draws_the_weighted_curves(df, iptw):
    fits = fit_by(df, "arm")
    fig = iptw_km_figure(iptw, fits, reconstructed=True, width_mm=85)
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}
    for arm in ("surgical", "nonsurgical"):
        curve = iptw.curve(arm)
        stop = stop_time(iptw, arm)
        # the curve stops at the first time fewer than 5 patients remain at risk
        t = df.loc[df["arm"] == arm, "followup_months"].astype(float)
        assert (t > stop).sum() < 5 <= (t >= stop).sum()
        curve = curve[curve["time"] <= stop]
        np.testing.assert_allclose(lines[f"weighted:{arm}"].get_xdata(), curve["time"])
        np.testing.assert_allclose(lines[f"weighted:{arm}"].get_ydata(), curve["surv"])
        unweighted = fits[arm].surv[fits[arm].time <= stop]
        np.testing.assert_allclose(lines[f"unweighted:{arm}"].get_ydata()[1:], unweighted)
    text = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)
    assert "hazard ratio" not in text.lower()  # no title, no subtitle: the caption has them
    cap = iptw_km_caption(iptw, fits, reconstructed=True)
    assert iptw.hazard_ratio.words() in cap.text and "bootstrap percentile 95% CI" in cap.text
    assert "(ATT)" in cap.title and "fewer than 5 patients remain at risk" in cap.text
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Surgical (n = 13)", "Non-surgical (n = 35)", "Unweighted"]
    bare = iptw_km_figure(iptw, reconstructed=False, width_mm=180)
    assert not any((line.get_gid() or "").startswith("unweighted")
                   for line in bare.axes[0].get_lines())
    assert RECONSTRUCTED_NOTE not in " ".join(t.get_text() for t in bare.texts)


def test_iptw_km_numbers_at_risk_unweighted_and_weighted(df, iptw):
    fig = iptw_km_figure(iptw, fit_by(df, "arm"), reconstructed=True, width_mm=180)
    risk = fig.axes[1]
    ticks = list(fig.axes[0].get_xticks())
    for arm, label in (("surgical", "Surgical"), ("nonsurgical", "Non-surgical")):
        t = df.loc[df["arm"] == arm, "followup_months"].astype(float).to_numpy()
        w = iptw.propensity.scores.loc[df["arm"] == arm, "weight"].to_numpy()
        counts = [t.get_text() for t in risk.texts if t.get_gid() == f"at_risk:{arm}:{label}"]
        assert counts == [str(int((t >= x).sum())) for x in ticks]
        weighted = [t.get_text() for t in risk.texts
                    if t.get_gid() == f"at_risk:{arm}:weighted"]
        assert weighted == [f"{w[t >= x].sum():.1f}" for x in ticks]


def test_export_writes_both_widths_byte_identical(makers, bundled_run, tmp_path):
    """Exported here, the files have the bytes of the same files written by the session's
    ``nethep run`` (notebook 05 in another process): a rerun gives the same bytes."""
    for name, (make, args) in makers.items():
        export_figure(name, tmp_path, make, *args, reconstructed=True)
        assert not plt.get_fignums()  # both widths closed once saved
    files = {path.name: path.read_bytes() for path in sorted((tmp_path / "figures").iterdir())}
    expected = {f"{n}_{w}mm.{ext}" for n in NAMES for w in JOURNAL_WIDTHS_MM
                for ext in ("png", "pdf", "svg")}
    assert set(files) == expected
    for name in expected:
        assert files[name] == (bundled_run.figures_dir / name).read_bytes(), name
    with Image.open(tmp_path / "figures" / "iptw_km_85mm.png") as img:
        assert abs(img.size[0] - 85 / MM_PER_INCH * 300) < 1


# --------------------------------------------------------------------------- suppression


@pytest.mark.parametrize("width_mm", JOURNAL_WIDTHS_MM)
def test_overlap_draws_boxes_when_a_bin_is_a_small_cell(iptw, width_mm):
    prop = iptw.propensity
    fig = propensity_overlap_figure(prop, reconstructed=True, min_cell=5, width_mm=width_mm)
    _check_print_layout(fig, width_mm)
    hist = fig.axes[0]
    assert not [p for p in hist.patches if (p.get_gid() or "").startswith("ps:")]
    boxes = {p.get_gid(): p for p in hist.patches if (p.get_gid() or "").startswith("ps_box")}
    assert set(boxes) == {"ps_box:surgical", "ps_box:nonsurgical"}
    assert hist.get_ylabel() == ""
    # whiskers reach the smallest and largest score of each arm
    for arm, mask in (("surgical", prop.scores["surgical"]),
                      ("nonsurgical", ~prop.scores["surgical"])):
        scores = prop.scores.loc[mask, "ps"]
        ends = [x for line in hist.get_lines() if line.get_gid() == f"ps_whisker:{arm}"
                for x in line.get_xdata()]
        assert min(ends) == pytest.approx(scores.min())
        assert max(ends) == pytest.approx(scores.max())
    text = propensity_overlap_caption(prop, reconstructed=True, min_cell=5).text
    assert "instead of a histogram: some bins hold fewer than 5 patients" in text
    assert "Small-cell suppression: counts below 5 are shown as <5." in text


def test_iptw_km_legend_and_note_under_suppression(df):
    small = df[df["arm"] == "nonsurgical"].index.union(
        df.index[df["arm"] == "surgical"][:4])
    sub = df.loc[small].reset_index(drop=True)
    sub.attrs = dict(df.attrs)
    weighted = rb.iptw_cox(sub)
    fig = iptw_km_figure(weighted, fit_by(sub, "arm"), reconstructed=True, min_cell=5,
                         width_mm=180)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["Surgical (n = <5)", "Non-surgical (n = 35)", "Unweighted"]
    assert "counts below 5 are shown as <5" in iptw_km_caption(
        weighted, fit_by(sub, "arm"), reconstructed=True, min_cell=5).text
    risk = [t.get_text() for t in fig.axes[1].texts if t.get_gid() == "at_risk:surgical:Surgical"]
    assert risk[0] == "<5"
    blank = [t.get_text() for t in fig.axes[1].texts
             if t.get_gid() == "at_risk:surgical:weighted"]
    assert blank[0] == ""  # the weighted number would reveal the suppressed count


class _TableOnly:
    """Stands in for a RobustnessSummary: the forest plot reads only .table()."""

    def __init__(self, table: pd.DataFrame):
        self._table = table

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        return self._table.copy()


def test_forest_says_not_estimable_for_a_row_without_an_estimate(summary):
    table = summary.table()
    hr_rows = table.index[table["measure"] == "hazard ratio"]
    table.loc[hr_rows[2], ["estimate", "lower", "upper"]] = [np.nan, np.nan, np.nan]
    dropped = table.loc[hr_rows[2], "analysis"]
    fig = robustness_forest_figure(_TableOnly(table), reconstructed=True, width_mm=180)
    marks = [line.get_gid() for line in fig.axes[0].get_lines()
             if (line.get_gid() or "").startswith("estimate:")]
    assert f"estimate:{dropped}" not in marks and len(marks) == len(hr_rows) - 1
    cis = [t.get_text() for t in fig.texts if t.get_gid() == "forest_ci"]
    assert cis[2] == "not estimable" and len(cis) == len(hr_rows)
    assert not any("0.00 (0.00" in c for c in cis)
    cap = robustness_forest_caption(_TableOnly(table), reconstructed=True)
    assert f"Not estimable, shown without an interval: {dropped}" in cap.text
    plt.close(fig)


def test_forest_with_no_estimable_hazard_ratio_is_a_message(summary):
    table = summary.table()
    hr_rows = table["measure"] == "hazard ratio"
    table.loc[hr_rows, ["estimate", "lower", "upper"]] = [0.0, 0.0, np.inf]
    fig = robustness_forest_figure(_TableOnly(table), reconstructed=True, width_mm=85)
    text = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)
    assert "No hazard ratio is estimable" in text and not fig.axes
    assert all(t.get_fontsize() >= 7 for t in fig.texts)
    plt.close(fig)

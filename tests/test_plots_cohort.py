"""Cohort figures (notebooks 01 and 02): drawn from result objects.

The saved files (the same bytes as the session's ``nethep run`` writes, in another
process) are checked in tests/test_figures_journal.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nethep import load_cohort  # noqa: E402
from nethep.describe import GroupedValues, patient_flow, values_by_group  # noqa: E402
from nethep.plots import (  # noqa: E402
    patient_flow_figure,
    set_style,
    values_by_group_figure,
)
from nethep.plots.style import RECONSTRUCTED_NOTE  # noqa: E402
from nethep.tableone import table_one  # noqa: E402


@pytest.fixture(scope="module")
def df():
    set_style()
    return load_cohort()


def _texts(fig):
    """Texts of the figure and its axes, line breaks (from wrapping) made spaces."""
    return [" ".join(t.get_text().split()) for t in [*(t for ax in fig.axes for t in ax.texts),
                                                      *fig.texts]]


@pytest.mark.parametrize("width_mm", [85, 180])
def test_flow_figure_shows_every_count(df, width_mm):
    fig = patient_flow_figure(patient_flow(df), reconstructed=True, width_mm=width_mm)
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    boxes = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "flow_box"]
    assert len(boxes) == 1 + 2 + 3 + 7
    text = "\n".join(boxes)
    for n in ("n = 48", "n = 36", "n = 12", "n = 17", "n = 18", "n = 13", "n = 7", "n = 6",
              "n = 4", "n = 3"):
        assert n in text
    assert "1996-2004" in text
    assert RECONSTRUCTED_NOTE in _texts(fig)
    plt.close(fig)


@pytest.mark.parametrize("width_mm", [85, 180])
def test_flow_box_text_stays_inside_its_box(df, width_mm):
    fig = patient_flow_figure(patient_flow(df), reconstructed=True, width_mm=width_mm)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    patches = [p.get_window_extent(renderer) for p in ax.patches]
    for text in ax.texts:
        if text.get_gid() != "flow_box":
            continue
        box = text.get_window_extent(renderer)
        assert any(p.x0 <= box.x0 and box.x1 <= p.x1 and p.y0 <= box.y0 and box.y1 <= p.y1
                   for p in patches), f"{text.get_text()!r} spills out of its box"
    plt.close(fig)


def test_flow_figure_keeps_an_empty_group(df):
    fig = patient_flow_figure(patient_flow(df[df["treatment_group"] != "surgical"]),
                              reconstructed=False)
    boxes = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "flow_box"]
    assert len(boxes) == 13
    assert any(b.startswith("Surgical") and b.endswith("n = 0") for b in boxes)
    plt.close(fig)


@pytest.mark.parametrize("width_mm", [85, 180])
def test_values_figure_draws_every_patient(df, width_mm):
    t1 = table_one(df)
    grouped = t1.grouped["liver_involvement_pct"]
    fig = values_by_group_figure(grouped, p=t1.result("liver_involvement_pct").p,
                                 reconstructed=True, width_mm=width_mm)
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    ax = fig.axes[0]
    points = {c.get_gid(): len(c.get_offsets()) for c in ax.collections}
    assert points == {"points:medical": 17, "points:embolization": 18, "points:surgical": 13}
    assert any(t.startswith("Kruskal-Wallis P = ") for t in _texts(fig))
    plt.close(fig)


def test_values_figure_with_an_empty_group(df):
    grouped = values_by_group(df[df["treatment_group"] != "medical"], "age_years")
    fig = values_by_group_figure(grouped, reconstructed=False)
    assert "no patients" in _texts(fig)
    assert "No test across groups" in _texts(fig)
    plt.close(fig)


# --------------------------------------------------------------------------- suppression, size


def test_flow_figure_shows_small_counts_as_marked(df):
    fig = patient_flow_figure(patient_flow(df), reconstructed=True, min_cell=5, width_mm=85)
    boxes = "\n".join(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "flow_box")
    assert boxes.count("n = <5") == 3  # chemotherapy 4, ablation 4, resection + ablation 3
    for n in ("n = 1", "n = 2", "n = 3", "n = 4"):
        assert not any(line == n for line in boxes.splitlines()), n
    assert "n = 48" in boxes and "n = 6" in boxes
    assert "Small-cell suppression: counts below 5 are shown as <5." in _texts(fig)
    plt.close(fig)


def test_values_figure_leaves_out_points_of_small_groups(df):
    small = df[(df["treatment_group"] != "medical") | (df["patient_id"].isin(["NET001",
                                                                              "NET002"]))]
    fig = values_by_group_figure(values_by_group(small, "age_years"), reconstructed=False,
                                 min_cell=5)
    ax = fig.axes[0]
    assert {c.get_gid() for c in ax.collections} == {"points:embolization", "points:surgical"}
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "Medical\n(n = <5)"
    assert ("Points omitted for groups with fewer than 5 patients (small-cell suppression): "
            "Medical.") in _texts(fig)
    plt.close(fig)


def test_values_figure_draws_boxes_only_for_a_large_group():
    rng = np.random.default_rng(1)
    values = {"medical": tuple(rng.normal(60, 10, 2500)), "embolization": (50.0, 51.0, 70.0),
              "surgical": ()}
    grouped = GroupedValues("age_years", "Age, years", values,
                            {"medical": 0, "embolization": 0, "surgical": 0})
    fig = values_by_group_figure(grouped, reconstructed=False)
    ax = fig.axes[0]
    assert {c.get_gid() for c in ax.collections} == {"points:embolization"}
    assert len(ax.patches) == 2  # a box for each group with values
    assert ("Points omitted for groups with n > 2,000 patients (boxes only): Medical."
            in _texts(fig))
    assert not any("suppression" in t for t in _texts(fig))
    plt.close(fig)

"""Cohort figures (notebooks 01 and 02): drawn from result objects.

The saved files (the same bytes as the session's ``nethep run`` writes, in another
process) are checked in tests/test_figures_journal.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nethep import load_cohort  # noqa: E402
from nethep.describe import GroupedValues, patient_flow, values_by_group  # noqa: E402
from nethep.formats import p_text  # noqa: E402
from nethep.plots import (  # noqa: E402
    patient_flow_caption,
    patient_flow_figure,
    set_style,
    values_by_group_caption,
    values_by_group_figure,
)
from nethep.plots.style import RECONSTRUCTED_NOTE  # noqa: E402
from nethep.tableone import table_one  # noqa: E402

#: R's Table 1 tests for the bundled cohort.
R_TABLE_ONE = json.loads((Path(__file__).resolve().parent / "reference" / "tests.json")
                         .read_text(encoding="utf-8"))["table_one"]


@pytest.fixture(scope="module")
def df():
    set_style()
    return load_cohort()


def _texts(fig):
    """Texts of the figure and its axes, line breaks (from wrapping) made spaces."""
    return [" ".join(t.get_text().split()) for t in [*(t for ax in fig.axes for t in ax.texts),
                                                      *fig.texts]]


def _outcomes(df):
    """Deaths, alive and lost to follow-up per group, computed here from the rule the
    caption states (last contact dated at mid-year of diagnosis; lost when more than 12
    months before the latest last contact)."""
    last = df["year_of_diagnosis"] + 0.5 + df["followup_months"] / 12
    lost = (df["died"] == 0) & (last < last.max() - 1.0)
    return {g: (int((rows["died"] == 1).sum()), int((rows["died"] == 0).sum()),
                int(lost[rows.index].sum()))
            for g, rows in df.groupby("treatment_group")}


@pytest.mark.parametrize("width_mm", [85, 180])
def test_flow_figure_shows_every_count(df, width_mm):
    fig = patient_flow_figure(patient_flow(df), reconstructed=True, width_mm=width_mm)
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    boxes = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "flow_box"]
    # rows read, excluded, identified, 2 tumour types, 3 groups, 7 treatments, 3 outcomes
    assert len(boxes) == 1 + 1 + 1 + 2 + 3 + 7 + 3
    text = "\n".join(boxes)
    for n in ("n = 48", "n = 36", "n = 12", "n = 17", "n = 18", "n = 13", "n = 7", "n = 6",
              "n = 4", "n = 3"):
        assert n in text
    assert "1996-2004" in text
    assert "Rows read from the file\nn = 48" in boxes
    assert any(b.startswith("Excluded before analysis\nn = 0") for b in boxes)
    outcome = [" ".join(b.split()) for b in boxes if b.startswith("Died")]
    expected = _outcomes(df)
    assert outcome == [f"Died: {d} Alive at last contact: {a} of whom lost to follow-up: {n}"
                       for d, a, n in (expected[g] for g in ("medical", "embolization",
                                                             "surgical"))]
    assert sum(n for _, _, n in expected.values()) == patient_flow(df).n_lost
    assert RECONSTRUCTED_NOTE in _texts(fig)
    assert "Patient flow" not in _texts(fig)  # the title is the caption's
    plt.close(fig)


def test_flow_figure_counts_empty_rows_as_excluded(df):
    with_empty = df.copy()
    with_empty.attrs = {**df.attrs, "skipped_empty_rows": [7, 12]}
    flow = patient_flow(with_empty)
    assert flow.n_rows_read == 50 and flow.n_excluded == 2
    fig = patient_flow_figure(flow, reconstructed=False)
    boxes = [" ".join(t.get_text().split()) for t in fig.axes[0].texts
             if t.get_gid() == "flow_box"]
    assert "Rows read from the file n = 50" in boxes
    assert "Excluded before analysis n = 2 (empty rows: 2)" in boxes
    plt.close(fig)


def test_flow_caption_states_the_loss_rule(df):
    cap = patient_flow_caption(patient_flow(df), reconstructed=True, min_cell=5)
    assert cap.title == "Patient flow"
    assert "more than 12 months before the data closure" in cap.text
    assert "here 2006" in cap.text
    assert "counts below 5 are shown as <5" in cap.text
    assert cap.text.endswith("not the original patient records.")


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
    assert len(boxes) == 13 + 2 + 3  # with the intake boxes and one outcome box per group
    assert any(b.startswith("Surgical") and b.endswith("n = 0") for b in boxes)
    plt.close(fig)


@pytest.mark.parametrize("width_mm", [85, 180])
def test_values_figure_draws_summaries_not_patients(df, width_mm):
    t1 = table_one(df)
    grouped = t1.grouped["liver_involvement_pct"]
    fig = values_by_group_figure(grouped, p=t1.result("liver_involvement_pct").p,
                                 reconstructed=True, width_mm=width_mm)
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    ax = fig.axes[0]
    assert len(ax.collections) == 0  # no points
    assert len(ax.patches) == 3  # one box per group
    ys = sorted({round(float(y), 6) for line in ax.get_lines() for y in line.get_ydata()})
    for g, values in grouped.values.items():
        # quartiles, median and the 10th/90th percentile whiskers, from numpy
        for q in np.percentile(values, [10, 25, 50, 75, 90]):
            assert round(float(q), 6) in ys, (g, q)
        inner = [v for v in values if not any(abs(v - y) < 1e-9 for y in ys)]
        assert inner, "every patient's value is drawn"
    assert any(t.startswith("Kruskal-Wallis P = ") for t in _texts(fig))
    assert not any("by treatment group" in t for t in _texts(fig))  # no title drawn
    plt.close(fig)


def test_values_caption(df):
    t1 = table_one(df)
    cap = values_by_group_caption(t1.grouped["liver_involvement_pct"],
                                  p=t1.result("liver_involvement_pct").p,
                                  title="Liver involvement by treatment group",
                                  reconstructed=True)
    assert cap.title == "Liver involvement by treatment group"
    assert "whiskers: 10th and 90th percentiles" in cap.text
    assert "Individual patients' values are not shown" in cap.text
    # R's kruskal.test P (tests/reference/make_tests_reference.R), in the journal's style
    r_p = next(r["p"] for r in R_TABLE_ONE["continuous"]
               if r["variable"] == "liver_involvement_pct")
    assert f"Kruskal-Wallis test across the groups with values: {p_text(r_p)}." in cap.text


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
    plt.close(fig)


def test_values_figure_leaves_out_small_groups(df):
    small = df[(df["treatment_group"] != "medical") | (df["patient_id"].isin(["NET001",
                                                                              "NET002"]))]
    grouped = values_by_group(small, "age_years")
    fig = values_by_group_figure(grouped, reconstructed=False, min_cell=5)
    ax = fig.axes[0]
    assert len(ax.patches) == 2  # embolization and surgical only
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "Medical\n(n = <5)"
    assert "too few to show" in _texts(fig)
    cap = values_by_group_caption(grouped, reconstructed=False, min_cell=5)
    assert "Not drawn: groups with fewer than 5 patients (Medical)." in cap.text
    assert "Small-cell suppression: counts below 5 are shown as <5." in cap.text
    plt.close(fig)


def test_values_figure_on_a_large_group_draws_its_box_only():
    rng = np.random.default_rng(1)
    values = {"medical": tuple(rng.normal(60, 10, 2500)), "embolization": (50.0, 51.0, 70.0),
              "surgical": ()}
    grouped = GroupedValues("age_years", "Age, years", values,
                            {"medical": 0, "embolization": 0, "surgical": 0})
    fig = values_by_group_figure(grouped, reconstructed=False)
    ax = fig.axes[0]
    assert len(ax.collections) == 0
    assert len(ax.patches) == 2  # a box for each group with values
    assert "no patients" in _texts(fig)
    plt.close(fig)

"""Every number in the abstract, computed from the shipped cohort with nethep's functions."""

import pandas as pd
import pytest

from nethep import load_cohort
from nethep.published import _flat_targets, computed_targets, matches, paper_vs_ours

TARGETS = _flat_targets()


@pytest.fixture(scope="module")
def ours():
    return computed_targets(load_cohort())


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_published_target_is_reproduced(ours, key):
    target = TARGETS[key]
    assert matches(target, ours[key]), (
        f"{key}: published {target['value']} ({target['rounding']}), computed {ours[key]}"
    )


def test_targets_cover_the_abstract():
    expected = {"n_patients", "median_followup_months", "survival_36_months.surgical",
                "survival_36_months.nonsurgical", "logrank_surgical_vs_nonsurgical",
                "palliation_three_groups", "liver_involvement_differs"}
    assert expected <= set(TARGETS)
    assert sum(k.startswith("n_by_treatment.") for k in TARGETS) == 7


@pytest.mark.parametrize(
    ("rule", "value", "ok", "bad"),
    [
        ({"rounding": "exact", "value": 48}, None, 48, 47),
        ({"rounding": "integer", "value": 20}, None, 20.49, 20.5),
        ({"rounding": "percent", "value": 83}, None, 0.826, 0.836),
        ({"rounding": "p_interval", "value": 0.01, "lower": 0.005, "upper": 0.015}, None,
         0.005, 0.015),
        ({"rounding": "p_above", "value": 0.05}, None, 0.051, 0.05),
    ],
)
def test_rounding_rules(rule, value, ok, bad):
    assert matches(rule, ok)
    assert not matches(rule, bad)
    assert not matches(rule, float("nan"))


def test_paper_vs_ours_table_all_match():
    comparison = paper_vs_ours(load_cohort())
    table = comparison.table()
    assert comparison.all_match, table[~table["matches"]]
    assert len(table) == len(TARGETS)
    assert {"quantity", "published", "ours", "matches"} <= set(table.columns)


def test_paper_vs_ours_notices_a_changed_cohort():
    df = load_cohort().copy()
    df.loc[df["arm"] == "surgical", "died"] = 1
    comparison = paper_vs_ours(df)
    assert not comparison.all_match
    failed = set(comparison.table().query("not matches")["key"])
    assert "survival_36_months.surgical" in failed
    assert isinstance(comparison.table(), pd.DataFrame)

"""Every number in the abstract, computed from the shipped cohort with nethep's functions."""

import json
from pathlib import Path

import pandas as pd
import pytest

from nethep import load_cohort
from nethep.published import _flat_targets, computed_targets, matches, paper_vs_ours

TARGETS = _flat_targets()
#: R's values for the bundled cohort (tests/reference/make_tests_reference.R).
R_TESTS = Path(__file__).resolve().parent / "reference" / "tests.json"


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
    assert comparison.all_match(), table[~table["matches"]]
    assert len(table) == len(TARGETS)
    assert {"quantity", "published", "ours", "matches"} <= set(table.columns)


def test_paper_vs_ours_notices_a_changed_cohort():
    df = load_cohort().copy()
    df.loc[df["arm"] == "surgical", "died"] = 1
    comparison = paper_vs_ours(df)
    assert not comparison.all_match()
    failed = set(comparison.table().query("not matches")["key"])
    assert "survival_36_months.surgical" in failed
    assert isinstance(comparison.table(), pd.DataFrame)


def test_comparison_results_and_summary_come_from_the_table():
    comparison = paper_vs_ours(load_cohort())
    results = comparison.to_results()
    assert set(results) == {"paper_vs_ours", "all_match"} and results["all_match"] is True
    first = results["paper_vs_ours"][0]
    assert first == {"key": "n_patients", "quantity": "48 patients", "published": "48",
                     "ours": "48", "matches": True}
    summary = comparison.summary(keys=["palliation_three_groups"])
    assert list(summary.columns) == ["quantity", "published", "ours", "matches"]
    r_fisher_p = json.loads(R_TESTS.read_text(encoding="utf-8"))["palliation"]["fisher_p"]
    # our P as the comparison writes it: four decimals, no leading zero (R's exact P)
    assert summary["ours"].item() == "P = " + f"{r_fisher_p:.4f}".removeprefix("0")
    assert comparison.verdict("palliation_three_groups", "the exact P") == (
        "Published: P = .2; the exact P matches it at the paper's rounding.")
    assert comparison.sentence() == (
        "19 of 19 numbers in the abstract match at the paper's rounding: every abstract "
        "number is reproduced.")


def test_min_cell_is_explicit_and_withholds_revealing_matches():
    df = load_cohort()
    small = df[(df["treatment_group"] != "medical") | (df["treatment"] == "chemotherapy")]
    comparison = paper_vs_ours(small)
    assert comparison.n_compared() == len(TARGETS)  # min_cell 0: every row compared
    assert not comparison.all_match()
    table = comparison.table(min_cell=5).set_index("key")
    assert table.loc["n_by_group.medical", "ours_text"] == "<5"
    assert table.loc["n_by_group.medical", "matches"] == False  # noqa: E712 (17 published)
    # published 4 and ours 4 (below 5): whether they match would reveal ours
    assert table.loc["n_by_treatment.chemotherapy", "matches"] is None
    rows = {r["key"]: r for r in comparison.to_results(min_cell=5)["paper_vs_ours"]}
    assert rows["n_by_treatment.chemotherapy"] == {**rows["n_by_treatment.chemotherapy"],
                                                   "ours": "<5", "matches": None}
    assert comparison.n_compared(min_cell=5) < len(TARGETS)
    assert "are not compared (small-cell suppression" in comparison.sentence(min_cell=5)
    assert "not compared" not in comparison.sentence()

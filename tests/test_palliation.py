"""Palliation rates, exact Clopper-Pearson intervals and the exact test across groups."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethep.cohort import load_cohort
from nethep.exact import clopper_pearson, fisher_exact_rxc
from nethep.formats import p_text
from nethep.palliation import PalliationResult, palliation
from nethep.published import computed_targets
from nethep.results import dumps

#: R's values for the bundled cohort (tests/reference/make_tests_reference.R: fisher.test,
#: chisq.test(correct = FALSE), binom.test per group).
R = json.loads((Path(__file__).resolve().parent / "reference" / "tests.json").read_text(
    encoding="utf-8"))["palliation"]
#: Symptomatic and palliated counts per group, from R's 2 x 3 table (palliated yes / no).
R_COUNTS = {g: (yes, yes + no) for g, yes, no in zip(R["groups"], *R["table"], strict=True)}


def _mark(n: int, min_cell: int) -> int | str:
    """A count as a table shows it under ``min_cell`` (1 to min_cell - 1 hidden)."""
    return f"<{min_cell}" if 0 < n < min_cell else n


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return load_cohort()


@pytest.fixture(scope="module")
def result(cohort) -> PalliationResult:
    return palliation(cohort)


def _without_symptoms(df: pd.DataFrame, group: str) -> pd.DataFrame:
    """A copy in which nobody in ``group`` is symptomatic (palliated then empty)."""
    out = df.copy()
    rows = out["treatment_group"] == group
    out.loc[rows, "symptomatic"] = 0
    out.loc[rows, "palliated"] = pd.NA
    return out


def test_counts_per_group_match_the_cohort(cohort, result):
    table = result.table().set_index("group")
    assert list(table.index) == ["medical", "embolization", "surgical"]
    sym = cohort[cohort["symptomatic"] == 1]
    assert table["n_symptomatic"].to_dict() == sym.groupby("treatment_group").size().to_dict()
    assert table["n_palliated"].to_dict() == (
        sym.groupby("treatment_group")["palliated"].sum().astype(int).to_dict()
    )
    assert table["n_patients"].sum() == len(cohort) == 48
    assert table["n_symptomatic"].sum() == int(cohort["symptomatic"].sum())
    # the 2 x 3 table: palliated yes / no by group among the symptomatic
    crosstab = pd.crosstab(sym["palliated"].astype(int), sym["treatment_group"])
    assert result.contingency().to_numpy().tolist() == crosstab.loc[
        [1, 0], list(result.tested_groups)].to_numpy().tolist()


def test_bundled_rates(result):
    got = {g.group: (g.n_palliated, g.n_symptomatic) for g in result.groups}
    assert got == R_COUNTS
    for g in result.groups:
        assert g.rate == pytest.approx(g.n_palliated / g.n_symptomatic)
        assert g.in_test
    assert result.excluded == ()


def test_exact_p_reproduces_published_rounding(cohort, result):
    assert 0.15 <= result.exact_p < 0.25
    assert result.exact_p == fisher_exact_rxc(np.array(result.counts))
    # the paper comparison reads this very result
    assert computed_targets(cohort)["palliation_three_groups"] == result.exact_p
    assert result.exact_p == pytest.approx(R["fisher_p"], abs=1e-9)  # R fisher.test


def test_chi_square_beside_exact(result):
    # R: chisq.test(m, correct = FALSE)
    assert result.chi2_statistic == pytest.approx(R["chi2_statistic"], rel=1e-8)
    assert result.chi2_df == R["chi2_df"] == 2
    assert result.chi2_p == pytest.approx(R["chi2_p"], rel=1e-8)
    expected = stats.contingency.expected_freq(np.array(result.counts))
    assert result.n_cells == 6
    n_below = R["n_expected_below_5"]
    assert result.n_expected_below_5 == int((expected < 5).sum()) == n_below
    assert result.min_expected == pytest.approx(R["chi2_min_expected"])
    tests = result.tests_table()
    assert tests["test"].str.contains("Fisher-Freeman-Halton").iloc[0]
    assert f"{n_below} of 6 expected counts < 5" in tests["note"].iloc[1]


def test_clopper_pearson_bounds(result):
    for g in result.groups:
        assert (g.lower, g.upper) == clopper_pearson(g.n_palliated, g.n_symptomatic)
        assert 0 <= g.lower <= g.rate <= g.upper <= 1
    for g in result.groups:  # R: binom.test(k, n)$conf.int
        r = R["rate"][g.group]
        assert (g.lower, g.upper) == pytest.approx((r["lower"], r["upper"]), abs=1e-9)


def test_group_without_symptomatic_patients(cohort):
    res = palliation(_without_symptoms(cohort, "surgical"))
    surgical = res.group("surgical")
    assert (surgical.n_symptomatic, surgical.n_palliated) == (0, 0)
    assert surgical.rate is None and surgical.lower is None and surgical.upper is None
    assert not surgical.in_test
    assert res.tested_groups == ("medical", "embolization")
    assert dict(res.excluded) == {"surgical": "no symptomatic patients"}
    # R's 2 x 3 table without the surgical column
    assert res.exact_p == fisher_exact_rxc(np.array(R["table"])[:, :2])
    assert res.n_cells == 4
    row = res.table().set_index("group").loc["surgical"]
    assert math.isnan(row["rate"]) and not row["in_test"]
    assert row["note"] == "no symptomatic patients"
    assert "surgical: no symptomatic patients" in res.summary()
    data = json.loads(dumps(res.to_results()))
    assert data["rate"]["surgical"] is None
    assert data["rate_ci"]["surgical"] == {"lower": None, "upper": None}
    assert data["excluded"] == {"surgical": "no symptomatic patients"}


def test_fewer_than_two_groups_gives_no_test(cohort):
    df = _without_symptoms(_without_symptoms(cohort, "surgical"), "medical")
    res = palliation(df)
    assert res.tested_groups == ("embolization",)
    assert res.exact_p is None and res.chi2_p is None and res.n_expected_below_5 is None
    assert "fewer than 2 groups" in res.test_note
    assert res.tests_table()["p"].isna().all()
    assert "No test across groups" in res.summary()


def test_everyone_palliated_exact_is_one_and_chi_square_undefined(cohort):
    df = cohort.copy()
    df.loc[df["symptomatic"] == 1, "palliated"] = 1
    res = palliation(df)
    assert res.exact_p == 1.0
    assert res.chi2_p is None and res.chi2_statistic is None
    assert "chi-square undefined" in res.test_note


def test_groups_absent_from_the_cohort_are_not_listed(cohort):
    res = palliation(cohort[cohort["treatment_group"] != "medical"])
    assert [g.group for g in res.groups] == ["embolization", "surgical"]
    assert res.exact_p == fisher_exact_rxc(np.array(R["table"])[:, 1:])  # without medical


def test_result_is_frozen_and_json_ready(result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.exact_p = 0.5  # type: ignore[misc]
    data = json.loads(dumps(result.to_results()))
    assert set(data) >= {"n_symptomatic", "n_palliated", "rate", "rate_ci", "exact_p", "chi2_p"}
    assert data["n_symptomatic"] == {g: n for g, (_, n) in R_COUNTS.items()}
    assert data["exact_p"] == result.exact_p
    assert data["rate_ci"]["surgical"]["upper"] == result.group("surgical").upper
    with pytest.raises(KeyError, match="no treatment group"):
        result.group("radiation")


def test_summary_sentence_comes_from_the_numbers(result):
    text = result.summary()
    k, n = R_COUNTS["surgical"]
    assert f"surgical {k}/{n} ({100 * k / n:.0f}%" in text
    assert (f"exact {p_text(R['fisher_p'])} across 3 groups; Pearson chi-square "
            f"{p_text(R['chi2_p'])} with") in text


def test_min_cell_suppresses_counts_in_table_contingency_and_summary(result):
    n_sym = [n for _, n in R_COUNTS.values()]
    high = sorted(n_sym)[1]  # hides the smallest group's count, keeps the largest
    assert result.table(min_cell=high).set_index("group")["n_symptomatic"].tolist() == [
        _mark(n, high) for n in n_sym]
    assert any(isinstance(_mark(n, high), str) for n in n_sym)
    assert result.contingency(min_cell=6).loc["no"].tolist() == [
        _mark(n, 6) for n in R["table"][1]]
    assert result.contingency(min_cell=6).loc["yes"].tolist() == [
        _mark(n, 6) for n in R["table"][0]]
    k, n = R_COUNTS["surgical"]
    assert f"surgical {_mark(k, high)}/{_mark(n, high)}" in result.summary(min_cell=high)
    assert f"surgical {k}/{n}" in result.summary()
    assert result.table().equals(result.table(min_cell=0))


# --------------------------------------------------------------------------- small numbers


def _printed_widths(df: pd.DataFrame) -> dict[str, int]:
    """Exact-interval widths as printed (whole-percent limits), from scipy's binomtest,
    independently of nethep.exact."""
    out = {}
    sym = df[df["symptomatic"] == 1]
    for group, rows in sym.groupby("treatment_group"):
        ci = stats.binomtest(int(rows["palliated"].sum()), len(rows)).proportion_ci(
            confidence_level=0.95, method="exact")
        out[group] = round(100 * ci.high) - round(100 * ci.low)
    return out


def test_interval_widths_are_computed_from_the_data(cohort, result):
    assert result.interval_widths() == _printed_widths(cohort)
    # R's exact intervals, printed as whole percents
    widths = [round(100 * r["upper"]) - round(100 * r["lower"]) for r in R["rate"].values()]
    assert sorted(result.interval_widths().values()) == sorted(widths)
    text = result.small_numbers_caveat()
    n_sym = [n for _, n in R_COUNTS.values()]
    assert f"{min(n_sym)} to {max(n_sym)} symptomatic patients per group" in text
    assert f"span {min(widths)} to {max(widths)} percentage points" in text
    assert f"exact {p_text(R['fisher_p'])}" in text and "could not detect a difference" in text


def test_small_numbers_caveat_follows_the_data(cohort):
    # fewer symptomatic surgical patients: a wider surgical interval, a new span
    df = cohort.copy()
    drop = df.index[(df["treatment_group"] == "surgical") & (df["symptomatic"] == 1)][:5]
    df.loc[drop, "symptomatic"] = 0
    df.loc[drop, "palliated"] = pd.NA
    changed = palliation(df)
    widths = _printed_widths(df)
    assert changed.interval_widths() == widths
    lo, hi = min(widths.values()), max(widths.values())
    assert f"span {lo} to {hi} percentage points" in changed.small_numbers_caveat()
    assert changed.small_numbers_caveat() != palliation(cohort).small_numbers_caveat()


def test_small_numbers_caveat_without_symptomatic_patients_and_with_suppression(cohort):
    df = cohort.copy()
    df["symptomatic"] = 0
    df["palliated"] = pd.NA
    assert "no rate is estimable" in palliation(df).small_numbers_caveat()
    n_sym = sorted(n for _, n in R_COUNTS.values())
    high = n_sym[1]  # hides the smallest group's count, keeps the largest
    assert (f"{_mark(n_sym[0], high)} to {_mark(n_sym[-1], high)} symptomatic"
            in palliation(cohort).small_numbers_caveat(min_cell=high))

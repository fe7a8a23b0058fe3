"""Tests for nethep.exact against R (tests/reference/exact.json) and brute force."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from nethep.exact import clopper_pearson, count_tables, fisher_exact_rxc

REFERENCE = json.loads(
    (Path(__file__).resolve().parent / "reference" / "exact.json").read_text(encoding="utf-8")
)
FISHER_CASES = REFERENCE["fisher"]
BINOM_CASES = REFERENCE["binom"]


def test_reference_file_records_r_version() -> None:
    assert REFERENCE["r_version_string"].startswith("R version ")
    assert len(FISHER_CASES) >= 15
    assert len(BINOM_CASES) >= 8


@pytest.mark.parametrize("case", FISHER_CASES, ids=[c["name"] for c in FISHER_CASES])
def test_fisher_matches_r(case: dict) -> None:
    expected = case["p_value"]
    got = fisher_exact_rxc(case["table"])
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=0.0), (
        f"{case['name']} {case['table']}: nethep {got!r} != R fisher.test {expected!r}"
    )


@pytest.mark.parametrize("case", FISHER_CASES, ids=[c["name"] for c in FISHER_CASES])
def test_fisher_invariant_under_transpose(case: dict) -> None:
    table = np.array(case["table"])
    assert math.isclose(fisher_exact_rxc(table.T), fisher_exact_rxc(table), rel_tol=1e-12)


@pytest.mark.parametrize(
    "case", BINOM_CASES, ids=[f"{c['k']}/{c['n']}@{c['conf_level']}" for c in BINOM_CASES]
)
def test_clopper_pearson_matches_r_binom_test(case: dict) -> None:
    lower, upper = clopper_pearson(case["k"], case["n"], case["conf_level"])
    for side, got, expected in (("lower", lower, case["lower"]), ("upper", upper, case["upper"])):
        assert math.isclose(got, expected, rel_tol=1e-8, abs_tol=1e-12), (
            f"{case['k']}/{case['n']} {side}: nethep {got!r} != R binom.test {expected!r}"
        )


def test_clopper_pearson_empty_sample_is_nan() -> None:
    lower, upper = clopper_pearson(0, 0)
    assert math.isnan(lower) and math.isnan(upper)


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (1.5, 5), (1, -1)])
def test_clopper_pearson_rejects_bad_counts(k: float, n: int) -> None:
    with pytest.raises(ValueError, match="k"):
        clopper_pearson(k, n)


def test_clopper_pearson_rejects_bad_conf_level() -> None:
    with pytest.raises(ValueError, match="conf_level"):
        clopper_pearson(1, 5, conf_level=1.0)


# --- brute force ------------------------------------------------------------------------

# R's fisher.test tie tolerances (see nethep.exact): relative 1e-7 for a 2 x 2 input,
# FEXACT's 3.45254e-7 (in log space) for any other shape.
TOL_2X2 = Fraction(1e-7)
TOL_RXC = Fraction(3.45254e-7)


def brute_force_fisher_2x3(table: list[list[int]]) -> float:
    """Two-sided Fisher P for a 2 x 3 table by looping over every table with its margins.

    Exact rational probabilities, no pruning: P(x) = prod(r!) prod(c!) / (n! prod(x!)).
    """
    r0, r1 = sum(table[0]), sum(table[1])
    cols = [table[0][j] + table[1][j] for j in range(3)]
    n = r0 + r1
    numerator = math.factorial(r0) * math.factorial(r1)
    for cj in cols:
        numerator *= math.factorial(cj)

    def prob(top: list[int]) -> Fraction:
        denominator = math.factorial(n)
        for j in range(3):
            denominator *= math.factorial(top[j]) * math.factorial(cols[j] - top[j])
        return Fraction(numerator, denominator)

    p_obs = prob(table[0])
    total = Fraction(0)
    for a in range(cols[0] + 1):
        for b in range(cols[1] + 1):
            c = r0 - a - b
            if 0 <= c <= cols[2]:
                p = prob([a, b, c])
                if p <= p_obs * (1 + TOL_RXC):
                    total += p
    return float(total)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=6, max_size=6))
def test_fisher_2x3_equals_brute_force(cells: list[int]) -> None:
    table = [cells[:3], cells[3:]]
    expected = brute_force_fisher_2x3(table)
    got = fisher_exact_rxc(table)
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-15), (
        f"{table}: nethep {got!r} != brute force {expected!r}"
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=25), min_size=4, max_size=4))
def test_fisher_2x2_equals_scipy(cells: list[int]) -> None:
    table = [cells[:2], cells[2:]]
    expected = scipy.stats.fisher_exact(table).pvalue
    got = fisher_exact_rxc(table)
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-15), (
        f"{table}: nethep {got!r} != scipy.stats.fisher_exact {expected!r}"
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=6), min_size=6, max_size=6))
def test_count_tables_equals_brute_force(cells: list[int]) -> None:
    rows = [sum(cells[:3]), sum(cells[3:])]
    cols = [cells[j] + cells[j + 3] for j in range(3)]
    expected = sum(
        1 for a in range(cols[0] + 1) for b in range(cols[1] + 1) if 0 <= rows[0] - a - b <= cols[2]
    )
    assert count_tables(rows, cols) == expected
    assert count_tables(cols, rows) == expected


# --- edge and error cases ---------------------------------------------------------------


def test_fewer_than_two_nonempty_rows_or_columns_gives_one() -> None:
    assert fisher_exact_rxc([[0, 0, 0], [3, 4, 5]]) == 1.0
    assert fisher_exact_rxc([[0, 3], [0, 4], [0, 0]]) == 1.0
    assert fisher_exact_rxc([[0, 0], [0, 0]]) == 1.0


def test_integral_floats_and_numpy_arrays_are_accepted() -> None:
    table = [[3, 7, 5], [5, 4, 1]]
    expected = fisher_exact_rxc(table)
    assert fisher_exact_rxc(np.array(table, dtype=float)) == expected
    assert fisher_exact_rxc(np.array(table, dtype=np.int32)) == expected
    # DataFrame.to_numpy() on pandas nullable Int64 columns gives an object array
    assert fisher_exact_rxc(np.array(table, dtype=object)) == expected


def test_negative_entry_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative counts, found -1"):
        fisher_exact_rxc([[3, -1], [2, 4]])


def test_non_integer_entry_is_rejected() -> None:
    with pytest.raises(ValueError, match="integer counts, found non-integer 2.5"):
        fisher_exact_rxc([[3, 2.5], [2, 4]])


@pytest.mark.parametrize("bad", [[[1, math.nan], [2, 3]], [[1, math.inf], [2, 3]]])
def test_non_finite_entry_is_rejected(bad: list[list[float]]) -> None:
    with pytest.raises(ValueError, match="finite"):
        fisher_exact_rxc(bad)


@pytest.mark.parametrize("bad", [[1, 2, 3], [[[1, 2], [3, 4]]]])
def test_non_2d_input_is_rejected(bad: list) -> None:
    with pytest.raises(ValueError, match="2-dimensional"):
        fisher_exact_rxc(bad)


def test_enumeration_cap_suggests_monte_carlo() -> None:
    table = [[9, 2, 1], [5, 4, 3], [2, 5, 5], [1, 3, 8]]  # 277,980 tables
    with pytest.raises(ValueError, match=r"more than 1,000 tables.*Monte Carlo"):
        fisher_exact_rxc(table, max_tables=1_000)
    assert count_tables([12, 12, 12, 12], [16, 16, 16]) == 289_981

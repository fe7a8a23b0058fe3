"""P values in the journal's (AMA) style: boundaries of each rule, and missing values."""

import math

import numpy as np
import pytest

from nethep.formats import finite_or_none, format_p, p_digits, p_text

CASES = [
    (0.0009999, "<.001", "P < .001"),
    (0.0, "<.001", "P < .001"),
    (0.001, ".001", "P = .001"),
    (0.00949, ".009", "P = .009"),
    (0.0095, ".01", "P = .01"),  # rounds to .010: two decimals, not ".010"
    (0.0099, ".01", "P = .01"),
    (0.01, ".01", "P = .01"),
    (0.0149, ".01", "P = .01"),
    (0.015, ".02", "P = .02"),  # half up on the decimal form
    (0.05, ".05", "P = .05"),
    (0.5, ".50", "P = .50"),
    (0.994, ".99", "P = .99"),
    (0.995, ".99", "P > .99"),  # never 1.00
    (1.0, ".99", "P > .99"),
]


@pytest.mark.parametrize(("p", "table", "sentence"), CASES)
def test_journal_style(p: float, table: str, sentence: str) -> None:
    assert format_p(p) == table
    assert p_text(p) == sentence
    assert format_p(np.float64(p)) == table


@pytest.mark.parametrize("p", [None, math.nan, np.nan, math.inf])
def test_missing_p(p: float | None) -> None:
    assert format_p(p) == ""
    assert p_text(p) == "P not estimable"
    assert p_digits(p, 5) == ""


def test_p_digits_keeps_precision_without_leading_zero() -> None:
    assert p_digits(0.0031234, 5) == ".00312"
    assert p_digits(0.000045, 5) == ".00005"
    assert p_digits(0.25, 4) == ".2500"


def test_finite_or_none() -> None:
    assert finite_or_none(np.float64(0.25)) == 0.25
    assert finite_or_none(math.inf) is None
    assert finite_or_none(None) is None

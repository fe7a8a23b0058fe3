"""Small-cell suppression: tables, marks and results values."""

import pandas as pd
import pytest

from nethep.privacy import mark, min_cell, set_min_cell, suppress_table, suppress_values


@pytest.fixture(autouse=True)
def _reset():
    yield
    set_min_cell(0)


def test_default_suppresses_nothing():
    assert min_cell() == 0
    assert mark(1) == 1
    table = pd.DataFrame({"n": [1, 2, 30]})
    assert suppress_table(table, ["n"]).equals(table)


def test_counts_below_threshold_are_marked_zero_is_kept():
    set_min_cell(5)
    assert [mark(x) for x in (0, 1, 4, 5, 12)] == [0, "<5", "<5", 5, 12]
    table = pd.DataFrame({"group": ["a", "b", "c"], "n": [3, 0, 17], "rate": [0.5, 0.1, 0.2]})
    out = suppress_table(table, ["n"])
    assert out["n"].tolist() == ["<5", 0, 17]
    assert out["rate"].tolist() == [0.5, 0.1, 0.2]
    assert table["n"].tolist() == [3, 0, 17]  # the input is not changed


def test_results_values_nulls_small_counts_and_lists_them():
    values = {"n_patients": 48, "n_by_group": {"medical": 3, "surgical": 13},
              "rate": {"medical": 0.5}, "reconstructed": True,
              "median": {"surgical": {"n": 4, "estimate": 2.0}}}
    out, suppressed = suppress_values(values, 5)
    assert out["n_by_group"] == {"medical": None, "surgical": 13}
    assert out["median"]["surgical"] == {"n": None, "estimate": 2.0}
    assert out["rate"] == {"medical": 0.5} and out["reconstructed"] is True
    assert suppressed == ["n_by_group.medical", "median.surgical.n"]


def test_negative_threshold_is_refused():
    with pytest.raises(ValueError, match="min_cell must be 0 or a positive whole number"):
        set_min_cell(-1)


def test_save_fragment_applies_the_threshold(tmp_path):
    import json

    from nethep.results import save_fragment

    set_min_cell(5)
    path = save_fragment("cohort", {"n_by_group": {"medical": 2, "surgical": 13}}, tmp_path)
    data = json.loads(path.read_text())
    assert data["n_by_group"] == {"medical": None, "surgical": 13}
    assert data["suppressed"] == {"min_cell": 5, "keys": ["n_by_group.medical"]}

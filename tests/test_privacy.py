"""Small-cell suppression: tables, marks and results values, with an explicit threshold."""

import json

import pandas as pd
import pytest

from nethep.cohort import USER_MIN_CELL, default_min_cell
from nethep.notebook import banner
from nethep.privacy import check_min_cell, mark, note, suppress_table, suppress_values
from nethep.results import save_fragment


@pytest.mark.parametrize("threshold", [0, 1])
def test_zero_or_one_suppresses_nothing(threshold):
    assert mark(1, threshold) == 1
    assert note(threshold) == ""
    table = pd.DataFrame({"n": [1, 2, 30]})
    assert suppress_table(table, ["n"], threshold).equals(table)


def test_counts_below_threshold_are_marked_zero_is_kept():
    assert [mark(x, 5) for x in (0, 1, 4, 5, 12)] == [0, "<5", "<5", 5, 12]
    table = pd.DataFrame({"group": ["a", "b", "c"], "n": [3, 0, 17], "rate": [0.5, 0.1, 0.2]})
    out = suppress_table(table, ["n"], 5)
    assert out["n"].tolist() == ["<5", 0, 17]
    assert out["rate"].tolist() == [0.5, 0.1, 0.2]
    assert table["n"].tolist() == [3, 0, 17]  # the input is not changed
    assert note(5) == "counts below 5 are shown as <5"


def test_results_values_nulls_small_counts_and_lists_them():
    values = {"n_patients": 48, "n_by_group": {"medical": 3, "surgical": 13},
              "rate": {"medical": 0.5}, "reconstructed": True,
              "median": {"surgical": {"n": 4, "estimate": 2.0}}}
    out, suppressed = suppress_values(values, 5)
    assert out["n_by_group"] == {"medical": None, "surgical": 13}
    assert out["median"]["surgical"] == {"n": None, "estimate": 2.0}
    assert out["rate"] == {"medical": 0.5} and out["reconstructed"] is True
    assert suppressed == ["n_by_group.medical", "median.surgical.n"]


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_bad_threshold_is_refused(bad):
    with pytest.raises(ValueError, match="min_cell must be 0 or a positive whole number"):
        check_min_cell(bad)
    assert check_min_cell(None) == 0


def test_save_fragment_applies_the_threshold(tmp_path):
    values = {"n_by_group": {"medical": 2, "surgical": 13}}
    path = save_fragment("cohort", values, tmp_path, min_cell=5)
    data = json.loads(path.read_text())
    assert data["n_by_group"] == {"medical": None, "surgical": 13}
    assert data["suppressed"] == {"min_cell": 5, "keys": ["n_by_group.medical"]}
    plain = json.loads(save_fragment("cohort", values, tmp_path).read_text())
    assert plain == values


def test_save_fragment_refuses_a_bad_threshold(tmp_path):
    with pytest.raises(ValueError, match="min_cell"):
        save_fragment("cohort", {"n": 1}, tmp_path, min_cell=-1)


# --------------------------------------------------------------- defaults for a user's data


def _cohort(reconstructed: bool, source: str) -> pd.DataFrame:
    df = pd.DataFrame({"patient_id": [f"P{i}" for i in range(30)]})
    df.attrs = {"reconstructed": reconstructed, "source": source}
    return df


def test_user_min_cell_default_is_11_and_the_bundled_cohort_keeps_0():
    assert USER_MIN_CELL == 11
    assert default_min_cell(reconstructed=False) == 11
    assert default_min_cell(reconstructed=True) == 0


def test_banner_names_a_users_cohort_by_its_label_and_says_whether_cells_are_hidden():
    on = banner(_cohort(False, "your cohort"), 11).data
    assert on.startswith("> **Your cohort**: 30 patients, every column as supplied.")
    assert "Small-cell suppression is on** (`min_cell = 11`)" in on
    for word in ("simulated", "calibrated", "Reconstructed", ".csv"):
        assert word not in on
    off = banner(_cohort(False, "Clinic X, 2010-2020"), 0).data
    assert off.startswith("> **Your cohort** (Clinic X, 2010-2020): 30 patients")
    assert "Small-cell suppression is off** (`min_cell = 0`, asked for)" in off
    bundled = banner(_cohort(True, "cohort.csv"), 0).data
    assert bundled.startswith("> **Reconstructed data.**") and "suppression" not in bundled

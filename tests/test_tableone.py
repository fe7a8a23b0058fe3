"""Table 1 (nethep.tableone) and SMDs (nethep.smd) on the bundled cohort and hand examples."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import nethep.tableone as tableone
from nethep import load_cohort
from nethep.contract import GROUPS, TREATMENTS
from nethep.exact import fisher_exact_rxc
from nethep.formats import format_p
from nethep.results import save_fragment
from nethep.smd import max_pairwise_smd, smd_binary, smd_categorical, smd_continuous
from nethep.tableone import LIVER_CATEGORIES, kruskal_p, liver_category, table_one


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_cohort()


@pytest.fixture(scope="module")
def t1(df):
    return table_one(df)


# --------------------------------------------------------------------------- Table 1 counts


def test_table_one_columns_and_group_sizes(t1):
    table = t1.table()
    assert list(table.columns[2:6]) == ["Medical (n = 17)", "Embolization (n = 18)",
                                        "Surgical (n = 13)", "Overall (n = 48)"]
    assert t1.n_by_group == {"medical": 17, "embolization": 18, "surgical": 13}
    treat = table[table["variable"].str.startswith("Treatment")]
    assert len(treat) == len(TREATMENTS)
    assert treat["P"].eq("").all()  # the variable that defines the groups is not tested
    assert treat.iloc[0]["Medical (n = 17)"] == "7 (41.2%)"
    assert treat.iloc[0]["Embolization (n = 18)"] == "-"  # structurally impossible


def test_percent_rounds_half_up(t1):
    row = t1.table().query("level == 'Resection plus ablation'")
    assert row["Overall (n = 48)"].item() == "3 (6.3%)"  # 6.25 -> 6.3, as journals round


def test_every_row_records_provenance(t1):
    table = t1.table()
    assert set(table["provenance"]) <= {"published", "calibrated", "simulated",
                                        "published; split by group simulated"}
    assert (table.loc[table["variable"] == "Tumour type", "provenance"]
            == "published; split by group simulated").all()
    assert (table.loc[table["variable"] == "Sex", "provenance"] == "simulated").all()
    assert (table.loc[table["variable"].str.startswith("Liver"), "provenance"]
            == "calibrated").all()
    assert t1.simulated_variables() == ["symptomatic", "age_years", "sex",
                                        "months_to_treatment"]
    assert "Age, years" in t1.provenance_sentence()


def test_a_users_cohort_is_as_supplied_never_published_or_simulated(df, t1):
    """The same rows as a user's cohort: every row 'as supplied', the same numbers, and
    no sentence calls anything published, calibrated or simulated."""
    user = df.copy()
    user.attrs = {**df.attrs, "reconstructed": False, "source": "your cohort"}
    mine = table_one(user)
    assert set(mine.table()["provenance"]) == {"as supplied"}
    assert mine.simulated_variables() == [] and mine.to_results()["simulated_variables"] == []
    pd.testing.assert_frame_equal(mine.table().drop(columns="provenance"),
                                  t1.table().drop(columns="provenance"))
    words = mine.provenance_sentence() + " " + mine.findings()
    assert mine.provenance_sentence() == "Every row is computed from the data as supplied."
    for word in ("simulated", "published", "calibrated", "nothing published"):
        assert word not in words.lower()
    tested = [r for r in mine.results if r.p is not None and r.p < 0.05]
    assert all(r.label in mine.findings() for r in tested)


def test_months_to_treatment_excludes_observation_and_says_so(df, t1):
    r = t1.result("months_to_treatment")
    assert r.n_excluded == (df["treatment"] == "observation").sum() == 6
    assert r.n_missing == 0
    rows = t1.table().query("variable == 'Months to first treatment'")
    assert rows["level"].str.contains("excluded: observation").any()


# --------------------------------------------------------------------------- tests and SMD


def test_liver_kruskal_p_is_above_005_and_equals_scipy(df, t1):
    r = t1.result("liver_involvement_pct")
    samples = [df.loc[df["treatment_group"] == g, "liver_involvement_pct"].astype(float)
               for g in GROUPS]
    expected = stats.kruskal(*samples)
    assert r.test == "kruskal"
    assert r.p == pytest.approx(expected.pvalue, rel=1e-12)
    assert r.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert r.p > 0.05
    assert t1.to_results()["liver_involvement"]["kruskal_p"] == r.p
    assert "did not differ" in t1.difference_sentence("liver_involvement_pct")


@pytest.mark.parametrize("variable, column", [("tumor_type", "tumor_type"),
                                              ("sex", "sex"),
                                              ("symptomatic", "symptomatic")])
def test_fisher_p_agrees_with_fisher_exact_rxc(df, t1, variable, column):
    table = pd.crosstab(df[column], df["treatment_group"]).to_numpy()
    r = t1.result(variable)
    assert r.test == "fisher_freeman_halton"
    assert r.p == pytest.approx(fisher_exact_rxc(table), rel=1e-12)
    chi2 = stats.chi2_contingency(table, correction=False)
    assert r.chi2_p == pytest.approx(chi2.pvalue, rel=1e-12)
    assert r.chi2_min_expected == pytest.approx(chi2.expected_freq.min())


def test_kruskal_p_is_table_ones_p_bit_for_bit(df, t1):
    p = kruskal_p(df["liver_involvement_pct"].to_numpy(float), df["treatment_group"].to_numpy(str))
    assert p == t1.result("liver_involvement_pct").p
    assert kruskal_p([1.0, 2.0], ["surgical", "surgical"]) is None


def test_table_and_stats_suppress_small_counts_with_min_cell(df):
    small = df[(df["treatment_group"] != "medical") | (df["treatment"] == "observation")]
    t = table_one(small)
    assert "Medical (n = 6)" in t.table().columns
    table = t.table(min_cell=7)
    assert "Medical (n = <7)" in table.columns and "Embolization (n = 18)" in table.columns
    row = table[table["level"] == "Observation"]
    assert row["Medical (n = <7)"].item() == "<7"
    assert t.stats(min_cell=50)["n_excluded"].tolist()[-1] == "<50"


def test_liver_category_test_uses_the_categories(df, t1):
    cats = liver_category(df["liver_involvement_pct"])
    table = pd.crosstab(cats, df["treatment_group"]).to_numpy()
    assert t1.result("liver_involvement_category").p == pytest.approx(fisher_exact_rxc(table))


def test_smd_continuous_hand_example():
    # means 1 and 5, both variances 2: |1 - 5| / sqrt((2 + 2) / 2) = 4 / sqrt(2)
    assert smd_continuous([0, 2], [4, 6]) == pytest.approx(4 / math.sqrt(2))
    assert smd_continuous([1, 2, 3], [2, 3, 4]) == pytest.approx(1.0)
    assert math.isnan(smd_continuous([1], [2, 3]))


def test_smd_binary_hand_example_and_two_level_categorical():
    # p 0.5 and 0.2: 0.3 / sqrt((0.25 + 0.16) / 2)
    expected = 0.3 / math.sqrt(0.205)
    assert smd_binary(0.5, 0.2) == pytest.approx(expected)
    assert smd_categorical([5, 5], [2, 8]) == pytest.approx(expected)


def test_smd_multilevel_yang_dalton_hand_example():
    # p_a = (.5, .3, .2), p_b = (.2, .3, .5); T = (0, -.3);
    # S = [[.21, -.105], [-.105, .205]], det .032025; T'S^-1 T = .09 * .21 / .032025
    expected = math.sqrt(0.09 * 0.21 / 0.032025)
    assert smd_categorical([5, 3, 2], [2, 3, 5]) == pytest.approx(expected)
    # invariant to which level is the reference
    assert smd_categorical([2, 3, 5], [5, 3, 2]) == pytest.approx(expected)
    assert smd_categorical([3, 2, 5], [3, 5, 2]) == pytest.approx(expected)
    # a level absent from both groups changes nothing
    assert smd_categorical([5, 3, 0, 2], [2, 3, 0, 5]) == pytest.approx(expected)


def test_max_pairwise_smd_takes_the_largest_pair():
    samples = {"a": [0, 2], "b": [4, 6], "c": [1, 3]}
    assert max_pairwise_smd(samples, smd_continuous) == pytest.approx(4 / math.sqrt(2))
    assert max_pairwise_smd({"a": [0, 2]}, smd_continuous) is None


def test_table_smd_is_max_pairwise(df, t1):
    by = {g: df.loc[df["treatment_group"] == g, "age_years"].astype(float) for g in GROUPS}
    pairs = [smd_continuous(by[a], by[b]) for a, b in
             [("medical", "embolization"), ("medical", "surgical"),
              ("embolization", "surgical")]]
    assert t1.result("age_years").smd == pytest.approx(max(pairs))


# --------------------------------------------------------------------------- edge cases


def test_cohort_missing_a_whole_group(df):
    t = table_one(df[df["treatment_group"] != "surgical"])
    assert t.n_by_group["surgical"] == 0
    table = t.table()
    assert "Surgical (n = 0)" in table.columns
    assert (table["Surgical (n = 0)"].isin(["-", "0"])).all()
    r = t.result("liver_involvement_pct")
    assert r.groups_tested == ("medical", "embolization")
    sub = df[df["treatment_group"] != "surgical"]
    expected = stats.kruskal(*[sub.loc[sub["treatment_group"] == g, "liver_involvement_pct"]
                               .astype(float) for g in ("medical", "embolization")])
    assert r.p == pytest.approx(expected.pvalue)
    assert t.to_results()["liver_involvement"]["median_by_group"]["surgical"] is None


def test_cohort_with_one_group_gives_none_with_a_reason(df):
    t = table_one(df[df["treatment_group"] == "surgical"])
    for r in t.results:
        assert r.p is None and r.smd is None
        assert r.reason
    assert "fewer than 2 groups" in t.result("age_years").reason
    assert t.table()["P"].isin(["", "n/a"]).all()
    assert "no test" in t.difference_sentence("liver_involvement_pct")
    json.dumps(t.to_results())  # None, not NaN


def test_missing_values_are_counted_and_shown(df):
    d = df.copy()
    d["age_years"] = d["age_years"].astype("Float64")
    d.loc[d.index[:2], "age_years"] = pd.NA  # both in the medical group
    d.loc[d.index[:3], "sex"] = None
    t = table_one(d)
    assert t.result("age_years").n_missing == 2
    assert t.result("sex").n_missing == 3
    rows = t.table()
    miss = rows[(rows["variable"] == "Age, years") & (rows["level"] == "(missing)")]
    assert miss["Medical (n = 17)"].item() == "2"
    assert miss["Overall (n = 48)"].item() == "2"
    assert rows.loc[rows["variable"] == "Sex", "missing"].iloc[0] == "3"
    # percentages use the non-missing patients as denominator
    female = rows[(rows["variable"] == "Sex") & (rows["level"] == "female")]
    n_female = (d["sex"] == "female").sum()
    assert female["Overall (n = 48)"].item().startswith(f"{n_female} (")
    assert f"{100 * n_female / 45:.1f}%" in female["Overall (n = 48)"].item()


@pytest.mark.parametrize(
    "value, category",
    [(0, "<25"), (24.9, "<25"), (25, "25-49"), (49.5, "25-49"), (50, "50-74"),
     (74.99, "50-74"), (75, ">=75"), (100, ">=75")],
)
def test_liver_category_boundaries(value, category):
    assert liver_category(pd.Series([value])).iloc[0] == category


def test_liver_category_keeps_missing():
    out = liver_category(pd.Series([10.0, np.nan], dtype="Float64"))
    assert out.iloc[0] == "<25" and out.iloc[1] is None
    assert LIVER_CATEGORIES == ("<25", "25-49", "50-74", ">=75")


# --------------------------------------------------------------------------- result helpers


def test_results_are_json_safe_and_without_dots(df, t1, tmp_path):
    res = t1.to_results()
    assert set(res) >= {"liver_involvement", "p_values", "smd"}
    assert set(res["p_values"]["tumor_type"]) == {"exact", "chi2"}
    assert set(res["liver_involvement"]["median_by_group"]) == set(GROUPS)
    assert "treatment" not in res["p_values"]
    save_fragment("treatment_groups", res, tmp_path)


def test_stats_table(t1):
    s = t1.stats()
    assert {"variable", "test", "statistic", "p", "smd"} <= set(s.columns)
    assert len(s) == len(t1.results)


@pytest.mark.parametrize("p, text", [(None, ""), (0.0004, "<.001"), (0.2, ".20"),
                                     (float("nan"), "")])
def test_format_p(p, text):
    assert format_p(p) == text


def test_repr_shows_aggregates_only(t1):
    text = repr(t1)
    assert "NET0" not in text and "NET0" not in t1._repr_html_()


def test_group_split_provenance_from_the_contract(df, monkeypatch):
    real = tableone.fields()
    patched = {k: dict(v) for k, v in real.items()}
    patched["tumor_type"]["group_split_provenance"] = "simulated"
    monkeypatch.setattr(tableone, "fields", lambda: patched)
    t = table_one(df)
    r = t.result("tumor_type")
    assert r.provenance == "published" and r.group_split_provenance == "simulated"
    rows = t.table()
    assert (rows.loc[rows["variable"] == "Tumour type", "provenance"]
            == "published; split by group simulated").all()
    assert "split across the groups" in t.provenance_sentence()
    assert "simulated rows" in t.findings()
    assert "P < .05 among rows from published" in t.findings()  # journal style

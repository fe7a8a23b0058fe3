"""Data source, patient flow and values by group (nethep.describe) on the bundled cohort."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from nethep import load_cohort
from nethep.contract import GROUPS
from nethep.describe import data_source, lost_to_followup, patient_flow, values_by_group
from nethep.published import load_published
from nethep.results import save_fragment
from nethep.survival import followup
from nethep.tableone import table_one


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_cohort()


# --------------------------------------------------------------------------- patient flow


def test_flow_counts_equal_the_published_ones(df):
    targets = load_published()["targets"]
    flow = patient_flow(df)
    assert flow.n_identified == targets["n_patients"]["value"]
    for key, counts in (("n_by_tumor_type", flow.by_tumor_type),
                        ("n_by_group", flow.by_group), ("n_by_treatment", flow.by_treatment)):
        assert counts == {k: t["value"] for k, t in targets[key].items()}, key


def test_flow_is_in_study_order_and_accrual_in_window(df):
    flow = patient_flow(df)
    assert list(flow.by_group) == ["medical", "embolization", "surgical"]
    assert list(flow.by_treatment) == ["octreotide", "observation", "chemotherapy",
                                       "embolization", "resection", "ablation",
                                       "resection_ablation"]
    assert 1996 <= flow.first_year <= flow.last_year <= 2004
    table = flow.table()
    assert table.loc[table["step"] == "treatment", "n"].sum() == 48
    medical = table[(table["step"] == "treatment") & (table["parent"] == "medical")]
    assert medical["percent_of_parent"].sum() == pytest.approx(100)


def test_flow_results_match_the_section_layout(df, tmp_path):
    res = patient_flow(df).to_results()
    assert res["n_patients"] == 48
    assert res["n_by_group"] == {"medical": 17, "embolization": 18, "surgical": 13}
    assert set(res["accrual"]) == {"first_year", "last_year"}
    path = save_fragment("cohort", res, tmp_path)
    assert json.loads(path.read_text())["n_by_tumor_type"] == {"carcinoid": 36,
                                                              "islet_cell": 12}


def test_flow_keeps_a_missing_group_with_zero(df):
    flow = patient_flow(df[df["treatment_group"] != "embolization"])
    assert flow.by_group["embolization"] == 0
    assert flow.by_treatment["embolization"] == 0
    assert flow.n_identified == 30
    table = flow.table()
    row = table[(table["step"] == "treatment") & (table["level"] == "embolization")]
    assert row["n"].item() == 0 and math.isnan(row["percent_of_parent"].item())


def test_flow_table_and_sentence_suppress_small_counts_with_min_cell(df):
    small = df[(df["treatment_group"] != "medical") | (df["treatment"] == "observation")]
    flow = patient_flow(small)
    table = flow.table(min_cell=7).set_index(["step", "level"])
    assert table.loc[("treatment_group", "medical"), "n"] == "<7"
    assert math.isnan(table.loc[("treatment_group", "medical"), "percent_of_parent"])
    assert table.loc[("treatment_group", "embolization"), "n"] == 18
    assert "medical <7" in flow.sentence(min_cell=7)
    assert "medical 6" in flow.sentence()
    assert flow.table().set_index(["step", "level"]).loc[("treatment_group", "medical"),
                                                          "n"] == 6


# --------------------------------------------------------------------------- data and follow-up


def test_data_source_and_followup_results(df, tmp_path):
    source = data_source(df)
    assert source.to_results() == {"reconstructed": True, "source": "cohort.csv",
                                   "n_rows": 48}
    save_fragment("data", source.to_results(), tmp_path)
    fu = followup(df)
    save_fragment("followup", fu.to_results(), tmp_path)
    assert round(fu.to_results()["median_months"]) == 20
    assert "reverse Kaplan-Meier" in fu.sentence()
    assert fu.sentence().endswith("n = 48.") and fu.sentence(min_cell=50).endswith("n = <50.")


# --------------------------------------------------------------------------- values by group


def test_values_by_group_medians_equal_table_one(df):
    grouped = values_by_group(df, "liver_involvement_pct")
    assert [len(grouped.values[g]) for g in GROUPS] == [17, 18, 13]
    assert grouped.medians() == table_one(df).grouped["liver_involvement_pct"].medians()
    assert grouped.table(min_cell=18).set_index("group")["n"].tolist() == ["<18", 18, "<18"]


# --------------------------------------------------------------------------- losses to follow-up


def _toy(rows):
    return pd.DataFrame(rows, columns=["year_of_diagnosis", "followup_months", "died",
                                       "treatment_group"])


def test_lost_to_followup_by_the_stated_rule():
    # last contact at year + 0.5 + months / 12: 2000.5 + 5 = 2005.5 is the closure
    toy = _toy([(2000, 60.0, 0, "medical"),   # at the closure: not lost
                (2004, 6.0, 0, "medical"),    # 2005.0, 6 months before: not lost
                (2003, 12.0, 0, "surgical"),  # 2004.5, exactly 12 months: not lost
                (2002, 12.0, 0, "surgical"),  # 2003.5, 24 months before: lost
                (2001, 1.0, 1, "surgical"),   # died: never lost
                (None, 2.0, 0, "surgical")])  # no year: not counted
    lost, closure = lost_to_followup(toy)
    assert closure == pytest.approx(2005.5)
    assert lost.tolist() == [False, False, False, True, False, False]
    assert lost_to_followup(toy, margin_months=6)[0].tolist() == [
        False, False, True, True, False, False]


def test_flow_outcomes_on_the_bundled_cohort(df):
    flow = patient_flow(df)
    died = df.groupby("treatment_group")["died"].sum().to_dict()
    assert {g: o.died for g, o in flow.outcome.items()} == died
    assert {g: o.died + o.alive for g, o in flow.outcome.items()} == flow.by_group
    # the stated rule, computed here: last contact at year + 0.5 + months / 12, closure
    # the latest contact, lost when alive and more than 12 months before the closure
    contact = df["year_of_diagnosis"] + 0.5 + df["followup_months"] / 12
    n_lost = int(((df["died"] == 0) & ((contact.max() - contact) * 12 > 12 + 1e-9)).sum())
    n_died = int(df["died"].sum())
    assert flow.n_lost == n_lost and flow.n_rows_read == 48 and flow.n_excluded == 0
    out = flow.to_results()
    assert out["n_by_group_lost_to_followup"] == {g: o.lost for g, o in flow.outcome.items()}
    assert out["intake"] == {"n_rows": 48, "n_excluded": {"empty rows": 0}}
    assert (f"{n_died} died and {48 - n_died} were alive at last contact, {n_lost} of them "
            "lost") in flow.sentence()
    table = flow.table().set_index(["step", "level"])
    assert table.loc[("lost", "surgical"), "n"] == flow.outcome["surgical"].lost


def test_values_by_group_table_shows_no_single_patient_value(df):
    grouped = values_by_group(df, "liver_involvement_pct")
    table = grouped.table().set_index("group")
    assert {"min", "max"}.isdisjoint(table.columns)
    surgical = np.asarray(grouped.values["surgical"])
    assert table.loc["surgical", "p10"] == pytest.approx(np.percentile(surgical, 10))
    assert table.loc["surgical", "p90"] == pytest.approx(np.percentile(surgical, 90))

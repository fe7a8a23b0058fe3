"""The survival section of results.json comes from the displayed result objects
(SurvivalSection), and the sentences notebook 03 prints come from the library."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from nethep import load_cohort
from nethep.formats import p_text
from nethep.survival import SurvivalSection, logrank, survival_section

#: R's survfit, survdiff on the bundled cohort (tests/reference/make_reference.R and
#: make_tests_reference.R).
_REFERENCE = Path(__file__).resolve().parent / "reference"
R_KM_ARM = json.loads((_REFERENCE / "survival_reference.json").read_text(
    encoding="utf-8"))["datasets"]["cohort"]["km_by"]["arm"]
R_LOGRANK = json.loads((_REFERENCE / "tests.json").read_text(encoding="utf-8"))["logrank"]


@pytest.fixture(scope="module")
def section() -> SurvivalSection:
    return survival_section(load_cohort())


def test_keys_and_values_equal_the_objects(section):
    res = section.to_results()
    assert sorted(res["at_months"]) == ["12", "36", "60"]
    for group in ("medical", "embolization", "surgical", "nonsurgical"):
        row = section.at.get(group, 36)
        assert res["at_months"]["36"][group] == {"estimate": row.surv, "lower": row.lower,
                                                 "upper": row.upper}
    assert "all" not in res["at_months"]["12"]
    assert res["logrank"]["surgical_vs_nonsurgical"] == {
        "statistic": section.logranks["surgical_vs_nonsurgical"].statistic,
        "p": section.logranks["surgical_vs_nonsurgical"].p, "df": 1}
    assert set(res["logrank"]["pairwise"]) == {"medical_vs_embolization",
                                               "medical_vs_surgical",
                                               "embolization_vs_surgical"}
    hr = section.cox.hazard_ratio
    assert res["cox"]["surgical_vs_nonsurgical"] == {
        "hr": hr.hr, "lower": hr.lower, "upper": hr.upper, "p": hr.p,
        "ph_p": section.cox.ph_p, "ph_test_informative": False}
    assert res["median"]["surgical"]["estimate"] is None  # not reached (NaN -> None)
    assert math.isnan(section.medians[0].rows.set_index("group").loc["surgical", "median"])
    r_median = R_KM_ARM["nonsurgical"]["log-log"]["table"]["median"]
    assert res["median"]["nonsurgical"]["estimate"] == pytest.approx(r_median)


def test_findings_and_logrank_sentences(section):
    s36, ns36 = section.at.get("surgical", 36), section.at.get("nonsurgical", 36)
    text = section.findings(18, 19)
    assert text.startswith(f"Three-year overall survival was {s36.surv:.0%} (95% CI "
                           f"{s36.lower:.0%} to {s36.upper:.0%}) after surgical treatment "
                           f"and {ns36.surv:.0%} ")
    p_arm, p_groups = R_LOGRANK["arm"]["p"], R_LOGRANK["treatment_group"]["p"]
    assert f"(log-rank {p_text(p_arm)}; published 83%, 31%, P = .01)" in text
    assert f"Across the three groups, log-rank {p_text(p_groups)}." in text
    hr = section.cox.hazard_ratio
    assert (f"hazard ratio of death for surgery was {hr.hr:.2f} (95% CI {hr.lower:.2f} to "
            f"{hr.upper:.2f}; proportional-hazards test {p_text(section.cox.ph_p)}, "
            "uninformative with fewer than 5 deaths in an arm)") in text
    assert text.endswith("18 of 19 abstract numbers match at the paper's rounding.")
    arms, groups = section.logranks["surgical_vs_nonsurgical"], section.logranks["three_groups"]
    assert arms.sentence() == (f"Surgical vs non-surgical: chi-square {arms.statistic:.3f} "
                               f"on 1 df, {p_text(p_arm)}")
    assert groups.sentence().startswith("Three groups: chi-square ")
    assert groups.sentence().endswith(f"on 2 df, {p_text(p_groups)}")


def test_tables_take_min_cell(section):
    cox = section.cox.table(min_cell=section.cox.events + 1)
    assert cox["events"].iloc[0] == f"<{section.cox.events + 1}"
    assert section.cox.table()["events"].iloc[0] == section.cox.events
    at = section.at.table(min_cell=1000)
    assert set(at["n_risk"].astype(str)) <= {"<1000", "0"}


def test_logrank_df_follows_survdiff_when_a_group_has_no_expected_deaths():
    """Group c is censored before the first death: R's survdiff gives it no df.

    Reference: R 4.2.2, survival 3.5.3, survdiff(Surv(t, e) ~ g) on the data below:
    chisq 5.347771891555, df 1, P 0.0207487690622763.
    """
    df = pd.DataFrame({
        "followup_months": [1, 2, 3, 4, 5, 6, 7, 8, 0.5, 0.6],
        "died": [1, 1, 0, 1, 1, 1, 0, 1, 0, 0],
        "g": list("aaaabbbbcc"),
    })
    res = logrank(df, "g")
    assert res.df == 1
    assert res.statistic == pytest.approx(5.347771891555, rel=1e-9)
    assert res.p == pytest.approx(0.0207487690622763, rel=1e-9)
    assert res.sentence().startswith("Three groups: chi-square 5.348 on 1 df")

"""The survival section of results.json comes from the displayed result objects."""

import math

import pytest

from nethep import load_cohort
from nethep.survival import (
    cox_surgical,
    logrank,
    median_survival,
    pairwise_logrank,
    survival_at,
    survival_results,
)


@pytest.fixture(scope="module")
def parts():
    df = load_cohort()
    at = survival_at(df, (12, 36, 60))
    medians = [median_survival(df, "treatment_group"), median_survival(df, "arm")]
    logranks = {"surgical_vs_nonsurgical": logrank(df, "arm"),
                "three_groups": logrank(df, "treatment_group")}
    return at, medians, logranks, pairwise_logrank(df), cox_surgical(df)


def test_keys_and_values_equal_the_objects(parts):
    at, medians, logranks, pairs, cox = parts
    res = survival_results(*parts)
    assert sorted(res["at_months"]) == ["12", "36", "60"]
    for group in ("medical", "embolization", "surgical", "nonsurgical"):
        row = at.get(group, 36)
        assert res["at_months"]["36"][group] == {"estimate": row.surv, "lower": row.lower,
                                                 "upper": row.upper}
    assert "all" not in res["at_months"]["12"]
    assert res["logrank"]["surgical_vs_nonsurgical"]["p"] == logranks[
        "surgical_vs_nonsurgical"].p
    assert set(res["logrank"]["pairwise"]) == {"medical_vs_embolization",
                                               "medical_vs_surgical",
                                               "embolization_vs_surgical"}
    assert res["cox"]["surgical_vs_nonsurgical"]["hr"] == cox.hr
    assert math.isnan(res["median"]["surgical"]["estimate"])  # not reached
    assert res["median"]["nonsurgical"]["estimate"] == pytest.approx(26.4)


def test_logrank_df_follows_survdiff_when_a_group_has_no_expected_deaths():
    """Group c is censored before the first death: R's survdiff gives it no df.

    Reference: R 4.2.2, survival 3.5.3, survdiff(Surv(t, e) ~ g) on the data below:
    chisq 5.347771891555, df 1, P 0.0207487690622763.
    """
    import pandas as pd

    df = pd.DataFrame({
        "followup_months": [1, 2, 3, 4, 5, 6, 7, 8, 0.5, 0.6],
        "died": [1, 1, 0, 1, 1, 1, 0, 1, 0, 0],
        "g": list("aaaabbbbcc"),
    })
    res = logrank(df, "g")
    assert res.df == 1
    assert res.statistic == pytest.approx(5.347771891555, rel=1e-9)
    assert res.p == pytest.approx(0.0207487690622763, rel=1e-9)

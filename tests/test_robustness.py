"""Tests for nethep.robustness, against R's survival package where R has the same thing.

Reference values: tests/reference/robustness.json, written by
tests/reference/make_robustness_reference.R (R 4.2.2, survival 3.5-3) from data/cohort.csv.

Tolerance: 1e-6 relative (``REL``) for every coefficient, SE, HR, CI limit, P value,
propensity score, weight, SMD, survival probability and RMST compared with R. E-values
and power are checked against values worked by hand (to 1e-4) and published examples.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethep import robustness as rb
from nethep.cohort import load_cohort
from nethep.cox import HazardRatio, efron_score_residuals
from nethep.formats import join_and, p_text
from nethep.robustness.design import design_matrix, survival_frame
from nethep.robustness.effect_size import _schoenfeld_events
from nethep.robustness.iptw_bootstrap import (
    bootstrap_log_hr,
    counts_from_indices,
    stratified_counts,
)
from nethep.survival import cox_surgical

REL = 1e-6
REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "robustness.json").read_text(encoding="utf-8"))
COX_FIELDS = ("coef", "se", "hr", "lower", "upper", "p")
HR_FIELDS = ("hr", "lower", "upper", "p")


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return load_cohort()


@pytest.fixture(scope="module")
def adjusted(df) -> rb.AdjustedCox:
    return rb.cox_adjusted(df)


@pytest.fixture(scope="module")
def iptw(df) -> rb.IPTWCox:
    """Stabilized ATE weights, as in make_robustness_reference.R (no bootstrap)."""
    return rb.iptw_cox(df, estimand="ATE", n_boot=0)


@pytest.fixture(scope="module")
def iptw_att(df) -> rb.IPTWCox:
    return rb.iptw_cox(df)


@pytest.fixture(scope="module")
def landmarks(df) -> dict[int, rb.LandmarkResult]:
    return {at: rb.landmark(df, at) for at in (3, 6)}


@pytest.fixture(scope="module")
def tv(df) -> rb.TimeVaryingCox:
    return rb.time_varying_cox(df)


@pytest.fixture(scope="module")
def rmsts(df) -> dict[int, rb.RMSTResult]:
    return {tau: rb.rmst(df, tau) for tau in (36, 60)}


def close(actual, expected, rel=REL):
    return actual == pytest.approx(expected, rel=rel, abs=0)


def cox_value(result, key):
    """coef or se of a result, or a field of its hazard ratio."""
    return getattr(result.hazard_ratio if key in HR_FIELDS else result, key)


# ------------------------------------------------------------------------------ adjusted


def test_adjusted_cox_matches_r_coxph(adjusted):
    assert not adjusted.penalized and adjusted.separation == ()
    for ref in REFERENCE["adjusted"]["terms"]:
        row = adjusted.term(ref["term"])
        for key in COX_FIELDS:
            assert close(row[key], ref[key]), (ref["term"], key)


def test_adjusted_ph_test_is_r_cox_zph(adjusted):
    # the same test as notebook 03: survival >= 3.0's cox.zph(transform = "km")
    zph = REFERENCE["adjusted"]["cox_zph_v3"]
    for term, stat in zph["chisq"].items():
        assert close(adjusted.term(term)["ph_statistic"], stat), term
        assert close(adjusted.term(term)["ph_p"], zph["p"][term]), term


def test_epv_and_its_warning(df, adjusted):
    assert adjusted.events == 24 and adjusted.n_parameters == 4
    assert adjusted.epv == 6.0
    warning = adjusted.epv_warning()
    assert warning is not None and "6.0 events per parameter" in warning
    alone = rb.cox_adjusted(df, covariates=())
    assert alone.epv == 24.0 and alone.epv_warning() is None
    assert "At least 10 events per parameter." in alone.fit_notes()


def test_adjusted_surgical_is_a_hazard_ratio(adjusted):
    row, hr = adjusted.term("surgical"), adjusted.surgical
    assert (hr.hr, hr.lower, hr.upper, hr.p) == (row["hr"], row["lower"], row["upper"], row["p"])
    assert adjusted.to_results() == {"surgical": {"hr": hr.hr, "lower": hr.lower,
                                                  "upper": hr.upper}}


def test_adjusted_fit_notes(adjusted):
    lines = adjusted.fit_notes().split("\n")
    assert lines[0] == adjusted.epv_sentence() and lines[1] == adjusted.epv_warning()
    assert lines[2] == "Separation: none detected, so the unpenalized model is reported."
    assert lines[3] == f"Fit: {adjusted.method}."
    assert lines[4].startswith(
        f"Proportional hazards: smallest per-term {p_text(adjusted.rows['ph_p'].min())} (")
    # 24 deaths: below a threshold of 30 they read <30 in every sentence
    hidden = adjusted.fit_notes(min_cell=30)
    assert "24 deaths" not in hidden and hidden.count("<30 deaths") == 2


def test_separation_is_detected_and_ridge_fit_matches_r(df):
    sep = df.copy()
    sep.loc[sep["surgical"], "died"] = 0  # no deaths among surgical patients
    fit = rb.cox_adjusted(sep)
    assert fit.penalized and fit.penalizer == REFERENCE["penalized"]["penalizer"]
    assert any("surgical = 1" in p for p in fit.separation)
    assert "no deaths among the 13 patients" in fit.separation[0]
    hidden = rb.cox_adjusted(sep, min_cell=20).separation[0]
    assert "no deaths among the <20 patients with surgical = 1" in hidden
    assert "ridge-penalized" in fit.method
    for term, coef in REFERENCE["penalized"]["coef"].items():
        assert close(fit.term(term)["coef"], coef), term
        assert close(fit.term(term)["se"], REFERENCE["penalized"]["se"][term]), term
    with pytest.raises(ValueError, match="penalizer > 0"):
        rb.cox_adjusted(sep, penalizer=0)


def test_separation_on_a_continuous_covariate_is_detected(df):
    mono = df.copy()  # the older, the sooner dead, everyone dies: monotone in age
    mono["followup_months"] = 110.0 - mono["age_years"].astype(float) + np.arange(48) / 1000
    mono["died"] = 1
    fit = rb.cox_adjusted(mono)
    # detected by the coefficient's size or by lifelines' failed convergence (which one
    # comes first depends on the cohort's ages)
    assert fit.penalized and any("10 per standard deviation" in p or "failed to converge" in p
                                 for p in fit.separation)
    assert np.isfinite(fit.table()[["coef", "se"]].to_numpy()).all()


def test_simulated_inputs_are_flagged_on_the_reconstruction(df, adjusted, iptw, landmarks, tv):
    assert adjusted.simulated == ("age_years",) == iptw.propensity.simulated
    assert landmarks[3].simulated == ("months_to_treatment",) == tv.simulated
    own = df.copy()
    own.attrs["reconstructed"] = False
    assert rb.simulated_inputs(own, ["age_years"]) == ()


def test_unknown_or_missing_covariate_is_named(df):
    with pytest.raises(ValueError, match="exposure"):
        rb.cox_adjusted(df, covariates=("surgical",))
    with pytest.raises(ValueError, match="'weight_kg'"):
        rb.cox_adjusted(df, covariates=("weight_kg",))
    broken = df.copy()
    broken["age_years"] = broken["age_years"].astype("Float64")
    broken.iloc[0, broken.columns.get_loc("age_years")] = pd.NA
    with pytest.raises(ValueError, match="age_years.*NET001"):
        rb.cox_adjusted(broken)


# ---------------------------------------------------------------------------- propensity


def test_propensity_model_weights_and_balance_match_r(iptw):
    prop, ref = iptw.propensity, REFERENCE["propensity"]
    coef = prop.coefficients.set_index("term")
    for term, value in ref["coef"].items():
        assert close(coef.loc[term, "coef"], value), term
        assert close(coef.loc[term, "se"], ref["se"][term]), term
    np.testing.assert_allclose(prop.scores["ps"], ref["ps"], rtol=REL, atol=0)
    np.testing.assert_allclose(prop.weights, ref["weights"], rtol=REL, atol=0)
    balance = prop.table().set_index("term")
    for row in ref["balance"]:
        assert close(balance.loc[row["term"], "smd_before"], row["smd_before"])
        assert close(balance.loc[row["term"], "smd_after"], row["smd_after"])
    for arm in ("surgical", "nonsurgical"):
        assert close(prop.ess[arm], ref["ess"][arm])
    assert prop.n == {"surgical": 13, "nonsurgical": 35}
    assert prop.truncate is None and prop.truncation_bounds is None


def test_truncated_weights_match_r(df):
    prop = rb.propensity(df, truncate=(0.01, 0.99), estimand="ATE")
    ref = REFERENCE["propensity"]
    np.testing.assert_allclose(prop.truncation_bounds, ref["truncation_bounds"], rtol=REL)
    np.testing.assert_allclose(prop.weights, ref["weights_truncated"], rtol=REL, atol=0)
    with pytest.raises(ValueError, match="truncate"):
        rb.propensity(df, truncate=(0.9, 0.1))


def test_stabilized_weight_formula(iptw):
    s = iptw.propensity.scores
    p1 = 13 / 48
    treated = s["surgical"].to_numpy(bool)
    np.testing.assert_allclose((s["weight"] * s["ps"])[treated], p1, rtol=1e-12)
    np.testing.assert_allclose((s["weight"] * (1 - s["ps"]))[~treated], 1 - p1, rtol=1e-12)
    assert s.index.equals(iptw.propensity.scores.index) and s["patient_id"].is_unique


# ------------------------------------------------------------------------------ IPTW Cox


def test_iptw_cox_robust_matches_r(iptw):
    ref = REFERENCE["iptw"]
    hr = iptw.hazard_ratio
    for key, value in (("coef", iptw.coef), ("se", iptw.se_robust), ("hr", hr.hr),
                       ("lower", hr.lower), ("upper", hr.upper), ("p", hr.p)):
        assert close(value, ref[key]), key


def test_iptw_truncated_matches_r(df):
    fit = rb.iptw_cox(df, truncate=(0.01, 0.99), estimand="ATE")
    ref = REFERENCE["iptw_truncated"]
    assert close(fit.coef, ref["coef"]) and close(fit.se_robust, ref["se"])
    assert close(fit.hazard_ratio.lower, ref["lower"])
    assert close(fit.hazard_ratio.upper, ref["upper"])
    lo, hi = fit.propensity.truncation_bounds
    r_weights = REFERENCE["propensity"]["weights"]  # R's untruncated ATE weights
    assert fit.truncation_sentence(rb.iptw_cox(df, estimand="ATE", n_boot=0)) == (
        f"Truncation bounds: weights capped to [{lo:.3f}, {hi:.3f}]; untruncated weights "
        f"range from {min(r_weights):.3f} to {max(r_weights):.3f}.")
    with pytest.raises(ValueError, match="not truncated"):
        rb.iptw_cox(df, n_boot=0).truncation_sentence(fit)
    assert fit.n_boot == 0  # no bootstrap for truncated weights


IPTW_REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "iptw.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_iptw_estimands_match_r(df, estimand):
    fit, ref = rb.iptw_cox(df, estimand=estimand, n_boot=0), IPTW_REFERENCE[estimand.lower()]
    assert fit.estimand == estimand and fit.propensity.estimand == estimand
    np.testing.assert_allclose(fit.propensity.weights, ref["weights"], rtol=REL, atol=0)
    assert close(fit.coef, ref["coef"]) and close(fit.se_robust, ref["se_robust"])
    assert close(fit.hazard_ratio.lower, ref["lower"])
    assert close(fit.hazard_ratio.upper, ref["upper"])
    pos = fit.propensity.positivity
    np.testing.assert_allclose(pos.ps_range["surgical"], ref["ps_range_surgical"], rtol=REL)
    np.testing.assert_allclose(pos.ps_range["nonsurgical"], ref["ps_range_nonsurgical"],
                               rtol=REL)
    assert close(pos.max_weight, ref["max_weight"])


def test_att_balance_ess_and_truncation_match_r(df, iptw_att):
    ref = IPTW_REFERENCE["att"]
    balance = iptw_att.propensity.table().set_index("term")
    for term, value in ref["smd_after"].items():
        assert close(balance.loc[term, "smd_after"], value), term
    for arm in ("surgical", "nonsurgical"):
        assert close(iptw_att.propensity.ess[arm], ref["ess"][arm]), arm
    fit, tref = rb.iptw_cox(df, truncate=rb.TRUNCATION_ALTERNATIVE), IPTW_REFERENCE[
        "att_truncated"]
    np.testing.assert_allclose(fit.propensity.weights, tref["weights"], rtol=REL, atol=0)
    assert close(fit.coef, tref["coef"]) and close(fit.se_robust, tref["se_robust"])
    assert close(fit.hazard_ratio.lower, tref["lower"])
    assert close(fit.hazard_ratio.upper, tref["upper"])


def test_att_weights_formula(iptw_att):
    s = iptw_att.propensity.scores
    treated = s["surgical"].to_numpy(bool)
    assert (s["weight"][treated] == 1).all()
    np.testing.assert_allclose(s["weight"][~treated], (s["ps"] / (1 - s["ps"]))[~treated],
                               rtol=1e-12)


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_pipeline_bootstrap_matches_r_on_r_resamples(df, estimand):
    """The vectorised pipeline (glm, weights, weighted Efron Cox) on 25 resamples that R
    drew, against R's glm + coxph on the same rows."""
    index = np.array([r["index"] for r in IPTW_REFERENCE["resamples"]]) - 1
    counts = counts_from_indices(index, len(df))
    x = np.column_stack([np.ones(len(df)),
                         design_matrix(df, rb.DEFAULT_COVARIATES).to_numpy(float)])
    beta, _ = bootstrap_log_hr(df["followup_months"].to_numpy(float),
                                  df["died"].to_numpy(int), df["surgical"].to_numpy(bool),
                                  x, counts, estimand)
    ref = [r[estimand.lower()] for r in IPTW_REFERENCE["resamples"]]
    no_death = [r["deaths_surgical"] == 0 for r in IPTW_REFERENCE["resamples"]]
    assert any(no_death) and not all(no_death)
    for b, r, none in zip(beta, ref, no_death, strict=True):
        if none:
            assert r is None and b == -np.inf
        else:
            assert abs(b - r) < 1e-6 * max(1.0, abs(r))


def test_stratified_counts_keep_arm_sizes_and_are_seeded(df):
    treated = df["surgical"].to_numpy(bool)
    a, b = stratified_counts(treated, 50, 7), stratified_counts(treated, 50, 7)
    np.testing.assert_array_equal(a, b)
    assert (a[:, treated].sum(axis=1) == treated.sum()).all()
    assert (a.sum(axis=1) == len(df)).all()


def test_iptw_bootstrap_interval_and_its_words(iptw_att):
    fit = iptw_att
    assert fit.n_boot == 2000 and fit.seed == 20061001
    # 2 surgical deaths among 13: P(no surgical death in a resample) = (11/13)^13 = 11.4%
    assert abs(fit.boot_zero / fit.n_boot - (11 / 13) ** 13) < 0.03
    assert fit.boot_lower == 0 and 0 < fit.boot_upper < 1
    res = fit.to_results()
    assert res["boot_lower"] is None and "lower limit 0, not estimable" in res["boot_note"]
    assert res["n_boot"] == 2000 and res["estimand"] == "ATT"
    assert "0.00" not in fit.sentence()
    json.dumps(res)


def test_iptw_with_no_surgical_deaths_is_not_estimable(df):
    no_deaths = df.copy()
    no_deaths.loc[no_deaths["surgical"], "died"] = 0
    fit = rb.iptw_cox(no_deaths)
    assert not fit.hazard_ratio.estimable
    assert "no deaths in the surgical arm" in fit.hazard_ratio.note
    assert fit.sentence() == ("IPTW (ATT): HR not estimable (no deaths in the surgical arm: "
                              "the hazard ratio has no finite estimate).")
    res = fit.to_results()
    assert res["hr"] is None and res["lower"] is None and "reason" in res
    assert "0.00" not in json.dumps(res)


def test_positivity_diagnostics(iptw_att):
    pos = iptw_att.propensity.positivity
    ps = iptw_att.propensity.scores
    lo = max(ps.groupby("arm")["ps"].min())
    hi = min(ps.groupby("arm")["ps"].max())
    assert pos.overlap == (lo, hi)
    outside = int(((ps["ps"] < lo) | (ps["ps"] > hi)).sum())
    assert sum(pos.n_outside.values()) == outside
    assert pos.share_outside == outside / 48
    assert pos.to_results()["overlap_lower"] == lo
    assert pos.sentence().startswith(f"Propensity scores overlap between {lo:.2f} and "
                                     f"{hi:.2f}; {outside} patient(s)")
    assert pos.table(min_cell=30)["n"].tolist() == ["<30", 35]


def test_weighted_km_matches_r_survfit(df, iptw):
    for ref in REFERENCE["weighted_km"]:
        curve = iptw.curve(ref["arm"])
        assert curve["time"].iloc[0] == 0 and curve["surv"].iloc[0] == 1
        np.testing.assert_array_equal(curve["time"].iloc[1:], ref["time"])
        np.testing.assert_allclose(curve["surv"].iloc[1:], ref["surv"], rtol=REL, atol=1e-12)
        # a curve whose last time has only deaths ends at exactly 0 (lifelines' weighted
        # KM stays up); otherwise above 0
        arm = df[df["arm"] == ref["arm"]]
        last = arm[arm["followup_months"] == arm["followup_months"].max()]
        assert (curve["surv"].iloc[-1] == 0) == bool((last["died"] == 1).all())


def test_efron_score_residuals_sum_to_zero_at_the_mle(df, iptw):
    data = survival_frame(df)
    w = iptw.propensity.weights.to_numpy(float)
    u = efron_score_residuals(data["T"].to_numpy(float), data["E"].to_numpy(int),
                              data[["surgical"]].to_numpy(float), w, np.array([iptw.coef]))
    assert abs(float((u[:, 0] * w).sum())) < 1e-8


# --------------------------------------------------------------------------- E-value


def test_evalue_published_example_rare_outcome():
    # VanderWeele and Ding 2017: RR 3.9 (95% CI 1.8 to 8.7) -> E-values 7.26 and 3.0
    e = rb.evalue(3.9, 1.8, 8.7, rare_outcome=True)
    assert e.point == pytest.approx(3.9 + math.sqrt(3.9 * 2.9), rel=1e-12)
    assert round(e.point, 2) == 7.26 and round(e.ci_limit, 2) == 3.0


def test_evalue_common_outcome_hand_computed():
    # HR 0.5: RR = (1 - 0.5^0.707107) / (1 - 0.5^1.414214) = 0.387453 / 0.624786
    # = 0.620137; inverted 1.612547; E = 1.612547 + sqrt(1.612547 * 0.612547) = 2.606409
    e = rb.evalue(0.5, 0.3, 0.8)
    assert e.rr == pytest.approx(0.620137, abs=1e-6)
    assert e.point == pytest.approx(2.606409, abs=1e-6)
    # upper limit 0.8: RR = (1 - 0.5^0.894427) / (1 - 0.5^1.118034) = 0.462039 / 0.539279
    # = 0.856773; inverted 1.167171; E = 1.167171 + sqrt(1.167171 * 0.167171) = 1.608891
    assert e.rr_limit == pytest.approx(0.856773, abs=1e-6)
    assert e.ci_limit == pytest.approx(1.608891, abs=1e-6)


def test_evalue_rare_hr_below_one_and_ci_crossing_one():
    e = rb.evalue(0.5, 0.2, 1.3, rare_outcome=True)
    assert e.point == pytest.approx(2 + math.sqrt(2), rel=1e-12)
    assert e.ci_limit == 1.0
    assert "already includes no effect" in e.sentence()
    assert rb.evalue(1.0, 0.5, 2.0).point == 1.0
    assert e.detail() == ("E-value of the hazard ratio (HR 0.50, 95% CI 0.20 to 1.30): 3.41 "
                          "for the estimate, 1.00 for the confidence limit closer to 1. "
                          "Conversion: the outcome is rare (under 15%) and the hazard ratio "
                          "is taken as the risk ratio (RR ~ HR; VanderWeele and Ding 2017).")


def test_evalue_of_the_adjusted_model_names_it(df, adjusted):
    ev = adjusted.evalue(rare_outcome=not rb.outcome_is_common(df))
    s = adjusted.surgical
    assert (ev.hr, ev.lower, ev.upper) == (s.hr, s.lower, s.upper) and not ev.rare_outcome
    assert ev.detail().startswith(
        "E-value of the adjusted hazard ratio (Cox model with tumor_type, "
        f"liver_involvement_pct, age_years; HR {s.hr:.2f}, 95% CI {s.lower:.2g} to "
        f"{s.upper:.2f}): ")
    assert "the outcome is common (15% or more)" in ev.detail()
    assert "over and above the factors already accounted for" in ev.sentence()


def test_evalue_sentence_carries_the_numbers(df):
    assert rb.outcome_is_common(df)  # 24 of 48 died: 50% > 15%
    e = rb.evalue(0.16, 0.037, 0.69)
    text = e.sentence()
    assert "hazard ratio 0.16" in text and f"{e.point:.1f}" in text and f"{e.ci_limit:.1f}" in text
    assert text.count(".") >= 2 and text.endswith(".")
    with pytest.raises(ValueError):
        rb.evalue(0.5, 0.6, 0.9)
    with pytest.raises(ValueError):
        rb.evalue(0.0, 0.0, 0.9)


# ------------------------------------------------------------------------ immortal time


def test_landmark_matches_r(landmarks):
    for ref in REFERENCE["landmark"]:
        res = landmarks[ref["at_months"]]
        assert (res.n, res.events, res.n_surgical) == (ref["n"], ref["events"],
                                                       ref["n_surgical"])
        for key in COX_FIELDS:
            assert close(cox_value(res, key), ref[key]), (ref["at_months"], key)


def test_landmark_reclassifies_late_surgery(df, landmarks):
    # counted here: patients followed past L whose surgery came after L count as
    # non-surgical; patients who died or were censored by L are left out
    for at in (3, 6):
        later = (df["arm"] == "surgical") & (df["months_to_treatment"] > at) & (
            df["followup_months"] > at)
        assert landmarks[at].n_reclassified == int(later.sum())
        assert landmarks[at].n_excluded == int((df["followup_months"] <= at).sum())
    assert landmarks[3].n_reclassified > 0 and "counted non-surgical" in landmarks[3].note()
    n_excluded = landmarks[3].n_excluded
    assert 0 < n_excluded < 5
    assert "(<5 died or were censored by then" in landmarks[3].note(min_cell=5)
    assert f"({n_excluded} died or were censored by then" in landmarks[3].note(min_cell=1)


def test_landmarks_main_and_alternatives(df, landmarks):
    both = rb.landmarks(df)
    assert [lm.at_months for lm in both.all] == [3.0, 6.0, 12.0]
    assert both.main[0] == landmarks[3] and both.main[1] == landmarks[6]
    assert both.table()["landmark"].tolist() == [
        "3 months (main)", "6 months (main)", "12 months (alternative)"]
    assert both.notes().split("\n")[0] == landmarks[3].note()
    hrs = [f"{lm.hazard_ratio.hr:.2f}" for lm in both.all]
    assert both.hazard_ratios() == (
        f"landmark HRs {hrs[0]} at 3 months, {hrs[1]} at 6 and {hrs[2]} at 12")
    assert set(both.to_results()) == {"3", "6", "12"}


def test_counting_process_rows(df):
    long = rb.counting_process(df)
    assert len(long) == REFERENCE["time_varying"]["n_intervals"]
    assert long["event"].sum() == df["died"].sum()
    assert (long["stop"] > long["start"]).all()
    # a surgical patient operated during follow-up: unoperated, then operated
    switch = df[(df["arm"] == "surgical") & (df["months_to_treatment"] > 0)
                & (df["months_to_treatment"] < df["followup_months"])].iloc[0]
    rows = long[long["id"] == switch["patient_id"]][["start", "stop", "event", "surgical"]]
    mtt, end = float(switch["months_to_treatment"]), float(switch["followup_months"])
    assert rows.to_numpy().tolist() == [[0.0, mtt, 0, 0.0],
                                        [mtt, end, int(switch["died"]), 1.0]]
    first, second = df.index[df["arm"] == "surgical"][:2]
    edge = df.loc[[first, second]].copy()
    edge["months_to_treatment"] = edge["months_to_treatment"].astype(float)
    edge.loc[first, "months_to_treatment"] = 0.0  # operated at diagnosis
    edge.loc[second, "months_to_treatment"] = float(edge.loc[second, "followup_months"])
    out = rb.counting_process(edge)[["id", "start", "stop", "surgical"]].to_numpy().tolist()
    assert out == [[first, 0.0, float(edge.loc[first, "followup_months"]), 1.0],
                   [second, 0.0, float(edge.loc[second, "followup_months"]), 0.0]]


def test_time_varying_cox_matches_r(tv):
    ref = REFERENCE["time_varying"]
    for key in COX_FIELDS:
        assert close(cox_value(tv, key), ref[key]), key
    assert tv.n_intervals == ref["n_intervals"] and tv.events == ref["events"]
    naive = REFERENCE["naive"]
    for key in ("hr", "lower", "upper"):
        assert close(getattr(tv.naive, key), naive[key]), key
    assert tv.sentence(min_cell=20) == ("<20 of 48 patients switch from unoperated to "
                                        "operated during follow-up (interval count "
                                        "withheld, 24 deaths).")


# --------------------------------------------------------------------------------- RMST


def test_rmst_matches_r(rmsts):
    for ref in REFERENCE["rmst"]:
        res = rmsts[ref["tau"]]
        for arm in ("surgical", "nonsurgical"):
            assert close(res.arm(arm)["rmst"], ref[arm]), (ref["tau"], arm)
            assert close(res.arm(arm)["se"], ref[f"{arm}_se"]), (ref["tau"], arm)
        diff = ref["surgical"] - ref["nonsurgical"]
        se = math.hypot(ref["surgical_se"], ref["nonsurgical_se"])
        assert close(res.diff, diff) and close(res.lower, diff - 1.959963984540054 * se)
        assert close(res.upper, diff + 1.959963984540054 * se)


def test_rmst_flags_tau_beyond_last_followup(df, rmsts):
    last = df.groupby("arm")["followup_months"].max()
    assert last.min() > 36 and not rmsts[36].extended and rmsts[36].notes == ()
    assert rmsts[60].extended == bool(last.min() < 60)
    for arm in ("surgical", "nonsurgical"):
        assert rmsts[60].arm(arm)["extended"] == bool(last[arm] < 60), arm
    shorter = last.idxmin()
    note = next(n for n in rmsts[60].notes if f"in the {shorter} arm" in n)
    assert f"({float(last[shorter]):g} months)" in note and "R's rule" in note


def test_restricted_means_sentences(df):
    """The RMST section as notebook 05 shows it (H1's rule and numbers are tested in
    tests/test_effect_size.py): the main horizon is the shorter arm's last follow-up,
    a horizon beyond it is kept apart."""
    both = rb.restricted_means(df)
    last = min(df.loc[df["arm"] == arm, "followup_months"].max() for arm in ("surgical",
                                                                            "nonsurgical"))
    assert both.main.tau == last and not both.main.extended
    assert [r.tau for r in both.results] == sorted([36.0, last])
    assert all(r.extended for r in both.extended_results)
    assert both.p_sentence().startswith("Difference in RMST: P ")
    assert both.finding().startswith(f"Size: within {last:g} months")
    assert join_and(["a"]) == "a" and join_and(["a", "b", "c"]) == "a, b and c"


# -------------------------------------------------------------------------------- power


def test_power_hand_computed(df):
    res = rb.power(df)
    # D = 24, p = 13/48, p(1-p) = 0.1974826; sqrt(24 * 0.1974826) * ln 2 - 1.959964
    # = -0.450942, Phi(-0.450942) = 0.326016
    row = res.scenario("HR 0.5")
    assert row["power"] == pytest.approx(0.326016, abs=1e-6)
    # (1.959964 + 0.841621)^2 / (0.1974826 * ln(2)^2) = 82.72 -> 83 events; 83 / 0.5 = 166
    assert (row["events_80"], row["n_80"]) == (83, 166)
    assert (row["events_90"], row["n_90"]) == (111, 222)
    # Schoenfeld's classic: 1:1 allocation, HR 0.5, 80% power -> 65.3 events
    assert _schoenfeld_events(0.5, 0.5, 0.05, 0.8) == pytest.approx(65.345, abs=1e-3)
    assert "power_at_observed" not in json.dumps(res.to_results())  # no observed power


# ---------------------------------------------------------------------- results shapes


def test_to_results_shapes(df, adjusted, iptw, landmarks, tv):
    assert adjusted.to_results().keys() == {"surgical"}
    assert adjusted.to_results()["surgical"].keys() == {"hr", "lower", "upper"}
    assert iptw.to_results().keys() >= {"hr", "lower", "upper", "boot_lower", "boot_upper",
                                        "n_boot", "estimand"}
    assert landmarks[3].to_results().keys() == {"hr", "lower", "upper", "n"}
    assert tv.to_results().keys() == {"hr", "lower", "upper"}
    assert rb.evalue(0.5, 0.3, 0.8).to_results().keys() >= {"point", "ci_limit", "rr",
                                                            "rr_limit", "conversion"}
    json.dumps(iptw.propensity.to_results())
    json.dumps(iptw.propensity.positivity.to_results())


def test_summary_table(df, adjusted, iptw, landmarks, tv):
    summary = rb.robustness_summary(
        cox_surgical(df), adjusted, iptw, [landmarks[3], landmarks[6]], tv,
        permutation_p=0.012)
    table = summary.table()
    assert table["analysis"].tolist() == [
        "naive Cox", "adjusted Cox", "IPTW Cox, ATE", "landmark 3 months",
        "landmark 6 months", "time-varying Cox", "permutation test"]
    assert table["role"].tolist() == ["primary"] + ["sensitivity"] * 6
    assert "same_direction" not in table
    assert table.loc[1, "estimate"] == adjusted.surgical.hr
    assert table.loc[5, "upper"] == tv.hazard_ratio.upper
    assert (table["note"].iloc[:-1] == "").all()  # every hazard ratio is estimable
    # the P value's missing interval is said in words (results.json: null beside a note)
    assert table["note"].iloc[-1] == "a P value has no confidence interval"


def test_hazard_ratio_words_and_estimable():
    hr = HazardRatio(0.16, 0.037, 0.69)
    assert hr.estimable and hr.words() == "HR 0.16 (95% CI 0.037 to 0.69)"
    assert hr.words(ci="profile-likelihood ") == "HR 0.16 (95% profile-likelihood CI 0.037 to 0.69)"
    for bad in (HazardRatio(0.0, 0.0, 0.5), HazardRatio(0.2, 0.1, math.inf),
                HazardRatio(math.nan, math.nan, math.nan)):
        assert not bad.estimable and bad.words() == "HR not estimable (no finite estimate)"
    ne = HazardRatio.not_estimable("no deaths in the surgical arm")
    assert ne.words("IPTW HR") == "IPTW HR not estimable (no deaths in the surgical arm)"


def test_reference_file_has_versions_and_no_dates():
    assert REFERENCE["survival_version"] and REFERENCE["r_version"]
    text = json.dumps(REFERENCE)
    assert "date" not in text.lower() and "/work" not in text

"""Known-truth scenarios (notebook 06): the batched engines equal the single-cohort
ones, the simulations follow their stated models, and the methods behave as expected
where the answer is known (null: nominal error; confounding and immortal time: naive
bias, removed by the method that addresses it)."""

from __future__ import annotations

import dataclasses
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethep import coxbatch
from nethep.cohort import load_cohort
from nethep.cox import coxph, efron_score_residuals, weighted_cox_robust
from nethep.estimable import unexplained_nulls
from nethep.firth import firth_coxph
from nethep.km import restricted_mean_survival
from nethep.logrank_scores import logrank_scores, logrank_scores_rows
from nethep.plots import scenario_caption, scenario_figure
from nethep.results import dumps
from nethep.robustness import cox_adjusted, landmark, propensity, time_varying_cox
from nethep.robustness.scenarios import (
    METHOD_LABELS,
    Scenario,
    default_scenarios,
    run_scenarios,
    scenario_study,
)
from nethep.robustness.scenarios import methods as M
from nethep.robustness.scenarios.simulate import (
    WAIT_MAX,
    cohort_shape,
    marginal_hr,
    simulate,
    simulation_reason,
    true_rmst_difference,
)

TOL = 1e-8


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return load_cohort(None)


@pytest.fixture(scope="module")
def shape(cohort):
    return cohort_shape(cohort)


def _reps(shape, kind: str, hr: float, n: int = 40, seed: int = 7):
    return simulate(shape, Scenario(kind, hr), n, np.random.default_rng(seed))


def _frame(reps, i: int) -> pd.DataFrame:
    """Replicate i as a cohort table the single-cohort analyses accept."""
    covs = reps.covariates[i]
    surgical = reps.surgical[i]
    n = len(surgical)
    return pd.DataFrame({
        "patient_id": [f"S{j:03d}" for j in range(n)],
        "followup_months": reps.time[i], "died": reps.event[i].astype(int),
        "surgical": surgical, "arm": np.where(surgical, "surgical", "nonsurgical"),
        "tumor_type": np.where(covs[:, 0] == 1, "islet_cell", "carcinoid"),
        "liver_involvement_pct": covs[:, 1], "age_years": covs[:, 2],
        "months_to_treatment": np.where(np.isfinite(reps.wait[i]), reps.wait[i], np.nan),
    })


def _tied(seed: int = 3, n_rep: int = 5, n: int = 40):
    """Replicates with many tied times (rounded), for the Efron tie handling."""
    rng = np.random.default_rng(seed)
    t = np.round(rng.exponential(15, (n_rep, n))) + 1.0
    e = rng.random((n_rep, n)) < 0.6
    z = (rng.random((n_rep, n)) < 0.35).astype(float)
    x = np.stack([z, rng.normal(size=(n_rep, n)), rng.uniform(20, 80, (n_rep, n))], -1)
    return t, e, z, x


# ------------------------------------------------------------------ batched engines


def test_batched_cox_equals_coxph_with_ties():
    t, e, _, x = _tied()
    fit = coxbatch.fit(coxbatch.risk_sets(t, e), x)
    assert fit.ok.all()
    for r in range(len(t)):
        ref = coxph(t[r], e[r].astype(int), x[r])
        np.testing.assert_allclose(fit.beta[r], ref.coef, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(fit.se[r], ref.se, rtol=TOL, atol=TOL)


def test_batched_robust_variance_equals_efron_sandwich():
    t, e, z, _ = _tied(seed=5)
    w = np.random.default_rng(1).uniform(0.3, 3.0, t.shape)
    rs = coxbatch.risk_sets(t, e, weights=w)
    fit = coxbatch.fit(rs, z[..., None])
    robust = coxbatch.robust_variance(rs, z[..., None], fit)
    for r in range(len(t)):
        u = efron_score_residuals(t[r], e[r].astype(int), z[r][:, None], w[r], fit.beta[r])
        a = np.linalg.inv(fit.info[r])
        expected = a @ ((u * w[r][:, None]).T @ (u * w[r][:, None])) @ a
        np.testing.assert_allclose(robust[r], expected, rtol=TOL)


def test_batched_firth_equals_nethep_firth_including_a_monotone_likelihood():
    t, e, z, _ = _tied(seed=9)
    e[0, z[0] == 1] = False  # no deaths in the exposed arm: Cox MLE infinite, Firth finite
    fit = coxbatch.firth(coxbatch.risk_sets(t, e), z)
    assert fit.ok.all()
    for r in range(len(t)):
        ref = firth_coxph(t[r], e[r].astype(int), z[r])
        assert fit.beta[r] == pytest.approx(ref.coef[0], abs=TOL)
        assert fit.lower[r] == pytest.approx(math.log(ref.lower[0]), abs=TOL)
        assert fit.upper[r] == pytest.approx(math.log(ref.upper[0]), abs=TOL)
        assert fit.p_lr[r] == pytest.approx(ref.p[0], rel=1e-7, abs=1e-12)


def test_monotone_likelihood_is_flagged_not_estimable(shape):
    t, e, z, _ = _tied(seed=9)
    e[0, z[0] == 1] = False
    fit = coxbatch.fit(coxbatch.risk_sets(t, e), z[..., None])
    assert not fit.ok[0] and fit.ok[1:].all()
    assert np.isnan(fit.wald()[0][0])


# ----------------------------------------------------- methods vs single-cohort engines


def test_naive_adjusted_and_propensity_equal_the_single_cohort_analyses(shape):
    reps = _reps(shape, "confounding", 0.5, n=6)
    naive, adjusted = M.naive_cox(reps), M.adjusted_cox(reps)
    ps, converged = M.propensity_scores(reps)
    for i in range(3):
        df = _frame(reps, i)
        ref = coxph(df["followup_months"], df["died"], df["surgical"].astype(float))
        assert naive.estimate[i] == pytest.approx(ref.coef[0], abs=TOL)
        assert naive.upper[i] == pytest.approx(math.log(ref.upper[0]), abs=TOL)
        terms = np.column_stack([df["surgical"].astype(float), reps.covariates[i]])
        exact = coxph(df["followup_months"], df["died"], terms)
        assert adjusted.estimate[i] == pytest.approx(exact.coef[0], abs=TOL)
        assert adjusted.lower[i] == pytest.approx(math.log(exact.lower[0]), abs=TOL)
        adj = cox_adjusted(df).surgical  # notebook 05's model (lifelines, to ~1e-6)
        assert math.exp(adjusted.estimate[i]) == pytest.approx(adj.hr, rel=1e-5)
        assert math.exp(adjusted.lower[i]) == pytest.approx(adj.lower, rel=1e-5)
        if converged[i]:
            np.testing.assert_allclose(ps[i], propensity(df).scores["ps"], rtol=1e-6)


@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_iptw_equals_the_weighted_cox_of_the_propensity_weights(shape, estimand):
    """Weights from nethep's propensity score (ATE: stabilized P/e, (1-P)/(1-e); ATT: 1,
    e/(1-e), the formulas of nethep.robustness.weighting), fitted by
    nethep.cox.weighted_cox_robust (lifelines to its maximum, R's sandwich)."""
    reps = _reps(shape, "confounding", 1.0, n=6, seed=11)
    est = M.iptw(reps, estimand)
    checked = 0
    for i in np.flatnonzero(est.ok)[:3]:
        df = _frame(reps, i)
        ps = propensity(df).scores["ps"].to_numpy(float)
        z = df["surgical"].to_numpy(bool)
        share = z.mean()
        w = (np.where(z, share / ps, (1 - share) / (1 - ps)) if estimand == "ate"
             else np.where(z, 1.0, ps / (1 - ps)))
        data = pd.DataFrame({"T": df["followup_months"], "E": df["died"],
                             "surgical": z.astype(float), "w": w})
        beta, robust, _ = weighted_cox_robust(data, ["surgical"])
        assert est.estimate[i] == pytest.approx(beta[0], abs=1e-6)
        half = stats.norm.ppf(0.975) * math.sqrt(robust[0, 0])
        assert est.upper[i] == pytest.approx(beta[0] + half, abs=1e-6)
        checked += 1
    assert checked >= 2


def test_landmark_and_time_varying_equal_the_single_cohort_analyses(shape):
    reps = _reps(shape, "immortal", 0.5, n=8, seed=13)
    lm, tv = M.landmark(reps, 6.0), M.time_varying(reps)
    checked = 0
    for i in range(len(reps.time)):
        if not (lm.ok[i] and tv.ok[i]):
            continue
        df = _frame(reps, i)
        sub = df[df["followup_months"] > 6.0]  # the landmark's definition, by hand
        exposed = (sub["surgical"] & (sub["months_to_treatment"] <= 6.0)).astype(float)
        exact = coxph(sub["followup_months"] - 6.0, sub["died"], exposed)
        assert lm.estimate[i] == pytest.approx(exact.coef[0], abs=TOL)
        assert lm.lower[i] == pytest.approx(math.log(exact.lower[0]), abs=TOL)
        # nethep's landmark() and time_varying_cox() fit with lifelines (to ~1e-6)
        ref_lm = landmark(df, 6.0).hazard_ratio
        assert math.exp(lm.estimate[i]) == pytest.approx(ref_lm.hr, rel=1e-5)
        assert math.exp(lm.lower[i]) == pytest.approx(ref_lm.lower, rel=1e-5)
        ref_tv = time_varying_cox(df).hazard_ratio
        assert math.exp(tv.estimate[i]) == pytest.approx(ref_tv.hr, rel=1e-5)
        assert math.exp(tv.upper[i]) == pytest.approx(ref_tv.upper, rel=1e-5)
        checked += 1
    assert checked >= 3


def test_rmst_and_logrank_scores_equal_the_single_cohort_engines(shape):
    reps = _reps(shape, "null", 0.5, n=5, seed=17)
    t = np.round(reps.time, 0) + 0.5  # ties
    tied = dataclasses.replace(reps, time=t)
    est = M.rmst_difference(tied, tau=30.0)
    scores = logrank_scores_rows(t, tied.event)
    for i in range(5):
        z, e = tied.surgical[i], tied.event[i].astype(int)
        a1, s1 = restricted_mean_survival(t[i][z], e[z], 30.0)
        a0, s0 = restricted_mean_survival(t[i][~z], e[~z], 30.0)
        if est.ok[i]:
            assert est.estimate[i] == pytest.approx(a1 - a0, abs=1e-10)
            half = stats.norm.ppf(0.975) * math.hypot(s1, s0)
            assert est.upper[i] == pytest.approx(a1 - a0 + half, abs=1e-10)
        np.testing.assert_allclose(scores[i], logrank_scores(t[i], e), atol=1e-12)


def test_permutation_p_is_near_the_asymptotic_logrank_p(shape):
    reps = _reps(shape, "null", 0.5, n=30, seed=19)
    p = M.permutation_logrank(reps, np.random.default_rng(1), n_permutations=2000).p
    s = logrank_scores_rows(reps.time, reps.event)
    z = reps.surgical
    n, n1 = z.shape[1], z.sum(axis=1)
    stat = (s * z).sum(axis=1)
    var = n1 * (n - n1) / (n * (n - 1)) * (s**2).sum(axis=1)
    p_asym = 2 * stats.norm.sf(np.abs(stat) / np.sqrt(var))
    assert np.max(np.abs(p - p_asym)) < 0.06  # Monte Carlo and small-sample error


# --------------------------------------------------------------------- the models


def test_simulated_cohorts_follow_the_stated_models(shape, cohort):
    assert (shape.n, shape.n_surgical) == (len(cohort), int(cohort["surgical"].sum()))
    null = _reps(shape, "null", 1.0, n=50)
    assert (null.surgical.sum(axis=1) == shape.n_surgical).all()
    assert null.time.max() <= cohort["followup_months"].max()
    imm = _reps(shape, "immortal", 0.5, n=50)
    assert (imm.wait[imm.surgical] < imm.time[imm.surgical]).all()  # operated alive
    assert np.isinf(imm.wait[~imm.surgical]).all()
    assert imm.surgical.sum(axis=1).mean() < shape.n_surgical  # some died waiting


def test_true_rmst_difference_matches_the_closed_form(shape):
    lam, tau = shape.lambda0, 36.0

    def area(rate: float) -> float:
        return (1 - math.exp(-rate * tau)) / rate

    assert true_rmst_difference(shape, Scenario("null", 1.0), tau) == pytest.approx(0, abs=1e-12)
    expected = area(lam * 0.5) - area(lam)
    assert true_rmst_difference(shape, Scenario("null", 0.5), tau) == pytest.approx(
        expected, rel=1e-6)


def test_true_rmst_difference_of_immortal_time_matches_numerical_integration(shape):
    """The closed form over W ~ U(0, WAIT_MAX) against a brute-force double integral."""
    lam, hr, tau = shape.lambda0, 0.5, 36.0
    t = np.linspace(0, tau, 3001)
    w = (np.arange(2000) + 0.5) / 2000 * WAIT_MAX
    cum = lam * (np.minimum(t[None], w[:, None]) + hr * np.maximum(t[None] - w[:, None], 0))
    s1 = np.exp(-cum).mean(axis=0)
    expected = np.trapezoid(s1 - np.exp(-lam * t), t)
    got = true_rmst_difference(shape, Scenario("immortal", hr), tau)
    assert got == pytest.approx(expected, rel=1e-5)


def test_marginal_hr_is_attenuated_towards_1_by_a_prognostic_factor(shape):
    """Non-collapsibility: with a prognostic covariate or frailty the marginal HR lies
    between the conditional HR and 1; none without one, or at HR 1."""
    for kind in ("confounding", "censoring"):
        m = marginal_hr(shape, Scenario(kind, 0.5))
        assert 0.52 < m < 0.7
        assert marginal_hr(shape, Scenario(kind, 1.0)) == 1.0
    assert marginal_hr(shape, Scenario("null", 0.5)) == 0.5


def test_scenario_keys_name_their_kind_without_dots():
    keys = [s.key for s in default_scenarios()]
    assert keys == ["null_hr1", "null_hr05", "confounding_hr1", "confounding_hr05",
                    "immortal_hr1", "immortal_hr05", "censoring_hr1", "censoring_hr05"]


# ------------------------------------------------------- behaviour with a known truth


@pytest.fixture(scope="module")
def study(cohort):
    chosen = [Scenario("null", 1.0), Scenario("confounding", 1.0), Scenario("immortal", 0.5)]
    return run_scenarios(cohort, n_replicates=400, scenarios=chosen)


def test_null_scenario_has_nominal_error_and_coverage(study):
    naive = study.row("null_hr1", "naive")
    m = naive["n_replicates"] - naive["n_failed"]
    se = math.sqrt(0.05 * 0.95 / m)
    assert abs(naive["rejection"] - 0.05) < 3 * se
    assert abs(naive["coverage"] - 0.95) < 3 * se
    assert abs(naive["bias"]) < 3 * naive["mcse_bias"] + 0.02


def test_confounding_biases_naive_and_adjustment_removes_most_of_it(study):
    naive = study.row("confounding_hr1", "naive")["bias"]
    assert naive < -0.3
    for method in ("adjusted", "iptw_att"):
        assert abs(study.row("confounding_hr1", method)["bias"]) < abs(naive) / 3


def test_immortal_time_naive_bias_favours_surgery_and_time_varying_removes_it(study):
    naive = study.row("immortal_hr05", "naive")["bias"]
    assert naive < -0.15  # surgery looks better than it is
    assert abs(study.row("immortal_hr05", "time_varying")["bias"]) < abs(naive) / 3


def test_results_keys_and_determinism(cohort):
    chosen = [Scenario("censoring", 0.5)]
    a = run_scenarios(cohort, n_replicates=20, seed=5, scenarios=chosen).to_results()
    b = run_scenarios(cohort, n_replicates=20, seed=5, scenarios=chosen).to_results()
    c = run_scenarios(cohort, n_replicates=20, seed=6, scenarios=chosen).to_results()
    assert dumps(a) == dumps(b) and dumps(a) != dumps(c)
    entry = a["censoring_hr05"]
    assert set(entry) == set(METHOD_LABELS)
    for method, values in entry.items():
        assert {"bias", "coverage", "rejection", "n_replicates", "true_hr",
                "n_failed", "marginal_hr"} <= set(values), method
        assert values["n_replicates"] == 20 and values["true_hr"] == 0.5
    assert entry["permutation"]["bias"] is None and entry["permutation"]["coverage"] is None
    assert entry["rmst"]["true_rmst_difference"] > 0
    json.loads(dumps(a))


def test_findings_name_each_scenario(study):
    text = study.findings()
    for s in study.scenarios:
        assert s.label in text
    assert "naive Cox" in text and "best" in text


def test_figure_and_caption_from_the_study(study):
    for width in (85, 180):
        fig = scenario_figure(study, reconstructed=True, width_mm=width)
        assert len(fig.axes) == 6
        assert fig.get_figwidth() == pytest.approx(width / 25.4)
        plt.close(fig)
    text = str(scenario_caption(study, reconstructed=False))
    assert f"{study.n_replicates} simulated cohorts" in text and "user-supplied" in text


def test_a_tiny_cohort_with_no_death_in_one_arm_gets_words_not_a_crash(cohort):
    """5 + 5 patients, no surgical death and one non-surgical death (so whatever the
    bundled cohort, a low death rate): some scenarios have no method estimable in 90% of
    replicates; the findings say so."""
    rng = np.random.default_rng(1)
    surgical = cohort[cohort["surgical"]].iloc[rng.choice(13, 5, replace=False)]
    others = cohort[~cohort["surgical"]].iloc[rng.choice(35, 5, replace=False)]
    tiny = pd.concat([surgical.assign(died=0), others.assign(died=[1, 0, 0, 0, 0])],
                     ignore_index=True)
    with np.errstate(divide="raise", invalid="raise", over="raise"):  # silenced where counted
        study = run_scenarios(tiny, n_replicates=40, seed=1)
    text = study.findings()
    assert "nan" not in text
    assert "no other method had an estimate in at least 90% of the replicates" in text
    assert study.rows["n_failed"].max() > 0


# ------------------------------------------- cohorts whose shape cannot be simulated


def _tiny_shapes(cohort: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, str]]:
    """Cohorts ``validate`` accepts that no scenario can copy, and the words that say why."""
    surgical, others = cohort[cohort["surgical"]], cohort[~cohort["surgical"]]
    dead = others[others["died"] == 1]
    return {
        "one patient": (cohort.iloc[:1], "fewer than 2 patients in the"),
        "two patients, one arm": (surgical.iloc[:2], "no non-surgical patient"),
        "one surgical patient": (pd.concat([surgical.iloc[:1], dead.iloc[:5]]),
                                 "fewer than 2 patients in the surgical arm"),
        "only non-surgical": (others, "no surgical patient"),
        "no non-surgical death": (cohort.assign(died=np.where(cohort["surgical"],
                                                              cohort["died"], 0)),
                                  "no death in the non-surgical arm"),
        "constant liver": (cohort.assign(liver_involvement_pct=40.0),
                           "liver involvement is the same in every patient"),
    }


@pytest.mark.parametrize("name", ["one patient", "two patients, one arm",
                                  "one surgical patient", "only non-surgical",
                                  "no non-surgical death", "constant liver"])
def test_a_cohort_that_cannot_be_simulated_says_why_in_words(cohort, name):
    tiny, expected = _tiny_shapes(cohort)[name]
    tiny = tiny.reset_index(drop=True)
    tiny.attrs.pop("reconstructed", None)  # a user's cohort: computed, never read
    assert expected in simulation_reason(tiny)
    with pytest.raises(ValueError, match=expected):
        cohort_shape(tiny)
    study = scenario_study(tiny, n_replicates=20, seed=1)
    assert expected in study.reason and study.rows.empty and study.shape is None
    words = f"not estimable ({study.reason})"
    sentences = [study.methods_text(11), study.provenance(), study.findings()]
    assert words in study.methods_text() and words in study.findings()
    assert study.reason in study.provenance()
    assert not any(bad in text for text in sentences for bad in ("nan", "inf", "0.00"))
    table = study.table(min_cell=11)
    assert list(table["scenario"]) == [s.key for s in default_scenarios()]
    assert table["bias"].isna().all() and (table["note"] == words).all()
    for measure in ("bias", "median_bias", "coverage", "rejection", "n_failed"):
        wide = study.wide(measure)
        assert list(wide["note"]) == [words]
    results = study.to_results()
    assert results["reason"] == study.reason
    assert all(results[s.key] is None for s in default_scenarios())
    assert unexplained_nulls({"scenarios": results}) == []
    json.loads(dumps(results))
    for width in (85, 180):
        fig = scenario_figure(study, reconstructed=False, width_mm=width)
        text = " ".join(t.get_text() for t in fig.texts)
        assert study.reason in " ".join(text.split()) and not fig.axes
        plt.close(fig)
    caption = str(scenario_caption(study, reconstructed=False, min_cell=11))
    assert words in caption and "simulated cohorts per scenario" not in caption


def test_the_smallest_cohort_that_can_be_simulated_runs(cohort):
    """2 surgical + 2 non-surgical patients, one non-surgical death: the boundary of
    simulation_reason, simulated without an exception."""
    surgical = cohort[cohort["surgical"]].iloc[:2]
    others = cohort[~cohort["surgical"]]
    pair = pd.concat([others[others["died"] == 1].iloc[:1],
                      others[others["died"] == 0].iloc[:1]])
    tiny = pd.concat([surgical, pair], ignore_index=True)
    if tiny["liver_involvement_pct"].nunique() == 1:
        tiny.loc[0, "liver_involvement_pct"] += 10
    assert simulation_reason(tiny) == ""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        study = run_scenarios(tiny, n_replicates=10, seed=1,
                              scenarios=[Scenario("null", 1.0)])
    assert not study.reason and len(study.rows) == len(METHOD_LABELS)

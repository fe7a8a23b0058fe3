"""Firth-penalised Cox (nethep.firth) and the small-event inference built on it.

Expected values come from R (tests/reference/make_firth_reference.R -> firth.json):
survival's coxph evaluated at fixed b (iter.max = 0) gives l(b) and I(b); R maximises
l(b) + 0.5 log det I(b) with optimize and profiles it with uniroot. Data: the bundled
cohort (2 and 22 deaths), ovarian subsets with 1 vs 6 and 4 vs 0 deaths, and a lung
subset with two covariates; Efron and Breslow ties each.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nethep.cohort import load_cohort
from nethep.cox import _derivatives, _risk_sets, coxph
from nethep.firth import NotEstimable, cox_tests, firth_coxph
from nethep.robustness.small_events import (
    MIN_DEATHS_PER_ARM,
    SmallEventInference,
    small_event_inference,
)
from nethep.survival import cox_surgical

REFERENCE = json.loads((Path(__file__).parent / "reference" / "firth.json").read_text())
CASES = REFERENCE["cases"]
TOL = 1e-6


def data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    d = REFERENCE["data"][name]
    names = d["names"] if isinstance(d["names"], list) else [d["names"]]
    return (np.asarray(d["time"], float), np.asarray(d["event"], int),
            np.asarray(d["x"], float), names)


def case_id(case: dict) -> str:
    return f"{case['data']}-{case['ties']}"


@pytest.fixture(scope="module")
def fits() -> dict[str, object]:
    out = {}
    for case in CASES:
        t, e, x, names = data(case["data"])
        out[case_id(case)] = firth_coxph(t, e, x, names=names, ties=case["ties"])
    return out


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_firth_matches_r_penalised_likelihood(case, fits):
    fit, ref = fits[case_id(case)], case["firth"]
    np.testing.assert_allclose(fit.coef, np.atleast_1d(ref["coef"]), rtol=0, atol=TOL)
    np.testing.assert_allclose(np.log(fit.lower), np.atleast_1d(ref["lower"]), rtol=0, atol=TOL)
    np.testing.assert_allclose(np.log(fit.upper), np.atleast_1d(ref["upper"]), rtol=0, atol=TOL)
    np.testing.assert_allclose(fit.chisq, np.atleast_1d(ref["chisq"]), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(fit.p, np.atleast_1d(ref["p"]), rtol=TOL, atol=1e-12)
    assert fit.loglik[1] == pytest.approx(ref["loglik"], rel=1e-10)
    assert fit.loglik[0] == pytest.approx(ref["loglik_null"], rel=1e-10)
    assert fit.ties == case["ties"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_ordinary_cox_tests_match_r(case):
    t, e, x, names = data(case["data"])
    res, ref = cox_tests(t, e, x, names=names, ties=case["ties"]), case["cox"]
    assert res.estimable == ref["estimable"]
    assert res.lr_p == pytest.approx(ref["lr_p"], rel=TOL)
    assert res.score_p == pytest.approx(ref["score_p"], rel=TOL)
    assert res.lr_statistic == pytest.approx(ref["lr_statistic"], rel=TOL)
    assert res.score_statistic == pytest.approx(ref["score_statistic"], rel=TOL)
    if ref["estimable"]:
        assert res.wald_p == pytest.approx(ref["wald_p"], rel=TOL)
    else:
        assert math.isnan(res.wald_p)
        hr = res.hazard_ratio(names[0])
        assert math.isnan(hr.hr) and not hr.estimable and "monotone" in hr.note
        assert hr.words().startswith("HR not estimable (monotone likelihood")


def test_profile_limits_solve_their_defining_equation():
    """Independent of R: at each limit the penalised log-likelihood, l(b) + 0.5 log I(b)
    from nethep.cox's derivatives, lies qchisq(.95, 1) / 2 below its maximum."""
    t, e, x, names = data("cohort")
    fit = firth_coxph(t, e, x, names=names)
    rs = _risk_sets(t, e.astype(float), x, "efron")

    def penalised(b: float) -> float:
        loglik, _, info = _derivatives(rs, np.array([b]))
        return loglik + 0.5 * math.log(info[0, 0])

    drop = stats.chi2.ppf(0.95, 1) / 2
    for limit in (fit.lower[0], fit.upper[0]):
        assert penalised(math.log(limit)) == pytest.approx(fit.loglik[1] - drop, abs=1e-9)
    # the estimate is the maximum: nearby values are lower
    b = fit.coef[0]
    assert penalised(b) > max(penalised(b - 1e-3), penalised(b + 1e-3))


def test_firth_is_finite_where_the_cox_estimate_is_not():
    t, e, x, names = data("ovarian_rx")  # 4 and 0 deaths
    assert set(np.unique(e[x[:, 0] == 1])) == {0}
    with pytest.warns(RuntimeWarning, match="infinite"):
        ordinary = coxph(t, e, x)
    assert abs(ordinary.coef[0]) > 10
    fit = firth_coxph(t, e, x, names=names)
    assert np.isfinite(fit.coef).all() and np.isfinite(fit.lower).all()
    assert np.isfinite(fit.upper).all()


def test_firth_shrinks_the_estimate_toward_no_effect():
    t, e, x, names = data("cohort")
    assert abs(firth_coxph(t, e, x).coef[0]) < abs(coxph(t, e, x).coef[0])


def test_firth_rejects_what_it_cannot_fit():
    t, e, x, _ = data("cohort")
    with pytest.raises(ValueError, match="at least one event"):
        firth_coxph(t, np.zeros_like(e), x)
    with pytest.raises(ValueError, match="constant"):
        firth_coxph(t, e, np.ones(len(t)))
    with pytest.raises(ValueError, match="ties"):
        firth_coxph(t, e, x, ties="exact")
    # every x = 1 patient censored before the first death: no information about x
    t2, e2, x2 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0, 0, 1, 0, 1, 0], [1.0, 1.0, 0, 0, 0, 0]
    with pytest.raises(NotEstimable, match="no information"):
        firth_coxph(t2, e2, x2)


def test_firth_converges_where_the_penalty_bends_sharply():
    """Near separation (1 and 3 deaths, none tied) the penalised likelihood is far from
    quadratic; the estimate is still its maximum (checked on a fine grid)."""
    t = np.array([2.0, 3, 5, 7, 8, 11, 13, 17, 19, 23, 29, 31, 37, 41])
    e = np.array([0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    x = np.array([1.0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1])
    fit = firth_coxph(t, e, x)
    rs = _risk_sets(t, e.astype(float), x[:, None], "efron")
    grid = np.linspace(fit.coef[0] - 0.01, fit.coef[0] + 0.01, 2001)
    values = [_derivatives(rs, np.array([b]))[0] + 0.5 * math.log(
        _derivatives(rs, np.array([b]))[2][0, 0]) for b in grid]
    assert abs(grid[int(np.argmax(values))] - fit.coef[0]) <= 1e-5


# ------------------------------------------------------------------ small-event inference


@pytest.fixture(scope="module")
def cohort():
    return load_cohort()


@pytest.fixture(scope="module")
def bundled(cohort) -> SmallEventInference:
    return small_event_inference(cohort)


def test_bundled_cohort_has_firth_primary(bundled, cohort):
    deaths = cohort.groupby("arm")["died"].sum()
    assert min(deaths) < MIN_DEATHS_PER_ARM
    assert bundled.firth_is_primary and bundled.primary_method == "firth"
    ref = next(c for c in CASES if c["data"] == "cohort" and c["ties"] == "efron")
    assert math.log(bundled.primary.hr) == pytest.approx(ref["firth"]["coef"], abs=TOL)
    assert bundled.primary.ci == "profile" and "Firth" in bundled.primary.method
    assert bundled.primary.p == pytest.approx(ref["firth"]["p"], rel=TOL)


def test_cox_is_primary_with_enough_deaths_per_arm(cohort):
    df = cohort.copy()
    alive = df.index[(df["arm"] == "surgical") & (df["died"] == 0)]
    df.loc[alive[:4], "died"] = 1  # 6 surgical deaths
    res = small_event_inference(df)
    assert not res.firth_is_primary and res.primary.ci == "wald"
    fit = coxph(df["followup_months"], df["died"], df["surgical"].astype(float))
    assert res.primary.hr == pytest.approx(fit.hr[0], rel=1e-9)
    assert res.primary.p == pytest.approx(fit.p[0], rel=1e-9)
    assert "at least 5 deaths" in res.reason()


def test_no_surgical_deaths_said_in_words(cohort):
    df = cohort.copy()
    df.loc[df["arm"] == "surgical", "died"] = 0
    res = small_event_inference(df)
    assert not res.cox.estimable and res.firth_is_primary
    out = res.to_results()
    assert out["cox_tests"]["wald_p"] is None and out["cox_tests"]["estimable"] is False
    assert out["firth"]["hr"] > 0 and out["primary"]["model"] == "firth"
    text = res.finding()
    assert "not estimable" in text and "inf " not in text
    assert re.search(r"0\.00(?!\d)", text) is None  # never 0.00 for a tiny limit


def test_results_keys_and_values(bundled):
    out = bundled.to_results()
    assert set(out["firth"]) == {"hr", "lower", "upper", "p_lr", "ties"}
    assert out["firth"]["ties"] == "efron" and out["firth_breslow"]["ties"] == "breslow"
    assert {"method", "hr", "lower", "upper", "p", "rule"} <= set(out["primary"])
    assert out["primary"]["rule"] == bundled.primary_rule
    assert set(out["cox_tests"]) >= {"wald_p", "lr_p", "score_p"}
    ref = next(c for c in CASES if c["data"] == "cohort" and c["ties"] == "efron")["cox"]
    for k in ("wald_p", "lr_p", "score_p"):
        assert out["cox_tests"][k] == pytest.approx(ref[k], rel=TOL)
    json.dumps(out, allow_nan=False)


def test_table_marks_small_counts_and_names_the_primary(bundled):
    table = bundled.table(min_cell=5)
    assert (table["role"] == "primary").sum() == 1
    assert table.loc[table["role"] == "primary", "analysis"].item() == "Firth"
    assert set(table["deaths_surgical"]) == {"<5"}
    assert "<5 of 13 surgical" in bundled.finding(min_cell=5)
    assert "2 of 13 surgical" in bundled.finding()


# ------------------------------------------------ the PH test with few deaths (survival)


def test_ph_test_marked_uninformative_with_few_deaths_in_an_arm(cohort):
    res = cox_surgical(cohort)
    assert res.deaths_by_arm == (2, 22) and not res.ph_test_informative
    assert res.to_results()["ph_test_informative"] is False
    assert res.to_results()["ph_p"] == res.ph_p  # the number stays, marked
    assert "uninformative" in res.ph_text() and res.table()["ph_test_informative"].item() is False
    df = cohort.copy()
    alive = df.index[(df["arm"] == "surgical") & (df["died"] == 0)]
    df.loc[alive[:3], "died"] = 1  # 5 surgical deaths: informative
    enough = cox_surgical(df)
    assert enough.ph_test_informative and "uninformative" not in enough.ph_text()


def test_no_information_is_said_in_words(cohort):
    """Every surgical patient censored before the first death: neither model has an
    estimate; both say why, and nothing is printed as a number."""
    df = cohort.copy()
    first = df.loc[df["died"] == 1, "followup_months"].min()
    df.loc[df["arm"] == "surgical", ["followup_months", "died"]] = (first / 2, 0)
    res = small_event_inference(df)
    assert not res.cox.estimable and res.cox.fit is None and math.isnan(res.cox.score_p)
    assert not res.primary.estimable and "no information" in res.primary.note
    assert res.primary.ci == "profile"
    out = res.to_results()
    assert out["primary"]["hr"] is None and out["cox_tests"]["lr_p"] is None
    text = res.finding()
    assert "neither the Cox nor the Firth-penalised model has an estimate (no information" in text
    assert re.search(r"\d\.\d\d \(", text) is None

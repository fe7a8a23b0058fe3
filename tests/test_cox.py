"""nethep.cox (vectorized Cox, cox.zph and log-rank) against R and lifelines.

``tests/reference/make_fastcox_reference.R`` exports survival::lung (sex; sex + age,
Efron and Breslow), survival::veteran (trt; log-rank by trt and celltype), the bundled
cohort (surgical; log-rank by treatment group) and a simulated set with heavy ties
(60 distinct times for 3,000 patients) to ``tests/reference/data/fastcox_*.csv``, and
writes what R's ``coxph``, ``cox.zph(transform = "km")`` and ``survdiff`` give for
them to ``tests/reference/fastcox.json``. Every estimate must agree with R to a
relative 1e-6 (it agrees to ~5e-8 or better: the rest is R's stopping rule, which
stops Newton-Raphson earlier than nethep.cox). lifelines is the second reference, on
random data with ties, and ``nethep.survival.logrank`` must give the same numbers as
lifelines' ``multivariate_logrank_test`` to 1e-10 on the bundled cohort.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import multivariate_logrank_test

from nethep import cox, logrank, survival
from nethep.cohort import load_cohort

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
RTOL = 1e-6


@cache
def reference() -> dict:
    return json.loads((REFERENCE_DIR / "fastcox.json").read_text(encoding="utf-8"))


@cache
def frame(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / reference()["datasets"][name]["csv"])


COX_CASES = [(name, i) for name, d in reference()["datasets"].items()
             for i in range(len(d["coxph"]))]
SURVDIFF_CASES = [(name, g) for name, d in reference()["datasets"].items()
                  for g in d["survdiff"]]


def case_id(case) -> str:
    name, which = case
    if isinstance(which, int):
        m = reference()["datasets"][name]["coxph"][which]
        return f"{name}-{'+'.join(m['terms'])}-{m['ties']}"
    return f"{name}-{which}"


def test_reference_is_from_r_survival_3():
    ref = reference()
    assert ref["generator"] == "tests/reference/make_fastcox_reference.R"
    assert int(ref["survival_version"].split(".")[0]) >= 3
    for d in ref["datasets"].values():
        assert len(frame(d["name"])) == d["n"]
        assert frame(d["name"])["event"].sum() == d["events"]


def test_reference_has_heavy_ties():
    df = frame("ties")
    assert df["time"].nunique() <= 60
    assert df.groupby("time")["event"].sum().max() >= 50


# --------------------------------------------------------------------------- Cox vs R


@pytest.mark.parametrize("case", COX_CASES, ids=case_id)
def test_coxph_matches_r(case):
    name, i = case
    r = reference()["datasets"][name]["coxph"][i]
    df = frame(name)
    fit = cox.coxph(df["time"], df["event"], df[r["terms"]], ties=r["ties"])
    assert fit.names == tuple(r["terms"])
    assert fit.n == r["n"] and fit.events == r["events"]
    for key in ("coef", "se", "hr", "lower", "upper", "z", "p", "loglik"):
        np.testing.assert_allclose(np.atleast_1d(getattr(fit, key)), r[key], rtol=RTOL,
                                   err_msg=f"{name} {r['terms']} {key}")
    np.testing.assert_allclose(fit.var, np.array(r["var"]), rtol=RTOL)


@pytest.mark.parametrize("case", COX_CASES, ids=case_id)
def test_cox_zph_matches_r(case):
    name, i = case
    r = reference()["datasets"][name]["coxph"][i]
    df = frame(name)
    fit = cox.coxph(df["time"], df["event"], df[r["terms"]], ties=r["ties"])
    zph = cox.cox_zph(df["time"], df["event"], df[r["terms"]], fit.coef, ties=r["ties"])
    z = r["zph"]
    np.testing.assert_allclose(zph.chisq, z["chisq"], rtol=RTOL)
    np.testing.assert_allclose(zph.p, z["p"], rtol=RTOL)
    np.testing.assert_array_equal(zph.df, z["df"])
    assert zph.global_chisq == pytest.approx(z["global_chisq"], rel=RTOL)
    assert zph.global_p == pytest.approx(z["global_p"], rel=RTOL)
    assert zph.global_df == z["global_df"]


@pytest.mark.parametrize("case", SURVDIFF_CASES, ids=case_id)
def test_survdiff_matches_r(case):
    name, column = case
    r = reference()["datasets"][name]["survdiff"][column]
    df = frame(name)
    res = logrank.survdiff(df["time"], df["event"], df[column].astype(str), levels=r["levels"])
    np.testing.assert_array_equal(res.n, r["n"])
    np.testing.assert_allclose(res.observed, r["observed"], rtol=RTOL)
    np.testing.assert_allclose(res.expected, r["expected"], rtol=RTOL)
    np.testing.assert_allclose(res.var, np.array(r["var"]), rtol=RTOL, atol=1e-9)
    assert res.chisq == pytest.approx(r["chisq"], rel=RTOL)
    assert res.df == r["df"]
    assert res.p == pytest.approx(r["p"], rel=RTOL)


# --------------------------------------------------------------------------- vs lifelines


def random_survival(seed: int, n: int, p: int, groups: int = 3):
    """Exponential times rounded to whole units (heavy ties), ~30% censored."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, 2, n).astype(float)]
                        + [rng.normal(size=n).round(1) for _ in range(p - 1)])
    beta = np.array([-0.7, 0.4, 0.2][:p])
    t = np.ceil(rng.exponential(10 * np.exp(-(x @ beta))))
    c = np.ceil(rng.uniform(1, 30, n))
    e = (t <= c).astype(int)
    group = rng.choice([f"g{k}" for k in range(groups)], n)
    return np.minimum(t, c), e, x, group


@pytest.mark.parametrize("seed,n,p", [(1, 40, 1), (2, 300, 1), (3, 300, 2), (4, 2000, 3)])
def test_coxph_matches_lifelines(seed, n, p):
    t, e, x, _ = random_survival(seed, n, p)
    names = [f"x{i + 1}" for i in range(p)]
    data = pd.DataFrame(x, columns=names).assign(T=t, E=e)
    cph = CoxPHFitter().fit(data, "T", "E",
                            fit_options={"precision": 1e-14, "r_precision": 0.0})
    s = cph.summary.loc[names]
    fit = cox.coxph(t, e, x, names=names)
    np.testing.assert_allclose(fit.coef, s["coef"], rtol=1e-7)
    np.testing.assert_allclose(fit.se, s["se(coef)"], rtol=1e-7)
    np.testing.assert_allclose(fit.lower, s["exp(coef) lower 95%"], rtol=1e-7)
    np.testing.assert_allclose(fit.upper, s["exp(coef) upper 95%"], rtol=1e-7)
    np.testing.assert_allclose(fit.p, s["p"], rtol=1e-6)
    assert fit.loglik[1] == pytest.approx(cph.log_likelihood_, rel=1e-12)


@pytest.mark.parametrize("seed,n,k", [(5, 30, 2), (6, 500, 3), (7, 3000, 4), (8, 200, 5)])
def test_survdiff_matches_lifelines_with_ties(seed, n, k):
    t, e, _, group = random_survival(seed, n, 1, groups=k)
    lifelines = multivariate_logrank_test(t, group, e)
    res = logrank.survdiff(t, e, group)
    assert len(np.unique(t)) < n / 2 or n <= 30  # ties
    assert res.chisq == pytest.approx(lifelines.test_statistic, rel=1e-10)
    assert res.df == lifelines.degrees_of_freedom
    assert res.p == pytest.approx(lifelines.p_value, rel=1e-9)
    assert res.observed.sum() == e.sum()
    assert res.expected.sum() == pytest.approx(e.sum(), rel=1e-12)


def test_km_transform_is_left_continuous():
    t = np.array([1, 2, 2, 3, 4.0])
    e = np.array([1, 1, 0, 1, 0])
    # S(1-) = 1, S(2-) = 0.8, S(3-) = 0.8 * 3/4 = 0.6, S(4-) = 0.6 * 1/2 = 0.3
    np.testing.assert_allclose(cox.km_transform(t, e), [0, 0.2, 0.2, 0.4, 0.7])


# --------------------------------------------------------------------------- nethep.survival


@cache
def cohort() -> pd.DataFrame:
    return load_cohort()


@pytest.mark.parametrize("by", ["arm", "treatment_group"])
def test_logrank_unchanged_from_lifelines_on_the_bundled_cohort(by):
    """survival.logrank (logrank.survdiff inside) equals the lifelines-based version."""
    df = cohort()
    res = survival.logrank(df, by)
    old = multivariate_logrank_test(df["followup_months"], df[by], df["died"])
    assert res.statistic == pytest.approx(float(old.test_statistic), rel=1e-10)
    assert res.p == pytest.approx(float(old.p_value), rel=1e-10)
    assert res.df == int(old.degrees_of_freedom)


def test_cox_surgical_is_cox_and_matches_r_on_the_bundled_cohort():
    df = cohort()
    res = survival.cox_surgical(df)
    r = reference()["datasets"]["cohort"]["coxph"][0]
    assert res.coef == pytest.approx(r["coef"][0], rel=RTOL)
    assert res.ph_statistic == pytest.approx(r["zph"]["chisq"][0], rel=RTOL)
    assert (res.n, res.events, res.covariate) == (48, int(df["died"].sum()), "surgical")


# --------------------------------------------------------------------------- edges


def test_no_events_and_constant_covariates_are_refused():
    with pytest.raises(ValueError, match="at least one event"):
        cox.coxph([1, 2, 3], [0, 0, 0], [0, 1, 0])
    with pytest.raises(ValueError, match="constant"):
        cox.coxph([1, 2, 3], [1, 0, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="0 \\(censored\\) or 1"):
        cox.coxph([1, 2, 3], [1, 2, 1], [0, 1, 0])


def test_infinite_coefficient_warns_as_r():
    """A group without deaths: R warns 'Loglik converged before variable'."""
    t = np.array([1, 2, 3, 4, 5, 6, 2.5, 3.5, 5.5, 7])
    e = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    x = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox.coxph(t, e, x)
    assert any("may be infinite" in str(w.message) for w in caught)
    assert fit.coef[0] < -10


def test_order_of_rows_does_not_matter():
    t, e, x, group = random_survival(21, 500, 2)
    perm = np.random.default_rng(0).permutation(len(t))
    a, b = cox.coxph(t, e, x), cox.coxph(t[perm], e[perm], x[perm])
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    assert logrank.survdiff(t, e, group).chisq == pytest.approx(
        logrank.survdiff(t[perm], e[perm], group[perm]).chisq, rel=1e-12)


def test_survdiff_group_without_expected_deaths_follows_r():
    """R leaves out groups with no expected deaths (df = groups left - 1)."""
    t = np.array([1, 2, 3, 4, 5, 0.5, 0.6])
    e = np.array([1, 1, 0, 1, 0, 0, 0])
    g = np.array(["a", "a", "b", "b", "b", "c", "c"])
    res = logrank.survdiff(t, e, g)
    assert res.expected[2] == 0
    assert res.df == 1
    two = logrank.survdiff(t[:5], e[:5], g[:5])
    assert res.chisq == pytest.approx(two.chisq, rel=1e-12)


# --------------------------------------------------------------------------- collinear


@cache
def collinear() -> dict:
    return json.loads((REFERENCE_DIR / "collinear.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("i", [0, 1])
def test_collinear_covariate_is_aliased_as_r(i):
    """x3 = age + sex: R's coxph sets the later column of the dependent set to NA and
    fits the rest (tests/reference/make_collinear_reference.R)."""
    ref = collinear()
    r = ref["models"][i]
    df = pd.read_csv(REFERENCE_DIR / ref["csv"])
    with pytest.warns(RuntimeWarning, match=f"collinear covariate\\(s\\) {r['aliased'][0]},"):
        fit = cox.coxph(df["time"], df["event"], df[r["terms"]])
    assert fit.aliased == tuple(r["aliased"])
    kept = [j for j, c in enumerate(r["coef"]) if c is not None]
    gone = [j for j, c in enumerate(r["coef"]) if c is None]
    for key in ("coef", "hr", "lower", "upper", "p"):
        values = getattr(fit, key)
        np.testing.assert_allclose(values[kept], [r[key][j] for j in kept], rtol=RTOL)
        assert all(v is None for v in (r[key][j] for j in gone))
        assert np.isnan(values[gone]).all()
    np.testing.assert_allclose(fit.se[kept], [r["se"][j] for j in kept], rtol=RTOL)
    assert np.isnan(fit.se[gone]).all()  # R prints 0 for the SE of an NA coefficient
    assert np.isnan(fit.var[gone]).all() and np.isnan(fit.var[:, gone]).all()
    np.testing.assert_allclose(fit.loglik, r["loglik"], rtol=RTOL)
    assert (fit.n, fit.events) == (r["n"], r["events"])


def test_collinear_fit_raises_no_linalg_error_and_no_infinite_warning():
    df = pd.read_csv(REFERENCE_DIR / collinear()["csv"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox.coxph(df["time"], df["event"], df[["age", "sex", "x3"]])
    assert not any("infinite" in str(w.message) for w in caught)
    assert math.isnan(fit.hazard_ratio("x3").hr)
    assert fit.hazard_ratio("sex").hr == pytest.approx(collinear()["models"][0]["hr"][1],
                                                       rel=RTOL)


# --------------------------------------------------------------------- how close to R


def test_agreement_with_r_on_the_reference_data_is_as_documented():
    """docs/verification.md: coefficients within 1e-8 and P within 1e-7 (relative) of
    R's coxph on fastcox.json; cox.zph within 1e-8."""
    worst = {"coef": 0.0, "p": 0.0, "zph": 0.0}
    for name, i in COX_CASES:
        r = reference()["datasets"][name]["coxph"][i]
        df = frame(name)
        fit = cox.coxph(df["time"], df["event"], df[r["terms"]], ties=r["ties"])
        zph = cox.cox_zph(df["time"], df["event"], df[r["terms"]], fit.coef, ties=r["ties"])
        for key, ours, theirs in (("coef", fit.coef, r["coef"]), ("p", fit.p, r["p"]),
                                  ("zph", zph.p, r["zph"]["p"])):
            rel = np.abs(ours - np.array(theirs)) / np.abs(np.array(theirs))
            worst[key] = max(worst[key], float(rel.max()))
    assert worst["coef"] < 1e-8 and worst["p"] < 1e-7 and worst["zph"] < 1e-8, worst


def test_difference_from_r_is_r_default_stopping_rule():
    """mgus2 (4 covariates, Breslow): R's default eps = 1e-9 stops up to 5.8e-6 (relative)
    from the maximum on a P value; with eps = 1e-12 R agrees with nethep to 1e-11."""
    ref = json.loads((REFERENCE_DIR / "cox_convergence.json").read_text(encoding="utf-8"))
    df = pd.read_csv(REFERENCE_DIR / ref["csv"])
    fit = cox.coxph(df["time"], df["event"], df[ref["terms"]], ties=ref["ties"])
    default_gap = np.abs(fit.p - ref["default"]["p"]) / np.array(ref["default"]["p"])
    assert 5e-6 < default_gap.max() < 6e-6
    for key in ("coef", "se", "p"):
        np.testing.assert_allclose(getattr(fit, key), ref["tight"][key], rtol=1e-11)


def test_lifelines_behind_cox_reaches_the_maximum():
    """fit_lifelines (FIT_OPTIONS) agrees with coxph to 1e-8 on the bundled cohort's
    adjusted model, where lifelines' default stopping rule is up to 4e-5 (relative) short
    on a coefficient and 8e-5 on a P value."""
    df = cohort()
    data = pd.DataFrame({
        "T": df["followup_months"], "E": df["died"], "surgical": df["surgical"].astype(float),
        "islet_cell": (df["tumor_type"] == "islet_cell").astype(float),
        "liver": df["liver_involvement_pct"].astype(float), "age": df["age_years"].astype(float),
    })
    terms = ["surgical", "islet_cell", "liver", "age"]
    ours = cox.coxph(data["T"], data["E"], data[terms])
    tight, _ = cox.fit_lifelines(data)
    np.testing.assert_allclose(tight.params_[terms], ours.coef, rtol=1e-8)
    np.testing.assert_allclose(tight.summary["p"][terms], ours.p, rtol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = CoxPHFitter().fit(data, "T", "E")
    gap = np.abs(default.params_[terms] - ours.coef) / np.abs(ours.coef)
    assert 1e-5 < gap.max() < 5e-5
    p_gap = np.abs(default.summary["p"][terms] - ours.p) / ours.p
    assert 1e-5 < p_gap.max() < 1e-4


# ------------------------------------------------------------------------ hazard ratio


def test_hazard_ratio_wald_and_results():
    hr = cox.HazardRatio.wald(math.log(0.5), 0.25)
    assert hr.hr == pytest.approx(0.5)
    assert hr.lower == pytest.approx(0.5 * math.exp(-1.959963984540054 * 0.25))
    assert hr.p == pytest.approx(math.erfc(math.log(2) / 0.25 / math.sqrt(2)), rel=1e-12)
    assert hr.to_results() == {"hr": hr.hr, "lower": hr.lower, "upper": hr.upper}
    assert hr.to_results(p=True)["p"] == hr.p
    inf = cox.HazardRatio(hr=0.0, lower=0.0, upper=math.inf)
    assert inf.to_results(p=True) == {"hr": 0.0, "lower": 0.0, "upper": None, "p": None}

"""nethep.survival against R's survival package (reference values, no R needed).

``tests/reference/make_reference.R`` (run by ``make reference``) exports public data
sets that R's survival ships (lung, veteran, ovarian), the bundled cohort and
hand-built edge cases to ``tests/reference/data/*.csv``, and writes what R computes
for them to ``tests/reference/survival_reference.json``. Every estimate here must
agree with R to a relative 1e-6 (absolute 1e-9 near zero); R's NA must be NaN.

Where nethep deliberately differs from R, the test asserts the documented
relationship instead (see the ``nethep.survival`` module docstring):

- times beyond the last follow-up: R's ``summary(extend = FALSE)`` omits them, nethep
  reports n_risk 0 and NaN (or, once S(t) has reached 0, R's ``extend = TRUE`` row);
- median: nethep follows ``quantile.survfit``; ``print``/``summary(fit)$table``
  differ only when the curve ends exactly on 0.5 (then they give the time S(t)
  reached 0.5);
The proportional-hazards test is compared with ``cox.zph`` of the installed
survival (>= 3.0). The survival < 3.0 statistic (``zph_legacy``, its formula
evaluated in R) is recorded only to show that lifelines' ``proportional_hazard_test``
matches neither version, which is why nethep computes the test itself.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

from nethep.cohort import load_cohort
from nethep.km import kaplan_meier
from nethep.survival import cox_surgical, fit_by, followup, logrank

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
REFERENCE = REFERENCE_DIR / "survival_reference.json"
RTOL = 1e-6
ATOL = 1e-9
CONF_TYPES = ("log-log", "log")
PROBS = (0.25, 0.5, 0.75)


@cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def datasets() -> dict:
    return reference()["datasets"]


@cache
def frame(name: str) -> pd.DataFrame:
    """The exported CSV with nethep's column names (followup_months, died)."""
    spec = datasets()[name]
    df = pd.read_csv(REFERENCE_DIR / spec["csv"], keep_default_na=False)
    return df.rename(columns={"time": "followup_months", "event": "died"})


def r_value(x) -> float:
    return float("nan") if x is None else float(x)


def close(actual, expected) -> bool:
    a, e = float(actual), r_value(expected)
    if math.isnan(a) or math.isnan(e):
        return math.isnan(a) and math.isnan(e)
    return abs(a - e) <= max(RTOL * abs(e), ATOL)


class Mismatches:
    """Collects every disagreement so one failure lists them all."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.lines: list[str] = []
        self.checked = 0

    def check(self, what: str, actual, expected, at: str = "") -> None:
        self.checked += 1
        if not close(actual, expected):
            where = f" at {at}" if at else ""
            self.lines.append(f"{self.dataset}: {what}{where}: nethep={float(actual)!r} "
                              f"R={r_value(expected)!r}")

    def fail(self, condition: bool, message: str) -> None:
        self.checked += 1
        if not condition:
            self.lines.append(f"{self.dataset}: {message}")

    def assert_ok(self) -> None:
        assert self.checked > 0, f"{self.dataset}: nothing compared"
        if self.lines:
            pytest.fail(f"{len(self.lines)} disagreement(s) with R:\n" + "\n".join(self.lines[:60]),
                        pytrace=False)


def subsets(name: str):
    """(label, nethep fit factory, R block) for the whole set and every group."""
    spec = datasets()[name]
    df = frame(name)
    out = [("all", lambda ct: kaplan_meier(df["followup_months"], df["died"], conf_type=ct),
            spec["km"])]
    for column in spec["groupings"]:
        for level, block in spec["km_by"][column].items():
            out.append((f"{column}={level}",
                        lambda ct, c=column, lv=level: fit_by(df, c, conf_type=ct)[str(lv)],
                        block))
    return out


NAMES = sorted(datasets())
COX_NAMES = [n for n in NAMES if datasets()[n]["coxph"] is not None]


def test_reference_records_versions_and_sources():
    ref = reference()
    assert ref["r_version_string"].startswith("R version ")
    assert ref["survival_version"]
    for name, spec in datasets().items():
        assert spec["source"], name
        assert (REFERENCE_DIR / spec["csv"]).is_file(), name
        assert len(frame(name)) == spec["n"], name
        assert int(frame(name)["died"].sum()) == spec["events"], name


def test_cohort_export_is_the_bundled_cohort():
    """The reference cohort CSV holds exactly the bundled data (else rerun make reference)."""
    exported = frame("cohort").set_index("patient_id")
    bundled = load_cohort()
    assert list(exported.index) == list(bundled["patient_id"])
    np.testing.assert_array_equal(exported["followup_months"].to_numpy(float),
                                  bundled["followup_months"].to_numpy(float))
    np.testing.assert_array_equal(exported["died"].to_numpy(int), bundled["died"].to_numpy(int))
    assert list(exported["group"]) == list(bundled["treatment_group"])
    assert list(exported["arm"]) == list(bundled["arm"])


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("name", NAMES)
def test_kaplan_meier_at_times(name, conf_type):
    """S(t), SE of S(t), CI and n at risk, as summary(fit, times) reports them."""
    m = Mismatches(name)
    times = datasets()[name]["times"]
    for label, fit_for, block in subsets(name):
        r = block[conf_type]
        fit = fit_for(conf_type)
        got = fit.at(times).set_index("time")
        reported = dict(zip(r["summary"]["time"], range(len(r["summary"]["time"])), strict=True))
        ext = r["summary_extend"]
        assert ext["time"] == times
        last_time = float(fit.time[-1])
        for k, t in enumerate(times):
            row = got.loc[float(t)]
            at = f"t={t} ({label}, {conf_type})"
            if t in reported:
                i = reported[t]
                for col in ("n_risk", "surv", "std_err", "lower", "upper"):
                    m.check(col, row[col], r["summary"][col][i], at)
                continue
            # Beyond the last follow-up R (extend = FALSE) reports nothing. nethep gives
            # n_risk 0 and NaN, or R's extend = TRUE row once the curve has reached 0.
            m.fail(t > last_time, f"R omitted t={t} ({label}) inside follow-up")
            m.check("n_risk beyond follow-up", row["n_risk"], ext["n_risk"][k], at)
            if r_value(ext["surv"][k]) == 0:
                for col in ("surv", "std_err", "lower", "upper"):
                    m.check(f"{col} beyond follow-up (S = 0)", row[col], ext[col][k], at)
            else:
                for col in ("surv", "std_err", "lower", "upper"):
                    m.check(f"{col} beyond follow-up (not estimable)", row[col], None, at)
    m.assert_ok()


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("name", NAMES)
def test_quantiles_and_median(name, conf_type):
    """quantile(fit, c(.25, .5, .75)) with CI; median() is the 0.5 quantile."""
    m = Mismatches(name)
    for label, fit_for, block in subsets(name):
        r = block[conf_type]
        fit = fit_for(conf_type)
        for i, p in enumerate(r["quantile"]["probs"]):
            q, lo, hi = fit.quantile(p)
            at = f"p={p} ({label}, {conf_type})"
            m.check("quantile", q, r["quantile"]["quantile"][i], at)
            m.check("quantile lower CL", lo, r["quantile"]["lower"][i], at)
            m.check("quantile upper CL", hi, r["quantile"]["upper"][i], at)
        med, lo, hi = fit.median()
        at = f"({label}, {conf_type})"
        m.check("median", med, r["quantile"]["quantile"][1], at)
        m.check("median lower CL", lo, r["quantile"]["lower"][1], at)
        m.check("median upper CL", hi, r["quantile"]["upper"][1], at)
        # print.survfit's table (survmean) agrees with quantile() except where the
        # curve ends on exactly 0.5: then it gives the time S(t) reached 0.5.
        table_median = r_value(r["table"]["median"])
        if close(med, table_median):
            continue
        ends_on_half = np.flatnonzero(np.abs(fit.surv - 0.5) < 1e-8)
        m.fail(len(ends_on_half) > 0 and np.all(fit.surv[ends_on_half[0]:] > 0.5 - 1e-8),
               f"median {med} != R table median {table_median} ({label}) without the "
               "curve ending on 0.5")
        if len(ends_on_half):
            m.check("table median (curve ends on 0.5)", fit.time[ends_on_half[0]],
                    table_median, at)
    m.assert_ok()


@pytest.mark.parametrize("name", NAMES)
def test_reverse_km_followup(name):
    """followup(): reverse Kaplan-Meier median and quartiles, R quantile.survfit."""
    m = Mismatches(name)
    df = load_cohort() if name == "cohort" else frame(name)
    fu = followup(df)
    r = datasets()[name]["reverse_km"]
    got = dict(zip(PROBS, (fu.reverse_km_q1, fu.reverse_km_median, fu.reverse_km_q3),
                   strict=True))
    for p, q in zip(r["probs"], r["quantile"], strict=True):
        m.check("reverse KM quantile", got[p], q, f"p={p}")
    m.check("median of observed times", fu.simple_median,
            float(np.median(frame(name)["followup_months"])))
    m.assert_ok()


LOGRANK_CASES = [(n, c) for n in NAMES for c in datasets()[n]["survdiff"]]


@pytest.mark.parametrize(("name", "column"), LOGRANK_CASES)
def test_logrank_matches_survdiff(name, column):
    m = Mismatches(name)
    r = datasets()[name]["survdiff"][column]
    if name == "cohort":
        df, by = load_cohort(), {"group": "treatment_group", "arm": "arm"}[column]
    else:
        df, by = frame(name), column
    res = logrank(df, by=by)
    at = f"'{column}'"
    m.check("log-rank chisq", res.statistic, r["chisq"], at)
    m.check("log-rank df", res.df, r["df"], at)
    m.check("log-rank P", res.p, r["p"], at)
    observed = dict(zip(res.groups, res.observed, strict=True))
    expected = dict(zip(res.groups, res.expected, strict=True))
    m.fail(sorted(observed) == sorted(r["levels"]),
           f"groups {sorted(observed)} != R levels {sorted(r['levels'])}")
    for i, level in enumerate(r["levels"]):
        m.check("observed", observed.get(level, np.nan), r["observed"][i], f"{at}={level}")
        m.check("expected", expected.get(level, np.nan), r["expected"][i], f"{at}={level}")
    m.assert_ok()


def cox_frame(name: str) -> pd.DataFrame:
    if name == "cohort":
        return load_cohort()
    spec = datasets()[name]["coxph"]
    df = frame(name)
    return df.assign(surgical=(df[spec["column"]].astype(str) == spec["level"]))


@pytest.mark.parametrize("name", COX_NAMES)
def test_cox_matches_coxph_efron(name):
    """cox_surgical (nethep.cox, Efron ties) vs coxph(ties = "efron") of the indicator."""
    m = Mismatches(name)
    r = datasets()[name]["coxph"]
    res = cox_surgical(cox_frame(name))
    at = f"({r['column']} == {r['level']})"
    for attr in ("coef", "se"):
        m.check(f"Cox {attr}", getattr(res, attr), r[attr], at)
    for attr in ("hr", "lower", "upper", "p"):
        m.check(f"Cox {attr}", getattr(res.hazard_ratio, attr), r[attr], at)
    m.check("Cox n", res.n, r["n"], at)
    m.check("Cox events", res.events, r["events"], at)
    m.assert_ok()


@pytest.mark.parametrize("name", COX_NAMES)
def test_ph_test_matches_cox_zph(name):
    """cox_surgical's PH test is cox.zph(fit, transform = "km") of survival >= 3.0."""
    m = Mismatches(name)
    r = datasets()[name]["coxph"]["zph"]
    res = cox_surgical(cox_frame(name))
    m.check(f"PH chisq ({r['method']})", res.ph_statistic, r["chisq"])
    m.check(f"PH P ({r['method']})", res.ph_p, r["p"])
    m.check("PH df", 1, r["df"])
    m.assert_ok()


@pytest.mark.parametrize("name", COX_NAMES)
def test_lifelines_ph_test_is_neither_r_version(name):
    """Why nethep does not use lifelines' proportional_hazard_test (documented).

    lifelines implements the survival < 3.0 approximation but with a right-continuous
    KM transform, so it matches neither the current cox.zph nor the old one (whose
    formula make_reference.R evaluates in R as ``zph_legacy``).
    """
    df = cox_frame(name)
    data = pd.DataFrame({"T": df["followup_months"].astype(float), "E": df["died"].astype(int),
                         "x": df["surgical"].astype(float)})
    cph = CoxPHFitter().fit(data, "T", "E", fit_options={"precision": 1e-14, "r_precision": 0})
    lifelines_chisq = float(np.ravel(proportional_hazard_test(
        cph, data, time_transform="km").test_statistic)[0])
    coxph = datasets()[name]["coxph"]
    assert not close(lifelines_chisq, coxph["zph"]["chisq"]), name
    assert not close(lifelines_chisq, coxph["zph_legacy"]["chisq"]), name

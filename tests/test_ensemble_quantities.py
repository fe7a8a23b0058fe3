"""The ensemble's Firth HR and Monte Carlo permutation P per member (issue 11, items 5 and 7).

- ``firth_*``: the batched Firth fit (:func:`nethep.coxbatch.firth`, via
  :func:`nethep.reconstruct.quantities.firth_and_permutation`) equals
  :func:`nethep.firth.firth_coxph` (itself verified against R in ``test_firth.py``) on
  at least 20 shipped members (22 today), HR and profile CI limits to 1e-6 relative, P
  to 1e-6;
- ``mc_permutation_*``: the batched Monte Carlo permutation P equals
  :func:`nethep.permutation.permutation_logrank` with the same seed, relabelling for
  relabelling (same count of extreme relabellings), on shipped members and on cohorts
  of other group sizes; it lies within Monte Carlo error of the exact P
  (:func:`nethep.exact_logrank.exact_logrank`) on 6 members; a member's P does not depend
  on which other members are in the batch;
- the summary: the new quantities' ranges, conclusions, results keys and the findings
  sentence of notebook 07, recomputed from the quantities.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethep import load_cohort
from nethep.exact_logrank import exact_logrank
from nethep.firth import firth_coxph
from nethep.formats import format_p
from nethep.permutation import permutation_logrank, permutation_logrank_batch
from nethep.reconstruct import batch
from nethep.reconstruct.quantities import (
    COLUMNS,
    N_PERMUTATIONS,
    cohort_arrays,
    firth_and_permutation,
    quantities,
    tipping_points,
)
from nethep.reconstruct.store import ENSEMBLE_DIR
from nethep.reconstruct.summary import LABELS, ensemble_summary, fmt, missing_words

NEW = ("firth_hr", "firth_lower", "firth_upper", "firth_p", "mc_permutation_p",
       "mc_permutation_se")


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    """The shipped members as (1000, 48) arrays (read directly, not via load_ensemble)."""
    long = pd.read_csv(Path(ENSEMBLE_DIR) / "members.csv.gz", dtype={"patient_id": str})
    return cohort_arrays(long.drop(columns="member"))


def _rows(a: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in a.items()}


def test_firth_per_member_equals_firth_coxph(arrays):
    """At least 20 members (of the first 300: the first 12, the 4 smallest and 4 largest
    batched HRs, and the 4 largest P, without repeats), each against the single-cohort
    fit."""
    full = firth_and_permutation(_rows(arrays, np.arange(300)), n_permutations=1)
    hr = full["firth_hr"]
    idx = np.unique(np.r_[0:12, np.argsort(hr)[:4], np.argsort(hr)[-4:],
                          np.argsort(full["firth_p"])[-4:]])
    assert len(idx) >= 20
    for i in idx:
        t, d, s = (arrays[k][i] for k in ("time", "died", "surgical"))
        ref = firth_coxph(t, d, s.astype(float))
        for col, want in (("firth_hr", ref.hr[0]), ("firth_lower", ref.lower[0]),
                          ("firth_upper", ref.upper[0])):
            assert full[col][i] == pytest.approx(want, rel=1e-6), (i, col)
        assert full["firth_p"][i] == pytest.approx(ref.p[0], rel=1e-6, abs=1e-9), i
        assert full["firth_lower"][i] < full["firth_hr"][i] < full["firth_upper"][i]


def test_batch_permutation_equals_permutation_logrank(arrays):
    """Same seed, same relabellings: the same count of extreme relabellings."""
    idx = np.arange(8)
    b = 20_000
    p, se = permutation_logrank_batch(arrays["time"][idx], arrays["died"][idx],
                                      arrays["surgical"][idx], n_permutations=b, seed=7)
    for i in idx:
        one = permutation_logrank(arrays["time"][i], arrays["died"][i],
                                  arrays["surgical"][i], n_permutations=b, seed=7)
        assert round(p[i] * b) == one.n_extreme, i
        assert se[i] == pytest.approx(one.mc_se, rel=1e-12, abs=1e-15)


def test_batch_permutation_other_group_sizes_and_no_deaths():
    """Cohorts of different group sizes in one call (smaller group first or second,
    equal groups), heavy ties, and a cohort without deaths (NaN)."""
    rng = np.random.default_rng(3)
    n = 20
    time = np.round(rng.exponential(10, (6, n)), 0) + 1  # many tied times
    died = (rng.random((6, n)) < 0.6).astype(float)
    first = np.zeros((6, n), bool)
    for r, k in enumerate((3, 17, 10, 5, 1, 8)):
        first[r, rng.permutation(n)[:k]] = True
    died[5] = 0
    p, _ = permutation_logrank_batch(time, died, first, n_permutations=5_000, seed=11)
    for r in range(5):
        one = permutation_logrank(time[r], died[r], first[r], n_permutations=5_000, seed=11)
        assert p[r] == one.p, r
    assert np.isnan(p[5])


def test_mc_permutation_p_within_monte_carlo_error_of_exact(arrays):
    """|P_MC - P_exact| <= 4 Monte Carlo SE + half the exact bounds' width."""
    idx = np.array([0, 1, 2, 3, 4, 5])
    got = firth_and_permutation(_rows(arrays, idx))
    for j, i in enumerate(idx):
        ex = exact_logrank(arrays["time"][i], arrays["died"][i], arrays["surgical"][i],
                           rtol=0.01)
        se = np.sqrt(ex.p * (1 - ex.p) / N_PERMUTATIONS)
        slack = 4 * se + (ex.p_upper - ex.p_lower) / 2
        assert abs(got["mc_permutation_p"][j] - ex.p) <= slack, (i, ex.p)
        assert got["mc_permutation_se"][j] == pytest.approx(
            np.sqrt(got["mc_permutation_p"][j] * (1 - got["mc_permutation_p"][j])
                    / N_PERMUTATIONS))


def _same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """Permutation P identical (the same relabellings); Firth to 1e-12 (a batch's size
    changes the floating-point rounding of its matrix products, not the estimate)."""
    for k in NEW:
        if k.startswith("mc_"):
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        else:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-12, err_msg=k)


def test_member_values_do_not_depend_on_the_batch(arrays):
    """Members 5-9 alone equal members 5-9 within the first 60 (prefix stability)."""
    alone = firth_and_permutation(_rows(arrays, np.arange(5, 10)), n_permutations=20_000)
    within = firth_and_permutation(_rows(arrays, np.arange(60)), n_permutations=20_000)
    _same(alone, {k: v[5:10] for k, v in within.items()})


def test_shipped_quantities_hold_the_new_columns(arrays):
    """The shipped quantities.csv holds these columns, and its values are the ones
    recomputed here (24 members)."""
    q = pd.read_csv(Path(ENSEMBLE_DIR) / "quantities.csv", float_precision="round_trip")
    idx = np.r_[0:24]
    _same(firth_and_permutation(_rows(arrays, idx)),
          {k: q[k].to_numpy()[idx] for k in NEW})


# ------------------------------------------------------------------------- summary


@pytest.fixture(scope="module")
def summary():
    """The summary of the shipped ensemble beside the bundled cohort."""
    return ensemble_summary(load_cohort())


def test_summary_of_the_new_quantities(summary):
    q = summary.quantities
    t = summary.table().set_index("quantity")
    for col in NEW:
        v = q[col].dropna().to_numpy(float)
        assert t.loc[col, "median"] == pytest.approx(np.median(v))
        assert t.loc[col, "lower"] == pytest.approx(np.quantile(v, 0.025))
        assert t.loc[col, "upper"] == pytest.approx(np.quantile(v, 0.975))
    c = summary.conclusions().set_index("statement")["share"]
    assert c["Firth HR 95% CI excludes 1"] == pytest.approx((q["firth_upper"] < 1).mean())
    assert c["Firth penalised LR P < .05"] == pytest.approx((q["firth_p"] < 0.05).mean())
    assert c["Permutation P < .05 (Monte Carlo)"] == pytest.approx(
        (q["mc_permutation_p"] < 0.05).mean())
    res = summary.to_results()
    assert {k: set(res["quantities"][k]) for k in NEW} == {
        k: {"median", "lower", "upper", "bundled", "n_estimable"} for k in NEW}
    assert res["conclusions"]["c01"]["statement"] == "HR < 1"  # earlier keys unchanged
    rows = summary.wide("test", ("firth_hr", "mc_permutation_p"))
    assert rows.shape == (2, 2 + 3)
    assert rows.loc[rows.index[1], "bundled"] == format_p(summary.bundled["mc_permutation_p"])


def test_bundled_values_are_notebook_05s(summary):
    """The bundled cohort's Firth HR and Monte Carlo P are those notebook 05 reports
    (firth_coxph; permutation_logrank with 100,000 relabellings and the default seed)."""
    df = load_cohort()
    t, d, s = df["followup_months"], df["died"], df["treatment_group"] == "surgical"
    fit = firth_coxph(t, d, s.astype(float))
    assert summary.bundled["firth_hr"] == pytest.approx(fit.hr[0], rel=1e-6)
    assert summary.bundled["firth_upper"] == pytest.approx(fit.upper[0], rel=1e-6)
    mc = permutation_logrank(t, d, df["arm"], n_permutations=N_PERMUTATIONS)
    assert summary.bundled["mc_permutation_p"] == mc.p
    assert summary.bundled["mc_permutation_se"] == pytest.approx(mc.mc_se)


def _range(v: pd.Series, places: int) -> str:
    v = v.dropna().to_numpy(float)
    lo, med, hi = np.quantile(v, [0.025, 0.5, 0.975])
    return f"{med:.{places}f} ({lo:.{places}f} to {hi:.{places}f})"


def test_findings_sentence_from_the_quantities(summary):
    q = summary.quantities
    text = summary.findings()
    assert text.startswith(f"Across {len(q):,} cohorts that all reproduce the abstract")
    assert f"hazard ratio of surgical vs non-surgical, is {_range(q['firth_hr'], 2)}" in text
    assert f"the Cox HR {_range(q['hr'], 2)}" in text
    assert f"at 36 months {_range(q['rmst36_diff'], 1)} months" in text
    assert f"surgical deaths {_range(q['deaths_surgical'], 0)} and the adjusted HR" in text
    p = q["mc_permutation_p"]
    se = re.search(r"relabellings per member \(Monte Carlo SE at most (\.\d{5})\), is ", text)
    assert se and abs(float(se.group(1)) - q["mc_permutation_se"].max()) <= 5e-6
    assert (f"), is {format_p(p.median())} ({format_p(p.quantile(0.025))} "
            f"to {format_p(p.quantile(0.975))})") in text
    assert f"Firth HR {summary.bundled['firth_hr']:.2f}" in text
    first = summary.bundled["first_death_surgical_months"]
    first = fmt("first_death_surgical_months", first)
    assert f"the bundled cohort's first surgical death is at {first} months" in text
    every = (q["hr_upper"] < 1).all() and (q["firth_upper"] < 1).all()
    assert ("its Wald 95% CI excludes 1, the Firth HR's profile 95% CI excludes 1"
            in text) == bool(every)
    share = (q["palliation_surgical"] > q[["palliation_medical",
                                           "palliation_embolization"]].max(axis=1)).mean()
    assert f"highest after surgery (in {100 * share:.0f}% of members)" in text
    assert "nan" not in text and "inf" not in text


def test_findings_say_what_is_not_everywhere_or_not_estimable(summary):
    """One member whose Firth CI reaches 1 is counted, not rounded to 100%; a quantity
    estimable in no member is said in words."""
    q = summary.quantities.copy()
    q.loc[0, "firth_upper"] = 1.2
    q["adjusted_hr"] = np.nan
    other = type(summary)(q, summary.bundled, summary.manifest)
    text = other.findings()
    share = (q["firth_upper"] < 1).mean()
    assert share < 1
    assert re.search(r"the Firth HR's profile 95% CI excludes 1 in (more than )?99\.9% of "
                     "members", text)
    assert "the adjusted HR not estimable in any member" in text


def test_batch_permutation_refuses_no_relabellings_and_says_empty_group():
    time = np.array([[1.0, 2.0, 3.0, 4.0]])
    died = np.array([[1.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="at least 1"):
        permutation_logrank_batch(time, died, np.array([[True, False, True, False]]), 0)
    p, se = permutation_logrank_batch(time, died, np.zeros((1, 4), bool), 10)
    assert np.isnan(p[0]) and np.isnan(se[0])


def test_bundled_values_missing_are_said_in_words(summary):
    """A bundled surgical median not reached is said so, not shown as a number."""
    bundled = summary.bundled.copy()
    bundled["median_surgical"] = np.nan
    other = type(summary)(summary.quantities, bundled, summary.manifest)
    assert other.wide().loc[LABELS["median_surgical"], "bundled"] == "not reached"
    assert missing_words("firth_hr") == "not estimable"


# --------------------------------------------------------- the batched engines' speed-ups


def _logrank_chisq_direct(time: np.ndarray, group: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Log-rank chi-square of one cohort under many event patterns (rows of ``events``),
    straight from the definition at each distinct time (no sorting, no cumulative sums):
    observed minus expected surgical deaths and the hypergeometric variance."""
    u = np.unique(time)
    at = (time[None, :] == u[:, None]).astype(float)  # (times, patients)
    risk = (time[None, :] >= u[:, None]).astype(float)
    n, n1 = risk.sum(1), risk @ group
    d, d1 = events @ at.T, (events * group) @ at.T
    frac = n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, d * frac * (1 - frac) * (n - d) / (n - 1), 0.0).sum(1)
        return (d1 - d * frac).sum(1) ** 2 / var


def _worst_by_enumeration(time, died, surgical, earliest) -> float:
    """The fewest censored surgical deaths (any choice of patients) for P >= .05."""
    if not np.isfinite(earliest) or earliest <= 1:
        return earliest
    group = surgical.astype(float)
    idx = np.flatnonzero(surgical & (died == 0))
    for k in range(1, int(earliest)):
        subsets = np.array(list(itertools.combinations(idx, k)))
        events = np.repeat(died[None, :], len(subsets), axis=0)
        np.put_along_axis(events, subsets, 1.0, axis=1)
        if (stats.chi2.sf(_logrank_chisq_direct(time, group, events), 1) >= 0.05).any():
            return float(k)
    return earliest


def test_tipping_worst_case_by_enumeration(arrays):
    """The vectorised worst case equals a subset-by-subset enumeration with a log-rank
    computed from its definition, and the shipped values (made by the former
    per-member loop), on every shipped member whose worst case is below its earliest-
    first answer and on 8 where they are equal."""
    q = pd.read_csv(Path(ENSEMBLE_DIR) / "quantities.csv")
    early, worst = q["tipping_earliest"].to_numpy(), q["tipping_worst"].to_numpy()
    below = np.flatnonzero(worst < early)
    equal = np.flatnonzero((worst == early) & (early >= 3))[:8]
    idx = np.r_[below, equal, np.flatnonzero(np.isnan(early))[:1]]
    assert len(below) >= 20
    got_early, got_worst = tipping_points(_rows(arrays, idx))
    np.testing.assert_array_equal(got_early, early[idx])
    np.testing.assert_array_equal(got_worst, worst[idx])
    for j, i in enumerate(idx):
        t, d, s = (arrays[k][i] for k in ("time", "died", "surgical"))
        assert _worst_by_enumeration(t, d, s, got_early[j]) == got_worst[j] or (
            np.isnan(got_worst[j]) and np.isnan(early[i])), i


def test_logrank_p_events_equals_logrank_p(arrays):
    """Many event patterns over the same cohorts: the same chi-square and P, bit for
    bit, as logrank_p on the repeated cohorts (and as the definition to 1e-10)."""
    rng = np.random.default_rng(5)
    time, grp = arrays["time"][:30], arrays["surgical"][:30].astype(float)
    owner = rng.integers(0, 30, 400)
    events = (rng.random((400, time.shape[1])) < 0.5).astype(float)
    events[:5] = 0.0  # no deaths: NaN
    chisq, p = batch.logrank_p_events(time, grp, events, owner)
    want_chisq, want_p = batch.logrank_p(time[owner], events, grp[owner])
    np.testing.assert_array_equal(chisq, want_chisq)
    np.testing.assert_array_equal(p, want_p)
    assert np.isnan(p[:5]).all()
    for j in range(5, 40):
        direct = _logrank_chisq_direct(time[owner[j]], grp[owner[j]], events[j][None, :])[0]
        assert chisq[j] == pytest.approx(direct, rel=1e-10), j


def test_cox_fit_does_not_depend_on_its_blocks(arrays, monkeypatch):
    """Cox fits in blocks of one row equal the default blocks bit for bit (rows are
    independent), for the unadjusted, adjusted and weighted landmark models; sorting
    once (``s``) changes nothing either."""
    a = _rows(arrays, np.arange(60))
    grp = a["surgical"].astype(float)
    adjusted = np.stack([grp, a["islet"], a["liver"], a["age"]], axis=-1)
    keep = (a["time"] > 3.0).astype(float)
    fits = {"unadjusted": (a["time"], a["died"], grp[..., None]),
            "adjusted": (a["time"], a["died"], adjusted),
            "landmark": (a["time"] - 3.0, a["died"], grp[..., None], keep)}
    default = {k: batch.cox_fit(*v) for k, v in fits.items()}
    assert batch.CELLS // (48 * 21) > 1  # the default blocks hold several rows
    monkeypatch.setattr(batch, "CELLS", 1)
    for name, args in fits.items():
        one = batch.cox_fit(*args)
        for field in ("coef", "se", "score_chisq", "converged"):
            np.testing.assert_array_equal(getattr(one, field), getattr(default[name], field),
                                          err_msg=f"{name} {field}")
    sorted_once = batch.cox_fit(*fits["adjusted"], s=batch.sort_times(a["time"]))
    np.testing.assert_array_equal(sorted_once.coef, default["adjusted"].coef)


def test_quantities_equal_the_shipped_rows(arrays):
    """quantities() of the first 120 members equals the shipped quantities.csv (written
    by the former code) exactly, except the Firth columns (a batch's size changes the
    rounding of their matrix products; 1e-12)."""
    q = pd.read_csv(Path(ENSEMBLE_DIR) / "quantities.csv", float_precision="round_trip")
    got = quantities(_rows(arrays, np.arange(120)))
    for col in COLUMNS:
        want = q[col].to_numpy(float)[:120]
        if col.startswith("firth_"):
            np.testing.assert_allclose(got[col], want, rtol=1e-12, err_msg=col)
        else:
            np.testing.assert_array_equal(got[col].to_numpy(float), want, err_msg=col)

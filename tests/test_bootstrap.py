"""nethep.bootstrap: the stratified bootstrap of a Kaplan-Meier difference, and the
batched Kaplan-Meier it uses (nethep.km.survival_at_weighted), against the plain
Kaplan-Meier and scipy.stats.bootstrap on the same resamples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nethep import bootstrap as boot_module
from nethep.bootstrap import bootstrap_survival_difference
from nethep.km import kaplan_meier, survival_at_weighted

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "coin.json").read_text(encoding="utf-8"))
COHORT_ARM = REFERENCE["cohort_arm"]
COHORT_GROUP = REFERENCE["cohort_treatment_group"]


def data(ref):
    return np.array(ref["time"], float), np.array(ref["event"], int), np.array(ref["group"])


def test_vectorized_kaplan_meier_equals_kaplan_meier():
    time, event, group = data(COHORT_ARM)
    rng = np.random.default_rng(2)
    for arm in ("surgical", "nonsurgical"):
        t, e = time[group == arm], event[group == arm]
        weights = boot_module._resample_weights(len(t), 150, rng)
        # plus resamples of only patients censored before 36 months (not estimable)
        short = np.flatnonzero((t < 36) & (e == 0))
        extra = np.zeros((3, len(t)), int)
        for row in extra:
            np.add.at(row, rng.choice(short, len(t)), 1)
        weights = np.vstack([weights, extra])
        fast = survival_at_weighted(t, e, weights, 36)
        n_missing = 0
        for w, value in zip(weights, fast, strict=True):
            idx = np.repeat(np.arange(len(t)), w)
            slow = kaplan_meier(t[idx], e[idx]).at([36])["surv"].iloc[0]
            if np.isnan(slow):
                n_missing += 1
                assert np.isnan(value)
            else:
                assert value == pytest.approx(slow, rel=1e-12, abs=1e-15)
        assert n_missing >= 3  # the not-estimable branch is exercised


def rebuild_distribution(time, event, group, n_resamples, seed, at=36):
    """The bootstrap distribution, drawn again in the documented order."""
    rng = np.random.default_rng(seed)
    arms = [(time[group == g], event[group == g]) for g in ("surgical", "nonsurgical")]
    boot = [survival_at_weighted(t, e, boot_module._resample_weights(len(t), n_resamples, rng), at)
            for t, e in arms]
    return boot[0] - boot[1], arms


def test_bootstrap_intervals_equal_scipy_on_the_same_distribution():
    time, event, group = data(COHORT_ARM)
    res = bootstrap_survival_difference(time, event, group, n_resamples=3000, seed=8)
    boot, arms = rebuild_distribution(time, event, group, 3000, 8)
    kept = boot[np.isfinite(boot)]
    assert res.n_nonestimable == 3000 - len(kept)

    def statistic(i, j, axis=-1):
        def km(idx, arm):
            t, e = arms[arm]
            flat = np.asarray(idx, int).reshape(-1, idx.shape[-1])
            w = np.stack([np.bincount(row, minlength=len(t)) for row in flat])
            return survival_at_weighted(t, e, w, 36).reshape(idx.shape[:-1])
        return km(i, 0) - km(j, 1)

    class Previous:
        bootstrap_distribution = kept

    samples = (np.arange(len(arms[0][0])), np.arange(len(arms[1][0])))
    for method, lo, hi in (("BCa", res.bca_lower, res.bca_upper),
                           ("percentile", res.percentile_lower, res.percentile_upper)):
        ci = stats.bootstrap(samples, statistic, n_resamples=0, bootstrap_result=Previous,
                             method=method, vectorized=True).confidence_interval
        assert (lo, hi) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15)
    assert res.estimate == pytest.approx(statistic(*(s[None] for s in samples))[0])


def test_bootstrap_estimate_matches_kaplan_meier_and_reports_nonestimable():
    time, event, group = data(COHORT_ARM)
    res = bootstrap_survival_difference(time, event, group, n_resamples=4000)
    s_t = kaplan_meier(time[group == "surgical"], event[group == "surgical"]).at([36])
    s_c = kaplan_meier(time[group == "nonsurgical"], event[group == "nonsurgical"]).at([36])
    assert res.surv_treated == pytest.approx(s_t["surv"].iloc[0])
    assert res.surv_control == pytest.approx(s_c["surv"].iloc[0])
    assert res.estimate == pytest.approx(res.surv_treated - res.surv_control)
    assert res.treated == "surgical" and res.control == "nonsurgical"
    # a resample is excluded when either arm (or both) has no estimate
    assert max(res.n_nonestimable_treated, res.n_nonestimable_control) <= res.n_nonestimable
    assert res.n_nonestimable <= res.n_nonestimable_treated + res.n_nonestimable_control
    assert f"{res.n_nonestimable} of 4000" in res.nonestimable_handling
    assert res.percentile_lower < res.estimate < res.percentile_upper
    assert res.bca_lower < res.bca_upper
    again = bootstrap_survival_difference(time, event, group, n_resamples=4000)
    assert again == res


def test_bootstrap_counts_frequent_nonestimable_resamples():
    # one treated patient is followed past 36: about (1 - 1/6)^6 = 33% of resamples miss it
    time = np.array([5, 10, 20, 25, 30, 40, 3, 8, 12, 40, 50, 60.0])
    event = np.array([1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0])
    group = np.array(["surgical"] * 6 + ["other"] * 6)
    res = bootstrap_survival_difference(time, event, group, n_resamples=5000, seed=2)
    boot, _ = rebuild_distribution(time, event, np.where(group == "other", "nonsurgical",
                                                         group), 5000, 2)
    assert res.n_nonestimable == int(np.sum(~np.isfinite(boot)))
    assert 0.25 < res.n_nonestimable_treated / 5000 < 0.42
    assert res.percentile_lower == pytest.approx(np.percentile(boot[np.isfinite(boot)], 2.5))


def test_bootstrap_input_errors():
    time, event, group = data(COHORT_GROUP)
    with pytest.raises(ValueError, match="exactly two labels"):
        bootstrap_survival_difference(time, event, group)
    t2, e2, g2 = data(COHORT_ARM)
    with pytest.raises(ValueError, match="treated='resection'"):
        bootstrap_survival_difference(t2, e2, g2, treated="resection")
    with pytest.raises(ValueError, match="not estimable"):
        bootstrap_survival_difference(t2, e2, g2, at=100)

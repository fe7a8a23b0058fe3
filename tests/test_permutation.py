"""Tests for coin's log-rank scores and statistics (nethep.logrank_scores), the vectorized
Monte Carlo permutation test (nethep.permutation), the exact shift-algorithm P
(nethep.exact_logrank) and the stratified bootstrap.

Reference values come from R's coin (tests/reference/coin.json, written by
tests/reference/make_coin_reference.R); every reference data set is stored in the JSON,
so these tests recompute on exactly the numbers R saw.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethep import permutation as perm
from nethep.bootstrap import bootstrap_survival_difference
from nethep.cohort import BUNDLED_COHORT
from nethep.exact_logrank import exact_logrank
from nethep.logrank_scores import SQRT_EPS, logrank_scores, score_design
from nethep.robustness import SmallSampleInference
from nethep.survival import logrank

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "coin.json").read_text(encoding="utf-8")
)
COHORT_ARM = REFERENCE["cohort_arm"]
COHORT_GROUP = REFERENCE["cohort_treatment_group"]
ALL_SETS = [COHORT_ARM, COHORT_GROUP, *REFERENCE["exact"], REFERENCE["three_group_small"]]


def data(ref):
    return np.array(ref["time"], float), np.array(ref["event"], int), np.array(ref["group"])


def set_id(ref):
    return ref["name"]


# ------------------------------------------------------------------- plain reference


def plain_coin_statistic(scores: np.ndarray, labels: np.ndarray, levels) -> float:
    """coin's statistic for one labelling, straight from its definition (Strasser and
    Weber 1999): T = X'a, E, V with the conditional covariance, Z or (T-E)' V^+ (T-E)."""
    n = len(scores)
    x = (labels[:, None] == np.asarray(levels)[None, :]).astype(float)
    t = x.T @ scores
    mu = scores.mean()
    vh = np.mean((scores - mu) ** 2)
    e = x.sum(axis=0) * mu
    cs = x.sum(axis=0)
    v = n / (n - 1) * vh * (x.T @ x) - vh / (n - 1) * np.outer(cs, cs)
    if len(levels) == 2:
        return float((t[0] - e[0]) / math.sqrt(v[0, 0]))
    return float((t - e) @ np.linalg.pinv(v) @ (t - e))


def enumerate_exact_p(time, event, group) -> float:
    """Two-sided exact P by listing every assignment (coin's tolerance on |Z|)."""
    scores = logrank_scores(time, event)
    levels = sorted(set(group))
    n = len(scores)
    first = np.asarray(group) == levels[0]
    n1 = int(first.sum())
    mu = scores.mean()
    sd = math.sqrt(np.sum((scores - mu) ** 2) / n * n1 * (n - n1) / (n - 1))
    z_obs = (scores[first].sum() - n1 * mu) / sd
    combos = np.array(list(itertools.combinations(range(n), n1)))
    z = (scores[combos].sum(axis=1) - n1 * mu) / sd
    return float(np.mean(np.abs(z) >= abs(z_obs) - SQRT_EPS))


# --------------------------------------------------------------------- reference data


def test_reference_data_match_bundled_cohort():
    df = pd.read_csv(BUNDLED_COHORT)  # plain read: load_cohort is tested elsewhere
    df["arm"] = np.where(df["treatment_group"] == "surgical", "surgical", "nonsurgical")
    assert np.array_equal(df["followup_months"].to_numpy(float), COHORT_ARM["time"]) and \
        np.array_equal(df["died"].to_numpy(int), COHORT_ARM["event"]) and \
        list(df["arm"]) == COHORT_ARM["group"] and \
        list(df["treatment_group"]) == COHORT_GROUP["group"], (
            "data/cohort.csv changed since tests/reference/coin.json was written: "
            "rerun Rscript tests/reference/make_coin_reference.R")


@pytest.mark.parametrize("ref", ALL_SETS, ids=set_id)
def test_logrank_scores_equal_coin(ref):
    time, event, _ = data(ref)
    np.testing.assert_allclose(logrank_scores(time, event), ref["scores"],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("ref", ALL_SETS, ids=set_id)
def test_observed_statistic_and_asymptotic_p_equal_coin(ref):
    time, event, group = data(ref)
    design = score_design(time, event, group)
    assert list(design.levels) == ref["levels"]
    sums = design.sums(design.codes)
    # coin's linear statistic: the first level's sum for 2 groups, every group's for k
    linear = sums[:1] if design.k == 2 else sums
    np.testing.assert_allclose(linear, np.ravel(ref["linear_statistic"]), rtol=1e-12,
                               atol=1e-12)
    res = perm.permutation_logrank(time, event, group, n_permutations=100, seed=1)
    assert res.statistic == pytest.approx(ref["statistic"], rel=1e-12)
    assert res.p_asymptotic == pytest.approx(ref["p_asymptotic"], rel=1e-9)
    if len(ref["levels"]) == 2:
        assert res.statistic_type == "Z"
        assert design.variance_first() == pytest.approx(ref["variance"], rel=1e-12)
    else:
        assert res.statistic_type == "chi-squared" and res.df == len(ref["levels"]) - 1


# ------------------------------------------------------------- vectorized statistic


@pytest.mark.parametrize("ref", [COHORT_ARM, COHORT_GROUP, REFERENCE["three_group_small"]],
                         ids=set_id)
def test_vectorized_statistic_equals_plain_per_permutation(ref):
    time, event, group = data(ref)
    design = score_design(time, event, group)
    last, drawn, starts, m = perm._draw_plan(design)
    positions = perm._draw_positions(design.n, m, 800, np.random.default_rng(7))
    fast = perm._coin_statistic(design, perm._sums_from_positions(design, positions))
    levels = np.array(design.levels)
    stops = [*starts[1:], m]
    for r in range(len(positions)):
        labels = np.full(design.n, levels[last], dtype=object)
        for g, lo, hi in zip(drawn, starts, stops, strict=True):
            labels[positions[r, lo:hi].astype(int)] = levels[g]
        plain = plain_coin_statistic(design.scores, labels, levels)
        expected = abs(plain) if design.k == 2 else plain
        assert fast[r] == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_public_p_counts_the_plain_statistic_over_the_same_permutations():
    time, event, group = data(COHORT_GROUP)
    seed, b = 11, 1000
    res = perm.permutation_logrank(time, event, group, n_permutations=b, seed=seed)
    design = score_design(time, event, group)
    last, drawn, starts, m = perm._draw_plan(design)
    positions = perm._draw_positions(design.n, m, b, np.random.default_rng(seed))
    levels = np.array(design.levels)
    stops = [*starts[1:], m]
    count = 0
    for r in range(b):
        labels = np.full(design.n, levels[last], dtype=object)
        for g, lo, hi in zip(drawn, starts, stops, strict=True):
            labels[positions[r, lo:hi].astype(int)] = levels[g]
        count += plain_coin_statistic(design.scores, labels, levels) >= res.statistic - 1e-8
    assert res.n_extreme == count
    assert res.p == count / b


def test_draws_are_uniform_subsets():
    n, m, b = 20, 6, 60_000
    pos = perm._draw_positions(n, m, b, np.random.default_rng(3)).astype(int)
    assert all(len(set(row)) == m for row in pos[:2000])
    for column in (pos.ravel(), pos[:, -1]):
        counts = np.bincount(column, minlength=n)
        expected = len(column) / n
        chi2 = np.sum((counts - expected) ** 2 / expected)
        assert stats.chi2.sf(chi2, n - 1) > 1e-4
    # pairs: how often patients 0 and 1 are drawn together, m(m-1)/(n(n-1)) of draws
    together = np.mean(np.any(pos == 0, axis=1) & np.any(pos == 1, axis=1))
    p_pair = m * (m - 1) / (n * (n - 1))
    assert abs(together - p_pair) < 5 * math.sqrt(p_pair * (1 - p_pair) / b)


# ---------------------------------------------------------------- Monte Carlo vs coin


@pytest.fixture(scope="module")
def default_arm_test():
    time, event, group = data(COHORT_ARM)
    return perm.permutation_logrank(time, event, group)  # the defaults: 100,000, seeded


def test_default_monte_carlo_agrees_with_coin(default_arm_test):
    res = default_arm_test
    assert res.n_permutations == 100_000 and res.seed == perm.DEFAULT_SEED
    assert res.mc_se == pytest.approx(math.sqrt(res.p * (1 - res.p) / 100_000))
    ref = COHORT_ARM["p_monte_carlo"]
    se = math.sqrt(ref * (1 - ref) * (1 / 100_000 + 1 / COHORT_ARM["monte_carlo_nresample"]))
    assert abs(res.p - ref) <= 4 * se


def test_three_group_monte_carlo_agrees_with_coin():
    time, event, group = data(COHORT_GROUP)
    res = perm.permutation_logrank(time, event, group, n_permutations=50_000, seed=5)
    ref = COHORT_GROUP["p_monte_carlo"]
    se = math.sqrt(ref * (1 - ref) * (1 / 50_000 + 1 / COHORT_GROUP["monte_carlo_nresample"]))
    assert abs(res.p - ref) <= 4 * se
    assert res.groups == ("embolization", "medical", "surgical") and res.df == 2


def test_monte_carlo_is_reproducible_and_seed_dependent():
    time, event, group = data(COHORT_ARM)
    a = perm.permutation_logrank(time, event, group, n_permutations=70_000, seed=3)
    b = perm.permutation_logrank(time, event, group, n_permutations=70_000, seed=3)
    c = perm.permutation_logrank(time, event, group, n_permutations=70_000, seed=4)
    assert a == b and a.n_extreme != c.n_extreme


# ------------------------------------------------------------------------- exact P


@pytest.mark.parametrize("ref", REFERENCE["exact"], ids=set_id)
def test_exact_p_equals_coin_and_full_enumeration(ref):
    time, event, group = data(ref)
    res = exact_logrank(time, event, group)
    enumerated = (enumerated_n20() if ref is REFERENCE["exact"][3]
                  else enumerate_exact_p(time, event, group))
    assert res.p_lower - 1e-12 <= enumerated <= res.p_upper + 1e-12
    assert res.p == pytest.approx(enumerated, abs=1e-12)
    assert res.p == pytest.approx(ref["p_exact"], rel=1e-9)
    assert res.statistic == pytest.approx(ref["statistic"], rel=1e-12)
    assert res.n_assignments == math.comb(len(time), min(res.sizes))


def random_cohort(rng, n, n1, distinct=True):
    time = rng.exponential(10, n).round(1 if distinct else 0) + 1
    event = (rng.random(n) < 0.6).astype(int)
    event[0] = 1
    group = np.array(["a"] * n1 + ["b"] * (n - n1))
    rng.shuffle(group)
    return time, event, group


@pytest.mark.parametrize("case", range(6))
def test_exact_p_equals_enumeration_on_random_small_cohorts(case):
    rng = np.random.default_rng(100 + case)
    n = int(rng.integers(8, 19))
    n1 = int(rng.integers(2, n - 1))
    time, event, group = random_cohort(rng, n, n1, distinct=case % 2 == 0)
    res = exact_logrank(time, event, group)
    enumerated = enumerate_exact_p(time, event, group)
    assert res.p_lower - 1e-12 <= enumerated <= res.p_upper + 1e-12
    assert abs(res.p - enumerated) <= (res.p_upper - res.p_lower) / 2 + 1e-12
    assert res.converged


@functools.cache
def enumerated_n20() -> float:
    return enumerate_exact_p(*data(REFERENCE["exact"][3]))


@pytest.mark.parametrize("grid_factor", [3.0, 20.0, 400.0])
def test_coarse_grid_bounds_contain_the_enumerated_p(grid_factor):
    ref = REFERENCE["exact"][3]  # n = 20: C(20, 10) = 184,756 assignments
    time, event, group = data(ref)
    res = exact_logrank(time, event, group, grid_factor=grid_factor)
    enumerated = enumerated_n20()
    assert res.p_lower <= enumerated <= res.p_upper
    assert res.grid_factor == grid_factor
    scores = logrank_scores(time, event)
    assert res.max_rounding <= 10 * 0.5 / grid_factor + 1e-12  # m/2 grid steps at most
    if grid_factor == 3.0:
        assert res.p_upper - res.p_lower > 0.01  # the bounds are real, not decorative
        assert "rounded to a grid of 1/3" in res.discretization
    assert np.all(np.isfinite(scores))


@pytest.fixture(scope="module")
def cohort_exact():
    return exact_logrank(*data(COHORT_ARM))


def test_exact_cohort_p_is_bounded_tightly(cohort_exact):
    res = cohort_exact
    assert res.converged
    assert res.p_upper - res.p_lower <= 1e-6  # default: P to 5e-7
    assert res.p_lower <= res.p <= res.p_upper
    assert res.n_assignments == math.comb(48, 13)
    assert res.statistic == pytest.approx(COHORT_ARM["statistic"], rel=1e-12)


def test_coarse_option_gives_the_one_percent_bounds_of_earlier_versions(cohort_exact):
    """rtol=0.01 is the fast option (and what nethep reported before the default was
    tightened): a coarser grid, bounds within 1% of P, containing the default's bounds."""
    coarse = exact_logrank(*data(COHORT_ARM), rtol=0.01)
    assert coarse.converged and coarse.grid_factor < cohort_exact.grid_factor
    assert coarse.p_lower <= coarse.p <= coarse.p_upper
    assert coarse.p == pytest.approx(cohort_exact.p, rel=0.01)
    assert coarse.p_upper - coarse.p_lower <= 0.01 * coarse.p_upper
    assert coarse.p_lower <= cohort_exact.p_lower <= cohort_exact.p_upper <= coarse.p_upper


@pytest.mark.parametrize("seed", [2, 3, 5])
def test_default_p_is_within_1e6_of_full_enumeration_where_1_percent_is_not(seed):
    """22 patients, 8 vs 14, distinct times: the rational grid is too large, so the
    bounds are used; C(22, 8) = 319,770 assignments are listed for the exact P."""
    rng = np.random.default_rng(seed)
    time = rng.exponential(10, 22).round(2) + 1
    event = (rng.random(22) < 0.7).astype(int)
    event[0] = 1
    group = np.array(["a"] * 8 + ["b"] * 14)
    time[group == "a"] *= 2.5
    rng.shuffle(group)
    enumerated = enumerate_exact_p(time, event, group)
    res = exact_logrank(time, event, group)
    assert "rounded to a grid" in res.discretization and res.converged
    assert abs(res.p - enumerated) <= 1e-6
    assert res.p_lower - 1e-12 <= enumerated <= res.p_upper + 1e-12
    coarse = exact_logrank(time, event, group, rtol=0.01)
    assert abs(coarse.p - enumerated) > 1e-6


def test_exact_ties_of_the_statistic_can_keep_the_bounds_apart_and_it_is_said():
    """Seed 1 of the cases above: 15 assignments tie the observed |Z| exactly, in grid
    cells shared with other values, so the bounds stay 5.6e-5 apart up to max_columns."""
    rng = np.random.default_rng(1)
    time = rng.exponential(10, 22).round(2) + 1
    event = (rng.random(22) < 0.7).astype(int)
    event[0] = 1
    group = np.array(["a"] * 8 + ["b"] * 14)
    time[group == "a"] *= 2.5
    rng.shuffle(group)
    with pytest.warns(RuntimeWarning, match=r"only known to lie in \["):
        res = exact_logrank(time, event, group, max_columns=1 << 18)
    assert not res.converged and "tolerance not met" in res.method
    assert res.p_lower <= enumerate_exact_p(time, event, group) <= res.p_upper


def test_monte_carlo_and_exact_agree_within_monte_carlo_error(default_arm_test, cohort_exact):
    exact = cohort_exact
    se = math.sqrt(exact.p * (1 - exact.p) / default_arm_test.n_permutations)
    assert abs(default_arm_test.p - exact.p) <= 4 * se + (exact.p_upper - exact.p_lower)
    small = REFERENCE["exact"][2]
    t2, e2, g2 = data(small)
    mc = perm.permutation_logrank(t2, e2, g2, n_permutations=40_000, seed=9)
    ex = exact_logrank(t2, e2, g2)
    assert abs(mc.p - ex.p) <= 4 * math.sqrt(ex.p * (1 - ex.p) / 40_000)


def test_exact_rejects_more_than_two_groups():
    time, event, group = data(COHORT_GROUP)
    with pytest.raises(ValueError, match="exactly 2 groups"):
        exact_logrank(time, event, group)


# ---------------------------------------------------------------- results and input


def test_results_are_json_ready_and_tables_tidy(default_arm_test, cohort_exact):
    time, event, group = data(COHORT_ARM)
    objects = [default_arm_test, cohort_exact,
               bootstrap_survival_difference(time, event, group, n_resamples=500)]
    for obj in objects:
        out = obj.to_results()
        json.dumps(out, allow_nan=False)
        assert len(obj.table()) >= 1
        assert obj._repr_html_().startswith("<p>")
    assert {"p", "mc_se", "n_permutations"} <= set(objects[0].to_results())
    assert {"p", "p_lower", "p_upper", "grid_factor", "max_rounding"} <= set(
        objects[1].to_results())
    assert {"estimate", "lower", "upper", "n_resamples", "n_nonestimable"} <= set(
        objects[2].to_results())


@pytest.mark.parametrize(
    ("time", "event", "group", "message"),
    [
        ([1, 2, 3], [1, 0, 1], ["a", "a", "a"], "at least 2 groups"),
        ([1, np.nan, 3], [1, 0, 1], ["a", "b", "a"], "finite"),
        ([1, 2, 3], [1, 2, 1], ["a", "b", "a"], "event must be 0"),
        ([1, 2, 3], [1, 0, 1], ["a", None, "a"], "missing labels"),
        ([1, 2, 3], [0, 0, 0], ["a", "b", "a"], "no events"),
    ],
)
def test_input_errors(time, event, group, message):
    with pytest.raises(ValueError, match=message):
        perm.permutation_logrank(time, event, group, n_permutations=10)


def test_no_permutation_as_extreme_is_bounded_in_words_not_zero():
    """A large cohort with a strong difference (issue 13): no permutation reaches the
    observed statistic; P is bounded by (0 + 1)/(B + 1), never reported as 0, and the
    sentences of notebook 05 do not divide by the Monte Carlo SE of 0."""
    rng = np.random.default_rng(3)
    n = 400
    group = np.repeat(["nonsurgical", "surgical"], n // 2)
    time = np.where(group == "nonsurgical", rng.exponential(5, n), rng.exponential(50, n))
    event = np.ones(n, dtype=int)
    test = perm.permutation_logrank(time, event, group, n_permutations=999, seed=1)
    assert test.n_extreme == 0 and test.p == 0 and test.mc_se == 0
    assert test.none_as_extreme and test.p_bound == 1 / 1000
    assert test.p_words(3) == ("P < .001 (none of the 999 permutations was as extreme as the "
                               "observed statistic; (0 + 1)/(B + 1) bounds P)")
    assert test.to_results()["p_bound"] == 1 / 1000
    pick = np.r_[0:20, n - 20:n]  # any ExactTest will do
    exact = exact_logrank(time[pick], event[pick], group[pick])
    inference = SmallSampleInference(
        permutation=test, three_groups=test, exact=exact,
        survdiff=logrank(pd.DataFrame({"followup_months": time, "died": event,
                                       "arm": group}), "arm"),
        bootstrap=bootstrap_survival_difference(time, event, group, at=3.0, n_resamples=50,
                                                seed=1))
    lines = inference.p_values().split("\n")
    assert lines[0].startswith("Surgical vs non-surgical: Monte Carlo permutation P < .00100")
    assert lines[1].startswith("No permutation was as extreme")
    assert "P < .00100" in inference.finding()


def test_p_bound_is_the_plus_one_estimate(default_arm_test):
    t = default_arm_test
    assert t.p_bound == (t.n_extreme + 1) / (t.n_permutations + 1) > t.p
    assert t.p_words(5) == f"P = {t.p:.5f} (Monte Carlo SE {t.mc_se:.5f})".replace("0.", ".")

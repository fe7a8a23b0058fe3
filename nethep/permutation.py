"""Permutation and exact log-rank tests for a small cohort (coin's scores and tolerance).

Two tests, each returning a small frozen result object with ``.table()`` and
``.to_results()``:

:func:`permutation_logrank`
    Monte Carlo permutation log-rank test for 2 or more groups, the test of R's
    ``coin::logrank_test(..., distribution = approximate(nresample = B))``. The scores are
    coin's log-rank scores of the pooled data (:func:`logrank_scores`), held fixed while
    the group labels are permuted, so the permutation distribution is that of the linear
    statistic ``T_g = sum of the scores in group g``. Statistic as coin reports it: for 2
    groups the standardized linear statistic ``Z`` of the first group label in sorted
    order (R's ``factor()`` level order), signed, and the two-sided P counts permutations
    with ``|Z*| >= |Z|``; for k > 2 groups the quadratic form
    ``(T - E)' V^+ (T - E)`` (chi-squared type, k - 1 df) and P counts ``c* >= c``.
    ``E`` and ``V`` are the permutation (conditional) expectation and covariance, so
    ``Z**2`` equals the 2-group quadratic form. Comparisons use coin's tolerance
    ``sqrt(machine epsilon)`` on the standardized scale. P is coin's estimate
    ``#{extreme}/B`` (not ``(#+1)/(B+1)``) with Monte Carlo SE ``sqrt(P(1 - P)/B)``; the
    count is reported too. Permutations are drawn by a partial Fisher-Yates shuffle
    vectorized over permutations (one Python step per shuffled position, never per
    permutation) from ``numpy.random.default_rng(seed)``, in batches of 65,536.

:func:`exact_logrank`
    Exact conditional P of the 2-group linear statistic over all ``C(n, m)`` equally
    likely assignments (m = size of the smaller group): the share of assignments with
    ``|Z*| >= |Z| - sqrt_eps`` (coin's definition and tolerance), by the shift algorithm
    (Streitberg and Roehmel 1986), a dynamic programme over (number chosen, integer sum)
    with the scores placed on an integer grid ``s_i = round(f * (a_i - min a))``, rounding
    ``e_i = s_i - f * (a_i - min a)``.

    * Exact rational arithmetic when feasible: log-rank scores are rationals whose
      denominators divide ``L = lcm(number at risk at each event time)``. When the grid
      with ``f = L`` fits in ``max_columns`` integer sums, every ``e_i`` is 0, the DP is
      exact and so is P (``p_lower == p == p_upper``).
    * Otherwise a grid with rigorous bounds. Besides the number of subsets reaching each
      grid sum S, the DP carries the smallest and largest summed rounding over those
      subsets, so it knows the interval holding the true ``f * T`` of every subset with
      grid sum S. Subsets whose whole interval is at least as extreme as the observed
      statistic count towards ``p_lower``; those whose interval reaches it count towards
      ``p_upper``; so ``p_lower <= P <= p_upper`` with no approximation beyond
      floating-point rounding (far below the grid step). ``p`` is the midpoint,
      ``|p - P| <= (p_upper - p_lower) / 2``. Every assignment's grid statistic is within
      ``max_rounding`` (score units; at most m/(2f)) of its true value. The grid starts
      near 2**15 integer sums and is refined (f x 4) until
      ``p_upper - p_lower <= max(rtol * p_upper, atol)`` or the grid would exceed
      ``max_columns``; ``converged`` says which. Defaults ``rtol = 0``,
      ``atol = 1e-6``: the reported P is within 5e-7 of the exact P (full
      enumeration), ``max_columns = 2**21`` (on the bundled cohort, 48 patients of whom
      13 surgical: a grid of 1/73,600, bounds 1.5e-7 apart, about 3 s and 0.6 GB).
      ``rtol = 0.01`` (bounds within 1% of P) is the coarse, fast option (0.1 s on the
      cohort, bounds 4.1e-6 apart there). When the tolerance is not met (assignments
      whose statistic ties the observed one exactly, or lies closer to it than the
      finest grid resolves, are counted in the upper bound only) the result says so and
      a warning gives the bounds.

    The DP counts assignments in float64, exact integers while ``C(n, m) < 2**53``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nethep.formats import finite_or_none, p_digits
from nethep.km import ArrayLike, check_survival, risk_table

__all__ = [
    "DEFAULT_SEED",
    "ExactTest",
    "PermutationTest",
    "exact_logrank",
    "logrank_scores",
    "logrank_scores_rows",
    "permutation_logrank",
    "permutation_logrank_batch",
]

DEFAULT_SEED = 20061001
#: coin's comparison tolerance (``sqrt_eps``) on the standardized statistic.
SQRT_EPS = float(np.sqrt(np.finfo(float).eps))
_BATCH = 65_536


# ------------------------------------------------------------------------------ input


def _as_groups(group: ArrayLike, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes 0..k-1 and the labels, sorted as R's ``factor()`` sorts them."""
    g = np.asarray(group, dtype=object)
    if g.shape != (n,):
        raise ValueError(f"group must be a 1-d array of {n} labels, got shape {g.shape}")
    if any(x is None or (isinstance(x, float) and math.isnan(x)) for x in g):
        raise ValueError("group has missing labels; every patient needs a group")
    labels = g.astype(str)
    levels, codes = np.unique(labels, return_inverse=True)
    if len(levels) < 2:
        raise ValueError(f"need at least 2 groups, found {list(levels)}")
    return codes.astype(np.int64), tuple(str(x) for x in levels)


# ------------------------------------------------------------------------------ scores


def logrank_scores(time: ArrayLike, event: ArrayLike) -> np.ndarray:
    """coin's log-rank scores, ``coin:::logrank_trafo(Surv(time, event))`` (defaults).

    ``a_i = sum_{distinct t_j <= t_i} d_j / n_j - event_i``: the Nelson-Aalen cumulative
    hazard at the patient's own time minus the event indicator (coin's default
    ``ties.method = "mid-ranks"``: tied times share the risk set ``n_j`` of everyone with
    time >= t_j and the hazard includes all ``d_j`` deaths at t_j; logrank weights 1).
    The scores sum to 0. Checked against coin in ``tests/test_permutation.py``.
    """
    t, e = check_survival(time, event)
    table = risk_table(t, e)
    return np.cumsum(table.hazard())[table.inverse] - e


def logrank_scores_rows(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """:func:`logrank_scores` of every row of ``time``, ``event`` ((C, n) arrays)."""
    at_risk = (time[:, None, :] >= time[:, :, None]).sum(axis=2)  # n at risk at t_i
    hazard_i = np.where(event, 1.0 / at_risk, 0.0)  # each death adds 1/n at its time
    cum = np.einsum("rk,rik->ri", hazard_i, (time[:, None, :] <= time[:, :, None]).astype(float))
    return cum - event


def _risk_lcm(time: np.ndarray, event: np.ndarray) -> int:
    """lcm of the risk-set sizes at event times: a common denominator of the scores."""
    table = risk_table(time, event)
    return math.lcm(1, *(int(x) for x in table.n_risk[table.n_event > 0]))


# ------------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class _Design:
    scores: np.ndarray
    codes: np.ndarray
    levels: tuple[str, ...]
    sizes: np.ndarray
    mean: float
    ss: float  # sum of squared centred scores

    @property
    def n(self) -> int:
        return len(self.scores)

    @property
    def k(self) -> int:
        return len(self.levels)

    def variance_first(self) -> float:
        """Permutation variance of the first group's linear statistic (coin's)."""
        n, n1 = self.n, self.sizes[0]
        return self.ss / n * n1 * (n - n1) / (n - 1)

    def z(self, sums: np.ndarray) -> np.ndarray:
        """Standardized statistic of the first group from group sums (..., k)."""
        centred = sums[..., 0] - self.sizes[0] * self.mean
        return centred / np.sqrt(self.variance_first())

    def quadratic(self, sums: np.ndarray) -> np.ndarray:
        """coin's quadratic form ``(T - E)' V^+ (T - E)`` from group sums (..., k).

        With ``V = ss / (n - 1) * (diag(n_g) - n_g n_g' / n)`` and centred sums that add
        to zero, the Moore-Penrose form reduces to ``(n - 1) / ss * sum_g D_g^2 / n_g``.
        """
        centred = sums - self.sizes * self.mean
        return (self.n - 1) / self.ss * np.sum(centred**2 / self.sizes, axis=-1)


def _design(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> _Design:
    t, e = check_survival(time, event)
    codes, levels = _as_groups(group, len(t))
    scores = logrank_scores(t, e)
    mean = float(scores.mean())
    ss = float(np.sum((scores - mean) ** 2))
    if ss <= 0:
        raise ValueError("all log-rank scores are equal (no events?): the test is undefined")
    sizes = np.bincount(codes, minlength=len(levels)).astype(float)
    return _Design(scores, codes, levels, sizes, mean, ss)


def _group_sums(design: _Design, codes: np.ndarray) -> np.ndarray:
    return np.bincount(codes, weights=design.scores, minlength=design.k)


def _draw_positions(n: int, m: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` uniform random ordered m-subsets of range(n), as a (size, m) array.

    Partial Fisher-Yates shuffle of ``size`` rows at once: step i swaps column i with a
    uniform column in [i, n). Row r's first m columns are then a uniform random draw of
    m patients without replacement, in random order.
    """
    dtype = np.int8 if n <= 127 else (np.int16 if n <= 32767 else np.int32)
    x = np.broadcast_to(np.arange(n, dtype=dtype), (size, n)).copy()
    flat = x.reshape(-1)
    row_start = np.arange(0, size * n, n)
    for i in range(m):
        j = rng.integers(i, n, size=size)
        j += row_start
        held = x[:, i].copy()
        x[:, i] = flat[j]
        flat[j] = held
    return x[:, :m]


def _draw_plan(design: _Design) -> tuple[int, list[int], np.ndarray, int]:
    """Which groups are drawn by shuffling: all but the largest (filled last).

    Returns (last group, drawn groups, their start columns, positions to shuffle m).
    """
    sizes = design.sizes.astype(int)
    last = int(np.argmax(sizes))
    drawn = [g for g in range(design.k) if g != last]
    starts = np.concatenate([[0], np.cumsum(sizes[drawn])[:-1]]).astype(int)
    return last, drawn, starts, design.n - int(sizes[last])


def _sums_from_positions(design: _Design, positions: np.ndarray) -> np.ndarray:
    """Group sums (B, k) when row r gives the drawn groups, in order, the patients
    ``positions[r, starts[g]:starts[g] + n_g]`` and the largest group the rest."""
    last, drawn, starts, _ = _draw_plan(design)
    sums = np.add.reduceat(design.scores[positions], starts, axis=1)
    out = np.empty((len(positions), design.k))
    out[:, drawn] = sums
    out[:, last] = float(design.scores.sum()) - sums.sum(axis=1)
    return out


def _permuted_sums(design: _Design, n_permutations: int, rng: np.random.Generator):
    """Group sums of the scores for ``n_permutations`` random relabellings, (B, k).

    The largest group is filled last (its sum is the total minus the others), so only
    ``n - max(n_g)`` positions are shuffled per permutation; batches of 65,536.
    """
    m = _draw_plan(design)[3]
    out = np.empty((n_permutations, design.k))
    for start in range(0, n_permutations, _BATCH):
        size = min(_BATCH, n_permutations - start)
        positions = _draw_positions(design.n, m, size, rng)
        out[start:start + size] = _sums_from_positions(design, positions)
    return out


def _coin_statistic(design: _Design, sums: np.ndarray) -> np.ndarray:
    """The statistic coin compares: |Z| for 2 groups, the quadratic form otherwise."""
    return np.abs(design.z(sums)) if design.k == 2 else design.quadratic(sums)


# ------------------------------------------------------------------- permutation test


@dataclass(frozen=True)
class PermutationTest:
    """Monte Carlo permutation log-rank test (coin's ``approximate`` distribution)."""

    statistic: float  # Z of groups[0] (2 groups) or chi-squared quadratic form (k > 2)
    statistic_type: str  # "Z" or "chi-squared"
    df: int
    p: float  # n_extreme / n_permutations, two-sided
    mc_se: float  # sqrt(p (1 - p) / n_permutations)
    n_permutations: int
    n_extreme: int
    p_asymptotic: float  # coin's asymptotic P (normal or chi-squared, k - 1 df)
    groups: tuple[str, ...]
    sizes: tuple[int, ...]
    seed: int | None
    method: str

    @property
    def p_bound(self) -> float:
        """``(n_extreme + 1) / (n_permutations + 1)``: a valid P (never 0; Phipson and
        Smyth, Stat Appl Genet Mol Biol 2010;9:39), the upper bound to quote when no
        permutation is as extreme as the observed statistic."""
        return (self.n_extreme + 1) / (self.n_permutations + 1)

    @property
    def none_as_extreme(self) -> bool:
        """True when no permutation reached the observed statistic (P estimate 0)."""
        return self.n_extreme == 0

    def p_words(self, places: int = 5) -> str:
        """The Monte Carlo P in a sentence: ``P = .00312 (Monte Carlo SE .00018)``; when no
        permutation is as extreme, ``P < <bound>`` with the reason (never "P = 0")."""
        if self.none_as_extreme:
            return (f"P < {p_digits(self.p_bound, places)} (none of the "
                    f"{self.n_permutations:,} permutations was as extreme as the observed "
                    "statistic; (0 + 1)/(B + 1) bounds P)")
        return (f"P = {p_digits(self.p, places)} (Monte Carlo SE "
                f"{p_digits(self.mc_se, places)})")

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row (group sizes are not shown, so ``min_cell`` changes nothing)."""
        return pd.DataFrame([{
            "groups": " vs ".join(self.groups), "statistic_type": self.statistic_type,
            "statistic": self.statistic, "df": self.df, "p": self.p, "mc_se": self.mc_se,
            "n_permutations": self.n_permutations, "n_extreme": self.n_extreme,
            "p_asymptotic": self.p_asymptotic,
        }])

    def to_results(self) -> dict[str, Any]:
        return {
            "statistic": finite_or_none(self.statistic),
            "statistic_type": self.statistic_type,
            "df": self.df,
            "p": finite_or_none(self.p),
            "mc_se": finite_or_none(self.mc_se),
            "n_permutations": self.n_permutations,
            "n_extreme": self.n_extreme,
            "p_bound": finite_or_none(self.p_bound),
            "p_asymptotic": finite_or_none(self.p_asymptotic),
            "groups": list(self.groups),
            "sizes": list(self.sizes),
            "seed": self.seed,
            "method": self.method,
        }

    def _repr_html_(self) -> str:
        return f"<p>{self.method}</p>" + self.table().to_html(index=False)


def permutation_logrank(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    n_permutations: int = 100_000,
    seed: int | None = DEFAULT_SEED,
) -> PermutationTest:
    """Two-sided Monte Carlo permutation log-rank test for 2 or more groups.

    coin's ``logrank_test(Surv(time, event) ~ factor(group),
    distribution = approximate(nresample = n_permutations))`` with nethep's own random
    stream (``numpy.random.default_rng(seed)``), so P agrees with coin's within Monte
    Carlo error, not digit for digit. See the module docstring for the statistic.
    """
    n_permutations = int(n_permutations)
    if n_permutations < 1:
        raise ValueError("n_permutations must be at least 1")
    design = _design(time, event, group)
    observed = _group_sums(design, design.codes)
    rng = np.random.default_rng(seed)
    permuted = _coin_statistic(design, _permuted_sums(design, n_permutations, rng))
    k = design.k
    if k == 2:
        statistic = float(design.z(observed))
        n_extreme = int(np.count_nonzero(permuted >= abs(statistic) - SQRT_EPS))
        p_asym = float(2 * stats.norm.sf(abs(statistic)))
        kind = "Z"
    else:
        statistic = float(design.quadratic(observed))
        n_extreme = int(np.count_nonzero(permuted >= statistic - SQRT_EPS))
        p_asym = float(stats.chi2.sf(statistic, k - 1))
        kind = "chi-squared"
    p = n_extreme / n_permutations
    method = (
        f"Monte Carlo permutation log-rank test (coin scores, {kind}"
        + (f" of '{design.levels[0]}'" if k == 2 else f", {k - 1} df")
        + f"), {n_permutations:,} permutations, seed {seed}; two-sided P = "
        "#{permuted >= observed}/B with Monte Carlo SE sqrt(P(1-P)/B)"
    )
    return PermutationTest(
        statistic=statistic, statistic_type=kind, df=k - 1, p=p,
        mc_se=math.sqrt(p * (1 - p) / n_permutations), n_permutations=n_permutations,
        n_extreme=n_extreme, p_asymptotic=p_asym, groups=design.levels,
        sizes=tuple(int(s) for s in design.sizes), seed=seed, method=method,
    )


def permutation_logrank_batch(time: np.ndarray, event: np.ndarray, first: np.ndarray,
                              n_permutations: int = 100_000, seed: int | None = DEFAULT_SEED,
                              block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """:func:`permutation_logrank` of two groups for C cohorts at once ((C, n) arrays;
    ``first`` marks one group): returns (P, Monte Carlo SE) per cohort, NaN when all
    scores are equal (no deaths). Every cohort gets the relabellings
    :func:`permutation_logrank` draws from ``seed`` (common random numbers: cohorts with
    the same group sizes share them), so each P equals that function's on the cohort
    alone; the group sums are matrix products over ``block`` cohorts at a time. NaN
    also where a group is empty."""
    if int(n_permutations) < 1:
        raise ValueError("n_permutations must be at least 1")
    t = np.asarray(time, float)
    scores = logrank_scores_rows(t, np.asarray(event, float))
    n = t.shape[1]
    centred = scores - scores.mean(axis=1, keepdims=True)
    n1 = np.asarray(first, bool).sum(axis=1)
    m = np.minimum(n1, n - n1)  # the group permutation_logrank draws (the smaller)
    sd = np.sqrt((centred**2).sum(axis=1) / n * n1 * (n - n1) / (n - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        threshold = (np.abs((centred * first).sum(axis=1)) / sd - SQRT_EPS) * sd
    extreme = np.zeros(len(t), dtype=np.int64)
    for size in np.unique(m[m > 0]):
        rng, rows = np.random.default_rng(seed), np.flatnonzero(m == size)
        draws = [_draw_positions(n, int(size), min(_BATCH, n_permutations - s), rng)
                 for s in range(0, n_permutations, _BATCH)]
        pick = np.zeros((n_permutations, n))
        np.put_along_axis(pick, np.concatenate(draws).astype(np.intp), 1.0, axis=1)
        for b in range(0, len(rows), block):
            r = rows[b:b + block]
            cols = np.ascontiguousarray(centred[r].T)
            for s in range(0, n_permutations, 2048):  # small blocks stay in cache
                sums = np.abs(pick[s:s + 2048] @ cols)
                extreme[r] += np.count_nonzero(sums >= threshold[r], axis=0)
    p = np.where(np.isfinite(threshold), extreme / n_permutations, np.nan)
    return p, np.sqrt(p * (1 - p) / n_permutations)


# ------------------------------------------------------------------------ exact test


@dataclass(frozen=True)
class ExactTest:
    """Exact conditional (permutation) log-rank test for 2 groups."""

    statistic: float  # Z of groups[0], as coin reports it
    p: float  # midpoint of [p_lower, p_upper]; the exact P when the two coincide
    p_lower: float  # rigorous bounds on the exact P
    p_upper: float
    n_assignments: int  # C(n, m)
    grid_factor: float  # f: scores are multiplied by f and rounded to integers
    max_rounding: float  # max over assignments of |grid T - T| (score units), <= m/(2f)
    max_rounding_z: float  # the same on the Z scale
    discretization: str
    converged: bool  # p_upper - p_lower within tolerance (always True when exact)
    groups: tuple[str, ...]
    sizes: tuple[int, ...]
    method: str

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row (group sizes are not shown, so ``min_cell`` changes nothing)."""
        return pd.DataFrame([{
            "groups": " vs ".join(self.groups), "statistic": self.statistic, "p": self.p,
            "p_lower": self.p_lower, "p_upper": self.p_upper,
            "n_assignments": self.n_assignments, "grid_factor": self.grid_factor,
            "max_rounding": self.max_rounding, "discretization": self.discretization,
        }])

    def to_results(self) -> dict[str, Any]:
        return {
            "statistic": finite_or_none(self.statistic),
            "statistic_type": "Z",
            "p": finite_or_none(self.p),
            "p_lower": finite_or_none(self.p_lower),
            "p_upper": finite_or_none(self.p_upper),
            "n_assignments": self.n_assignments,
            "grid_factor": finite_or_none(self.grid_factor),
            "max_rounding": finite_or_none(self.max_rounding),
            "max_rounding_z": finite_or_none(self.max_rounding_z),
            "discretization": self.discretization,
            "converged": self.converged,
            "groups": list(self.groups),
            "sizes": list(self.sizes),
            "method": self.method,
        }

    def _repr_html_(self) -> str:
        return f"<p>{self.method}</p>" + self.table().to_html(index=False)


def _shift_dp(s: np.ndarray, err: np.ndarray, m: int):
    """Shift algorithm over m-subsets of items with integer sizes ``s`` >= 0.

    Returns, for every integer sum S of m items: the number of subsets with that sum,
    and the smallest and largest total of ``err`` over those subsets (inf / -inf where
    there is none). Row c of the programme holds the subsets of c items seen so far.
    """
    top = np.concatenate([[0], np.cumsum(np.sort(s)[::-1])]).astype(np.int64)
    counts = [np.zeros(int(top[c]) + 1) for c in range(m + 1)]
    emin = [np.full(int(top[c]) + 1, np.inf) for c in range(m + 1)]
    emax = [np.full(int(top[c]) + 1, -np.inf) for c in range(m + 1)]
    counts[0][0] = 1.0
    emin[0][0] = emax[0][0] = 0.0
    for i, (si, ei) in enumerate(zip(s.tolist(), err.tolist(), strict=True)):
        for c in range(min(i + 1, m), 0, -1):
            hi = min(len(counts[c]), si + len(counts[c - 1]))
            width = hi - si
            if width <= 0:
                continue
            counts[c][si:hi] += counts[c - 1][:width]
            np.minimum(emin[c][si:hi], emin[c - 1][:width] + ei, out=emin[c][si:hi])
            np.maximum(emax[c][si:hi], emax[c - 1][:width] + ei, out=emax[c][si:hi])
    return counts[m], emin[m], emax[m]


def _exact_bounds(
    a: np.ndarray, subset: np.ndarray, f: float, d_obs: float, tol: float
) -> tuple[float, float, float]:
    """Rigorous bounds (p_lower, p_upper) on the exact P, and the largest rounding.

    Grid ``s_i = round(f (a_i - min a))``, rounding ``e_i = s_i - f (a_i - min a)``. For
    every grid sum S the DP knows the range of the summed rounding over the subsets
    with that sum, hence the range of their true ``f T``; a subset counts surely (lower
    bound) when its whole range is extreme, possibly (upper bound) when part of it is.
    ``tol`` (grid units) is coin's ``sqrt_eps`` tolerance on |Z|.
    """
    m = int(subset.sum())
    amin = float(a.min())
    scaled = f * (a - amin)
    s = np.rint(scaled)
    counts, emin, emax = _shift_dp(s.astype(np.int64), s - scaled, m)
    nonempty = counts > 0
    sums = np.arange(len(counts), dtype=float)
    centre = m * f * (float(a.mean()) - amin)  # f E(T) in grid coordinates
    with np.errstate(invalid="ignore"):
        low, high = sums - emax - centre, sums - emin - centre  # range of f (T - E(T))
        far = np.maximum(np.abs(low), np.abs(high))
        near = np.where((low <= 0) & (high >= 0), 0.0, np.minimum(np.abs(low), np.abs(high)))
    threshold = f * d_obs - tol
    total = counts.sum()
    lower = counts[nonempty & (near >= threshold)].sum() / total
    upper = counts[nonempty & (far >= threshold)].sum() / total
    rounding = float(max(np.abs(emin[nonempty]).max(), np.abs(emax[nonempty]).max())) / f
    return float(lower), float(upper), rounding


def exact_logrank(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    *,
    grid_factor: float | None = None,
    rtol: float = 0.0,
    atol: float = 1e-6,
    max_columns: int = 1 << 21,
) -> ExactTest:
    """Exact two-sided P of the 2-group log-rank linear statistic (coin's ``"exact"``).

    P is the share of all ``C(n, m)`` assignments of the group sizes with
    ``|Z*| >= |Z| - sqrt_eps`` (coin's definition and tolerance), computed by the shift
    algorithm on an integer grid of the scores (see the module docstring): exactly on
    the rational grid when it is small enough, else bounded, ``p_lower <= P <= p_upper``,
    with ``p`` their midpoint (so ``|p - P| <= (p_upper - p_lower) / 2``). With
    ``grid_factor`` given: one pass on that grid. ``rtol``/``atol``: refine the grid x4
    until ``p_upper - p_lower <= max(rtol * p_upper, atol)`` (default: within 1e-6, so
    P to 5e-7; ``rtol=0.01`` for the coarse 1% bounds); ``max_columns``: the largest
    grid (number of integer sums) tried (memory grows as m x max_columns). Without
    ``grid_factor``, warns when the tolerance is not met.
    """
    t, e = check_survival(time, event)
    design = _design(t, e, group)
    if design.k != 2:
        raise ValueError(f"exact_logrank needs exactly 2 groups, found {list(design.levels)}")
    a = design.scores
    sizes = design.sizes.astype(int)
    small = 0 if sizes[0] <= sizes[1] else 1
    subset = design.codes == small
    m = int(sizes[small])
    n_assign = math.comb(design.n, m)
    statistic = float(design.z(_group_sums(design, design.codes)))
    sd = math.sqrt(design.variance_first())
    d_obs = abs(statistic) * sd
    spread = float(a.max() - a.min())

    def columns(f: float) -> float:
        return f * spread * m + 1

    lcm = _risk_lcm(t, e)
    rational = grid_factor is None and columns(lcm) <= max_columns
    if rational:
        f = float(lcm)
    elif grid_factor is not None:
        f = float(grid_factor)
    else:  # start near 2**15 integer sums, refine x4
        f = float(max(1, round((1 << 15) / max(spread * m, 1e-12))))
    while True:
        lo, hi, rounding = _exact_bounds(a, subset, f, d_obs, SQRT_EPS * sd * f)
        converged = hi - lo <= max(rtol * hi, atol)
        if rational or grid_factor is not None or converged or columns(4 * f) > max_columns:
            break
        f *= 4
    if rational and rounding < 1e-9:
        how = f"none: exact rational grid (every score is a multiple of 1/{lcm})"
    else:
        how = (f"scores rounded to a grid of 1/{f:g}; each assignment's grid statistic is "
               f"within {rounding:.3g} of its true value (tracked per grid sum), giving "
               f"{lo:.6g} <= P <= {hi:.6g}")
    method = (
        f"Exact permutation log-rank test (coin scores, Z of '{design.levels[0]}'), shift "
        f"algorithm over all C({design.n}, {m}) = {n_assign:,} assignments; discretization: "
        + how
        + ("" if converged else "; tolerance not met within max_columns")
    )
    if not converged and grid_factor is None:
        warnings.warn(f"exact_logrank: P is only known to lie in [{lo:.6g}, {hi:.6g}] (the "
                      f"tolerance was not met on grids up to {max_columns:,} sums)",
                      RuntimeWarning, stacklevel=2)
    return ExactTest(
        statistic=statistic, p=(lo + hi) / 2, p_lower=lo, p_upper=hi,
        n_assignments=n_assign, grid_factor=f, max_rounding=rounding,
        max_rounding_z=rounding / sd, discretization=how, converged=bool(converged),
        groups=design.levels, sizes=tuple(int(x) for x in sizes), method=method,
    )

"""Exact and resampling inference for a small cohort: permutation log-rank and bootstrap.

Three procedures, each returning a small frozen result object with ``.table()`` and
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
      ``p_upper - p_lower <= max(rtol * p_upper, atol)`` (defaults 1% and 1e-6) or the
      grid would exceed ``max_columns``; ``converged`` says which.

    The DP counts assignments in float64, exact integers while ``C(n, m) < 2**53``.

:func:`bootstrap_survival_difference`
    Kaplan-Meier difference ``S_treated(at) - S_control(at)`` with a stratified bootstrap
    (resampling with replacement within each arm, arm sizes fixed), percentile and BCa
    95% intervals. BCa follows Efron and Tibshirani (1993, ch. 14): bias correction
    ``z0 = Phi^-1(mid-rank of the estimate among the resamples)`` and the acceleration
    from the jackknife, leaving out one patient at a time within each arm and combining
    the arms as ``a = sum_j sum_i U_ji^3 / n_j^3 / (6 (sum_j sum_i U_ji^2 / n_j^2)^1.5)``,
    ``U_ji = (n_j - 1)(mean_i theta_(j,i) - theta_(j,i))``, the multi-sample formula of
    ``scipy.stats.bootstrap``. A resample whose Kaplan-Meier curve ends (last follow-up)
    before ``at`` with survival above 0 has no estimate at ``at`` (as
    ``KaplanMeier.at``); such resamples are counted, reported, and excluded from both
    intervals (the intervals are conditional on estimability), never dropped silently.
    KM estimates for all resamples are computed at once from resampling weight
    matrices (no Python loop per resample).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

__all__ = [
    "DEFAULT_SEED",
    "BootstrapResult",
    "ExactTest",
    "PermutationTest",
    "bootstrap_survival_difference",
    "exact_logrank",
    "logrank_scores",
    "permutation_logrank",
]

DEFAULT_SEED = 20061001
#: coin's comparison tolerance (``sqrt_eps``) on the standardized statistic.
SQRT_EPS = float(np.sqrt(np.finfo(float).eps))
_BATCH = 65_536

ArrayLike = Sequence[Any] | np.ndarray | pd.Series


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ------------------------------------------------------------------------------ input


def _as_survival(time: ArrayLike, event: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.ndim != 1 or t.shape != e.shape or len(t) == 0:
        raise ValueError("time and event must be non-empty 1-d arrays of equal length")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("times must be finite non-negative numbers (no missing values)")
    e_num = np.asarray(e, dtype=float)
    if not np.all(np.isin(e_num, (0.0, 1.0))):
        raise ValueError("event must be 0 (censored) or 1 (event), with no missing values")
    return t, e_num.astype(np.int64)


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
    t, e = _as_survival(time, event)
    uniq, inverse = np.unique(t, return_inverse=True)
    n_event = np.bincount(inverse, weights=e, minlength=len(uniq))
    n_tied = np.bincount(inverse, minlength=len(uniq))
    n_risk = len(t) - np.concatenate([[0], np.cumsum(n_tied)[:-1]])
    hazard = np.cumsum(n_event / n_risk)
    return hazard[inverse] - e


def _risk_lcm(time: np.ndarray, event: np.ndarray) -> int:
    """lcm of the risk-set sizes at event times: a common denominator of the scores."""
    uniq, inverse = np.unique(time, return_inverse=True)
    n_tied = np.bincount(inverse, minlength=len(uniq))
    n_risk = len(time) - np.concatenate([[0], np.cumsum(n_tied)[:-1]])
    has_event = np.bincount(inverse, weights=event, minlength=len(uniq)) > 0
    return math.lcm(1, *(int(x) for x in n_risk[has_event]))


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
    t, e = _as_survival(time, event)
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

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "groups": " vs ".join(self.groups), "statistic_type": self.statistic_type,
            "statistic": self.statistic, "df": self.df, "p": self.p, "mc_se": self.mc_se,
            "n_permutations": self.n_permutations, "n_extreme": self.n_extreme,
            "p_asymptotic": self.p_asymptotic,
        }])

    def to_results(self) -> dict[str, Any]:
        return {
            "statistic": _finite_or_none(self.statistic),
            "statistic_type": self.statistic_type,
            "df": self.df,
            "p": _finite_or_none(self.p),
            "mc_se": _finite_or_none(self.mc_se),
            "n_permutations": self.n_permutations,
            "n_extreme": self.n_extreme,
            "p_asymptotic": _finite_or_none(self.p_asymptotic),
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

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "groups": " vs ".join(self.groups), "statistic": self.statistic, "p": self.p,
            "p_lower": self.p_lower, "p_upper": self.p_upper,
            "n_assignments": self.n_assignments, "grid_factor": self.grid_factor,
            "max_rounding": self.max_rounding, "discretization": self.discretization,
        }])

    def to_results(self) -> dict[str, Any]:
        return {
            "statistic": _finite_or_none(self.statistic),
            "statistic_type": "Z",
            "p": _finite_or_none(self.p),
            "p_lower": _finite_or_none(self.p_lower),
            "p_upper": _finite_or_none(self.p_upper),
            "n_assignments": self.n_assignments,
            "grid_factor": _finite_or_none(self.grid_factor),
            "max_rounding": _finite_or_none(self.max_rounding),
            "max_rounding_z": _finite_or_none(self.max_rounding_z),
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
    rtol: float = 0.01,
    atol: float = 1e-6,
    max_columns: int = 1 << 19,
) -> ExactTest:
    """Exact two-sided P of the 2-group log-rank linear statistic (coin's ``"exact"``).

    P is the share of all ``C(n, m)`` assignments of the group sizes with
    ``|Z*| >= |Z| - sqrt_eps`` (coin's definition and tolerance), computed by the shift
    algorithm on an integer grid of the scores (see the module docstring): exactly on
    the rational grid when it is small enough, else bounded, ``p_lower <= P <= p_upper``,
    with ``p`` their midpoint (so ``|p - P| <= (p_upper - p_lower) / 2``). With
    ``grid_factor`` given: one pass on that grid. ``rtol``/``atol``: refine the grid x4
    until ``p_upper - p_lower <= max(rtol * p_upper, atol)``; ``max_columns``: the
    largest grid (number of integer sums) tried.
    """
    t, e = _as_survival(time, event)
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
    return ExactTest(
        statistic=statistic, p=(lo + hi) / 2, p_lower=lo, p_upper=hi,
        n_assignments=n_assign, grid_factor=f, max_rounding=rounding,
        max_rounding_z=rounding / sd, discretization=how, converged=bool(converged),
        groups=design.levels, sizes=tuple(int(x) for x in sizes), method=method,
    )


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap CI of the Kaplan-Meier survival difference at one time."""

    estimate: float  # S_treated(at) - S_control(at)
    surv_treated: float
    surv_control: float
    at: float
    treated: str
    control: str
    confidence_level: float
    percentile_lower: float
    percentile_upper: float
    bca_lower: float
    bca_upper: float
    bias_correction: float  # z0
    acceleration: float  # a (jackknife)
    bootstrap_se: float
    n_resamples: int
    n_nonestimable: int  # resamples with no KM estimate at `at` (excluded)
    n_nonestimable_treated: int
    n_nonestimable_control: int
    nonestimable_handling: str
    seed: int | None
    method: str

    @property
    def lower(self) -> float:
        return self.bca_lower

    @property
    def upper(self) -> float:
        return self.bca_upper

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([
            {"interval": "BCa", "estimate": self.estimate, "lower": self.bca_lower,
             "upper": self.bca_upper},
            {"interval": "percentile", "estimate": self.estimate,
             "lower": self.percentile_lower, "upper": self.percentile_upper},
        ]).assign(confidence_level=self.confidence_level, n_resamples=self.n_resamples,
                  n_nonestimable=self.n_nonestimable)

    def to_results(self) -> dict[str, Any]:
        return {
            "estimate": _finite_or_none(self.estimate),
            "lower": _finite_or_none(self.bca_lower),
            "upper": _finite_or_none(self.bca_upper),
            "interval": "BCa",
            "percentile_lower": _finite_or_none(self.percentile_lower),
            "percentile_upper": _finite_or_none(self.percentile_upper),
            "bca_lower": _finite_or_none(self.bca_lower),
            "bca_upper": _finite_or_none(self.bca_upper),
            "surv_treated": _finite_or_none(self.surv_treated),
            "surv_control": _finite_or_none(self.surv_control),
            "at": _finite_or_none(self.at),
            "treated": self.treated,
            "control": self.control,
            "confidence_level": self.confidence_level,
            "bias_correction": _finite_or_none(self.bias_correction),
            "acceleration": _finite_or_none(self.acceleration),
            "bootstrap_se": _finite_or_none(self.bootstrap_se),
            "n_resamples": self.n_resamples,
            "n_nonestimable": self.n_nonestimable,
            "n_nonestimable_treated": self.n_nonestimable_treated,
            "n_nonestimable_control": self.n_nonestimable_control,
            "nonestimable_handling": self.nonestimable_handling,
            "seed": self.seed,
            "method": self.method,
        }

    def _repr_html_(self) -> str:
        return f"<p>{self.method}</p>" + self.table().to_html(index=False)


def _km_at_weighted(time: np.ndarray, event: np.ndarray, weights: np.ndarray,
                    at: float) -> np.ndarray:
    """Kaplan-Meier S(at) for each row of case weights (R, n); NaN where not estimable.

    Row r is the sample holding patient i ``weights[r, i]`` times. Not estimable, as in
    :meth:`nethep.survival.KaplanMeier.at`: the sample's last time is before ``at`` and
    its curve has not reached 0.
    """
    w = np.asarray(weights, dtype=float)
    early = time <= at
    uniq, inverse = np.unique(time[early], return_inverse=True)
    ev = np.zeros((len(time), len(uniq)))
    tied = np.zeros((len(time), len(uniq)))
    rows = np.flatnonzero(early)
    tied[rows, inverse] = 1.0
    ev[rows, inverse] = event[early]
    deaths = w @ ev
    leaving = w @ tied
    at_risk = w.sum(axis=1, keepdims=True) - np.cumsum(leaving, axis=1) + leaving
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - deaths / at_risk, 1.0)
    surv = np.prod(factor, axis=1)
    last = np.max(np.where(w > 0, time, -np.inf), axis=1)
    return np.where((last >= at) | (surv == 0), surv, np.nan)


def _resample_weights(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Case weights of ``size`` resamples of n patients with replacement, (size, n)."""
    draws = rng.integers(0, n, size=(size, n))
    flat = (draws + n * np.arange(size)[:, None]).ravel()
    return np.bincount(flat, minlength=size * n).reshape(size, n)


def _bca_limits(boot: np.ndarray, estimate: float, jack: list[np.ndarray],
                alpha: float) -> tuple[float, float, float, float]:
    """BCa limits (lower, upper), z0 and acceleration (as scipy.stats.bootstrap)."""
    frac = (np.count_nonzero(boot < estimate) + np.count_nonzero(boot <= estimate)) / (
        2 * len(boot))
    z0 = float(special.ndtri(frac))
    nums = dens = 0.0
    for theta in jack:
        nj = float(len(theta))
        u = (nj - 1) * (theta.mean() - theta)
        nums += float(np.sum(u**3)) / nj**3
        dens += float(np.sum(u**2)) / nj**2
    accel = nums / (6 * dens**1.5) if dens > 0 else 0.0
    limits = []
    for z_alpha in (special.ndtri(alpha), -special.ndtri(alpha)):
        num = z0 + z_alpha
        level = special.ndtr(z0 + num / (1 - accel * num))
        limits.append(float(np.percentile(boot, 100 * level)) if np.isfinite(level)
                      else float("nan"))
    return limits[0], limits[1], z0, accel


def bootstrap_survival_difference(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    at: float = 36,
    n_resamples: int = 10_000,
    seed: int | None = DEFAULT_SEED,
    treated: str = "surgical",
    confidence_level: float = 0.95,
) -> BootstrapResult:
    """Stratified bootstrap CI for ``S_treated(at) - S_control(at)`` (Kaplan-Meier).

    ``group`` holds exactly two labels, ``treated`` and one other (the control). Each
    resample draws ``n_treated`` patients with replacement from the treated arm and
    ``n_control`` from the control arm (treated arm first, from
    ``numpy.random.default_rng(seed)``). Percentile and BCa intervals; resamples with
    no estimate at ``at`` are counted and excluded (see the module docstring).
    """
    t, e = _as_survival(time, event)
    labels = np.asarray(group, dtype=object).astype(str)
    if labels.shape != t.shape:
        raise ValueError(f"group must be a 1-d array of {len(t)} labels")
    levels = sorted(set(labels))
    if treated not in levels or len(levels) != 2:
        raise ValueError(
            f"group must hold exactly two labels including treated={treated!r}; "
            f"found {levels}")
    control = str(next(x for x in levels if x != treated))
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    n_resamples = int(n_resamples)
    if n_resamples < 2:
        raise ValueError("n_resamples must be at least 2")
    arms = [(t[labels == g], e[labels == g]) for g in (treated, control)]
    point = [float(_km_at_weighted(ti, ei, np.ones((1, len(ti))), at)[0]) for ti, ei in arms]
    if not all(np.isfinite(point)):
        raise ValueError(f"S({at:g}) is not estimable in the data: an arm's follow-up ends "
                         f"before {at:g} with survival above 0")
    estimate = point[0] - point[1]

    rng = np.random.default_rng(seed)
    boot_surv = [_km_at_weighted(ti, ei, _resample_weights(len(ti), n_resamples, rng), at)
                 for ti, ei in arms]
    missing = [~np.isfinite(s) for s in boot_surv]
    boot = boot_surv[0] - boot_surv[1]
    ok = np.isfinite(boot)
    kept = boot[ok]
    n_missing = int(np.count_nonzero(~ok))

    jack = []
    for j, (ti, ei) in enumerate(arms):
        theta = _km_at_weighted(ti, ei, 1.0 - np.eye(len(ti)), at)
        jack.append(theta - point[1] if j == 0 else point[0] - theta)
    jack_ok = all(np.all(np.isfinite(x)) for x in jack)

    alpha = (1 - confidence_level) / 2
    if len(kept) >= 2:
        pct_lo, pct_hi = (float(x) for x in np.percentile(kept, [100 * alpha,
                                                                100 * (1 - alpha)]))
        se = float(np.std(kept, ddof=1))
    else:
        pct_lo = pct_hi = se = float("nan")
    if len(kept) >= 2 and jack_ok:
        bca_lo, bca_hi, z0, accel = _bca_limits(kept, estimate, jack, alpha)
    else:
        bca_lo = bca_hi = z0 = accel = float("nan")
    handling = (
        f"{n_missing} of {n_resamples} resamples had no Kaplan-Meier estimate at {at:g} "
        f"(a resampled arm's follow-up ended before {at:g} with survival above 0: "
        f"{int(missing[0].sum())} in {treated}, {int(missing[1].sum())} in {control}); "
        f"they were excluded, so both intervals use the {len(kept)} estimable resamples"
        + ("" if jack_ok else "; a jackknife value was not estimable, so BCa is undefined")
    )
    method = (
        f"Kaplan-Meier S({at:g}) {treated} minus {control}; stratified bootstrap "
        f"(resampling within each arm), {n_resamples:,} resamples, seed {seed}; "
        f"{100 * confidence_level:g}% percentile and BCa intervals (BCa: mid-rank bias "
        "correction, jackknife acceleration within arms)"
    )
    return BootstrapResult(
        estimate=estimate, surv_treated=point[0], surv_control=point[1], at=float(at),
        treated=treated, control=control, confidence_level=confidence_level,
        percentile_lower=pct_lo, percentile_upper=pct_hi, bca_lower=bca_lo,
        bca_upper=bca_hi, bias_correction=z0, acceleration=accel, bootstrap_se=se,
        n_resamples=n_resamples, n_nonestimable=n_missing,
        n_nonestimable_treated=int(missing[0].sum()),
        n_nonestimable_control=int(missing[1].sum()),
        nonestimable_handling=handling, seed=seed, method=method,
    )

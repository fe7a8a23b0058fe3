"""Monte Carlo permutation log-rank test for a small cohort (coin's scores and tolerance).

:func:`permutation_logrank` returns a small frozen result object with ``.table()`` and
``.to_results()``; :func:`permutation_logrank_batch` gives its P for many cohorts at once.

:func:`permutation_logrank`
    Monte Carlo permutation log-rank test for 2 or more groups, the test of R's
    ``coin::logrank_test(..., distribution = approximate(nresample = B))``. The scores are
    coin's log-rank scores of the pooled data
    (:func:`nethep.logrank_scores.logrank_scores`), held fixed while
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

The scores and the linear statistic are :mod:`nethep.logrank_scores`'s; the exact
test over all assignments is :func:`nethep.exact_logrank.exact_logrank`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nethep.formats import finite_or_none, p_digits
from nethep.km import ArrayLike
from nethep.logrank_scores import SQRT_EPS, ScoreDesign, logrank_scores_rows, score_design

__all__ = [
    "DEFAULT_SEED",
    "PermutationTest",
    "permutation_logrank",
    "permutation_logrank_batch",
]

DEFAULT_SEED = 20061001
_BATCH = 65_536


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


def _draw_plan(design: ScoreDesign) -> tuple[int, list[int], np.ndarray, int]:
    """Which groups are drawn by shuffling: all but the largest (filled last).

    Returns (last group, drawn groups, their start columns, positions to shuffle m).
    """
    sizes = design.sizes.astype(int)
    last = int(np.argmax(sizes))
    drawn = [g for g in range(design.k) if g != last]
    starts = np.concatenate([[0], np.cumsum(sizes[drawn])[:-1]]).astype(int)
    return last, drawn, starts, design.n - int(sizes[last])


def _sums_from_positions(design: ScoreDesign, positions: np.ndarray) -> np.ndarray:
    """Group sums (B, k) when row r gives the drawn groups, in order, the patients
    ``positions[r, starts[g]:starts[g] + n_g]`` and the largest group the rest."""
    last, drawn, starts, _ = _draw_plan(design)
    sums = np.add.reduceat(design.scores[positions], starts, axis=1)
    out = np.empty((len(positions), design.k))
    out[:, drawn] = sums
    out[:, last] = float(design.scores.sum()) - sums.sum(axis=1)
    return out


def _permuted_sums(design: ScoreDesign, n_permutations: int, rng: np.random.Generator):
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


def _coin_statistic(design: ScoreDesign, sums: np.ndarray) -> np.ndarray:
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
    design = score_design(time, event, group)
    observed = design.sums(design.codes)
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

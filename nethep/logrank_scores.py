"""coin's log-rank scores and the linear statistic the permutation tests share.

The permutation log-rank tests (:mod:`nethep.permutation`, Monte Carlo;
:mod:`nethep.exact_logrank`, exact) hold the pooled log-rank scores fixed and permute
the group labels, so both work on the same :class:`ScoreDesign`: the scores
(:func:`logrank_scores`, coin's ``logrank_trafo``), the groups in R's ``factor()``
order, and the permutation mean and variance of the linear statistic
``T_g = sum of the scores in group g`` (coin's standardised Z of the first group, or its
quadratic form for k > 2 groups). Comparisons use coin's tolerance :data:`SQRT_EPS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nethep.km import ArrayLike, check_survival, risk_table

__all__ = ["SQRT_EPS", "ScoreDesign", "logrank_scores", "logrank_scores_rows", "risk_lcm",
           "score_design"]

#: coin's comparison tolerance (``sqrt_eps``) on the standardized statistic.
SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


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


def risk_lcm(time: np.ndarray, event: np.ndarray) -> int:
    """lcm of the risk-set sizes at event times: a common denominator of the scores."""
    table = risk_table(time, event)
    return math.lcm(1, *(int(x) for x in table.n_risk[table.n_event > 0]))


@dataclass(frozen=True)
class ScoreDesign:
    """The log-rank scores of a cohort and its group labels: what the permutation and
    exact tests condition on (the scores stay fixed while the labels are permuted)."""

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

    def sums(self, codes: np.ndarray) -> np.ndarray:
        """Sum of the scores in each group when patient i is in group ``codes[i]``."""
        return np.bincount(codes, weights=self.scores, minlength=self.k)

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


def score_design(time: ArrayLike, event: ArrayLike, group: ArrayLike) -> ScoreDesign:
    """coin's log-rank scores and the groups as R's ``factor()`` codes them; a
    ValueError when every score is equal (no events) or there are fewer than 2 groups."""
    t, e = check_survival(time, event)
    codes, levels = _as_groups(group, len(t))
    scores = logrank_scores(t, e)
    mean = float(scores.mean())
    ss = float(np.sum((scores - mean) ** 2))
    if ss <= 0:
        raise ValueError("all log-rank scores are equal (no events?): the test is undefined")
    sizes = np.bincount(codes, minlength=len(levels)).astype(float)
    return ScoreDesign(scores, codes, levels, sizes, mean, ss)

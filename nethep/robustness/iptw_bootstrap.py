"""Bootstrap of the whole IPTW pipeline, vectorised over resamples.

Each resample refits the propensity model and the weighted Cox model, so the interval
carries the uncertainty of the estimated weights, which the robust (sandwich) SE of
:func:`nethep.robustness.weighting.iptw_cox` treats as known. Resampling is stratified
by arm (the arm sizes stay as observed, so every resample has both arms). A resample is
held as integer counts per patient (a patient drawn twice is two rows, as in R's
``d[idx, ]``), so all resamples are fitted at once:

- :func:`logistic_fits`: IRLS for the logistic propensity model with the counts as
  frequency weights, one Newton step for all resamples together (R ``glm`` on the
  resampled rows).
- :func:`weighted_cox_binary`: the weighted Cox partial likelihood of one binary term
  with Efron ties, as R ``coxph(..., weights = w, ties = "efron")`` on the resampled
  rows (tied copies of a death count as tied deaths), maximised by Newton-Raphson for
  all resamples together. No death in the surgical arm: coefficient -inf (HR 0); none
  in the other arm: +inf.

Verified against R (glm + coxph on 25 resamples drawn by R, their indices stored) in
``tests/test_robustness.py`` (reference: ``tests/reference/make_iptw_reference.R``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import expit

Estimand = Literal["ATT", "ATE"]

#: Resamples of the whole-pipeline bootstrap (seeded; percentile interval).
N_BOOT = 2000
_MAX_ITER = 100
_TOL = 1e-10
_DIVERGED = 30.0  # |log HR| beyond this: the partial likelihood has no finite maximum


def stratified_counts(treated: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot x n`` counts: how often each patient is drawn, within each arm
    (``numpy.random.default_rng(seed)``; arm sizes fixed)."""
    rng = np.random.default_rng(seed)
    n = len(treated)
    counts = np.zeros((n_boot, n), dtype=np.int64)
    rows = np.arange(n_boot)[:, None]
    for arm in (True, False):
        members = np.flatnonzero(treated == arm)
        draws = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        np.add.at(counts, (np.broadcast_to(rows, draws.shape), draws), 1)
    return counts


def counts_from_indices(indices: np.ndarray, n: int) -> np.ndarray:
    """``B x n`` counts from ``B x n_rows`` 0-based row indices (e.g. R's, minus 1)."""
    indices = np.atleast_2d(np.asarray(indices, dtype=np.int64))
    counts = np.zeros((len(indices), n), dtype=np.int64)
    np.add.at(counts, (np.arange(len(indices))[:, None].repeat(indices.shape[1], 1),
                       indices), 1)
    return counts


def logistic_fits(x: np.ndarray, y: np.ndarray, freq: np.ndarray) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """Fitted probabilities (``B x n``) of the logistic regression of ``y`` on ``x``
    (``n x p``, intercept included) with frequency weights ``freq`` (``B x n``), and
    whether each fit converged (IRLS, last step below 1e-10). Fitted values are given for
    every patient, drawn or not."""
    n_boot, p = len(freq), x.shape[1]
    beta = np.zeros((n_boot, p))
    converged = np.zeros(n_boot, dtype=bool)
    ridge = 1e-12 * np.eye(p)
    for _ in range(_MAX_ITER):
        mu = expit(beta @ x.T)
        w = freq * mu * (1 - mu)
        info = np.einsum("bn,ni,nj->bij", w, x, x) + ridge
        score = (freq * (y - mu)) @ x
        step = np.linalg.solve(info, score[..., None])[..., 0]
        beta = beta + np.where(converged[:, None], 0.0, step)
        converged |= np.abs(step).max(axis=1) <= _TOL * np.maximum(1.0, np.abs(beta).max(1))
        if converged.all():
            break
    return expit(beta @ x.T), converged


def _death_sums(time: np.ndarray, event: np.ndarray, x: np.ndarray, v: np.ndarray,
                rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per resample (``B``) and distinct death time (``J``): weighted sums at risk and
    among the deaths, by arm, and the number of tied death rows."""
    death_times = np.unique(time[event == 1])
    at_risk = (time[:, None] >= death_times[None, :]).astype(float)  # n x J
    dies = ((time[:, None] == death_times[None, :]) & (event[:, None] == 1)).astype(float)
    x1, x0 = x.astype(float), 1.0 - x
    return (v * x0 @ at_risk, v * x1 @ at_risk, v * x0 @ dies, v * x1 @ dies,
            rows @ dies)


def weighted_cox_binary(time: np.ndarray, event: np.ndarray, x: np.ndarray,
                        v: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Log hazard ratio of the binary ``x`` per resample: weighted Cox, Efron ties.

    ``v`` (``B x n``) is each patient's total weight in a resample (copies times the
    weight), ``rows`` (``B x n``) the copies. At a death time with m tied death rows,
    Efron's k-th term (k < m) has risk-set sum S0 - k/m * S0_dead, each term weighted by
    the mean weight of the dying rows (R's ``coxph``). Newton-Raphson from 0, steps
    capped at 5. No weighted death in an arm: -inf (none among x = 1) or +inf (none
    among x = 0); a resample with neither: NaN.
    """
    w0, w1, d0, d1, m = _death_sums(time, event, x, v, rows)
    k_max = int(m.max()) if m.size else 0
    safe_m = np.where(m > 0, m, 1.0)
    mean_w = (d0 + d1) / safe_m
    total_d1 = d1.sum(axis=1)
    beta = np.zeros(len(v))
    done = np.zeros(len(v), dtype=bool)
    for _ in range(_MAX_ITER):
        e = np.exp(beta)[:, None]
        score, info = total_d1.copy(), np.zeros(len(v))
        for k in range(k_max):
            active = k < m
            f = np.where(active, k / safe_m, 0.0)
            num = (w1 - f * d1) * e
            den = (w0 - f * d0) + num
            xbar = np.where(active & (den > 0), num / np.where(den > 0, den, 1.0), 0.0)
            score -= (mean_w * xbar).sum(axis=1)
            info += (mean_w * xbar * (1 - xbar)).sum(axis=1)
        step = np.clip(score / np.where(info > 0, info, np.inf), -5.0, 5.0)
        beta = beta + np.where(done, 0.0, step)
        done |= np.abs(step) <= _TOL * np.maximum(1.0, np.abs(beta))
        done |= np.abs(beta) > _DIVERGED
        if done.all():
            break
    dead1, dead0 = total_d1 > 0, d0.sum(axis=1) > 0
    beta = np.where(~dead1, -np.inf, np.where(~dead0, np.inf, beta))
    beta = np.where(np.abs(beta) > _DIVERGED, np.sign(beta) * np.inf, beta)
    return np.where(~dead1 & ~dead0, np.nan, beta)


def iptw_weights(ps: np.ndarray, treated: np.ndarray, estimand: Estimand,
                 p_treated: np.ndarray | float) -> np.ndarray:
    """ATT: 1 for surgical, e / (1 - e) for non-surgical. ATE (stabilized): P(surgical) / e
    and (1 - P(surgical)) / (1 - e). A score of 0 or 1 (separated arms) gives an infinite
    or undefined weight, without a warning: the callers say so in words."""
    if estimand == "ATT":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(treated, 1.0, ps / (1 - ps))
    if estimand == "ATE":
        p1 = np.asarray(p_treated, dtype=float)
        p1 = p1[:, None] if p1.ndim == 1 else p1
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(treated, p1 / ps, (1 - p1) / (1 - ps))
    raise ValueError(f"estimand must be 'ATT' or 'ATE', not {estimand!r}")


def bootstrap_log_hr(time: np.ndarray, event: np.ndarray, treated: np.ndarray,
                     x: np.ndarray, counts: np.ndarray,
                     estimand: Estimand) -> tuple[np.ndarray, np.ndarray]:
    """The whole pipeline on each resample (``counts``, ``B x n``): propensity model on
    ``x`` (``n x p`` with intercept), weights for ``estimand``, weighted Cox. Returns the
    log hazard ratios (``B``; +-inf where an arm has no death) and whether the propensity
    fit converged."""
    freq = counts.astype(float)
    ps, converged = logistic_fits(x, treated.astype(float), freq)
    p1 = (freq * treated).sum(axis=1) / freq.sum(axis=1)
    w = iptw_weights(ps, treated, estimand, p1)
    with np.errstate(invalid="ignore"):  # an infinite weight of a patient not drawn: NaN
        weights = freq * w
    beta = weighted_cox_binary(time, event, treated, weights, freq)
    return beta, converged


def percentile_limits(values: np.ndarray, conf_level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``values`` (infinite values kept): the order statistics at
    (1 - level) / 2 and (1 + level) / 2 (numpy ``inverted_cdf``, no interpolation, so an
    infinite value is never averaged with a finite one). NaN values are dropped."""
    finite_or_inf = values[~np.isnan(values)]
    alpha = (1 - conf_level) / 2
    lo, hi = np.quantile(finite_or_inf, [alpha, 1 - alpha], method="inverted_cdf")
    return float(lo), float(hi)

"""The Kaplan-Meier product-limit estimator: one implementation, plain and weighted.

Methods and defaults (as R's survival package states them), checked against R
(survival 3.5-3) to a relative 1e-6 by ``tests/test_reference_survival.py``:

- :func:`kaplan_meier`: product-limit estimate; standard error of S(t) by
  Greenwood's formula; 95% pointwise intervals on the log(-log) scale by default
  ("exponential Greenwood", R ``conf.type = "log-log"``), with ``"log"`` (R's
  default) and ``"plain"`` available. Written in numpy because lifelines offers only
  the log-log interval and no per-time standard errors; the same code serves
  bootstrap and registry-sized data. As in R: where S(t) = 0 the standard error and
  the log and log-log limits are NaN (R's NA); where S(t) = 1 at or after the first
  observed time the log-log limits are NaN (R's NA), while before the first observed
  time :meth:`KaplanMeier.at` reports S = 1, SE 0 and limits 1 (R's ``survfit0`` row
  at time 0).
- :meth:`KaplanMeier.at`: the step function at given times with ``n_risk`` the
  number still under observation at t (time >= t), as ``summary(fit, times)``.
  Documented difference: for t beyond the last follow-up R's
  ``summary(extend = FALSE)`` drops the row; nethep keeps it with n_risk 0 and NaN
  (not estimable), or, once S(t) has reached 0, R's ``extend = TRUE`` row.
- :meth:`KaplanMeier.quantile` and :meth:`KaplanMeier.median`: R's
  ``quantile.survfit`` rule (``findq``): the first time S(t) <= 1 - p; where S(t)
  lies exactly on 1 - p (within sqrt(machine eps)) the midpoint between that time and
  the time the curve next drops, or, if it never drops again, the last follow-up
  time. The CI is read off the pointwise limit curves (lower limit from the lower
  curve; Brookmeyer-Crowley as implemented by R). Documented difference:
  ``print(fit)`` / ``summary(fit)$table`` use a second rule that agrees except when
  the curve ends exactly on 0.5; there it gives the time S(t) reached 0.5.
- :func:`weighted_km`: the weighted product-limit estimator (Xie and Liu, Stat Med
  2005;24:3089), verified against R ``survfit(..., weights = w)``.
- :func:`restricted_mean_survival`: the area under the curve to tau with R's
  standard error (``print(survfit(...), rmean = tau)``); the area is lifelines' (the
  one use of lifelines here, see the function).
- :func:`survival_at_weighted`: S(t) at one time for many case-weight vectors at once
  (the bootstrap), by matrix products.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy import special

from nethep import privacy

ConfType = Literal["log-log", "log", "plain"]
#: What the engines accept as a column of times, events or groups.
ArrayLike = Sequence[Any] | np.ndarray | pd.Series
_TOL = np.sqrt(np.finfo(float).eps)


def check_survival(time: ArrayLike, event: ArrayLike,
                   negative_times: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``time`` as floats and ``event`` as 0/1 integers, or a ValueError saying what is
    wrong: non-empty 1-d arrays of equal length, finite times (and non-negative unless
    ``negative_times``), events 0 (censored) or 1 (event), nothing missing."""
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if t.ndim != 1 or t.shape != e.shape or len(t) == 0:
        raise ValueError("time and event must be non-empty 1-d arrays of equal length")
    if not np.isfinite(t).all() or (not negative_times and (t < 0).any()):
        raise ValueError(f"times must be finite {'' if negative_times else 'non-negative '}"
                         "numbers (no missing values)")
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValueError("event must be 0 (censored) or 1 (event), with no missing values")
    return t, e.astype(np.int64)


@dataclass(frozen=True)
class KaplanMeier:
    """A fitted Kaplan-Meier curve, one row per distinct observed time."""

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray  # standard error of S(t) (Greenwood)
    lower: np.ndarray
    upper: np.ndarray
    conf_type: ConfType
    conf_level: float
    n: int

    @property
    def events(self) -> int:
        return int(self.n_event.sum())

    def _index(self, times: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.time, times, side="right") - 1

    def at(self, times: Iterable[float]) -> pd.DataFrame:
        """S(t), SE and CI at the given times (step function, right-continuous).

        As R's ``summary(fit, times)``: ``n_risk`` is the number still under
        observation at t (time >= t); times before the first observed time give
        S = 1, SE 0 and limits 1. Times beyond the last observed time give n_risk 0
        and NaN (not estimable), unless the curve has already dropped to 0 (then
        R's ``extend = TRUE`` values); R's ``extend = FALSE`` omits those rows.
        """
        t = np.asarray(list(times), dtype=float)
        i = self._index(t)
        before = i < 0
        j = np.clip(i, 0, len(self.time) - 1)
        surv = np.where(before, 1.0, self.surv[j])
        se = np.where(before, 0.0, self.std_err[j])
        lower = np.where(before, 1.0, self.lower[j])
        upper = np.where(before, 1.0, self.upper[j])
        beyond = (t > self.time[-1]) & (self.surv[-1] > 0)
        for arr in (surv, se, lower, upper):
            arr[beyond] = np.nan
        return pd.DataFrame(
            {"time": t, "n_risk": self.n_at_risk(t), "surv": surv, "std_err": se,
             "lower": lower, "upper": upper}
        )

    def n_at_risk(self, times: Iterable[float]) -> np.ndarray:
        """Number still at risk (time >= t) at each time t."""
        t = np.asarray(list(times), dtype=float)
        idx = np.searchsorted(self.time, t, side="left")
        inside = idx < len(self.time)
        out = np.zeros(len(t), dtype=int)
        out[inside] = self.n_risk[idx[inside]]
        return out

    def quantile(self, p: float = 0.5) -> tuple[float, float, float]:
        """Time at which S(t) first reaches 1 - p, with CI (R ``quantile.survfit``).

        Returns (quantile, lower, upper); the lower limit is read off the lower
        pointwise curve, the upper off the upper one. NaN where not reached.
        """
        return (
            _findq(self.time, self.surv, p),
            _findq(self.time, self.lower, p),
            _findq(self.time, self.upper, p),
        )

    def median(self) -> tuple[float, float, float]:
        """Median survival time with its CI (NaN where not reached)."""
        return self.quantile(0.5)

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per distinct time; counts from 1 to min_cell - 1 read ``<N``
        (:mod:`nethep.privacy`; the arrays of the fit keep the numbers)."""
        return privacy.suppress_table(pd.DataFrame(
            {"time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
             "n_censor": self.n_censor, "surv": self.surv, "std_err": self.std_err,
             "lower": self.lower, "upper": self.upper}
        ), ["n_risk", "n_event", "n_censor"], min_cell)


def _approx_index(y: np.ndarray, p: float) -> int | None:
    """R ``approx(y, seq_along(y), p, method = "constant", f = 1)`` (0-based; None = NA)."""
    ok = np.flatnonzero(~np.isnan(y))
    order = ok[np.argsort(y[ok], kind="stable")]
    ys = y[order]
    if len(ys) == 0 or p < ys[0] or p > ys[-1]:
        return None
    return int(order[np.searchsorted(ys, p, side="left")])


def _findq(time: np.ndarray, curve: np.ndarray, p: float, tol: float = _TOL) -> float:
    """R survival's ``findq``: the p-quantile of a step curve, with its midpoint rules.

    On the cumulative scale y = 1 - curve (starting at y = 0 at time 0), flat
    stretches are collapsed to their first time; where y equals p within ``tol``
    the quantile is the midpoint between that time and the time y next rises, or
    the last observed time if it never does. NaN points of the curve are skipped.
    """
    x = np.concatenate([[0.0], np.asarray(time, dtype=float)])
    y = np.concatenate([[0.0], 1 - np.asarray(curve, dtype=float)])
    if np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    first = np.sort(np.unique(y, return_index=True)[1])  # drop repeated values (R duplicated)
    x, y = x[first], y[first]
    i1 = _approx_index(y + tol, p)
    i2 = _approx_index(y - tol, p)
    quant = float("nan") if i1 is None or i2 is None else (x[i1] + x[i2]) / 2
    if p == 0:
        quant = x[0]
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
        quant = float("nan") if i1 is None else (x[i1] + xmax) / 2
    return float(quant)


def _confidence(surv: np.ndarray, se_cumhaz: np.ndarray, z: float, conf_type: ConfType):
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            lower = surv - z * se_cumhaz * surv
            upper = surv + z * se_cumhaz * surv
            return np.clip(lower, 0, 1), np.clip(upper, 0, 1)
        if conf_type == "log":
            lower = np.exp(np.log(surv) - z * se_cumhaz)
            upper = np.minimum(np.exp(np.log(surv) + z * se_cumhaz), 1.0)
            zero = surv == 0
            lower[zero] = np.nan
            upper[zero] = np.nan
            return lower, upper
        if conf_type == "log-log":
            # R (survfit_confint) leaves the interval NA where S = 0 or S = 1
            inside = (surv > 0) & (surv < 1)
            s = np.where(inside, surv, np.nan)
            shift = z * se_cumhaz / np.log(s)
            lower = np.exp(-np.exp(np.log(-np.log(s)) - shift))
            upper = np.exp(-np.exp(np.log(-np.log(s)) + shift))
            return lower, upper
    raise ValueError(f"conf_type must be 'log-log', 'log' or 'plain', not {conf_type!r}")


@dataclass(frozen=True)
class RiskTable:
    """Counts at each distinct time: at risk (time >= t), events, and all rows there.

    The one place the product-limit arithmetic is written: :func:`kaplan_meier`,
    :func:`weighted_km`, the Kaplan-Meier transform of ``cox.zph``
    (:func:`nethep.cox.km_transform`) and the log-rank scores of the permutation tests
    (:func:`nethep.logrank_scores.logrank_scores`) all read it. With case weights the
    counts are sums of weights.
    """

    time: np.ndarray     # distinct times, ascending
    inverse: np.ndarray  # index into ``time`` of each input row
    n_risk: np.ndarray
    n_event: np.ndarray  # float (weighted sums, or whole numbers)
    n_rows: np.ndarray

    def surv(self) -> np.ndarray:
        """The product-limit curve S(t) = prod over times <= t of (1 - n_event / n_risk)."""
        return np.cumprod(1 - self.n_event / self.n_risk)

    def hazard(self) -> np.ndarray:
        """Nelson-Aalen increments d / n at each distinct time."""
        return self.n_event / self.n_risk


def reverse_cumsum(a: np.ndarray) -> np.ndarray:
    """Sums from each row to the last (along the first axis): numbers at risk from counts."""
    return np.cumsum(a[::-1], axis=0)[::-1]


def risk_table(time: np.ndarray, event: np.ndarray,
               weights: np.ndarray | None = None) -> RiskTable:
    """Distinct times with their numbers at risk and events (``weights``: case weights).

    Unweighted counts are whole numbers (numbers at risk as integers, the count minus
    the rows before each time); weighted numbers at risk are reverse cumulative sums
    of the weights. ``time`` and ``event`` are taken as given (callers validate).
    """
    uniq, inverse = np.unique(time, return_inverse=True)
    if weights is None:
        n_event = np.bincount(inverse, weights=event, minlength=len(uniq))
        n_rows = np.bincount(inverse, minlength=len(uniq))
        n_risk = len(time) - np.concatenate([[0], np.cumsum(n_rows)[:-1]])
    else:
        n_event = np.bincount(inverse, weights=weights * event, minlength=len(uniq))
        n_rows = np.bincount(inverse, weights=weights, minlength=len(uniq))
        n_risk = reverse_cumsum(n_rows)
    return RiskTable(uniq, inverse, n_risk, n_event, n_rows)


def kaplan_meier(
    time: ArrayLike,
    event: ArrayLike,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
) -> KaplanMeier:
    """Fit the Kaplan-Meier estimator (Greenwood SE, ``conf_type`` interval, default
    log-log at 95%; see the module docstring)."""
    t, e = check_survival(time, event)
    table = risk_table(t, e)
    n_event = table.n_event.astype(int)
    n_risk = table.n_risk
    surv = table.surv()
    with np.errstate(divide="ignore", invalid="ignore"):
        increments = np.where(
            n_event > 0, n_event / (n_risk * (n_risk - n_event).astype(float)), 0.0
        )
        se_cumhaz = np.sqrt(np.cumsum(increments))
        std_err = np.where(surv > 0, surv * se_cumhaz, np.nan)
    z = special.ndtri(1 - (1 - conf_level) / 2)  # = stats.norm.ppf, without its overhead
    lower, upper = _confidence(surv, se_cumhaz, z, conf_type)
    return KaplanMeier(
        time=table.time, n_risk=n_risk, n_event=n_event, n_censor=table.n_rows - n_event,
        surv=surv, std_err=std_err, lower=lower, upper=upper,
        conf_type=conf_type, conf_level=conf_level, n=len(t),
    )


def weighted_km(time: np.ndarray, event: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    """Weighted product-limit: S(t) = prod over times <= t of (1 - sum w dead / sum w at risk).

    Written in numpy (and verified against R ``survfit(..., weights = w)``) because
    lifelines 0.30's weighted ``KaplanMeierFitter`` leaves the curve at its previous
    value when the last observation is a death and the weights are not integers
    (the at-risk weight, formed by subtraction, ends a rounding error below the
    death weight). One row per distinct time, starting with (0, 1): time, n_risk and
    n_event (weighted), surv.
    """
    table = risk_table(time, event, w)
    return pd.DataFrame({
        "time": np.concatenate([[0.0], table.time]),
        "n_risk": np.concatenate([[w.sum()], table.n_risk]),
        "n_event": np.concatenate([[0.0], table.n_event]),
        "surv": np.concatenate([[1.0], table.surv()]),
    })


def survival_at_weighted(time: np.ndarray, event: np.ndarray, weights: np.ndarray,
                         at: float) -> np.ndarray:
    """Kaplan-Meier S(at) for each row of case weights (R, n) at once; NaN where not
    estimable. The batched form used by the bootstrap (one matrix product per sample set).

    Row r is the sample holding patient i ``weights[r, i]`` times. Not estimable, as in
    :meth:`KaplanMeier.at`: the sample's last time is before ``at`` and its curve has
    not reached 0.
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


def restricted_mean_survival(time: np.ndarray, event: np.ndarray,
                             tau: float) -> tuple[float, float]:
    """Area under the Kaplan-Meier curve from 0 to ``tau`` and its SE by R survival's rule.

    Area: lifelines ``restricted_mean_survival_time`` of a ``KaplanMeierFitter``
    (the curve extended flat beyond the last follow-up, R's rule). lifelines forms
    its curve as exp(sum of log(1 - d/n)), which differs from this module's product
    by ~1e-15 (relative) on the area; it is kept here so that the published RMST
    values stay the same to the last bit (both agree with R to 1e-6). SE: R's
    ``print(survfit(...), rmean = tau)`` ``se(rmean)``: var = sum over event times
    t_k <= tau of A_k^2 d_k / (n_k (n_k - d_k)), A_k the area from t_k to tau (Klein
    and Moeschberger 2003, section 4.5).
    """
    area = float(restricted_mean_survival_time(KaplanMeierFitter().fit(time, event), t=tau))
    km = kaplan_meier(time, event)
    inside = (km.time <= tau) & (km.n_event > 0)
    t_ev = km.time[inside]
    d, n = km.n_event[inside], km.n_risk[inside]
    # area under S from each event time to tau: the step curve after t_ev[k]
    grid = np.concatenate([km.time[km.time < tau], [tau]])
    steps = np.concatenate([[1.0], km.surv[km.time < tau]])
    left = np.concatenate([[0.0], grid[:-1]])
    pieces = steps * (grid - left)  # S on [left, grid)
    cum_from = np.concatenate([np.cumsum(pieces[::-1])[::-1], [0.0]])
    # area after event time t_k = sum of pieces whose left edge >= t_k
    idx = np.searchsorted(left, t_ev, side="left")
    after = cum_from[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(n - d > 0, d / (n * (n - d).astype(float)), 0.0)
    return area, float(np.sqrt(np.sum(after**2 * h)))

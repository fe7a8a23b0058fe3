"""Firth-penalised Cox regression and the three ordinary Cox tests side by side.

With few deaths the Cox maximum-likelihood estimate is biased away from 1, and when an
arm has no deaths it is infinite (monotone likelihood). Firth's penalty removes the
first-order bias and keeps the estimate finite (Firth, Biometrika 1993;80:27; for the
Cox model Heinze and Schemper, Biometrics 2001;57:114, R package ``coxphf``).

- :func:`firth_coxph`: maximises the penalised log partial likelihood
  ``l*(b) = l(b) + 0.5 log det I(b)`` (``l`` and the observed information ``I`` of
  :mod:`nethep.cox`'s partial likelihood, Efron ties by default as everywhere in
  nethep; ``ties="breslow"`` gives R ``coxphf``'s). Newton steps on ``l*`` from b = 0
  with step halving, until a full step is below ``tol`` (1e-10); the gradient and
  Hessian of ``log det I(b)`` by central differences (steps 1e-5 and 1e-4; the
  gradient's error ~1e-10), falling back to ``I(b)`` as the metric (coxphf's
  modified-score step) where the Hessian is not negative definite. Per coefficient: the
  profile-penalised-likelihood CI (the values of ``b_j`` where
  ``2 (l*(b_hat) - max over the others l*(b_j fixed)) = qchisq(conf_level, 1)``, found
  by Brent's root finder) and the penalised likelihood-ratio test of ``b_j = 0``
  (chi-square on 1 df), as ``coxphf(pl = TRUE)``. The SE reported is
  ``sqrt(diag(I(b_hat)^-1))`` (descriptive only; the CI and P do not use it).
- :func:`cox_tests`: the ordinary (unpenalised) Cox fit's Wald, likelihood-ratio and
  score tests (R ``summary(coxph(...))``'s three global tests), which disagree when
  deaths are few. When the likelihood is monotone (an arm with no deaths) the
  estimate and Wald test are not estimable (NaN, said in words); the likelihood-ratio
  and score tests remain defined.

Verified against R (survival's ``coxph`` evaluated at fixed b with ``iter.max = 0``,
maximised and profiled with ``optimize``/``uniroot``) to 1e-6 in ``tests/test_firth.py``
(reference values from ``tests/reference/make_firth_reference.R``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import optimize, stats

from nethep.cox import (
    TOLER_CHOL,
    Covariates,
    CoxFit,
    HazardRatio,
    Ties,
    _derivatives,
    _inputs,
    _risk_sets,
    _RiskSets,
    coxph,
)
from nethep.km import ArrayLike

#: Why a model has no estimate when the information at b = 0 is singular.
NO_INFORMATION = ("no information about the covariate: collinear covariates, or a "
                  "covariate constant within every risk set at a death, as when no patient "
                  "of one arm is at risk at any death")


class NotEstimable(ValueError):
    """The model has no estimate for these data (the message says why)."""


#: Central-difference steps for the gradient and the Hessian of log det I(b).
DIFF_STEP = 1e-5
HESS_STEP = 1e-4


# --------------------------------------------------------------------------------- engine


def _logdet(rs: _RiskSets, beta: np.ndarray) -> float:
    sign, logdet = np.linalg.slogdet(_derivatives(rs, beta)[2])
    return float(logdet) if sign > 0 else -math.inf


def _no_information(rs: _RiskSets) -> bool:
    """True when the information at b = 0 is singular: its smallest eigenvalue is below
    ``TOLER_CHOL`` times the deaths times the largest covariate variance."""
    scale = float(rs.event.sum()) * float(np.max(np.var(rs.x, axis=0)))
    info0 = _derivatives(rs, np.zeros(rs.x.shape[1]))[2]
    return float(np.linalg.eigvalsh(info0).min()) <= TOLER_CHOL * scale


def _penalised(rs: _RiskSets, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """l*(b), its gradient (the modified score) and the information I(b) at ``beta``."""
    loglik, score, info = _derivatives(rs, beta)
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -math.inf, score, info
    grad = np.empty(len(beta))
    for k in range(len(beta)):
        step = np.zeros(len(beta))
        step[k] = DIFF_STEP
        grad[k] = (_logdet(rs, beta + step) - _logdet(rs, beta - step)) / (2 * DIFF_STEP)
    return loglik + 0.5 * float(logdet), score + 0.5 * grad, info


def _logdet_hessian(rs: _RiskSets, beta: np.ndarray) -> np.ndarray:
    """Second derivatives of log det I(b) by central differences (step :data:`HESS_STEP`)."""
    p = len(beta)
    h = HESS_STEP
    unit = np.eye(p) * h
    centre = _logdet(rs, beta)
    hess = np.empty((p, p))
    for k in range(p):
        hess[k, k] = (_logdet(rs, beta + unit[k]) - 2 * centre
                      + _logdet(rs, beta - unit[k])) / h**2
        for m in range(k):
            hess[k, m] = hess[m, k] = (
                _logdet(rs, beta + unit[k] + unit[m]) - _logdet(rs, beta + unit[k] - unit[m])
                - _logdet(rs, beta - unit[k] + unit[m])
                + _logdet(rs, beta - unit[k] - unit[m])) / (4 * h**2)
    return hess


def _newton_step(rs: _RiskSets, beta: np.ndarray, grad: np.ndarray, info: np.ndarray,
                 idx: np.ndarray) -> np.ndarray:
    """Newton step on l* over the coefficients ``idx``: the negative Hessian
    I(b) - 0.5 d2 log det I(b) when it is positive definite, else I(b) (Firth's
    modified-score step, as coxphf)."""
    sub = np.ix_(idx, idx)
    metric = info[sub] - 0.5 * _logdet_hessian(rs, beta)[sub]
    try:
        np.linalg.cholesky(metric)
    except np.linalg.LinAlgError:
        metric = info[sub]
    step = np.zeros_like(beta)
    step[idx] = np.linalg.solve(metric, grad[idx])
    return step


def _maximise(rs: _RiskSets, beta: np.ndarray, free: np.ndarray, max_iter: int,
              tol: float) -> tuple[np.ndarray, float, int]:
    """Maximise l* over the coefficients where ``free`` is True (the others held at
    ``beta``); returns (beta, l*, iterations). Converged when a full Newton step is below
    ``tol`` (relative to the coefficients' size). Raises if it does not converge."""
    beta = beta.astype(float).copy()
    value, grad, info = _penalised(rs, beta)
    if not free.any():
        return beta, value, 0
    idx = np.flatnonzero(free)
    for iteration in range(1, max_iter + 1):
        step = _newton_step(rs, beta, grad, info, idx)
        full = float(np.max(np.abs(step)))
        for _ in range(60):  # step halving until l* does not decrease
            new_value, new_grad, new_info = _penalised(rs, beta + step)
            if new_value >= value - 1e-12 * (1.0 + abs(value)):
                break
            step = step / 2
        else:
            break
        beta = beta + step
        value, grad, info = new_value, new_grad, new_info
        if full <= tol * max(1.0, float(np.max(np.abs(beta)))):
            return beta, value, iteration
    raise RuntimeError(f"Firth-penalised Cox model did not converge in {max_iter} iterations")


def _profile_limit(rs: _RiskSets, beta_hat: np.ndarray, j: int, target: float,
                   direction: int, scale: float, max_iter: int, tol: float) -> float:
    """The value of b_j on one side of the estimate where the profile l* falls to
    ``target``; +/-inf when it never does within 2^30 scales."""
    free = np.ones(len(beta_hat), dtype=bool)
    free[j] = False

    def gap(value: float) -> float:
        start = beta_hat.copy()
        start[j] = value
        return _maximise(rs, start, free, max_iter, tol)[1] - target

    inner = float(beta_hat[j])
    width = scale
    for _ in range(30):
        outer = inner + direction * width
        if gap(outer) < 0:
            lo, hi = sorted((inner, outer))
            return float(optimize.brentq(gap, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=200))
        inner, width = outer, 2 * width
    return direction * math.inf


@dataclass(frozen=True)
class FirthFit:
    """A Firth-penalised Cox model (see :func:`firth_coxph`); one entry per covariate."""

    names: tuple[str, ...]
    coef: np.ndarray          # penalised maximum-likelihood estimate
    se: np.ndarray            # sqrt(diag(I(coef)^-1)), descriptive
    hr: np.ndarray
    lower: np.ndarray         # profile-penalised-likelihood CI of the hazard ratio
    upper: np.ndarray
    chisq: np.ndarray         # penalised likelihood-ratio statistic of b_j = 0
    p: np.ndarray             # its P (chi-square, 1 df)
    loglik: tuple[float, float]  # penalised log partial likelihood at b = 0 and at coef
    iterations: int
    n: int
    events: int
    ties: Ties
    conf_level: float
    note: str = ""  # why there is no estimate (empty when there is)

    @classmethod
    def not_estimable(cls, names: Sequence[str], n: int, events: int, ties: Ties,
                      conf_level: float, reason: str) -> FirthFit:
        """A fit with no estimate (NaN throughout) and the reason."""
        nan = np.full(len(names), math.nan)
        return cls(names=tuple(names), coef=nan, se=nan, hr=nan, lower=nan, upper=nan,
                   chisq=nan, p=nan, loglik=(math.nan, math.nan), iterations=0, n=n,
                   events=events, ties=ties, conf_level=conf_level, note=reason)

    def table(self) -> pd.DataFrame:
        """One row per covariate: coefficient, SE, HR, profile CI, penalised LR test."""
        return pd.DataFrame({
            "covariate": self.names, "coef": self.coef, "se": self.se, "hr": self.hr,
            "lower": self.lower, "upper": self.upper, "chisq_lr": self.chisq,
            "p_lr": self.p,
        })

    @property
    def method(self) -> str:
        """How the estimate, interval and P were formed (one phrase)."""
        return (f"Firth-penalised Cox, {self.ties.title()} ties, profile-likelihood CI, "
                "penalised likelihood-ratio P")

    def hazard_ratio(self, name: str) -> HazardRatio:
        """One covariate's hazard ratio with its profile CI and penalised LR P
        (:meth:`HazardRatio.not_estimable` with the reason when there is no estimate)."""
        if self.note:
            return replace(HazardRatio.not_estimable(self.note, method=self.method),
                           conf_level=self.conf_level, ci="profile")
        i = self.names.index(name)
        return HazardRatio(hr=float(self.hr[i]), lower=float(self.lower[i]),
                           upper=float(self.upper[i]), p=float(self.p[i]),
                           conf_level=self.conf_level, ci="profile", method=self.method)


def firth_coxph(time: ArrayLike, event: ArrayLike, x: Covariates,
                names: Sequence[str] | None = None, ties: Ties = "efron",
                conf_level: float = 0.95, max_iter: int = 100, tol: float = 1e-10) -> FirthFit:
    """Fit a Firth-penalised Cox model of ``x`` (n, or n x p); see the module docstring.

    Defaults: Efron ties, 95% profile-likelihood CI, penalised likelihood-ratio P.
    Finite even when an arm has no deaths. Raises if there are no events, a covariate
    is constant, or the information at b = 0 is singular (smallest eigenvalue below
    ``TOLER_CHOL`` times deaths times the largest covariate variance: collinear
    covariates, or a covariate constant within every risk set at a death), where the
    penalty is undefined.
    """
    t, e, xm, names = _inputs(time, event, x, names)
    p = xm.shape[1]
    if any(np.ptp(col) == 0 for col in xm.T):
        raise ValueError("a covariate is constant: its coefficient is undefined")
    rs = _risk_sets(t, e, xm, ties)
    zero = np.zeros(p)
    if _no_information(rs):
        raise NotEstimable(NO_INFORMATION)
    free = np.ones(p, dtype=bool)
    beta, value, iterations = _maximise(rs, zero, free, max_iter, tol)
    info = _derivatives(rs, beta)[2]
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    target = value - 0.5 * float(stats.chi2.ppf(conf_level, 1))
    lower, upper, chisq = np.empty(p), np.empty(p), np.empty(p)
    for j in range(p):
        lower[j] = _profile_limit(rs, beta, j, target, -1, float(se[j]), max_iter, tol)
        upper[j] = _profile_limit(rs, beta, j, target, +1, float(se[j]), max_iter, tol)
        others = free.copy()
        others[j] = False
        start = beta.copy()
        start[j] = 0.0
        null_value = _maximise(rs, start, others, max_iter, tol)[1]
        chisq[j] = max(0.0, 2 * (value - null_value))
    with np.errstate(over="ignore"):
        hr, lo, hi = np.exp(beta), np.exp(lower), np.exp(upper)
    return FirthFit(
        names=names, coef=beta, se=se, hr=hr, lower=lo, upper=hi, chisq=chisq,
        p=stats.chi2.sf(chisq, 1), loglik=(_penalised(rs, zero)[0], value),
        iterations=iterations, n=len(t), events=int(e.sum()), ties=ties,
        conf_level=conf_level,
    )


# --------------------------------------------------------------- the ordinary Cox tests


@dataclass(frozen=True)
class CoxTests:
    """The ordinary Cox fit and its three global tests (see :func:`cox_tests`)."""

    fit: CoxFit | None       # None when there is no information to fit
    estimable: bool          # False: no finite estimate (``note`` says why)
    wald_statistic: float    # NaN when not estimable
    wald_p: float
    lr_statistic: float      # NaN when there is no information
    lr_p: float
    score_statistic: float
    score_p: float
    df: int
    ties: Ties = "efron"
    note: str = ""  # why the estimate is not estimable (empty when it is)

    def hazard_ratio(self, name: str) -> HazardRatio:
        """The ordinary Cox HR with its Wald CI and P; :meth:`HazardRatio.not_estimable`
        with the reason when :attr:`estimable` is False."""
        if not self.estimable or self.fit is None:
            return HazardRatio.not_estimable(
                self.note, method=f"Cox partial likelihood, {self.ties.title()} ties, Wald CI")
        return self.fit.hazard_ratio(name)

    def table(self) -> pd.DataFrame:
        """One row per test: statistic, df and P."""
        return pd.DataFrame({
            "test": ["Wald", "likelihood ratio", "score (log-rank)"],
            "statistic": [self.wald_statistic, self.lr_statistic, self.score_statistic],
            "df": [self.df] * 3, "p": [self.wald_p, self.lr_p, self.score_p],
        })


def cox_tests(time: ArrayLike, event: ArrayLike, x: Covariates,
              names: Sequence[str] | None = None, ties: Ties = "efron",
              conf_level: float = 0.95) -> CoxTests:
    """Wald, likelihood-ratio and score tests of all coefficients = 0 (R
    ``summary(coxph(...))``'s ``waldtest``, ``logtest`` and ``sctest``), Efron ties by
    default; the score test is at b = 0 (with one binary covariate and Breslow ties it
    is the log-rank test). A fit whose coefficients do not converge (monotone
    likelihood, e.g. an arm with no deaths) is not estimable: Wald NaN; the
    likelihood-ratio statistic is taken at the last iterate, where the log-likelihood
    has reached its supremum (as R reports it). With no information at b = 0 (the rule
    of :func:`firth_coxph`) nothing is tested: every statistic NaN, said in ``note``.
    Raises as :func:`nethep.cox.coxph` on no events or a constant covariate."""
    t, e, xm, names = _inputs(time, event, x, names)
    if np.ptp(xm, axis=0).min() > 0 and _no_information(
            _risk_sets(t, e, xm, ties)):
        nan = math.nan
        return CoxTests(fit=None, estimable=False, wald_statistic=nan, wald_p=nan,
                        lr_statistic=nan, lr_p=nan, score_statistic=nan, score_p=nan,
                        df=xm.shape[1], ties=ties, note=NO_INFORMATION)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = coxph(t, e, x, names=names, ties=ties, conf_level=conf_level)
    estimable = not any("may be infinite" in str(w.message) for w in caught)
    for w in caught:
        if "may be infinite" not in str(w.message):
            warnings.warn(w.message, w.category, stacklevel=2)
    keep = np.isfinite(fit.coef)
    if estimable:
        coef = fit.coef[keep]
        wald = float(coef @ np.linalg.solve(fit.var[np.ix_(keep, keep)], coef))
    else:
        wald = math.nan
    lr = max(0.0, 2 * (fit.loglik[1] - fit.loglik[0]))
    rs = _risk_sets(t, e, xm[:, keep], ties)
    _, score, info = _derivatives(rs, np.zeros(int(keep.sum())))
    sc = float(score @ np.linalg.solve(info, score))
    df = int(keep.sum())
    return CoxTests(
        fit=fit, estimable=estimable, wald_statistic=wald,
        wald_p=float(stats.chi2.sf(wald, df)) if estimable else math.nan,
        lr_statistic=lr, lr_p=float(stats.chi2.sf(lr, df)),
        score_statistic=sc, score_p=float(stats.chi2.sf(sc, df)), df=df, ties=ties,
        note="" if estimable else ("monotone likelihood: the estimate is infinite, as when "
                                   "an arm has no deaths"),
    )

"""The Cox engine: partial likelihood, proportional-hazards test, hazard ratios.

One module for every Cox computation in nethep. The vectorized functions do the
same arithmetic as R's C code in numpy, over the sorted distinct times instead of
patient by patient, so the whole cost is a sort plus a few passes of cumulative
sums (lifelines fits a Cox model in about 50 s and runs its proportional-hazards
test in minutes on a million patients with a few thousand distinct times).

- :class:`HazardRatio` (in :mod:`nethep.hazard_ratio`, re-exported here): the value every
  result that reports a hazard ratio holds (hr, CI, P, how the CI was formed).
- :func:`coxph`: Cox partial likelihood with Efron (default, as R's ``coxph``) or
  Breslow ties, for a few covariates (the n x p x p second moments are held in
  memory). Newton-Raphson from beta = 0 with step halving, as R's ``coxfit6``,
  iterated to full convergence (the last Newton step below 1e-10, relative) rather
  than R's stopping rule (log-likelihood change below 1e-9, relative), so the
  estimate is the maximum of the partial likelihood to rounding. Covariates are
  centred at their means (R does the same; it changes nothing but rounding).
  Standard errors from the inverse of the observed information; Wald z, P and 95%
  CI (``exp(coef +- qnorm(0.975) se)``), as ``summary.coxph``. Measured against R
  (``tests/test_cox.py``): within 5e-8 (relative) of R's P values on the reference
  data; up to 5.8e-6 on a P value elsewhere (survival::mgus2, four covariates), which
  is R stopping early (its default ``eps = 1e-9``): with ``eps = 1e-12`` R agrees to
  1e-11. A covariate that is a linear combination of those before it is aliased as in
  R (coefficient NaN, R's NA; the rest fitted).
- :func:`cox_zph`: R's ``cox.zph(fit, transform = "km")`` of survival >= 3.0 (the
  C routine ``zph1``): the score test for adding x * g(t), g(t) = 1 - KM(t-)
  centred over the deaths, at the fitted coefficients, with the full 2p x 2p
  information matrix; one test per covariate and a global test.
- lifelines, behind this module, only where it has what the functions above lack:
  :func:`fit_lifelines` (``CoxPHFitter`` with a ridge penalty or case weights) and
  :func:`fit_time_varying` (``CoxTimeVaryingFitter``, counting-process rows), both
  taken to the maximum by :data:`FIT_OPTIONS`; :func:`efron_score_residuals` and
  :func:`weighted_cox_robust` (R's robust sandwich variance of a weighted fit, which
  lifelines gets wrong at tied times).

Times are taken as exact: two times are tied only when they are equal as floating
point numbers (R's ``timefix`` merges times within sqrt(machine eps); the values
of a CSV file read by nethep never differ by so little unless they are equal).
Verified against R's survival in ``tests/test_cox.py`` (reference values from
``tests/reference/make_fastcox_reference.R``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from scipy import special, stats

from nethep.hazard_ratio import HazardRatio
from nethep.km import ArrayLike, check_survival, reverse_cumsum, risk_table

Ties = Literal["efron", "breslow"]
#: Covariates of a Cox model: n values, or an n x p array or table (column names kept).
Covariates = np.ndarray | pd.DataFrame | pd.Series | Sequence[float]


# ---------------------------------------------------------------------------------
# Risk sets over the sorted distinct times
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RiskSets:
    """Data sorted by time, grouped by distinct time, with the Efron expansion.

    ``starts`` are the first sorted rows of each distinct time. Each death
    contributes one term to the partial likelihood: ``term_time`` is the distinct
    time it belongs to and ``term_frac`` the Efron fraction l / d (l = 0 .. d - 1)
    of that time's deaths removed from the risk set (0 for Breslow).
    """

    time: np.ndarray       # sorted times (n)
    event: np.ndarray      # events in sorted order, float 0/1 (n)
    x: np.ndarray          # centred covariates in sorted order (n x p)
    starts: np.ndarray     # first row of each distinct time (m)
    deaths: np.ndarray     # deaths at each distinct time (m)
    term_time: np.ndarray  # distinct-time index of each death term (D)
    term_frac: np.ndarray  # Efron fraction of each death term (D)
    x_dead: np.ndarray     # sum of x over the deaths at each distinct time (m x p)
    order: np.ndarray      # the sort permutation


def _check(time: ArrayLike, event: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Times (any finite value, as R's ``coxph``) and events as floats 0/1."""
    t, e = check_survival(time, event, negative_times=True)
    return t, e.astype(float)


def _covariates(x, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError("covariates must be an n x p array with one row per patient")
    if not np.isfinite(x).all():
        raise ValueError("covariates must be finite numbers")
    return x


def _inputs(time: ArrayLike, event: ArrayLike, x: Covariates, names: Sequence[str] | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Checked times, events (0/1 floats), the n x p covariates and their names (from a
    DataFrame's columns or a Series' name, else x1..xp); at least one event."""
    t, e = _check(time, event)
    if names is None:
        if isinstance(x, pd.DataFrame):
            names = [str(c) for c in x.columns]
        elif isinstance(x, pd.Series) and x.name is not None:
            names = [str(x.name)]
    xm = _covariates(x, len(t))
    p = xm.shape[1]
    names = tuple(names) if names is not None else tuple(f"x{i + 1}" for i in range(p))
    if len(names) != p:
        raise ValueError(f"{len(names)} names for {p} covariates")
    if e.sum() == 0:
        raise ValueError("a Cox model needs at least one event")
    return t, e, xm, names


def _risk_sets(t: np.ndarray, e: np.ndarray, x: np.ndarray, ties: Ties) -> _RiskSets:
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    order = np.argsort(t, kind="stable")
    ts, es = t[order], e[order]
    xs = x[order] - x.mean(axis=0)
    new = np.empty(len(ts), dtype=bool)
    new[0] = True
    np.not_equal(ts[1:], ts[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    deaths = np.add.reduceat(es, starts).astype(np.int64)
    term_time = np.repeat(np.arange(len(starts)), deaths)
    if ties == "efron":
        first = np.concatenate([[0], np.cumsum(deaths)[:-1]])
        rank = np.arange(len(term_time)) - np.repeat(first, deaths)
        term_frac = rank / np.repeat(deaths, deaths)
    else:
        term_frac = np.zeros(len(term_time))
    x_dead = np.add.reduceat(xs * es[:, None], starts, axis=0)
    return _RiskSets(ts, es, xs, starts, deaths, term_time, term_frac, x_dead, order)


@dataclass(frozen=True)
class _Terms:
    """Per death term: the Efron risk-set denominator, mean and variance of x."""

    log_denom: np.ndarray  # D
    mean: np.ndarray       # D x p
    var: np.ndarray        # D x p x p
    eta_dead: float        # sum of the linear predictor over the deaths


def _terms(rs: _RiskSets, beta: np.ndarray) -> _Terms:
    eta = rs.x @ beta
    shift = float(eta.max())  # exp(eta - shift) <= 1: no overflow; shift cancels below
    risk = np.exp(eta - shift)
    rx = risk[:, None] * rs.x
    rxx = rx[:, :, None] * rs.x[:, None, :]
    dead = rs.event
    # sums over each distinct time (all rows, and the deaths only)
    s0 = np.add.reduceat(risk, rs.starts)
    s1 = np.add.reduceat(rx, rs.starts, axis=0)
    s2 = np.add.reduceat(rxx, rs.starts, axis=0)
    d0 = np.add.reduceat(risk * dead, rs.starts)
    d1 = np.add.reduceat(rx * dead[:, None], rs.starts, axis=0)
    d2 = np.add.reduceat(rxx * dead[:, None, None], rs.starts, axis=0)
    # risk sets: everyone with time >= t
    r0, r1, r2 = reverse_cumsum(s0), reverse_cumsum(s1), reverse_cumsum(s2)
    j, f = rs.term_time, rs.term_frac
    den = r0[j] - f * d0[j]
    num1 = r1[j] - f[:, None] * d1[j]
    num2 = r2[j] - f[:, None, None] * d2[j]
    mean = num1 / den[:, None]
    var = num2 / den[:, None, None] - mean[:, :, None] * mean[:, None, :]
    return _Terms(np.log(den) + shift, mean, var, float(eta @ dead))


def _derivatives(rs: _RiskSets, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information at ``beta``."""
    terms = _terms(rs, beta)
    loglik = terms.eta_dead - float(terms.log_denom.sum())
    score = rs.x_dead.sum(axis=0) - terms.mean.sum(axis=0)
    info = terms.var.sum(axis=0)
    return loglik, score, info


# ---------------------------------------------------------------------------------
# Cox model
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox proportional-hazards model (one row per covariate in ``table``).

    An aliased covariate (a linear combination of those before it) has NaN in every
    per-covariate array and in its row and column of ``var`` (R: NA coefficient).
    """

    names: tuple[str, ...]
    coef: np.ndarray
    var: np.ndarray         # inverse observed information at coef
    se: np.ndarray
    hr: np.ndarray
    lower: np.ndarray       # exp(coef - z se), conf_level CI of the hazard ratio
    upper: np.ndarray
    z: np.ndarray           # Wald statistic coef / se
    p: np.ndarray           # two-sided Wald P
    loglik: tuple[float, float]  # log partial likelihood at beta = 0 and at coef
    iterations: int
    n: int
    events: int
    ties: Ties
    conf_level: float
    aliased: tuple[str, ...] = ()  # covariates left out as collinear (coefficient NaN)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({
            "covariate": self.names, "coef": self.coef, "se": self.se, "hr": self.hr,
            "lower": self.lower, "upper": self.upper, "z": self.z, "p": self.p,
        })

    def hazard_ratio(self, name: str) -> HazardRatio:
        """The hazard ratio of one covariate, with its Wald CI and P."""
        i = self.names.index(name)
        return HazardRatio(hr=float(self.hr[i]), lower=float(self.lower[i]),
                           upper=float(self.upper[i]), p=float(self.p[i]),
                           conf_level=self.conf_level,
                           method=f"Cox partial likelihood, {self.ties.title()} ties, Wald CI")


#: R's ``coxph.control(toler.chol = .Machine$double.eps^0.75)``.
TOLER_CHOL = float(np.finfo(float).eps ** 0.75)


def _aliased(info: np.ndarray, toler: float = TOLER_CHOL) -> np.ndarray:
    """Covariates that are linear combinations of those before them, by R's rule.

    As R's ``cholesky2`` on the information matrix at beta = 0 (``coxfit6``): columns
    in order, a column is singular when its pivot (the information left after the
    columns kept before it) is below ``toler`` times the largest diagonal element.
    """
    p = len(info)
    eps = toler * float(info.diagonal().max())
    aliased = np.zeros(p, dtype=bool)
    kept: list[int] = []
    for j in range(p):
        pivot = float(info[j, j])
        if kept:
            b = info[kept, j]
            pivot -= float(b @ np.linalg.solve(info[np.ix_(kept, kept)], b))
        if pivot < eps:
            aliased[j] = True
        else:
            kept.append(j)
    return aliased


def coxph(time: ArrayLike, event: ArrayLike, x: Covariates,
          names: Sequence[str] | None = None, ties: Ties = "efron",
          conf_level: float = 0.95, max_iter: int = 50, tol: float = 1e-10) -> CoxFit:
    """Fit a Cox model of ``x`` (n, or n x p) by Newton-Raphson; see the module docstring.

    Raises if there are no events or a covariate is constant. A covariate that is a
    linear combination of the covariates before it (collinear) is aliased as R's
    ``coxph`` does (:func:`_aliased`): the model is fitted without it, its
    coefficient, SE, HR, CI and P are NaN (R's NA; R reports its SE as 0), its name is
    in ``aliased``, and a warning names it. If the log-likelihood stops changing while
    the coefficients do not settle (monotone likelihood: a coefficient that is
    infinite), warns as R's ``coxph`` does and returns the last iterate.
    """
    t, e, xm, names = _inputs(time, event, x, names)
    p = xm.shape[1]
    constant = [nm for nm, col in zip(names, xm.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise ValueError(f"covariate(s) {constant} are constant: the coefficient is undefined")
    rs = _risk_sets(t, e, xm, ties)
    start = _derivatives(rs, np.zeros(p))
    aliased = _aliased(start[2])
    if not aliased.any():
        return _newton(rs, start, names, ties, conf_level, max_iter, tol)
    dropped = [nm for nm, a in zip(names, aliased, strict=True) if a]
    warnings.warn(
        f"Cox model: collinear covariate(s) {', '.join(dropped)}, each a linear combination "
        "of the covariates before it: not estimable, reported as NaN (R: NA); the model "
        "is fitted without them",
        RuntimeWarning, stacklevel=2,
    )
    keep = ~aliased
    kept_names = tuple(nm for nm, k in zip(names, keep, strict=True) if k)
    rs = _risk_sets(t, e, xm[:, keep], ties)
    fit = _newton(rs, _derivatives(rs, np.zeros(len(kept_names))), kept_names, ties,
                  conf_level, max_iter, tol)

    def full(values: np.ndarray) -> np.ndarray:
        out = np.full(p, np.nan)
        out[keep] = values
        return out

    var = np.full((p, p), np.nan)
    var[np.ix_(keep, keep)] = fit.var
    return CoxFit(
        names=names, coef=full(fit.coef), var=var, se=full(fit.se), hr=full(fit.hr),
        lower=full(fit.lower), upper=full(fit.upper), z=full(fit.z), p=full(fit.p),
        loglik=fit.loglik, iterations=fit.iterations, n=fit.n, events=fit.events,
        ties=ties, conf_level=conf_level, aliased=tuple(dropped),
    )


def _newton(rs: _RiskSets, start: tuple[float, np.ndarray, np.ndarray],
            names: tuple[str, ...], ties: Ties, conf_level: float, max_iter: int,
            tol: float) -> CoxFit:
    """Newton-Raphson from beta = 0 (``start``: its log-likelihood, score, information)
    with step halving, to full convergence; Wald SE, CI and P at the maximum."""
    beta = np.zeros(len(names))
    loglik, score, info = start
    loglik0 = loglik
    converged = False
    iterations = 0
    last_step = np.inf
    for iterations in range(1, max_iter + 1):  # noqa: B007 (kept for the result)
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            break
        if not np.isfinite(step).all():
            break
        new = beta + step
        new_loglik, new_score, new_info = _derivatives(rs, new)
        halvings = 0
        slack = 1e-12 * (1.0 + abs(loglik))  # rounding: not a worse point
        while not new_loglik >= loglik - slack and halvings < 30:  # step halving, as coxfit6
            step = step / 2
            new = beta + step
            new_loglik, new_score, new_info = _derivatives(rs, new)
            halvings += 1
        change = new_loglik - loglik
        beta, loglik, score, info = new, new_loglik, new_score, new_info
        size = float(np.max(np.abs(step)))
        if size <= tol * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
        if abs(change) <= 1e-15 * abs(loglik) and size > last_step / 2:
            break  # flat likelihood and steps that do not shrink: a coefficient runs off
        last_step = size
    if not converged:
        warnings.warn(
            "Cox model: the log-likelihood converged before the coefficients "
            f"({', '.join(names)}); a coefficient may be infinite",
            RuntimeWarning, stacklevel=3,
        )
    var = np.linalg.inv(info)
    se = np.sqrt(np.diag(var))
    z_crit = special.ndtri(1 - (1 - conf_level) / 2)  # = stats.norm.ppf, without its overhead
    z = beta / se
    with np.errstate(over="ignore"):  # an infinite coefficient gives an infinite limit, as R
        hr, lower, upper = np.exp(beta), np.exp(beta - z_crit * se), np.exp(beta + z_crit * se)
    return CoxFit(
        names=names, coef=beta, var=var, se=se, hr=hr, lower=lower, upper=upper, z=z,
        p=2 * stats.norm.sf(np.abs(z)), loglik=(loglik0, loglik),
        iterations=iterations, n=len(rs.time), events=int(rs.event.sum()), ties=ties,
        conf_level=conf_level,
    )


# ---------------------------------------------------------------------------------
# Proportional-hazards test
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoxZph:
    """R ``cox.zph(fit, transform = "km")``: one score test per covariate, and global."""

    names: tuple[str, ...]
    chisq: np.ndarray  # per covariate
    df: np.ndarray
    p: np.ndarray
    global_chisq: float
    global_df: int
    global_p: float

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({
            "term": [*self.names, "GLOBAL"],
            "chisq": [*self.chisq, self.global_chisq],
            "df": [*self.df, self.global_df],
            "p": [*self.p, self.global_p],
        })


def km_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - KM(t-) for every patient: the left-continuous Kaplan-Meier transform of cox.zph
    (the product-limit curve of :func:`nethep.km.risk_table`)."""
    t, e = _check(time, event)
    table = risk_table(t, e)
    left = np.concatenate([[1.0], table.surv()[:-1]])
    return 1.0 - left[table.inverse]


def cox_zph(
    time: Sequence[float] | np.ndarray,
    event: Sequence[int] | np.ndarray,
    x: np.ndarray | pd.DataFrame | pd.Series | Sequence[float],
    coef: Sequence[float] | np.ndarray | float,
    names: Sequence[str] | None = None,
    ties: Ties = "efron",
) -> CoxZph:
    """Proportional-hazards score tests at the fitted ``coef`` (see the module docstring)."""
    t, e = _check(time, event)
    xm = _covariates(x, len(t))
    p = xm.shape[1]
    beta = np.atleast_1d(np.asarray(coef, dtype=float))
    if beta.shape != (p,):
        raise ValueError(f"{beta.size} coefficients for {p} covariates")
    if names is None:
        names = (list(map(str, x.columns)) if isinstance(x, pd.DataFrame)
                 else [f"x{i + 1}" for i in range(p)])
    g_all = km_transform(t, e)
    g_all = g_all - g_all[e == 1].mean()
    rs = _risk_sets(t, e, xm, ties)
    terms = _terms(rs, beta)
    g = g_all[rs.order][rs.starts]            # g(t) of each distinct time
    g_term = g[rs.term_time]                  # ... of each death term
    u = (g[:, None] * rs.x_dead).sum(axis=0) - (g_term[:, None] * terms.mean).sum(axis=0)
    v = terms.var
    i_bb = v.sum(axis=0)
    i_bg = (g_term[:, None, None] * v).sum(axis=0)
    i_gg = ((g_term**2)[:, None, None] * v).sum(axis=0)
    imat = np.block([[i_bb, i_bg], [i_bg.T, i_gg]])
    chisq = np.empty(p)
    for k in range(p):
        kk = [*range(p), p + k]
        uk = np.zeros(p + 1)
        uk[-1] = u[k]
        chisq[k] = float(uk @ np.linalg.solve(imat[np.ix_(kk, kk)], uk))
    u_all = np.concatenate([np.zeros(p), u])
    global_chisq = float(u_all @ np.linalg.solve(imat, u_all))
    return CoxZph(
        names=tuple(names), chisq=chisq, df=np.ones(p, dtype=int), p=stats.chi2.sf(chisq, 1),
        global_chisq=global_chisq, global_df=p, global_p=float(stats.chi2.sf(global_chisq, p)),
    )


# ---------------------------------------------------------------------------------
# lifelines, where it is the right tool
# ---------------------------------------------------------------------------------

# lifelines' default Newton-Raphson stopping rules (step norm or Newton decrement below
# 1e-7, or a relative log-likelihood change below 1e-9) stop short of the maximum: on the
# bundled cohort's adjusted model up to 4e-5 (relative) on a coefficient and 8e-5 on a P
# value (ridge-penalized fits there reach it). With these options lifelines agrees with
# coxph to 1e-8 (tests/test_cox.py::test_lifelines_behind_cox_reaches_the_maximum).
FIT_OPTIONS = MappingProxyType({"precision": 1e-12, "r_precision": 1e-15})


def fit_lifelines(data: pd.DataFrame, penalizer: float = 0.0,
                  **fit_kwargs: Any) -> tuple[CoxPHFitter, list[str]]:
    """lifelines ``CoxPHFitter`` (Efron ties) on columns T, E and the terms, fitted to the
    maximum (:data:`FIT_OPTIONS`); returns (fitter, convergence warning texts).

    Used where lifelines has what :func:`coxph` lacks: the ridge penalty and case
    weights (``weights_col``).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cph = CoxPHFitter(penalizer=penalizer).fit(data, "T", "E", fit_options=FIT_OPTIONS,
                                                   **fit_kwargs)
    messages = [str(w.message).strip() for w in caught
                if type(w.message).__name__ == "ConvergenceWarning"]
    return cph, messages


def fit_time_varying(long: pd.DataFrame) -> CoxTimeVaryingFitter:
    """lifelines ``CoxTimeVaryingFitter`` (Efron ties) on counting-process rows (columns
    id, start, stop, event and the covariates), fitted to the maximum
    (:data:`FIT_OPTIONS`): :func:`coxph` takes one row per patient, not (start, stop]."""
    return CoxTimeVaryingFitter().fit(long, id_col="id", event_col="event", start_col="start",
                                      stop_col="stop", fit_options=FIT_OPTIONS)


def efron_score_residuals(time: np.ndarray, event: np.ndarray, x: np.ndarray,
                          w: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Per-patient score residuals of a weighted Cox model with Efron ties.

    As R survival's ``coxscore`` (``residuals.coxph(type = "score")``): at a death time
    with m tied deaths, the k-th Efron step (k = 0..m-1) has denominator
    S0 - k/m * S0_dead, mean covariate xbar_k = (S1 - k/m * S1_dead) / denominator and
    hazard mean(w_dead) / denominator; each tied death gains (x - xbar_k) / m, and each
    patient at risk loses r (x - xbar_k) * hazard_k, times (1 - k/m) for the tied deaths.
    Residuals are unweighted (multiply by w for the sandwich).
    """
    r = np.exp(x @ beta)
    wr = w * r
    resid = np.zeros_like(x, dtype=float)
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        dead = at_risk & (time == t) & (event == 1)
        m = int(dead.sum())
        s0, s1 = wr[at_risk].sum(), wr[at_risk] @ x[at_risk]
        s0d, s1d = wr[dead].sum(), wr[dead] @ x[dead]
        mean_w = w[dead].sum() / m
        for k in range(m):
            f = k / m
            denom = s0 - f * s0d
            xbar = (s1 - f * s1d) / denom
            hazard = mean_w / denom
            resid[dead] += (x[dead] - xbar) / m
            scale = np.where(dead[at_risk], 1 - f, 1.0) * r[at_risk] * hazard
            resid[at_risk] -= (x[at_risk] - xbar) * scale[:, None]
    return resid


def weighted_cox_robust(data: pd.DataFrame,
                        terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted Cox fit (lifelines, columns T, E, w and ``terms``) with R's robust
    sandwich variance.

    Returns (coef, robust variance, naive variance). lifelines' own ``robust=True``
    sandwich ignores tied times in its score residuals (its source says so), which
    on the bundled cohort (ties at 8.7 and 40.0 months) gives a robust SE 2.6% below
    R's; the sandwich here is R's: V = A (sum_i (w_i U_i)(w_i U_i)') A, with A the
    inverse weighted information and U_i the Efron score residuals (R ``coxph(...,
    robust = TRUE)``: ``t(dfbeta) %*% dfbeta`` of the weighted dfbeta residuals).
    """
    with warnings.catch_warnings():
        # lifelines suggests robust=True for non-integer weights: the sandwich is below.
        warnings.filterwarnings("ignore", message="(?s).*weights are not integers")
        cph, _ = fit_lifelines(data[["T", "E", "w", *terms]], weights_col="w")
    beta = cph.params_[list(terms)].to_numpy(float)
    naive = cph.variance_matrix_.loc[list(terms), list(terms)].to_numpy(float)
    w = data["w"].to_numpy(float)
    u = efron_score_residuals(data["T"].to_numpy(float), data["E"].to_numpy(int),
                              data[list(terms)].to_numpy(float), w, beta)
    dfbeta = (u * w[:, None]) @ naive
    return beta, dfbeta.T @ dfbeta, naive

"""Batched Cox engine: one Newton-Raphson over many small cohorts at once.

For simulation studies (:mod:`nethep.robustness.scenarios`): R replicate cohorts of
the same size n, held as (R, n) arrays, are fitted together, with no Python loop over
the replicates. Each death i has its own "pseudo risk set", a row of weights
``c[r, i, j]`` over the subjects j, so the cost is O(R n^2) per iteration (cheap for
the n of about 50 these studies use) and the same code handles:

- **Efron ties** (R ``coxph``'s default, as :func:`nethep.cox.coxph`): the k-th of d
  deaths tied at time t (k = 0..d-1) has denominator S0 - (k/d) S0_tied, so
  ``c[i, j] = at_risk(j, t_i) - (k_i / d_i) tied(j, t_i)``; case weights enter as R's
  ``coxfit6`` does (each Efron step weighted by the mean weight of the tied deaths);
- **exclusions** (landmark analyses): subjects outside ``include`` are neither at risk
  nor deaths;
- **time-varying covariates**: ``x`` of shape (R, n, n, p), ``x[r, i, j]`` the
  covariates of subject j at the time of death i (counting-process data with one
  switch, as R's ``coxph(Surv(start, stop, event) ~ ...)``).

Functions: :func:`risk_sets`, :func:`derivatives`, :func:`fit` (Newton-Raphson from
beta = 0 with step halving, as :func:`nethep.cox.coxph`, Wald SE from the inverse
information), :func:`robust_variance` (R's ``robust = TRUE`` sandwich from Efron score
residuals, as :func:`nethep.cox.weighted_cox_robust`) and :func:`firth` (Firth's
penalised partial likelihood, Heinze and Schemper, Stat Med 2002;21:2409, one
covariate, with profile penalised-likelihood CI and LR test, as R ``coxphf``).
Tested equal to the single-cohort engines in ``tests/test_scenarios.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Newton iterations at most; convergence when every step is below this (relative).
MAX_ITER = 40
STEP_TOL = 1e-10
#: A |coefficient| beyond this after convergence is a monotone likelihood (no deaths in
#: one level of a binary covariate): the fit is flagged not estimable.
MAX_ABS_COEF = 15.0


@dataclass(frozen=True)
class RiskSets:
    """The pseudo risk sets of R replicates of n subjects (see :func:`risk_sets`)."""

    c: np.ndarray  # (R, n, n): weight of subject j in the denominator of death i
    death: np.ndarray  # (R, n) bool: subject i is an included death
    meanwt: np.ndarray  # (R, n): mean case weight of the deaths tied with death i (0 else)
    w: np.ndarray  # (R, n): case weights (0 outside ``include``)
    tied: np.ndarray  # (R, n, n) bool: i and j are included deaths at the same time

    @property
    def events(self) -> np.ndarray:
        """Deaths per replicate."""
        return self.death.sum(axis=1)


def risk_sets(time: np.ndarray, event: np.ndarray, include: np.ndarray | None = None,
              weights: np.ndarray | None = None) -> RiskSets:
    """Efron pseudo risk sets of (R, n) times and event indicators (module docstring).

    Times are exact (tied only when equal as floats, as :mod:`nethep.cox`).
    """
    t = np.asarray(time, dtype=float)
    inc = np.ones(t.shape, bool) if include is None else np.asarray(include, bool)
    death = np.asarray(event, bool) & inc
    w = (np.ones(t.shape) if weights is None else np.asarray(weights, float)) * inc
    at_risk = (t[:, None, :] >= t[:, :, None]) & inc[:, None, :]
    tied = (t[:, None, :] == t[:, :, None]) & death[:, None, :] & death[:, :, None]
    d = tied.sum(axis=2)
    n = t.shape[1]
    before = np.tril(np.ones((n, n), bool), k=-1)  # j < i: the rank of i among its ties
    k = (tied & before).sum(axis=2)
    frac = np.where(d > 0, k / np.maximum(d, 1), 0.0)
    c = (at_risk - frac[:, :, None] * tied) * death[:, :, None]
    meanwt = np.where(death, (tied * w[:, None, :]).sum(axis=2) / np.maximum(d, 1), 0.0)
    return RiskSets(c=c.astype(float), death=death, meanwt=meanwt, w=w, tied=tied)


def _moments(rs: RiskSets, x: np.ndarray, beta: np.ndarray):
    """Denominators D (R, n), first (R, n, p) and second (R, n, p, p) moments of every
    pseudo risk set, the linear predictor of each death at its own time, and the shift
    used for numerical stability (added back to log D)."""
    if x.ndim == 3:  # time-fixed (R, n, p)
        eta = x @ beta[:, :, None]  # (R, n, 1)
        eta = eta[..., 0]
        shift = eta.max(axis=1, keepdims=True)
        v = rs.w * np.exp(eta - shift)  # (R, n)
        n_rep, n, p = x.shape
        vx = v[..., None] * x
        stacked = np.concatenate(
            [v[..., None], vx, (vx[..., :, None] * x[..., None, :]).reshape(n_rep, n, p * p)],
            axis=2)
        sums = rs.c @ stacked  # (R, n, 1 + p + p^2), batched BLAS
        d0, d1 = sums[..., 0], sums[..., 1:1 + p]
        d2 = sums[..., 1 + p:].reshape(n_rep, n, p, p)
        own = eta
        xi = x
    else:  # time-varying (R, n, n, p)
        eta = (x[..., 0] * beta[:, None, None, 0] if x.shape[-1] == 1
               else np.einsum("rijp,rp->rij", x, beta))
        shift = eta.max(axis=2).max(axis=1, keepdims=True)
        v = rs.w[:, None, :] * np.exp(eta - shift[:, :, None])  # (R, n, n)
        cv = rs.c * v
        d0 = cv.sum(axis=2)
        if x.shape[-1] == 1:  # the common case, without 4-d products
            cvx = cv * x[..., 0]
            d1 = cvx.sum(axis=2)[..., None]
            d2 = (cvx * x[..., 0]).sum(axis=2)[..., None, None]
        else:
            d1 = np.einsum("rij,rijp->rip", cv, x)
            d2 = np.einsum("rij,rijp,rijq->ripq", cv, x, x)
        idx = np.arange(x.shape[1])
        own = eta[:, idx, idx]
        xi = x[:, idx, idx, :]
    return d0, d1, d2, own, xi, shift


def derivatives(rs: RiskSets, x: np.ndarray, beta: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log partial likelihood (R,), score (R, p) and information (R, p, p) at ``beta``."""
    d0, d1, d2, own, xi, shift = _moments(rs, x, beta)
    dead = rs.death
    safe = np.where(dead, d0, 1.0)
    wd = np.where(dead, rs.w, 0.0)
    mw = rs.meanwt
    loglik = (wd * own).sum(axis=1) - (mw * (np.log(safe) + shift)).sum(axis=1)
    xbar = d1 / safe[..., None]
    score = (wd[..., None] * xi).sum(axis=1) - (mw[..., None] * xbar).sum(axis=1)
    second = d2 / safe[..., None, None] - xbar[..., :, None] * xbar[..., None, :]
    info = (mw[..., None, None] * second).sum(axis=1)
    return loglik, score, info


@dataclass(frozen=True)
class BatchFit:
    """Cox fits of R replicates: coefficients, Wald SEs, log-likelihood, convergence."""

    beta: np.ndarray  # (R, p)
    se: np.ndarray  # (R, p), from the inverse information
    info: np.ndarray  # (R, p, p)
    loglik: np.ndarray  # (R,)
    ok: np.ndarray  # (R,) converged to a finite maximum with |beta| <= MAX_ABS_COEF

    def wald(self, term: int = 0, conf_level: float = 0.95):
        """(estimate, lower, upper, p) arrays of term ``term`` on the log scale, Wald
        CI and P (NaN where not ``ok``)."""
        b, s = self.beta[:, term], self.se[:, term]
        z = stats.norm.ppf(1 - (1 - conf_level) / 2)
        p = 2 * stats.norm.sf(np.abs(b / s))
        out = (b, b - z * s, b + z * s, p)
        return tuple(np.where(self.ok, a, np.nan) for a in out)


def _safe_solve(info: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve info @ step = rhs per replicate; replicates with a singular information
    get a zero step and ``False``."""
    p = info.shape[-1]
    det = np.linalg.det(info)
    scale = np.prod(np.maximum(np.abs(np.diagonal(info, axis1=1, axis2=2)), 1e-300), axis=1)
    good = np.isfinite(det) & (np.abs(det) > 1e-12 * scale)
    safe = np.where(good[:, None, None], info, np.eye(p))
    step = np.linalg.solve(safe, rhs[..., None])[..., 0]
    return np.where(good[:, None], step, 0.0), good


def _take(rs: RiskSets, idx: np.ndarray) -> RiskSets:
    """The replicates ``idx`` of ``rs``."""
    return RiskSets(c=rs.c[idx], death=rs.death[idx], meanwt=rs.meanwt[idx], w=rs.w[idx],
                    tied=rs.tied[idx])


def fit(rs: RiskSets, x: np.ndarray, max_iter: int = MAX_ITER,
        active: np.ndarray | None = None) -> BatchFit:
    """Newton-Raphson from beta = 0 with step halving for every replicate at once
    (as :func:`nethep.cox.coxph`: iterate until the Newton step is below 1e-10,
    relative). ``x``: (R, n, p) time-fixed or (R, n, n, p) time-varying covariates.
    Only the replicates in ``active`` (default all) are fitted, and each iteration only
    those not yet converged; the others are returned not ``ok``."""
    n_rep, p = x.shape[0], x.shape[-1]
    act = np.ones(n_rep, bool) if active is None else np.asarray(active, bool).copy()
    beta = np.zeros((n_rep, p))
    loglik, score, info = np.full(n_rep, np.nan), np.zeros((n_rep, p)), np.zeros((n_rep, p, p))
    idx = np.flatnonzero(act)
    loglik[idx], score[idx], info[idx] = derivatives(_take(rs, idx), x[idx], beta[idx])
    done = ~act
    solvable = np.ones(n_rep, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(~done)
        if len(idx) == 0:
            break
        sub, xs, b, ll = _take(rs, idx), x[idx], beta[idx], loglik[idx]
        step, good = _safe_solve(info[idx], score[idx])
        solvable[idx] &= good
        small = np.all(np.abs(step) <= STEP_TOL * np.maximum(1.0, np.abs(b)), axis=1)
        for _half in range(30):
            cand = b + step
            ll_new, sc_new, in_new = derivatives(sub, xs, cand)
            worse = ~(ll_new >= ll - 1e-12 * np.abs(ll))
            if not worse.any():
                break
            step[worse] /= 2
        beta[idx], loglik[idx], score[idx], info[idx] = cand, ll_new, sc_new, in_new
        done[idx] |= small
    eye = np.eye(p)
    _, good = _safe_solve(np.where(act[:, None, None], info, eye), np.ones((n_rep, p)))
    inv_ok = act & solvable & good & np.isfinite(info).all(axis=(1, 2))
    cov = np.linalg.inv(np.where(inv_ok[:, None, None], info, eye))
    se = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
    ok = (done & inv_ok & np.isfinite(beta).all(axis=1)
          & (np.abs(beta) <= MAX_ABS_COEF).all(axis=1))
    return BatchFit(beta=beta, se=se, info=info, loglik=loglik, ok=ok)


def robust_variance(rs: RiskSets, x: np.ndarray, result: BatchFit) -> np.ndarray:
    """R's robust sandwich variance (``coxph(..., weights = w, robust = TRUE)``) of
    time-fixed covariates (R, n, p): I^-1 (sum_j w_j^2 r_j r_j') I^-1, r_j the Efron
    score residuals as :func:`nethep.cox.efron_score_residuals` (a death gains x_j
    minus the mean of xbar over the Efron steps of its tied deaths; everyone at risk
    loses r_j (x_j - xbar_i) hazard_i, the tied deaths at (1 - k/d)). Returns (R, p, p)."""
    beta = result.beta
    d0, d1, _, _, _, shift = _moments(rs, x, beta)
    dead = rs.death
    safe = np.where(dead, d0, 1.0)
    xbar = d1 / safe[..., None]  # (R, i, p)
    risk = np.exp((x @ beta[:, :, None])[..., 0] - shift)  # same scale as d0
    haz = np.where(dead, rs.meanwt / safe, 0.0)  # (R, i)
    h_sum = np.einsum("rij,ri->rj", rs.c, haz)
    hx_sum = np.einsum("rij,ri,rip->rjp", rs.c, haz, xbar)
    resid = -risk[..., None] * (h_sum[..., None] * x - hx_sum)
    tied = rs.tied.astype(float)
    cnt = np.maximum(tied.sum(axis=2), 1.0)
    mean_xbar = np.einsum("rji,rip->rjp", tied, xbar) / cnt[..., None]
    resid += np.where(dead[..., None], x - mean_xbar, 0.0)
    score_w = rs.w[..., None] * resid
    meat = np.einsum("rjp,rjq->rpq", score_w, score_w)
    p = x.shape[-1]
    cov = np.linalg.inv(np.where(result.ok[:, None, None], result.info, np.eye(p)))
    return cov @ meat @ cov


# ------------------------------------------------------------------------------- Firth


def _firth_terms(rs: RiskSets, x: np.ndarray, beta: np.ndarray):
    """Penalised log-likelihood l + 0.5 log I, its derivative, and I, for one
    time-fixed covariate x (R, n) at beta (R,)."""
    eta = x * beta[:, None]
    shift = eta.max(axis=1, keepdims=True)
    v = rs.w * np.exp(eta - shift)
    sums = rs.c @ np.stack([v, v * x, v * x**2, v * x**3], axis=2)  # (R, n, 4)
    dead = rs.death
    safe = np.where(dead, sums[..., 0], 1.0)
    m1, m2, m3 = (sums[..., k] / safe for k in (1, 2, 3))
    mw = rs.meanwt
    wd = np.where(dead, rs.w, 0.0)
    loglik = (wd * eta).sum(axis=1) - (mw * (np.log(safe) + shift)).sum(axis=1)
    score = (wd * x).sum(axis=1) - (mw * m1).sum(axis=1)
    info = (mw * (m2 - m1**2)).sum(axis=1)
    dinfo = (mw * (m3 - 3 * m1 * m2 + 2 * m1**3)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pen = loglik + 0.5 * np.log(info)
        pscore = score + 0.5 * dinfo / info
    return pen, pscore, info


@dataclass(frozen=True)
class FirthFit:
    """Firth-penalised Cox fits of one covariate over R replicates (log scale)."""

    beta: np.ndarray  # (R,)
    lower: np.ndarray  # profile penalised-likelihood 95% limits (inf where unbounded)
    upper: np.ndarray
    p_lr: np.ndarray  # penalised likelihood-ratio test of beta = 0
    ok: np.ndarray  # converged (the penalised likelihood always has a finite maximum)


def _profile_limit(rs: RiskSets, x: np.ndarray, beta: np.ndarray, target: np.ndarray,
                   direction: float, span: float = 20.0, bisections: int = 8,
                   secants: int = 30) -> np.ndarray:
    """The beta on one side of ``beta`` where the penalised log-likelihood falls to
    ``target``, within [beta, beta + direction * span] (+-inf if it stays above
    ``target`` over the whole span): a few bisections, then the Illinois variant of
    regula falsi until the bracket or the function value is below 1e-12."""
    def f(b: np.ndarray) -> np.ndarray:
        return _firth_terms(rs, x, b)[0] - target

    a, b = beta.copy(), beta + direction * span
    fa, fb = f(a), f(b)
    unbounded = fb > 0
    for _ in range(bisections):
        m = (a + b) / 2
        fm = f(m)
        left = fm > 0  # the root lies between m and b
        a, fa = np.where(left, m, a), np.where(left, fm, fa)
        b, fb = np.where(left, b, m), np.where(left, fb, fm)
    for _ in range(secants):
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(fa != fb, b - fb * (b - a) / (fb - fa), (a + b) / 2)
        fc = f(c)
        switch = fc * fb < 0
        a, fa = np.where(switch, b, a), np.where(switch, fb, fa / 2)
        b, fb = c, fc
        if np.all((np.abs(b - a) < 1e-12) | (np.abs(fc) < 1e-12) | unbounded):
            break
    return np.where(unbounded, direction * np.inf, b)


def firth(rs: RiskSets, x: np.ndarray, conf_level: float = 0.95,
          max_iter: int = MAX_ITER) -> FirthFit:
    """Firth-penalised Cox model of one time-fixed covariate ``x`` (R, n).

    Maximises l*(b) = l(b) + 0.5 log I(b) (Heinze and Schemper 2002; Efron ties with the
    pseudo risk sets of ``rs``) by Newton steps on the penalised score
    U(b) + 0.5 I'(b) / I(b) with I(b) as the information and step halving, from b = 0.
    CI: the profile penalised likelihood, {b: 2 (l*(b_hat) - l*(b)) <= chi2_1(conf)},
    each limit by bisection and regula falsi (Illinois) to 1e-12. P: the penalised
    likelihood-ratio test 2 (l*(b_hat) - l*(0)) against chi-square with 1 df, as R
    ``coxphf``.
    """
    n_rep = x.shape[0]
    beta = np.zeros(n_rep)
    pen, score, info = _firth_terms(rs, x, beta)
    pen0 = pen.copy()
    done = ~np.isfinite(pen)
    for _ in range(max_iter):
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(done | (info <= 0), 0.0, score / info)
        small = np.abs(step) <= STEP_TOL * np.maximum(1.0, np.abs(beta))
        for _half in range(30):
            cand = beta + step
            pen_new, sc_new, in_new = _firth_terms(rs, x, cand)
            worse = ~(pen_new >= pen - 1e-12 * np.abs(pen)) & ~done
            if not worse.any():
                break
            step[worse] /= 2
        beta, pen, score, info = cand, pen_new, sc_new, in_new
        done |= small
        if done.all():
            break
    ok = done & np.isfinite(beta) & np.isfinite(pen)
    target = pen - stats.chi2.ppf(conf_level, 1) / 2
    lower = _profile_limit(rs, x, beta, target, -1.0)
    upper = _profile_limit(rs, x, beta, target, 1.0)
    p_lr = stats.chi2.sf(np.clip(2 * (pen - pen0), 0, None), 1)
    nan = np.nan
    return FirthFit(beta=np.where(ok, beta, nan), lower=np.where(ok, lower, nan),
                    upper=np.where(ok, upper, nan), p_lr=np.where(ok, p_lr, nan), ok=ok)

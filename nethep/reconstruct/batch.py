"""Survival statistics for many cohorts at once: one row of a 2-d array per cohort.

The ensemble (:mod:`nethep.reconstruct.ensemble`) screens tens of thousands of
candidate cohorts of the same size; a per-cohort Python loop over nethep's engines
would take minutes. These functions compute the same statistics for a batch of B
cohorts of n patients, ``time`` and ``event`` of shape (B, n), with numpy only
(sorting once, then cumulative sums over the sorted rows; a :class:`Sorted` can be
passed on, so that one sort serves several engines). Each row's result is its own:
it does not depend on the other rows of the batch, which lets the Cox terms run in
small blocks of rows (:data:`CELLS`). Definitions follow R's
survival package and nethep's engines, which check them: ``tests/test_ensemble.py``
compares every function with :mod:`nethep.km`, :mod:`nethep.logrank`,
:mod:`nethep.cox`, :mod:`nethep.exact` and scipy on single cohorts, and
``tests/reference/make_ensemble_reference.R`` with R on shipped members.

- :func:`km_steps`: Kaplan-Meier curves, whose methods give S(t) (R's
  ``summary(fit, times)``; NaN past the last follow-up unless S has reached 0), the
  median by R's ``quantile.survfit`` rule and the area under the curve to tau.
- :func:`logrank_p`: two-group log-rank (R ``survdiff``, rho = 0);
  :func:`logrank_p_events`: the same for many event patterns over the same cohorts
  (the tipping points), counting the numbers at risk once per cohort.
- :func:`cox_fit`: Cox partial likelihood, Efron ties, case weights, a few
  covariates; Newton-Raphson from 0 with step halving to full convergence; Wald
  SE; the score test at beta = 0 (R ``summary(coxph)$sctest``). A weight of 0 removes
  the patient (used for landmark subsets).
- :func:`logistic_fit`: logistic regression by IRLS (R ``glm(family = binomial)``).
- :func:`kruskal_p`: Kruskal-Wallis with the tie correction (R ``kruskal.test``).
- :func:`ffh_table`: the Fisher-Freeman-Halton exact P of every 2 x k table with
  given column totals (R ``fisher.test``, FEXACT's tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special, stats

#: Newton-Raphson iterations for the Cox and logistic fits; convergence tolerance.
MAX_ITER = 60
TOL = 1e-11
#: FEXACT's tolerance on log probabilities (as :func:`nethep.exact.fisher_exact_rxc`).
LOG_TOL_RXC = 3.45254e-7
_EPS = np.sqrt(np.finfo(float).eps)
#: Values per block of the Cox terms (rows x n x (1 + p + p^2)): rows are independent,
#: and small blocks keep the temporaries small (large ones cost page faults every call).
CELLS = 65_536


@dataclass(frozen=True)
class Sorted:
    """Rows sorted by time; for each sorted position the first and last index of its
    tie group (equal times) and whether it opens the group."""

    order: np.ndarray
    time: np.ndarray
    first: np.ndarray
    last: np.ndarray
    opens: np.ndarray

    def take(self, x: np.ndarray) -> np.ndarray:
        """``x`` (B, n) or (B, n, ...) in the sorted order."""
        return _gather(x, self.order)

    def subset(self, rows: np.ndarray | slice) -> Sorted:
        """The sorted structure of the given rows (indices, repeats allowed)."""
        return Sorted(self.order[rows], self.time[rows], self.first[rows], self.last[rows],
                      self.opens[rows])


def sort_times(time: np.ndarray) -> Sorted:
    """Sort each row of ``time`` (B, n) ascending and mark its tie groups."""
    order = np.argsort(time, axis=1, kind="stable")
    t = time[_rows(time), order]
    b, n = t.shape
    pos = np.broadcast_to(np.arange(n), (b, n))
    opens = np.ones((b, n), bool)
    opens[:, 1:] = t[:, 1:] != t[:, :-1]
    closes = np.ones((b, n), bool)
    closes[:, :-1] = opens[:, 1:]
    first = np.maximum.accumulate(np.where(opens, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(closes, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]
    return Sorted(order, t, first, last, opens)


def _blocks(n_rows: int, size: int) -> list[slice]:
    """Consecutive row blocks of at most ``size`` rows."""
    return [slice(lo, lo + size) for lo in range(0, n_rows, size)]


def _csum(x: np.ndarray) -> np.ndarray:
    """Cumulative sums along axis 1 with a leading 0 (C[:, k] = sum of the first k)."""
    out = np.zeros((x.shape[0], x.shape[1] + 1) + x.shape[2:])
    np.cumsum(x, axis=1, out=out[:, 1:])
    return out


def _rows(x: np.ndarray) -> np.ndarray:
    """Row numbers as a column, to index (B, n, ...) arrays row by row."""
    return np.arange(x.shape[0])[:, None]


def _gather(c: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``c[b, idx[b, k]]`` for every row b (trailing axes of ``c`` kept), as one
    ``take`` from the rows laid end to end (several times faster than fancy indexing)."""
    b, m = c.shape[:2]
    flat = idx + np.arange(0, b * m, m)[:, None]
    return np.ascontiguousarray(c).reshape((b * m,) + c.shape[2:]).take(flat, axis=0)


def risk_sum(s: Sorted, x: np.ndarray) -> np.ndarray:
    """Sum of sorted ``x`` over the risk set of each position (time >= its time)."""
    c = _csum(x)
    return c[:, -1:] - _gather(c, s.first)


def tie_sum(s: Sorted, x: np.ndarray) -> np.ndarray:
    """Sum of sorted ``x`` over each position's tie group."""
    c = _csum(x)
    return _gather(c, s.last + 1) - _gather(c, s.first)


class KMSteps(NamedTuple):
    """Kaplan-Meier curves of B cohorts (:func:`km_steps`): sorted times (inf: outside
    the mask), S(t) just after each sorted position, and the positions where S steps
    down. Computed once, they give S(t), the median and the RMST of every row."""

    time: np.ndarray
    surv: np.ndarray
    step: np.ndarray

    def _last(self) -> np.ndarray:
        """Each row's last follow-up time."""
        return np.where(np.isfinite(self.time), self.time, -np.inf).max(axis=1)

    def at(self, t: float) -> np.ndarray:
        """S(t) per row (R's ``summary(fit, times)``); NaN when t is past the last
        follow-up time and S has not reached 0 (as :meth:`nethep.km.KaplanMeier.at`)."""
        k = (self.time <= t).sum(axis=1)
        val = np.where(k > 0, np.take_along_axis(self.surv, np.maximum(k - 1, 0)[:, None],
                                                 1)[:, 0], 1.0)
        return np.where((self._last() >= t) | (val == 0), val, np.nan)

    def median(self) -> np.ndarray:
        """Median survival per row by R's ``quantile.survfit`` rule (NaN: not reached):
        the first step to S <= 0.5, or the midpoint to the next step where S equals 0.5
        exactly (within sqrt(machine epsilon))."""
        st, surv, step = self
        below = step & (surv <= 0.5 + _EPS)
        j = np.argmax(below, axis=1)
        tj = np.take_along_axis(st, j[:, None], 1)[:, 0]
        sj = np.take_along_axis(surv, j[:, None], 1)[:, 0]
        later = step & (np.arange(st.shape[1]) > j[:, None])
        nxt = np.where(later.any(axis=1),
                       np.take_along_axis(st, np.argmax(later, 1)[:, None], 1)[:, 0],
                       self._last())
        value = np.where(np.abs(sj - 0.5) < _EPS, (tj + nxt) / 2, tj)
        return np.where(below.any(axis=1), value, np.nan)

    def rmst(self, tau: float) -> np.ndarray:
        """Area under the curve from 0 to ``tau`` per row (flat past the last follow-up,
        R's rule)."""
        st, surv, _ = self
        b = st.shape[0]
        edge = np.minimum(np.where(np.isfinite(st), st, tau), tau)
        left = np.concatenate([np.zeros((b, 1)), edge], axis=1)
        level = np.concatenate([np.ones((b, 1)), surv], axis=1)
        right = np.concatenate([edge, np.full((b, 1), tau)], axis=1)
        return (level * (right - left)).sum(axis=1)


def km_steps(time: np.ndarray, event: np.ndarray, mask: np.ndarray | None = None) -> KMSteps:
    """Kaplan-Meier curves (:class:`KMSteps`) of the patients in ``mask`` (default all)
    of each row; tied deaths as R's ``survfit`` ((r - d) / r)."""
    w = np.ones(time.shape) if mask is None else mask.astype(float)
    t = np.where(w > 0, time, np.inf)
    s = sort_times(t)
    e = s.take(event * w)
    at_risk = risk_sum(s, s.take(w))
    deaths = tie_sum(s, e)
    step = s.opens & (deaths > 0) & np.isfinite(s.time)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(step, 1.0 - deaths / np.where(at_risk > 0, at_risk, 1.0), 1.0)
    return KMSteps(s.time, np.cumprod(factor, axis=1), step)


def logrank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray,
              weight: np.ndarray | None = None,
              s: Sorted | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-group log-rank chi-square and P per row (``group`` 1/0; ``weight`` 0/1
    leaves patients out). As R ``survdiff(rho = 0)``. ``s``: the rows already sorted,
    ``sort_times(where(weight > 0, time, inf))`` (``sort_times(time)`` without a
    weight), to sort them once for many calls; the result is the same."""
    w = np.ones(time.shape) if weight is None else weight
    if s is None:
        s = sort_times(np.where(w > 0, time, np.inf))
    e, g, ws = s.take(event * w), s.take(group * w), s.take(w)
    return _logrank(s, e, g, risk_sum(s, ws), risk_sum(s, g))


def logrank_p_events(time: np.ndarray, group: np.ndarray, events: np.ndarray,
                     owner: np.ndarray, s: Sorted | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`logrank_p` (no weights) of cohort ``owner[j]`` of ``time`` and ``group``
    (B, n) with the events ``events[j]``, for each row j of ``events`` (J, n): many
    event patterns over the same cohorts, sorted (``s`` as in :func:`logrank_p`) and
    counted at risk once per cohort instead of once per row; the same result."""
    if s is None:
        s = sort_times(time)
    g = s.take(group * 1.0)
    n, n1 = risk_sum(s, np.ones(time.shape)), risk_sum(s, g)
    rows = s.subset(owner)
    return _logrank(rows, rows.take(events * 1.0), g[owner], n[owner], n1[owner])


def _logrank(s: Sorted, e: np.ndarray, g: np.ndarray, n: np.ndarray,
             n1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-rank chi-square and P from sorted events ``e``, groups ``g`` and the numbers
    at risk ``n`` (all) and ``n1`` (group 1) at each sorted position."""
    d = tie_sum(s, e)
    d1 = tie_sum(s, e * g)
    use = s.opens & (d > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(use, n1 / n, 0.0)
        oe = np.where(use, d1 - d * frac, 0.0).sum(axis=1)
        var = np.where(use & (n > 1), d * frac * (1 - frac) * (n - d) / (n - 1), 0.0).sum(axis=1)
        chisq = np.where(var > 0, oe**2 / var, np.nan)
    return chisq, special.chdtrc(1, chisq)  # = stats.chi2.sf, without its overhead


@dataclass(frozen=True)
class CoxBatch:
    """Cox fits of B cohorts: coefficients (B, p), their Wald SEs, the score test of
    all coefficients = 0, convergence, and the number of Newton iterations."""

    coef: np.ndarray
    se: np.ndarray
    score_chisq: np.ndarray
    converged: np.ndarray
    iterations: int

    def wald_p(self, j: int = 0) -> np.ndarray:
        return 2 * special.ndtr(-np.abs(self.coef[:, j] / self.se[:, j]))  # = norm.sf

    def score_p(self) -> np.ndarray:
        return special.chdtrc(self.coef.shape[1], self.score_chisq)

    def hr(self, j: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """HR of covariate ``j`` with its Wald 95% CI (exp(coef -+ 1.96 se))."""
        z = stats.norm.ppf(0.975)
        b, se = self.coef[:, j], self.se[:, j]
        return np.exp(b), np.exp(b - z * se), np.exp(b + z * se)


@dataclass(frozen=True)
class _Efron:
    """Sorted rows of a Cox fit and the parts of the Efron terms that do not depend on
    beta: weights ``w``, centred covariates ``x`` (B, n, p), deaths ``dead`` (events of
    positive weight), ``wd`` = w x dead, ``xwd`` = sum of x x wd, the Efron fraction
    ``frac`` (deaths before, in the tie group / deaths of the group) and the tie
    group's mean death weight ``mw`` on death rows (0 elsewhere)."""

    s: Sorted
    w: np.ndarray
    x: np.ndarray
    dead: np.ndarray
    wd: np.ndarray
    xwd: np.ndarray
    frac: np.ndarray
    mw: np.ndarray

    def subset(self, rows: np.ndarray | slice) -> _Efron:
        return _Efron(self.s.subset(rows), *(getattr(self, f)[rows] for f in
                                             ("w", "x", "dead", "wd", "xwd", "frac", "mw")))


def _efron_fixed(s: Sorted, e: np.ndarray, w: np.ndarray, x: np.ndarray) -> _Efron:
    """:class:`_Efron` of sorted ``e``, ``w`` (B, n) and ``x`` (B, n, p)."""
    dead = e * (w > 0)
    nd = tie_sum(s, dead)
    meanw = np.where(nd > 0, tie_sum(s, w * dead) / np.where(nd > 0, nd, 1), 0.0)
    rank = _csum(dead)[:, :-1] - _gather(_csum(dead), s.first)  # deaths before, in the group
    frac = np.where(dead > 0, rank / np.where(nd > 0, nd, 1), 0.0)
    wd = w * dead
    mw = np.where(dead > 0, meanw, 0.0)
    return _Efron(s, w, x, dead, wd, (x * wd[..., None]).sum(1), frac, mw)


def _efron_terms(f: _Efron, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efron log partial likelihood, score and information per row at ``beta`` (B, p),
    as R's ``coxfit6``. The risk-set and tie-group sums of exp(eta), x exp(eta) and
    x x' exp(eta) are taken together (one cumulative sum each), in blocks of at most
    :data:`CELLS` values."""
    b, n, p = f.x.shape
    rows = max(1, CELLS // (n * (1 + p + p * p)))
    if b > rows:
        parts = [_efron_terms(f.subset(r), beta[r]) for r in _blocks(b, rows)]
        loglik, score, info = (np.concatenate([part[i] for part in parts]) for i in range(3))
        return loglik, score, info
    x = f.x
    eta = np.einsum("bnp,bp->bn", x, beta)
    r = f.w * np.exp(np.clip(eta, -700, 700))
    xr = x * r[..., None]
    xxr = x[..., :, None] * xr[..., None, :]
    terms = np.concatenate([r[..., None], xr, xxr.reshape(b, n, p * p)], axis=2)
    sums = risk_sum(f.s, terms)
    ties = tie_sum(f.s, terms * f.dead[..., None])
    s0, t0 = sums[..., 0], ties[..., 0]
    s1, t1 = (np.ascontiguousarray(v[..., 1:1 + p]) for v in (sums, ties))
    s2, t2 = (np.ascontiguousarray(v[..., 1 + p:]).reshape(b, n, p, p) for v in (sums, ties))
    frac, mw = f.frac, f.mw
    den = s0 - frac * t0
    a1 = s1 - frac[..., None] * t1
    a2 = s2 - frac[..., None, None] * t2
    safe = np.where(f.dead > 0, den, 1.0)
    with np.errstate(all="ignore"):
        loglik = (f.wd * eta).sum(1) - (mw * np.log(safe)).sum(1)
        mean = a1 / safe[..., None]
        score = f.xwd - (mw[..., None] * mean).sum(1)
        info = (mw[..., None, None] * (a2 / safe[..., None, None]
                                       - mean[..., :, None] * mean[..., None, :])).sum(1)
    return loglik, score, info


def _invertible(info: np.ndarray, limit: float = 1e14) -> np.ndarray:
    """Rows whose matrix is finite and has a condition number below ``limit``."""
    ok = np.isfinite(info).all(axis=(1, 2))
    cond = np.full(len(info), np.inf)
    if ok.any():
        cond[ok] = np.linalg.cond(info[ok])
    return ok & (cond < limit)


def _score_chisq(score: np.ndarray, info: np.ndarray) -> np.ndarray:
    """U' I^-1 U per row (NaN where the information is singular)."""
    out = np.full(len(score), np.nan)
    ok0 = _invertible(info, 1e12)
    out[ok0] = np.einsum("bp,bp->b", score[ok0],
                         np.linalg.solve(info[ok0], score[ok0][..., None])[..., 0])
    return out


def _prepare(time: np.ndarray, event: np.ndarray, x: np.ndarray, weight: np.ndarray | None,
             s: Sorted | None = None) -> tuple[Sorted, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted times, events, weights and weighted-mean-centred covariates (``s``:
    ``sort_times(time)``, used when every weight is positive)."""
    w = np.ones(time.shape) if weight is None else np.asarray(weight, float)
    sw = np.maximum(w.sum(1, keepdims=True), 1e-300)
    xc = x - ((x * w[..., None]).sum(1) / sw)[:, None, :]
    if s is None or not (w > 0).all():
        s = sort_times(np.where(w > 0, time, np.inf))
    return s, s.take(event.astype(float)), s.take(w), s.take(xc)


def cox_score(time: np.ndarray, event: np.ndarray, x: np.ndarray,
              weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The Cox score test of all coefficients = 0 (Efron ties; R
    ``summary(coxph)$sctest``): chi-square and P per row, without fitting; equal to
    :attr:`CoxBatch.score_chisq` of :func:`cox_fit`."""
    fixed = _efron_fixed(*_prepare(time, event, x, weight))
    _, score, info = _efron_terms(fixed, np.zeros((x.shape[0], x.shape[2])))
    chisq = _score_chisq(score, info)
    return chisq, special.chdtrc(x.shape[2], chisq)


def cox_fit(time: np.ndarray, event: np.ndarray, x: np.ndarray,
            weight: np.ndarray | None = None, s: Sorted | None = None) -> CoxBatch:
    """Cox model per row: ``x`` (B, n, p), Efron ties, case ``weight`` (default 1).

    Covariates are centred at their weighted means (as R; it changes only rounding).
    Newton-Raphson from beta = 0 with step halving when the log partial likelihood
    falls (R's ``coxfit6``), to a step below 1e-11 (relative) or 60 iterations. A fit
    whose coefficient exceeds 20 in absolute value or does not converge (no finite
    maximum: e.g. no deaths in one arm) is reported as NaN (not estimable). ``s``:
    ``sort_times(time)`` if already computed (used when every weight is positive).
    """
    fixed = _efron_fixed(*_prepare(time, event, x, weight, s))
    b, p = x.shape[0], x.shape[2]
    beta = np.zeros((b, p))
    loglik, score, info = _efron_terms(fixed, beta)
    score_chisq = _score_chisq(score, info)
    done = np.zeros(b, bool)
    failed = np.zeros(b, bool)
    iterations = 0
    for it in range(1, MAX_ITER + 1):
        rows = np.flatnonzero(~done & ~failed)  # only fits still moving are iterated
        if not len(rows):
            break
        iterations = it
        sub = fixed.subset(rows)
        b0, ll0 = beta[rows], loglik[rows]
        good = _invertible(info[rows]) & (np.abs(b0) <= 30).all(axis=1)
        step = np.zeros_like(b0)
        step[good] = np.linalg.solve(info[rows][good], score[rows][good][..., None])[..., 0]
        new = b0 + step
        ll_new, sc_new, in_new = _efron_terms(sub, new)
        worse = ~(ll_new >= ll0 - 1e-12 * np.abs(ll0))
        for _ in range(10):  # step halving, as coxfit6
            if not worse.any():
                break
            new = np.where(worse[:, None], (b0 + new) / 2, new)
            ll2, sc2, in2 = _efron_terms(sub, new)
            ll_new = np.where(worse, ll2, ll_new)
            sc_new = np.where(worse[:, None], sc2, sc_new)
            in_new = np.where(worse[:, None, None], in2, in_new)
            worse = ~(ll_new >= ll0 - 1e-12 * np.abs(ll0))
        small = (np.abs(new - b0) <= TOL * (1 + np.abs(new))).all(axis=1)
        beta[rows], loglik[rows], score[rows], info[rows] = new, ll_new, sc_new, in_new
        done[rows] = small & good
        failed[rows] = ~good | (np.abs(new) > 20).any(axis=1)
    with np.errstate(invalid="ignore"):
        cov = np.full((b, p, p), np.nan)
        inv_ok = _invertible(info)
        cov[inv_ok] = np.linalg.inv(info[inv_ok])
        se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    bad = ~done | failed | (np.abs(beta) > 20).any(axis=1) | ~np.isfinite(se).all(axis=1)
    beta = np.where(bad[:, None], np.nan, beta)
    se = np.where(bad[:, None], np.nan, se)
    return CoxBatch(beta, se, score_chisq, ~bad, iterations)


def logistic_fit(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a logistic regression per row (``x`` (B, n, p) with an
    intercept column), by IRLS from 0 to a step below 1e-11, as R's ``glm``. Each row
    stops at its own convergence, so its result does not depend on the other rows."""
    b, n, p = x.shape
    beta = np.zeros((b, p))
    moving = np.arange(b)
    for _ in range(MAX_ITER):
        if not len(moving):
            break
        xm, ym = x[moving], y[moving]
        mu = special.expit(np.einsum("bnp,bp->bn", xm, beta[moving]))
        wt = mu * (1 - mu)
        info = np.einsum("bnp,bn,bnq->bpq", xm, wt, xm)
        step = np.linalg.solve(info, np.einsum("bnp,bn->bp", xm, ym - mu)[..., None])[..., 0]
        new = beta[moving] + step
        beta[moving] = new
        moving = moving[~(np.abs(step) <= TOL * (1 + np.abs(new))).all(axis=1)]
    return special.expit(np.einsum("bnp,bp->bn", x, beta))


def kruskal_p(values: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Kruskal-Wallis P per row of ``values`` (B, n) across groups ``codes`` (n,),
    0..k-1, with the tie correction (as ``scipy.stats.kruskal``)."""
    s = sort_times(values)
    ranks = np.empty(values.shape)
    ranks[_rows(values), s.order] = (s.first + s.last) / 2 + 1  # mid-ranks of tie groups
    n = values.shape[1]
    h = np.zeros(values.shape[0])
    for g in range(k):
        sel = codes == g
        h += ranks[:, sel].sum(1) ** 2 / sel.sum()
    h = 12 / (n * (n + 1)) * h - 3 * (n + 1)
    ties = s.last - s.first + 1.0
    t_sum = np.where(s.opens, ties**3 - ties, 0).sum(1)
    h = h / (1 - t_sum / (n**3 - n))
    return special.chdtrc(k - 1, h)


def ffh_table(totals: tuple[int, ...]) -> np.ndarray:
    """Fisher-Freeman-Halton exact P of every 2 x k table with column ``totals``:
    an array indexed by the first-row counts (k1, ..., kk).

    Tables with the same row totals are sorted by probability; a table's P is the
    cumulative probability of every table no more likely than it (within FEXACT's
    tolerance), found by a binary search instead of comparing all pairs."""
    shape = tuple(t + 1 for t in totals)
    grids = np.indices(shape).reshape(len(totals), -1).T
    tot = np.asarray(totals)
    lf = special.gammaln(np.arange(tot.sum() + 2) + 1.0)
    row1 = grids.sum(1)
    n = tot.sum()
    logp = (lf[tot].sum() + lf[row1] + lf[n - row1] - lf[n]
            - lf[grids].sum(1) - lf[tot - grids].sum(1))
    p = np.ones(len(grids))
    if (tot > 0).sum() < 2:
        return p.reshape(shape)
    for r in range(1, n):  # tables with the same margins
        sel = np.flatnonzero(row1 == r)
        lp = logp[sel]
        order = np.argsort(lp, kind="stable")
        cum = np.cumsum(np.exp(lp[order]))
        upto = np.searchsorted(lp[order], lp + LOG_TOL_RXC, side="right")
        p[sel] = np.minimum(1.0, cum[upto - 1])
    return p.reshape(shape)

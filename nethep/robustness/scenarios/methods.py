"""Every method of notebook 05, applied to all replicates of a scenario at once.

Each function takes :class:`~nethep.robustness.scenarios.simulate.Replicates` (and,
where it fits the unweighted data of all patients, optionally their
:func:`nethep.coxbatch.risk_sets`, computed once and shared) and returns
:class:`Estimates` (arrays over the replicates: estimate and 95% CI on the log-HR scale,
or in months for the RMST difference; two-sided P; ``ok`` False where the method has no
finite estimate, e.g. no deaths in one arm). Model fits are vectorised across the
replicates (:mod:`nethep.coxbatch`); the single-cohort engines they match are named in
each docstring and checked in ``tests/test_scenarios.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import special, stats

from nethep import coxbatch
from nethep.logrank_scores import logrank_scores_rows
from nethep.robustness.immortal_time import LANDMARK_MONTHS
from nethep.robustness.scenarios.simulate import Replicates

#: Permutations per replicate of the permutation log-rank test (modest: rejection only).
N_PERMUTATIONS = 500
PERMUTATION_BLOCK = 100
#: RMST horizon (months): 3 years, the abstract's survival time and notebook 05's first
#: fixed horizon (a fixed horizon gives every replicate the same true difference).
RMST_TAU = 36.0
Z95 = float(stats.norm.ppf(0.975))
#: The methods, in the order of notebook 05, with display labels.
METHOD_LABELS = MappingProxyType({
    "naive": "Naive Cox (Wald)",
    "firth": "Firth Cox (profile CI)",
    "adjusted": "Adjusted Cox",
    "iptw_att": "IPTW Cox, ATT",
    "iptw_ate": "IPTW Cox, ATE",
    **{f"landmark_{m:g}": f"Landmark {m:g} months" for m in LANDMARK_MONTHS},
    "time_varying": "Time-varying Cox",
    "rmst": f"RMST difference, {RMST_TAU:g} months",
    "permutation": "Permutation log-rank",
})


@dataclass(frozen=True)
class Estimates:
    """One method's results over the replicates (NaN where not ``ok``)."""

    estimate: np.ndarray  # log HR (RMST: months, surgical minus non-surgical)
    lower: np.ndarray
    upper: np.ndarray
    p: np.ndarray
    ok: np.ndarray  # bool: estimable


def _deaths_in_both_arms(event: np.ndarray, exposed: np.ndarray,
                         include: np.ndarray | None = None) -> np.ndarray:
    inc = np.ones(event.shape, bool) if include is None else include
    dead = event & inc
    return (dead & exposed).any(axis=1) & (dead & ~exposed).any(axis=1)


def _from_fit(result: coxbatch.BatchFit, estimable: np.ndarray) -> Estimates:
    ok = result.ok & estimable
    est, lo, hi, p = result.wald(0)
    nan = np.nan
    return Estimates(np.where(ok, est, nan), np.where(ok, lo, nan), np.where(ok, hi, nan),
                     np.where(ok, p, nan), ok)


def naive_cox(reps: Replicates, rs: coxbatch.RiskSets | None = None) -> Estimates:
    """Cox model of the group as counted (Efron ties, Wald 95% CI and P), as
    :func:`nethep.cox.coxph`; not estimable with no deaths in an arm."""
    z = reps.surgical.astype(float)
    rs = coxbatch.risk_sets(reps.time, reps.event) if rs is None else rs
    estimable = _deaths_in_both_arms(reps.event, reps.surgical)
    return _from_fit(coxbatch.fit(rs, z[..., None], active=estimable), estimable)


def firth_cox(reps: Replicates, rs: coxbatch.RiskSets | None = None) -> Estimates:
    """Firth-penalised Cox (Efron ties, profile penalised-likelihood 95% CI, penalised LR
    P), as :func:`nethep.firth.firth_coxph`; finite even with no deaths in an arm."""
    rs = coxbatch.risk_sets(reps.time, reps.event) if rs is None else rs
    f = coxbatch.firth(rs, reps.surgical.astype(float))
    return Estimates(f.beta, f.lower, f.upper, f.p_lr, f.ok)


def adjusted_cox(reps: Replicates, rs: coxbatch.RiskSets | None = None) -> Estimates:
    """Cox model of surgery + tumour type + liver involvement + age (notebook 05's
    adjusted model; Efron ties, Wald CI), as :func:`nethep.cox.coxph` with those terms."""
    x = np.concatenate([reps.surgical[..., None].astype(float), reps.covariates], axis=2)
    rs = coxbatch.risk_sets(reps.time, reps.event) if rs is None else rs
    varies = (np.ptp(reps.covariates, axis=1) > 0).all(axis=1)
    estimable = _deaths_in_both_arms(reps.event, reps.surgical) & varies
    return _from_fit(coxbatch.fit(rs, x, active=estimable), estimable)


def propensity_scores(reps: Replicates, max_iter: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Logistic propensity score of surgery on the three covariates, fitted by
    Newton-Raphson (IRLS) for every replicate, as R ``glm(family = binomial)`` and
    :func:`nethep.robustness.weighting.propensity`. Returns (scores (R, n), converged
    to a step below 1e-10 with every score inside (1e-8, 1 - 1e-8))."""
    n_rep, n, _ = reps.covariates.shape
    covs = reps.covariates
    center = covs.mean(axis=1, keepdims=True)
    scale = np.maximum(covs.std(axis=1, keepdims=True), 1e-12)
    x = np.concatenate([np.ones((n_rep, n, 1)), (covs - center) / scale], axis=2)
    y = reps.surgical.astype(float)
    beta = np.zeros((n_rep, x.shape[2]))
    done = np.zeros(n_rep, bool)
    for _ in range(max_iter):
        mu = special.expit(np.einsum("rnp,rp->rn", x, beta))
        grad = np.einsum("rnp,rn->rp", x, y - mu)
        info = np.einsum("rnp,rn,rnq->rpq", x, mu * (1 - mu), x)
        info = np.where(np.isfinite(info).all(axis=(1, 2))[:, None, None], info,
                        np.eye(x.shape[2]))
        try:
            step = np.linalg.solve(info, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.einsum("rpq,rq->rp", np.linalg.pinv(info), grad)
        step[done] = 0.0
        beta = beta + step
        done |= np.all(np.abs(step) <= 1e-10 * np.maximum(1.0, np.abs(beta)), axis=1)
        if done.all():
            break
    ps = special.expit(np.einsum("rnp,rp->rn", x, beta))
    inside = ((ps > 1e-8) & (ps < 1 - 1e-8)).all(axis=1)
    return ps, done & inside


def iptw(reps: Replicates, estimand: str,
         scores: tuple[np.ndarray, np.ndarray] | None = None) -> Estimates:
    """Weighted Cox model of surgery with R's robust sandwich SE (Wald CI and P), as
    :func:`nethep.cox.weighted_cox_robust`. Weights from :func:`propensity_scores`:
    ``"ate"``, stabilised, P(surgical)/e for the surgical and (1 - P(surgical))/(1 - e)
    for the others (as :func:`nethep.robustness.weighting.propensity`); ``"att"``, 1 for
    the surgical and e/(1 - e) for the others. The SE treats the weights as known.
    ``scores``: :func:`propensity_scores` of ``reps`` when already computed."""
    ps, converged = propensity_scores(reps) if scores is None else scores
    z = reps.surgical
    if estimand not in ("ate", "att"):
        raise ValueError(f"estimand must be 'ate' or 'att', not {estimand!r}")
    with np.errstate(divide="ignore", invalid="ignore"):  # scores of 0 or 1: not converged
        share = z.mean(axis=1, keepdims=True)
        w = (np.where(z, share / ps, (1 - share) / (1 - ps)) if estimand == "ate"
             else np.where(z, 1.0, ps / (1 - ps)))
    w = np.where(converged[:, None], w, 1.0)
    x = z.astype(float)[..., None]
    rs = coxbatch.risk_sets(reps.time, reps.event, weights=w)
    estimable = converged & _deaths_in_both_arms(reps.event, z)
    result = coxbatch.fit(rs, x, active=estimable)
    se = np.sqrt(np.clip(coxbatch.robust_variance(rs, x, result)[:, 0, 0], 0, None))
    ok = result.ok & estimable & (se > 0)
    b = result.beta[:, 0]
    p = 2 * stats.norm.sf(np.abs(b / np.where(se > 0, se, np.nan)))
    nan = np.nan
    return Estimates(np.where(ok, b, nan), np.where(ok, b - Z95 * se, nan),
                     np.where(ok, b + Z95 * se, nan), np.where(ok, p, nan), ok)


def landmark(reps: Replicates, at_months: float) -> Estimates:
    """Landmark Cox analysis at ``at_months``, as
    :func:`nethep.robustness.immortal_time.landmark`: patients with follow-up beyond
    the landmark, surgical only if operated by then, time restarted at the landmark;
    Efron ties, Wald CI. Not estimable without deaths in both arms at the landmark."""
    include = reps.time > at_months
    exposed = reps.surgical & (reps.wait <= at_months) & include
    rs = coxbatch.risk_sets(reps.time - at_months, reps.event, include=include)
    estimable = _deaths_in_both_arms(reps.event, exposed, include)
    estimable &= (exposed.sum(axis=1) >= 1) & ((include & ~exposed).sum(axis=1) >= 1)
    return _from_fit(coxbatch.fit(rs, exposed.astype(float)[..., None], active=estimable),
                     estimable)


def time_varying(reps: Replicates, rs: coxbatch.RiskSets | None = None) -> Estimates:
    """Cox model with surgery switching on at the operation (counting-process data as
    :func:`nethep.robustness.immortal_time.counting_process`: exposed at a death time t
    when operated before t), Efron ties, Wald CI."""
    switched = reps.surgical[:, None, :] & (reps.wait[:, None, :] < reps.time[:, :, None])
    rs = coxbatch.risk_sets(reps.time, reps.event) if rs is None else rs
    exposed_deaths = (reps.event & reps.surgical & (reps.wait < reps.time)).any(axis=1)
    unexposed_deaths = (reps.event & ~(reps.surgical & (reps.wait < reps.time))).any(axis=1)
    estimable = exposed_deaths & unexposed_deaths
    return _from_fit(coxbatch.fit(rs, switched.astype(float)[..., None], active=estimable),
                     estimable)


def _km_area(time: np.ndarray, event: np.ndarray, arm: np.ndarray,
             tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Area under each replicate's Kaplan-Meier curve of ``arm`` to ``tau`` and its SE by
    R survival's rule (as :func:`nethep.km.restricted_mean_survival`)."""
    at_risk = (time[:, None, :] >= time[:, :, None]) & arm[:, None, :]
    tied = (time[:, None, :] == time[:, :, None]) & (event & arm)[:, None, :]
    dead_i = event & arm & (time <= tau)
    n_risk = at_risk.sum(axis=2).astype(float)
    d = tied.sum(axis=2).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # each of the d deaths at a time contributes log(1 - d/n) / d
        step = np.where(dead_i, np.log1p(-d / np.where(dead_i, n_risk, 1.0)) / np.maximum(d, 1),
                        0.0)
    # S just after each subject's time; area = sum over the sorted times within tau
    order = np.argsort(time, axis=1, kind="stable")
    t_sorted = np.take_along_axis(time, order, axis=1)
    cum = np.cumsum(np.take_along_axis(step, order, axis=1), axis=1)
    surv_after = np.exp(cum)  # S(t) for t >= t_sorted[k] (ties: after all tied)
    edges = np.minimum(np.concatenate([np.zeros((len(time), 1)), t_sorted,
                                       np.full((len(time), 1), tau)], axis=1), tau)
    levels = np.concatenate([np.ones((len(time), 1)), surv_after], axis=1)
    pieces = levels * np.diff(edges, axis=1)
    area = pieces.sum(axis=1)
    # area from each death time t_k to tau: the pieces to the right of t_k
    right = np.cumsum(pieces[:, ::-1], axis=1)[:, ::-1]  # right[:, m] = sum pieces[m:]
    rank = np.argsort(order, axis=1)  # position of each subject in the sorted order
    after = np.take_along_axis(np.concatenate([right[:, 1:], np.zeros((len(time), 1))],
                                              axis=1), rank, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(dead_i & (n_risk > d), 1.0 / (n_risk * (n_risk - d)), 0.0)
    # one term per distinct death time: d deaths each add after^2 / (n (n - d))
    var = (after**2 * h).sum(axis=1)
    return area, np.sqrt(var)


def rmst_difference(reps: Replicates, tau: float = RMST_TAU) -> Estimates:
    """Difference in restricted mean survival to ``tau`` (surgical minus non-surgical,
    months), areas under the Kaplan-Meier curves with R survival's SE, normal 95% CI and
    P, as :func:`nethep.robustness.effect_size.rmst`. Not estimable when an arm's last
    follow-up is before ``tau`` (the curve would be extended flat)."""
    z = reps.surgical
    a1, s1 = _km_area(reps.time, reps.event, z, tau)
    a0, s0 = _km_area(reps.time, reps.event, ~z, tau)
    last1 = np.where(z, reps.time, -np.inf).max(axis=1)
    last0 = np.where(~z, reps.time, -np.inf).max(axis=1)
    ok = (last1 >= tau) & (last0 >= tau)
    diff, se = a1 - a0, np.sqrt(s1**2 + s0**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(diff / se))
    nan = np.nan
    return Estimates(np.where(ok, diff, nan), np.where(ok, diff - Z95 * se, nan),
                     np.where(ok, diff + Z95 * se, nan), np.where(ok, p, nan), ok)


def permutation_logrank(reps: Replicates, rng: np.random.Generator,
                        n_permutations: int = N_PERMUTATIONS) -> Estimates:
    """Two-sided Monte Carlo permutation log-rank test per replicate (``n_permutations``
    random relabellings each), as :func:`nethep.permutation.permutation_logrank`:
    P = share of relabellings whose standardised surgical score sum is at least as far
    from its mean as observed. The same random relabellings serve every replicate (each
    test is valid on its own; their Monte Carlo errors are correlated across
    replicates). A test only: estimate and CI are NaN."""
    scores = logrank_scores_rows(reps.time, reps.event)
    z = reps.surgical.astype(float)
    observed = (scores * z).sum(axis=1)
    center = z.sum(axis=1) * scores.mean(axis=1)
    threshold = np.abs(observed - center) - 1e-8
    n_extreme = np.zeros(len(z))
    n = z.shape[1]
    for start in range(0, n_permutations, PERMUTATION_BLOCK):  # blocks bound the memory
        size = min(PERMUTATION_BLOCK, n_permutations - start)
        # one set of random relabellings (sigma_b) serves every replicate: replicate r's
        # relabelled sum is sum_j z_r[j] s_r[sigma_b(j)]
        sigma = rng.random((size, n)).argsort(axis=1)
        permuted = np.einsum("rbn,rn->rb", scores[:, sigma], z)
        n_extreme += (np.abs(permuted - center[:, None]) >= threshold[:, None]).sum(axis=1)
    p = n_extreme / n_permutations
    ok = reps.event.any(axis=1)
    nan = np.full(len(p), np.nan)
    return Estimates(nan, nan, nan, np.where(ok, p, np.nan), ok)


def apply_all(reps: Replicates, rng: np.random.Generator) -> dict[str, Estimates]:
    """Every method of :data:`METHOD_LABELS`, by key."""
    rs = coxbatch.risk_sets(reps.time, reps.event)  # shared by the unweighted fits
    out = {"naive": naive_cox(reps, rs), "firth": firth_cox(reps, rs),
           "adjusted": adjusted_cox(reps, rs)}
    scores = propensity_scores(reps)
    out["iptw_att"] = iptw(reps, "att", scores)
    out["iptw_ate"] = iptw(reps, "ate", scores)
    for m in LANDMARK_MONTHS:
        out[f"landmark_{m:g}"] = landmark(reps, m)
    out["time_varying"] = time_varying(reps, rs)
    out["rmst"] = rmst_difference(reps)
    out["permutation"] = permutation_logrank(reps, rng)
    return out

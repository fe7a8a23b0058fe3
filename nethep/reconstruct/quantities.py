"""The numbers the abstract does not fix, for every member of the ensemble at once.

:func:`quantities` computes, per cohort (rows of (B, 48) arrays, see
:func:`cohort_arrays`), with the batched engines of :mod:`nethep.reconstruct.batch`
(R's definitions; checked against nethep's engines and R in ``tests/test_ensemble.py``):

- ``hr``, ``hr_lower``, ``hr_upper``: Cox model of surgical vs the rest, Efron ties,
  Wald 95% CI; ``logrank_p`` (R ``survdiff``), ``cox_wald_p``, ``cox_score_p``;
- ``firth_hr``, ``firth_lower``, ``firth_upper``, ``firth_p``: the primary analysis'
  estimate (notebook 05), the Firth-penalised Cox HR of surgical vs the rest (Efron
  ties), its profile penalised-likelihood 95% CI and penalised likelihood-ratio P, by
  :func:`nethep.coxbatch.firth` (all members at once; agrees with
  :func:`nethep.firth.firth_coxph` to 1.6e-11, tested to 1e-6); NaN if not converged;
- ``mc_permutation_p``, ``mc_permutation_se``: the Monte Carlo permutation log-rank P
  of surgical vs the rest (coin's log-rank scores, two-sided, treatment labels
  permuted) with :data:`N_PERMUTATIONS` relabellings drawn from seed
  :data:`nethep.permutation.DEFAULT_SEED`, the same for every member, and its Monte
  Carlo SE sqrt(P(1 - P)/B), by :func:`nethep.permutation.permutation_logrank_batch`:
  each member's P is the one :func:`nethep.permutation.permutation_logrank` gives
  with that seed (notebook 05's setting). It estimates the exact permutation P; it is
  not exact (the exact P by :func:`nethep.exact_logrank.exact_logrank` costs 0.03-0.7 s
  CPU per member, too slow for a build of 1,000-10,000 members);
- ``rmst36_*``: area under each arm's Kaplan-Meier curve to 36 months and the
  difference (surgical minus non-surgical);
- ``deaths_*``, ``first_death_surgical_months`` (NaN: no surgical death);
- ``median_*``: Kaplan-Meier median (R's rule; NaN: not reached); ``s12_*``,
  ``s60_*``: Kaplan-Meier S(t) (NaN: follow-up ends sooner);
- ``adjusted_hr``: Cox of surgical adjusted for islet cell tumour, liver
  involvement (per %) and age (per year), notebook 05's default covariates;
  ``iptw_hr``: Cox of surgical weighted for the ATT (notebook 05's primary
  estimand: weight 1 if surgical, e(x) / (1 - e(x)) otherwise) from a logistic
  propensity score e(x) on the same covariates; ``landmark3_hr``,
  ``landmark6_hr``: Cox among patients followed beyond 3 (6) months, surgical only
  if operated by then, time from the landmark. A fit without a finite maximum is
  NaN (not estimable); notebook 05 instead refits the adjusted model with a ridge
  penalty, which the ensemble does not.
- ``palliation_*``: palliated / symptomatic per group;
- ``tipping_earliest``, ``tipping_worst``: see :func:`tipping_points`.

Members are processed in blocks of :data:`BLOCK` (memory grows as members x 48^2).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from nethep import coxbatch
from nethep.permutation import DEFAULT_SEED, permutation_logrank_batch
from nethep.reconstruct import batch
from nethep.reconstruct.ensemble import PALLIATION_GROUPS

ARMS = ("surgical", "nonsurgical")
LANDMARKS: tuple[float, ...] = (3.0, 6.0)
ALPHA = 0.05
#: Relabellings per member for ``mc_permutation_p`` (notebook 05's number); blocks of members.
N_PERMUTATIONS = 100_000
BLOCK = 2_000
#: Cohorts per log-rank call in the tipping point's worst case (about 1,024 x 49 x 8 bytes
#: per temporary: small temporaries avoid the page faults large ones cost on every call).
TIPPING_CHUNK = 1_024
#: Columns of quantities.csv after the design columns, in order.
COLUMNS: tuple[str, ...] = (
    "hr", "hr_lower", "hr_upper", "logrank_p", "cox_wald_p", "cox_score_p",
    "firth_hr", "firth_lower", "firth_upper", "firth_p", "mc_permutation_p",
    "mc_permutation_se",
    "rmst36_surgical", "rmst36_nonsurgical", "rmst36_diff",
    "deaths_surgical", "deaths_nonsurgical", "first_death_surgical_months",
    "median_surgical", "median_nonsurgical", "s12_surgical", "s12_nonsurgical",
    "s60_surgical", "s60_nonsurgical", "adjusted_hr", "iptw_hr", "landmark3_hr",
    "landmark6_hr", "palliation_medical", "palliation_embolization",
    "palliation_surgical", "tipping_earliest", "tipping_worst",
)


def cohort_arrays(long: pd.DataFrame, n: int = 48) -> dict[str, np.ndarray]:
    """Cohort rows (one block of ``n`` per cohort, in order) as (B, n) numeric arrays."""
    b = len(long) // n

    def grid(col: str, dtype: type = float) -> np.ndarray:
        return long[col].to_numpy(dtype=dtype, na_value=np.nan).reshape(b, n)

    return {
        "time": grid("followup_months"), "died": grid("died"),
        "surgical": (long["treatment_group"].to_numpy() == "surgical").reshape(b, n),
        "group": long["treatment_group"].to_numpy(str).reshape(b, n),
        "islet": (long["tumor_type"].to_numpy() == "islet_cell").reshape(b, n).astype(float),
        "liver": grid("liver_involvement_pct"), "age": grid("age_years"),
        "mtt": grid("months_to_treatment"), "symptomatic": grid("symptomatic"),
        "palliated": grid("palliated"),
    }


def _cox_hr(a: dict[str, np.ndarray], cols: list[np.ndarray],
            weight: np.ndarray | None = None, time: np.ndarray | None = None,
            s: batch.Sorted | None = None) -> np.ndarray:
    """HR of the first of ``cols``; ``s``: ``sort_times(a["time"])`` (not with ``time``)."""
    fit = batch.cox_fit(a["time"] if time is None else time, a["died"],
                        np.stack(cols, axis=-1), weight, s)
    return np.exp(fit.coef[:, 0])


def _landmark_hr(a: dict[str, np.ndarray], at: float) -> np.ndarray:
    keep = (a["time"] > at).astype(float)
    operated = a["surgical"] & (np.nan_to_num(a["mtt"], nan=np.inf) <= at)
    surg = operated.astype(float)
    both = ((surg * keep).sum(1) > 0) & (((1 - surg) * keep).sum(1) > 0)
    hr = _cox_hr(a, [surg], keep, a["time"] - at)
    return np.where(both, hr, np.nan)


def _iptw_hr(a: dict[str, np.ndarray], s: batch.Sorted | None = None) -> np.ndarray:
    y = a["surgical"].astype(float)
    x = np.stack([np.ones_like(y), a["islet"], a["liver"], a["age"]], axis=-1)
    ps = batch.logistic_fit(y, x)
    w = np.where(y == 1, 1.0, ps / (1 - ps))  # ATT weights, notebook 05's primary
    return _cox_hr(a, [y], w, s=s)


def firth_and_permutation(a: dict[str, np.ndarray],
                          n_permutations: int = N_PERMUTATIONS) -> dict[str, np.ndarray]:
    """``firth_*`` and ``mc_permutation_*`` of each cohort (module docstring), in blocks
    of :data:`BLOCK` cohorts; no loop over cohorts within a block."""
    parts = []
    for s in range(0, len(a["time"]), BLOCK):
        time, died, surg = (a[k][s:s + BLOCK] for k in ("time", "died", "surgical"))
        fit = coxbatch.firth(coxbatch.risk_sets(time, died), surg.astype(float))
        with np.errstate(over="ignore"):
            hr, lower, upper = np.exp(fit.beta), np.exp(fit.lower), np.exp(fit.upper)
        p, se = permutation_logrank_batch(time, died, surg, n_permutations, DEFAULT_SEED)
        parts.append((hr, lower, upper, fit.p_lr, p, se))
    names = ("firth_hr", "firth_lower", "firth_upper", "firth_p", "mc_permutation_p",
             "mc_permutation_se")
    return {k: np.concatenate([part[i] for part in parts]) for i, k in enumerate(names)}


def _censored_positions(cens: np.ndarray) -> np.ndarray:
    """Each row's censored positions in row order first (then the others)."""
    return np.argsort(~cens, axis=1, kind="stable")


def _worst_case(a: dict[str, np.ndarray], s: batch.Sorted, cens: np.ndarray,
                earliest: np.ndarray, alpha: float, chunk: int) -> np.ndarray:
    """The worst case of :func:`tipping_points` given its censored surgical patients
    ``cens`` and the earliest-first answer.

    For k = 1, 2, ... every member still open (no subset found yet, k below its
    earliest-first answer) has all its subsets of k censored surgical patients stacked
    into one batch of cohorts (members grouped by their number of censored patients,
    at most ``chunk`` cohorts per :func:`batch.logrank_p_events` call, which counts the
    numbers at risk once per member); a member closes at the first k with some subset
    reaching P >= ``alpha``. The subsets are all of them, as in the definition: the
    answer is that of enumerating them member by member."""
    time, died = a["time"], a["died"]
    grp = a["surgical"].astype(float)
    n_cens = cens.sum(axis=1)
    n = time.shape[1]
    pos = _censored_positions(cens)
    worst = earliest.copy()
    open_ = np.isfinite(earliest) & (earliest > 1)
    k = 1
    while open_.any():
        open_ &= earliest > k
        for c in np.unique(n_cens[open_]):
            members = np.flatnonzero(open_ & (n_cens == c))
            combos = np.array(list(itertools.combinations(range(int(c)), k)))
            per = max(1, chunk // len(combos))
            for lo in range(0, len(members), per):
                rows = members[lo:lo + per]
                stack = np.repeat(rows, len(combos))  # one cohort per (member, subset)
                flips = died[stack]
                at = pos[rows][:, combos].reshape(len(stack), k)  # the subsets' patients
                flips.reshape(-1)[(at + np.arange(len(stack))[:, None] * n).ravel()] = 1.0
                _, p = batch.logrank_p_events(time, grp, flips, stack, s)
                hit = rows[(p.reshape(len(rows), len(combos)) >= alpha).any(axis=1)]
                worst[hit] = k
                open_[hit] = False
        k += 1
    return worst


def tipping_points(a: dict[str, np.ndarray], alpha: float = ALPHA, chunk: int = TIPPING_CHUNK,
                   s: batch.Sorted | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How many censored surgical patients would have to have died (at their last
    contact) for the log-rank P of surgical vs the rest to reach ``alpha`` or more.

    ``earliest``: the earliest censored first (ties in row order); ``worst``: the
    fewest over every choice of which censored surgical patients died (all subsets
    up to the earliest-first answer). NaN when even all of them dying keeps P below
    ``alpha``; 0 when P is already at least ``alpha``. All members at once (no loop
    over members); ``chunk`` caps the cohorts per log-rank call (memory); ``s``:
    ``batch.sort_times(a["time"])`` if already computed.
    """
    time, died = a["time"], a["died"]
    grp = a["surgical"].astype(float)
    cens = a["surgical"] & (died == 0)
    key = np.where(cens, time, np.inf)
    rank = np.argsort(np.argsort(key, axis=1, kind="stable"), axis=1)
    n_cens = cens.sum(axis=1)
    if s is None:  # flipping events leaves the times, so one sort serves every call
        s = batch.sort_times(time)
    earliest = np.full(len(time), np.nan)
    for k in range(int(n_cens.max(initial=0)) + 1):
        rows = np.flatnonzero(np.isnan(earliest) & (k <= n_cens))
        if not len(rows):
            break
        flipped = np.where(cens[rows] & (rank[rows] < k), 1.0, died[rows])
        _, p = batch.logrank_p_events(time, grp, flipped, rows, s)
        earliest[rows[p >= alpha]] = k
    return earliest, _worst_case(a, s, cens, earliest, alpha, chunk)


def quantities(a: dict[str, np.ndarray]) -> pd.DataFrame:
    """Every unpublished quantity of each cohort (module docstring), one row each. The
    times are sorted once for the Cox fits, the log-rank tests and the tipping points,
    and each arm's Kaplan-Meier curve is computed once."""
    time, died, surg = a["time"], a["died"], a["surgical"]
    grp = surg.astype(float)
    s = batch.sort_times(time)
    out: dict[str, np.ndarray] = {}
    fit = batch.cox_fit(time, died, grp[..., None], s=s)
    out["hr"], out["hr_lower"], out["hr_upper"] = fit.hr()
    out["logrank_p"] = batch.logrank_p(time, died, grp, s=s)[1]
    out["cox_wald_p"], out["cox_score_p"] = fit.wald_p(), fit.score_p()
    out |= firth_and_permutation(a)
    masks = {"surgical": surg, "nonsurgical": ~surg}
    km = {arm: batch.km_steps(time, died, m) for arm, m in masks.items()}
    for arm, curves in km.items():
        out[f"rmst36_{arm}"] = curves.rmst(36.0)
    out["rmst36_diff"] = out["rmst36_surgical"] - out["rmst36_nonsurgical"]
    for arm, m in masks.items():
        out[f"deaths_{arm}"] = (died * m).sum(axis=1)
    first = np.where(surg & (died == 1), time, np.inf).min(axis=1)
    out["first_death_surgical_months"] = np.where(np.isfinite(first), first, np.nan)
    for arm, curves in km.items():
        out[f"median_{arm}"] = curves.median()
    for t in (12, 60):
        for arm, curves in km.items():
            out[f"s{t}_{arm}"] = curves.at(float(t))
    out["adjusted_hr"] = _cox_hr(a, [grp, a["islet"], a["liver"], a["age"]], s=s)
    out["iptw_hr"] = _iptw_hr(a, s)
    for at in LANDMARKS:
        out[f"landmark{at:g}_hr"] = _landmark_hr(a, at)
    sym = a["symptomatic"] == 1
    for g in PALLIATION_GROUPS:
        in_g = sym & (a["group"] == g)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"palliation_{g}"] = (np.nan_to_num(a["palliated"]) * in_g).sum(1) / in_g.sum(1)
    out["tipping_earliest"], out["tipping_worst"] = tipping_points(a, s=s)
    return pd.DataFrame({c: out[c] for c in COLUMNS})

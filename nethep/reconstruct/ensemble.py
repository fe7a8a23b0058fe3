"""An ensemble of abstract-consistent cohorts: every unpublished number as a range.

The abstract of Musunuru et al. fixes the counts, 3-year survival per arm, the P
of the survival comparison, the median follow-up, the palliation P and that
liver involvement did not differ; it does not fix the hazard ratio, deaths per
arm, curve shapes, adjusted estimates or palliation rates. One reconstruction
(:mod:`nethep.reconstruct.single`) is one draw; this module draws many, under
several stated assumptions, so that an unpublished quantity can be shown as the
range the abstract allows.

**Design cells.** Every member belongs to one cell of

- survival model (:data:`MODELS`), per arm, scaled so that S(36) equals the
  published 83% (surgical) and 31% (non-surgical): ``weibull_1.0`` (exponential),
  ``weibull_1.5``, ``loglogistic_2.0`` (S(t) = 1 / (1 + (t / a)^2)), and
  ``piecewise_exp`` (constant hazard, halved after 12 months);
- palliation rates among symptomatic patients (:data:`PALLIATION`): ``equal``
  (0.65 in every group) and ``higher_after_surgery`` (0.55 medical, 0.65
  embolization, 0.80 surgical, the cohort model's in single.py);
- the test behind "P = .01" (:data:`TESTS`): ``logrank`` (R ``survdiff``),
  ``cox_wald`` and ``cox_score`` (R ``coxph``, Efron ties), surgical vs the rest;
- the rounding reading (:data:`READINGS`): ``strict`` .0095 <= P < .015 (the
  journal prints three decimals below .01) and ``lenient`` .005 <= P < .015.

Member j (0-based) belongs to cell j mod 48 and is the (j div 48)-th accepted
candidate of that cell's seeded stream, so the first N members do not depend on
how many are built.

**Everything else is the cohort model of single.py** (its module docstring):
published counts; simulated covariates (tumour type a random permutation of the
totals, sex, age, year of diagnosis, symptoms, months to treatment); death times
drawn conditionally on survival to first treatment (S(T) = S(entry) U);
censoring by loss to follow-up (exponential, 0.015 per month, from first
treatment) or at data closure (31 December 2005), whichever is first; times in
tenths of a month; liver involvement Beta(2, 3.5) in whole percent, redrawn up
to 20 times until Kruskal-Wallis P > .05; palliated counts per group drawn
binomially under the cell's rates, redrawn up to 400 times until the
Fisher-Freeman-Halton P rounds to .2 (.15 <= P < .25), then who was palliated
drawn at random within the group.

**Acceptance** (every published number at its printed rounding): counts exact;
Kaplan-Meier S(36) rounds to 83% and 31%; the simple median follow-up rounds to
20 months; the cell's test P meets the cell's reading; palliation P in
[.15, .25); liver Kruskal-Wallis P > .05. A candidate whose statistic lies within
1e-9 of a rounding boundary is rejected (its rounding is not numerically
determined). The statistics here are the batched ones of
:mod:`nethep.reconstruct.batch`; ``tests/test_ensemble.py`` rechecks every
published number of every shipped member with nethep's own engines
(:func:`nethep.published.computed_targets`, :func:`nethep.cox.coxph`).

**Why drawing arms separately is exact.** The two arms share no patient and are
drawn independently, and each 3-year rule involves one arm only, so the rule
"both S(36) round right" is the product of one event per arm. Rejection sampling
each arm on its own rule therefore gives independent draws from each arm's
conditional distribution, and pairing kept arms in draw order (an order that does
not depend on their values) gives pairs from the joint distribution conditioned
on both 3-year rules, exactly what drawing whole cohorts and testing both rules
would give. The rules that involve both arms (median follow-up, the P reading) are
then applied to each pair, and the covariates, liver and palliation (which do not
enter the survival rules) are drawn only for the pairs that pass. Members are
independent: no arm is used twice.

**Speed** (:func:`build_cell`): each round draws :data:`BATCH` arms of each kind
(Gamma(2) delays as sums of two exponentials, the same distribution), screens
S(36) with one integer sort per arm (:func:`km36_rounds_to`), computes only the
cell's test, and draws the rest of a member only for pairs that passed. The 48
cells are independent seeded streams, built in :data:`JOBS` jobs over worker
processes (``nethep ensemble --workers``): the result does not depend on the number
of workers.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from nethep.contract import DAYS_PER_MONTH, fields, treatment_groups
from nethep.reconstruct import batch
from nethep.reconstruct.single import (
    AGE_MEAN_SD,
    DATA_CLOSURE,
    LIVER_BETA,
    LOSS_RATE,
    SYMPTOM_PROB,
    TREATMENT_DELAY,
    WINDOW_END,
    WINDOW_START,
    Targets,
)

ENSEMBLE_SEED = 20061001
MODELS: tuple[str, ...] = ("weibull_1.0", "weibull_1.5", "loglogistic_2.0", "piecewise_exp")
PIECEWISE_BREAK, PIECEWISE_RATIO = 12.0, 0.5
PALLIATION = MappingProxyType({
    "equal": (0.65, 0.65, 0.65),
    "higher_after_surgery": (0.55, 0.65, 0.80),
})
PALLIATION_GROUPS: tuple[str, ...] = ("medical", "embolization", "surgical")
TESTS: tuple[str, ...] = ("logrank", "cox_wald", "cox_score")
READINGS = MappingProxyType({"strict": (0.0095, 0.015), "lenient": (0.005, 0.015)})
CELLS: tuple[tuple[str, str, str, str], ...] = tuple(
    itertools.product(MODELS, tuple(PALLIATION), TESTS, tuple(READINGS)))
BATCH = 8192          # arms of each kind drawn per round
LIVER_TRIES, PALLIATION_TRIES = 20, 400
MAX_ROUNDS = 2000
#: Cells are built in this many jobs (cells g, g + 8, ...), each sharing one layout and
#: one cache of exact-test tables.
JOBS = 8
SPAN_DAYS = int((WINDOW_END - WINDOW_START).astype(int))
CLOSURE_DAYS = int((DATA_CLOSURE - WINDOW_START).astype(int))
GUARD = 1e-9
#: What :func:`build_cell` counts: arms drawn, arm pairs formed (both arms passed
#: their 3-year rule), members accepted, members used.
COUNTS: tuple[str, ...] = ("surgical_arms", "nonsurgical_arms", "arm_pairs", "accepted", "used")


def _power(u: np.ndarray, k: float) -> np.ndarray:
    """u ** k, with the shapes used here computed by cheaper exact forms."""
    if k == 1.0:
        return u
    if k == 1.5:
        return u * np.sqrt(u)
    if k == 2.0:
        return u * u
    if k == 0.5:
        return np.sqrt(u)
    return u ** k


def cumhaz(model: str, t: np.ndarray, s36: float) -> np.ndarray:
    """Cumulative hazard H(t) of ``model`` scaled so that exp(-H(36)) = ``s36``."""
    kind, _, shape = model.partition("_")
    if kind == "weibull":
        return -np.log(s36) * _power(t / 36, float(shape))
    if kind == "loglogistic":
        return np.log1p((1 - s36) / s36 * _power(t / 36, float(shape)))
    h = -np.log(s36) / (PIECEWISE_BREAK + (36 - PIECEWISE_BREAK) * PIECEWISE_RATIO)
    return h * np.minimum(t, PIECEWISE_BREAK) + h * PIECEWISE_RATIO * np.maximum(
        t - PIECEWISE_BREAK, 0)


def inverse_cumhaz(model: str, y: np.ndarray, s36: float) -> np.ndarray:
    """The time at which :func:`cumhaz` reaches ``y``."""
    kind, _, shape = model.partition("_")
    if kind == "weibull":
        return 36 * _power(y / -np.log(s36), 1 / float(shape))
    if kind == "loglogistic":
        return 36 * _power(np.expm1(y) * s36 / (1 - s36), 1 / float(shape))
    h = -np.log(s36) / (PIECEWISE_BREAK + (36 - PIECEWISE_BREAK) * PIECEWISE_RATIO)
    early = y / h
    late = PIECEWISE_BREAK + (y - h * PIECEWISE_BREAK) / (h * PIECEWISE_RATIO)
    return np.where(y <= h * PIECEWISE_BREAK, early, late)


@dataclass(frozen=True)
class Layout:
    """The fixed rows of every member: treatments and groups in published order."""

    treatment: np.ndarray
    group: np.ndarray
    surgical: np.ndarray
    tumor: np.ndarray
    s36: tuple[float, float]     # surgical, non-surgical
    targets: Targets
    columns: tuple[str, ...]     # the contract's column order

    @property
    def treated(self) -> np.ndarray:
        """Rows with a first treatment (a months-to-treatment delay); others observed."""
        return np.array([k in TREATMENT_DELAY or g in TREATMENT_DELAY
                         for k, g in zip(self.treatment, self.group, strict=True)])

    @classmethod
    def load(cls, targets: Targets | None = None) -> Layout:
        targets = targets or Targets.load()
        group_of = treatment_groups()
        treatment = np.array([t for t, n in targets.n_by_treatment.items() for _ in range(n)])
        group = np.array([group_of[t] for t in treatment])
        tumor = np.array([k for k, m in targets.n_by_tumor_type.items() for _ in range(m)])
        return cls(treatment, group, group == "surgical", tumor,
                   (targets.s36("surgical"), targets.s36("nonsurgical")), targets,
                   tuple(fields()))


def _draws(lay: Layout, surgical: bool, b: int,
           rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The random numbers of B candidate arms, in the order :func:`_arm` has always
    drawn them: diagnosis day; months to treatment (unrounded, 0 if none); a standard
    exponential for death and one for loss to follow-up.

    Gamma(2, scale) delays are drawn as scale x (E1 + E2), the sum of two standard
    exponentials (the same distribution, at half the cost of a general gamma draw)."""
    rows = lay.surgical if surgical else ~lay.surgical
    treat, grp = lay.treatment[rows], lay.group[rows]
    m = len(treat)
    day = rng.integers(0, SPAN_DAYS + 1, size=(b, m), dtype=np.int32)
    delay = np.zeros((b, m))
    for key, (shape, scale) in TREATMENT_DELAY.items():
        cols = (grp == key) | (treat == key)
        k = int(cols.sum())
        if not k:
            continue
        if shape == 2.0:
            g = rng.standard_exponential((b, k))
            g += rng.standard_exponential((b, k))
        else:
            g = rng.standard_gamma(shape, (b, k))
        g *= scale
        delay[:, cols] = g
    return {"day": day, "delay": delay, "death": rng.standard_exponential((b, m)),
            "loss": rng.standard_exponential((b, m))}


def _arm(lay: Layout, model: str, surgical: bool, b: int,
         rng: np.random.Generator) -> dict[str, np.ndarray]:
    """B candidate arms from :func:`_draws`: diagnosis day, months to treatment (0 if
    none), observed months, death."""
    d = _draws(lay, surgical, b, rng)
    entry = np.round(d["delay"], 1)   # months to treatment; 0 (time origin) if none
    s36 = lay.s36[0] if surgical else lay.s36[1]
    y = cumhaz(model, entry, s36)
    y += d["death"]
    death = inverse_cumhaz(model, y, s36)
    end = d["loss"]
    end /= LOSS_RATE
    end += entry
    np.minimum(end, (CLOSURE_DAYS - d["day"]) / DAYS_PER_MONTH, out=end)
    died = death <= end
    time = np.round(np.minimum(death, end), 1)
    np.maximum(time, np.maximum(entry, 0.1), out=time)
    return {"day": d["day"], "entry": entry, "time": time, "died": died.astype(np.int8)}


def km36_rounds_to(time: np.ndarray, died: np.ndarray, target: float) -> np.ndarray:
    """Whether each row's Kaplan-Meier S(36) (in %) rounds half up to ``target``.

    Deaths sort before censorings at the same time (a patient censored at t is at
    risk at t); the death at sorted position k of m has m - k at risk, so S(36) is
    the product of (m - k - 1) / (m - k) over deaths at or before 36 months (tied
    deaths telescope to R's (r - d) / r). S(36) is undefined (rejected) when
    follow-up ends before 36 months with S above 0, as :meth:`batch.KMSteps.at`."""
    m = time.shape[1]
    key = np.rint(time * 20).astype(np.int32)   # tenths of a month, doubled
    key += 1 - died                             # censored after deaths at ties
    key.sort(axis=1)
    k = np.arange(m)
    factor = (m - 1 - k) / (m - k)
    at36 = 36 * 20
    dead = ((key & 1) == 0) & (key <= at36)
    s = np.where(dead, factor, 1.0).prod(axis=1)
    defined = (key[:, -1] >= at36) | (s == 0)
    return defined & _rounds_to(s, target, 100)


def _rounds_to(value: np.ndarray, target: float, scale: float = 1.0) -> np.ndarray:
    """Whether ``scale * value`` rounds half up to ``target``, away from the boundary."""
    v = scale * value
    ok = np.isfinite(v) & (np.floor(np.nan_to_num(v) + 0.5) == target)
    return ok & (np.abs(np.abs(v - target) - 0.5) > GUARD)


def in_window(p: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """lower <= P < upper, away from either bound by more than 1e-9 (relative)."""
    p = np.nan_to_num(p, nan=-1.0)
    far = (np.abs(p - lower) > GUARD * lower) & (np.abs(p - upper) > GUARD * upper)
    return (p >= lower) & (p < upper) & far


def survival_p(test: str, time: np.ndarray, died: np.ndarray,
               surgical: np.ndarray) -> np.ndarray:
    """The P of surgical vs the rest per row by ``test``: log-rank (R ``survdiff``),
    Cox Wald or Cox score (R ``coxph``, Efron ties); only that test is computed."""
    grp = np.broadcast_to(surgical.astype(float), time.shape)
    if test == "logrank":
        return batch.logrank_p(time, died, grp)[1]
    if test == "cox_score":
        return batch.cox_score(time, died, grp[..., None])[1]
    return batch.cox_fit(time, died, grp[..., None]).wald_p()


def _first_passing(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``ok`` (A, K): whether any try passes, and the first that does."""
    return ok.any(axis=1), np.argmax(ok, axis=1)


def _pairs(lay: Layout, cell: tuple[str, str, str, str], surg: dict[str, np.ndarray],
           rest: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Accepted arms paired in order into cohorts (published row order), and which
    meet the median follow-up and the cell's P reading."""
    cand = {}
    for k in surg:
        col = np.empty((len(surg[k]), len(lay.treatment)), dtype=surg[k].dtype)
        col[:, lay.surgical], col[:, ~lay.surgical] = surg[k], rest[k]
        cand[k] = col
    cand["delay"] = np.where(lay.treated, cand.pop("entry"), np.nan)
    tg = lay.targets.raw
    keep = _rounds_to(np.median(cand["time"], axis=1), tg["median_followup_months"]["value"])
    if keep.any():
        p = survival_p(cell[2], cand["time"][keep], cand["died"][keep], lay.surgical)
        keep[keep] = in_window(p, *READINGS[cell[3]])
    return cand, keep


def _complete(lay: Layout, pall: str, cand: dict[str, np.ndarray], rng: np.random.Generator,
              ffh: dict[tuple[int, ...], np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rest of each member (covariates, liver, palliation) for candidates whose
    survival passed; and whether the liver and palliation redraws succeeded."""
    tg = lay.targets.raw
    a, n = len(cand["time"]), len(lay.treatment)
    cand["tumor"] = lay.tumor[np.argsort(rng.random((a, n)), axis=1)]
    cand["age"] = np.clip(np.rint(rng.normal(*AGE_MEAN_SD, size=(a, n))), 25, 85).astype(int)
    cand["sex"] = np.where(rng.random((a, n)) < 0.5, "female", "male")
    p_sym = np.where(cand["tumor"] == "carcinoid", SYMPTOM_PROB["carcinoid"],
                     SYMPTOM_PROB["islet_cell"])
    cand["symptomatic"] = (rng.random((a, n)) < p_sym).astype(int)
    liver = np.clip(np.rint(100 * rng.beta(*LIVER_BETA, size=(a, LIVER_TRIES, n))), 1, 95)
    codes = pd.Categorical(lay.group, categories=PALLIATION_GROUPS).codes
    kw = batch.kruskal_p(liver.reshape(-1, n), codes, 3).reshape(a, LIVER_TRIES)
    any_l, first_l = _first_passing(kw > tg["liver_involvement_differs"]["value"] + GUARD)
    cand["liver"] = liver[np.arange(a), first_l]
    n_sym = np.stack([(cand["symptomatic"] * (lay.group == g)).sum(1) for g in PALLIATION_GROUPS],
                     axis=1)
    counts = rng.binomial(n_sym[:, None, :], np.array(PALLIATION[pall]),
                          size=(a, PALLIATION_TRIES, 3))
    pvals = np.empty((a, PALLIATION_TRIES))
    for key in sorted({tuple(r) for r in n_sym.tolist()}):
        if key not in ffh:
            ffh[key] = batch.ffh_table(key)
        rows = (n_sym == key).all(axis=1)
        c = counts[rows]
        pvals[rows] = ffh[key][c[..., 0], c[..., 1], c[..., 2]]
    pw = tg["palliation_three_groups"]
    any_p, first_p = _first_passing(in_window(pvals, pw["lower"], pw["upper"]))
    k_pall = counts[np.arange(a), first_p]
    key = rng.random((a, n))
    pall_col = np.full((a, n), np.nan)
    for gi, g in enumerate(PALLIATION_GROUPS):
        among = (lay.group == g)[None, :] & (cand["symptomatic"] == 1)
        ranks = np.argsort(np.argsort(np.where(among, key, np.inf), axis=1), axis=1)
        pall_col = np.where(among, (ranks < k_pall[:, gi:gi + 1]).astype(float), pall_col)
    cand["palliated"] = pall_col
    return cand, any_l & any_p


def build_cell(cell_index: int, need: int, seed: int = ENSEMBLE_SEED,
               targets: Targets | None = None,
               ffh: dict[tuple[int, ...], np.ndarray] | None = None,
               layout: Layout | None = None) -> tuple[pd.DataFrame | None, dict[str, int]]:
    """The first ``need`` accepted members of one design cell (long rows with ``rank``
    0..need-1, or None when ``need`` is 0) and the counts drawn and accepted.

    Round r draws :data:`BATCH` surgical arms from ``default_rng([seed, 100 + cell,
    r, 0])`` and as many non-surgical arms from ``[..., r, 1]``; arms that pass their
    3-year rule queue up and are paired in order; pairs meeting the median follow-up
    and P rules get the rest of the member from ``[..., r, 2]``. Rounds do not depend
    on ``need``, so the first members are the same however many are built. ``ffh``
    caches the exact-test tables (:func:`batch.ffh_table`) across calls; ``layout``
    (default: loaded from ``targets``) is the fixed rows, loadable once for many cells."""
    lay = layout or Layout.load(targets)
    model, pall, _, _ = cell = CELLS[cell_index]
    s36 = {k: v["value"] for k, v in lay.targets.raw["survival_36_months"].items()}
    ffh = {} if ffh is None else ffh
    queues: dict[bool, list[dict[str, np.ndarray]]] = {True: [], False: []}
    counts = dict.fromkeys(COUNTS, 0) | {"used": need}
    got: list[pd.DataFrame] = []
    for r in range(MAX_ROUNDS if need else 0):
        for stream, surgical in ((0, True), (1, False)):
            rng = np.random.default_rng([seed, 100 + cell_index, r, stream])
            arms = _arm(lay, model, surgical, BATCH, rng)
            ok = km36_rounds_to(arms["time"], arms["died"],
                                s36["surgical" if surgical else "nonsurgical"])
            queues[surgical].append({k: v[ok] for k, v in arms.items()})
            counts["surgical_arms" if surgical else "nonsurgical_arms"] += BATCH
        pooled = {s: {k: np.concatenate([q[k] for q in queues[s]]) for k in queues[s][0]}
                  for s in (True, False)}
        a = min(len(pooled[True]["time"]), len(pooled[False]["time"]))
        for s in (True, False):  # unpaired arms wait for the next round
            queues[s] = [{k: v[a:] for k, v in pooled[s].items()}]
        counts["arm_pairs"] += a
        cand, keep = _pairs(lay, cell, *({k: v[:a] for k, v in pooled[s].items()}
                                          for s in (True, False)))
        if keep.any():
            cand, done = _complete(lay, pall, {k: v[keep] for k, v in cand.items()},
                                   np.random.default_rng([seed, 100 + cell_index, r, 2]), ffh)
            if done.any():
                got.append(_long(lay, cand, np.flatnonzero(done)))
                counts["accepted"] += int(done.sum())
        if counts["accepted"] >= need:
            break
    else:
        if need:
            raise RuntimeError(f"cell {cell}: too few candidates met the published targets "
                               f"in {MAX_ROUNDS * BATCH:,} draws")
    if not need:
        return None, counts
    offset, frames = 0, []
    for f in got:
        frames.append(f.assign(rank=f["candidate"] + offset))
        offset += int(f["candidate"].max()) + 1
    cell_df = pd.concat(frames, ignore_index=True)
    return cell_df[cell_df["rank"] < need].drop(columns="candidate"), counts


def _long(lay: Layout, cand: dict[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    """The accepted candidates ``rows`` as cohort rows (contract columns + candidate)."""
    a, n = len(rows), len(lay.treatment)
    day = cand["day"][rows]
    year = (WINDOW_START + day.astype("timedelta64[D]")).astype("datetime64[Y]").astype(int) + 1970
    out = pd.DataFrame({
        "candidate": np.repeat(np.arange(a), n),
        "patient_id": np.tile([f"NET{i + 1:03d}" for i in range(n)], a),
        "tumor_type": cand["tumor"][rows].ravel(),
        "treatment_group": np.tile(lay.group, a),
        "treatment": np.tile(lay.treatment, a),
        "liver_involvement_pct": cand["liver"][rows].ravel(),
        "months_to_treatment": cand["delay"][rows].ravel(),
        "followup_months": cand["time"][rows].ravel(),
        "died": cand["died"][rows].ravel(),
        "symptomatic": cand["symptomatic"][rows].ravel(),
        "palliated": cand["palliated"][rows].ravel(),
        "year_of_diagnosis": year.ravel(),
        "age_years": cand["age"][rows].ravel(),
        "sex": cand["sex"][rows].ravel(),
    })
    return out[["candidate", *lay.columns]]


@dataclass(frozen=True)
class Ensemble:
    """Members (long: ``member`` + the 13 cohort columns), each member's design cell,
    and arms drawn, pairs formed and members accepted per cell."""

    members: pd.DataFrame
    design: pd.DataFrame       # member, model, palliation, test, rounding
    tried: pd.DataFrame        # model, palliation, test, rounding, counts of build_cell
    seed: int

    @property
    def n_members(self) -> int:
        return len(self.design)


def _one_blas_thread() -> None:
    """Worker initializer: BLAS (numpy's matrix products) on one thread, since the
    workers already use every core; the same values, without the oversubscription
    (10,000 members' quantities on 2 workers: 29.6 s of CPU with it, 26.5 s without)."""
    threadpool_limits(1, user_api="blas")


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes, each with one BLAS thread (:func:`_one_blas_thread`)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_one_blas_thread)


def _cells_job(job: tuple[tuple[tuple[int, int], ...], int, Targets | None],
               ) -> list[tuple[pd.DataFrame | None, dict[str, int]]]:
    """Several cells in one process, sharing one layout and one cache of exact-test
    tables (the tables depend only on their margins: sharing them changes no value).

    One cache per job, not per worker process: a worker's cache shared over two jobs
    (10,000 members, 2 workers) cost more CPU than it saved (system time doubled)."""
    cells, seed, targets = job
    lay = Layout.load(targets)
    ffh: dict[tuple[int, ...], np.ndarray] = {}
    return [build_cell(c, need, seed, lay.targets, ffh, lay) for c, need in cells]


def build_ensemble(n_members: int, seed: int = ENSEMBLE_SEED, targets: Targets | None = None,
                   workers: int = 1) -> Ensemble:
    """Draw ``n_members`` abstract-consistent cohorts (module docstring for the models,
    cells and acceptance rules); deterministic in ``seed``. The 48 cells are
    independent streams, built in ``workers`` processes (default 1) with the same
    result whatever their number."""
    per_cell = [len(range(c, n_members, len(CELLS))) for c in range(len(CELLS))]
    groups = [tuple((c, per_cell[c]) for c in range(g, len(CELLS), JOBS)) for g in range(JOBS)]
    jobs = [(cells, seed, targets) for cells in groups]
    if workers <= 1:
        parts = [_cells_job(job) for job in jobs]
    else:
        with worker_pool(workers) as pool:
            parts = list(pool.map(_cells_job, jobs))
    done = {c: r for cells, rs in zip(groups, parts, strict=True)
            for (c, _), r in zip(cells, rs, strict=True)}
    results = [done[c] for c in range(len(CELLS))]
    member_cell = np.arange(n_members) % len(CELLS)
    parts, tried_rows = [], []
    for c, (df, counts) in enumerate(results):
        tried_rows.append(dict(zip(("model", "palliation", "test", "rounding"), CELLS[c],
                                   strict=True)) | counts)
        if df is not None:
            members = np.flatnonzero(member_cell == c)
            parts.append(df.assign(member=members[df["rank"].to_numpy()] + 1))
    long = pd.concat(parts, ignore_index=True).sort_values(["member"], kind="stable")
    long = long[["member", *fields()]].reset_index(drop=True)
    design = pd.DataFrame({"member": np.arange(1, n_members + 1)})
    for i, name in enumerate(("model", "palliation", "test", "rounding")):
        design[name] = [CELLS[c][i] for c in member_cell]
    return Ensemble(long, design, pd.DataFrame(tried_rows), seed)


def member_arrays(members: pd.DataFrame, n: int = 48) -> dict[str, np.ndarray]:
    """The long members table as (B, n) arrays, members in order."""
    b = len(members) // n
    out = {col: members[col].to_numpy().reshape(b, n) for col in members.columns}
    return out

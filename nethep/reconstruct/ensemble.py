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
  embolization, 0.80 surgical, the single reconstruction's);
- the test behind "P = .01" (:data:`TESTS`): ``logrank`` (R ``survdiff``),
  ``cox_wald`` and ``cox_score`` (R ``coxph``, Efron ties), surgical vs the rest;
- the rounding reading (:data:`READINGS`): ``strict`` .0095 <= P < .015 (the
  journal prints three decimals below .01) and ``lenient`` .005 <= P < .015.

Member j (0-based) belongs to cell j mod 48 and is the (j div 48)-th accepted
candidate of that cell's seeded stream, so the first N members do not depend on
how many are built.

**Everything else is the single reconstruction's model** (its module docstring):
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
determined). Arms are drawn separately and accepted arms paired in order (the
two arms share no patient). The statistics here are the batched ones of
:mod:`nethep.reconstruct.batch`; ``tests/test_ensemble.py`` rechecks every
published number of every shipped member with nethep's own engines
(:func:`nethep.published.computed_targets`, :func:`nethep.cox.coxph`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

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
BATCH = 4096
LIVER_TRIES, PALLIATION_TRIES = 20, 400
MAX_BATCHES = 2000
GUARD = 1e-9


def cumhaz(model: str, t: np.ndarray, s36: float) -> np.ndarray:
    """Cumulative hazard H(t) of ``model`` scaled so that exp(-H(36)) = ``s36``."""
    kind, _, shape = model.partition("_")
    if kind == "weibull":
        k = float(shape)
        return -np.log(s36) * (t / 36) ** k
    if kind == "loglogistic":
        k = float(shape)
        return np.log1p((1 - s36) / s36 * (t / 36) ** k)
    h = -np.log(s36) / (PIECEWISE_BREAK + (36 - PIECEWISE_BREAK) * PIECEWISE_RATIO)
    return h * np.minimum(t, PIECEWISE_BREAK) + h * PIECEWISE_RATIO * np.maximum(
        t - PIECEWISE_BREAK, 0)


def inverse_cumhaz(model: str, y: np.ndarray, s36: float) -> np.ndarray:
    """The time at which :func:`cumhaz` reaches ``y``."""
    kind, _, shape = model.partition("_")
    if kind == "weibull":
        return 36 * (y / -np.log(s36)) ** (1 / float(shape))
    if kind == "loglogistic":
        return 36 * (np.expm1(y) * s36 / (1 - s36)) ** (1 / float(shape))
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

    @classmethod
    def load(cls, targets: Targets | None = None) -> Layout:
        targets = targets or Targets.load()
        group_of = treatment_groups()
        treatment = np.array([t for t, n in targets.n_by_treatment.items() for _ in range(n)])
        group = np.array([group_of[t] for t in treatment])
        tumor = np.array([k for k, m in targets.n_by_tumor_type.items() for _ in range(m)])
        return cls(treatment, group, group == "surgical", tumor,
                   (targets.s36("surgical"), targets.s36("nonsurgical")), targets)


def _arm(lay: Layout, model: str, surgical: bool, b: int,
         rng: np.random.Generator) -> dict[str, np.ndarray]:
    """B candidate arms: diagnosis day, months to treatment, observed months, death."""
    rows = lay.surgical if surgical else ~lay.surgical
    treat = lay.treatment[rows]
    grp = lay.group[rows]
    m = len(treat)
    span = int((WINDOW_END - WINDOW_START).astype(int))
    day = rng.integers(0, span + 1, size=(b, m))
    delay = np.full((b, m), np.nan)
    for key, (shape, scale) in TREATMENT_DELAY.items():
        cols = (grp == key) | (treat == key)
        delay[:, cols] = np.round(rng.gamma(shape, scale, size=(b, int(cols.sum()))), 1)
    entry = np.nan_to_num(delay, nan=0.0)
    s36 = lay.s36[0] if surgical else lay.s36[1]
    death = inverse_cumhaz(model, cumhaz(model, entry, s36) + rng.exponential(size=(b, m)), s36)
    loss = entry + rng.exponential(1 / LOSS_RATE, size=(b, m))
    closure = (DATA_CLOSURE - (WINDOW_START + day.astype("timedelta64[D]"))).astype(int) \
        / DAYS_PER_MONTH
    end = np.minimum(loss, closure)
    time = np.maximum(np.round(np.minimum(death, end), 1), np.maximum(np.round(entry, 1), 0.1))
    return {"day": day, "delay": delay, "time": time, "died": (death <= end).astype(int)}


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


def survival_tests(time: np.ndarray, died: np.ndarray, surgical: np.ndarray) -> dict[str, Any]:
    """Log-rank P, and the Cox (surgical only) fit with its Wald and score P, per row."""
    grp = np.broadcast_to(surgical.astype(float), time.shape)
    _, lr = batch.logrank_p(time, died, grp)
    fit = batch.cox_fit(time, died, grp[..., None])
    return {"logrank": lr, "cox_wald": fit.wald_p(), "cox_score": fit.score_p(), "fit": fit}


def _first_passing(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``ok`` (A, K): whether any try passes, and the first that does."""
    return ok.any(axis=1), np.argmax(ok, axis=1)


def _draw_batch(lay: Layout, cell: tuple[str, str, str, str], rng: np.random.Generator,
                ffh: dict[tuple[int, ...], np.ndarray]) -> tuple[pd.DataFrame | None, int]:
    """One batch of candidates of ``cell``: the accepted members (long, one row per
    patient, column ``candidate`` in draw order) and the number of candidates drawn."""
    model, pall, test, reading = cell
    tg = lay.targets.raw
    surg = _arm(lay, model, True, BATCH, rng)
    rest = _arm(lay, model, False, BATCH, rng)
    ok_s = _rounds_to(batch.km_at(surg["time"], surg["died"], 36.0),
                      tg["survival_36_months"]["surgical"]["value"], 100)
    ok_n = _rounds_to(batch.km_at(rest["time"], rest["died"], 36.0),
                      tg["survival_36_months"]["nonsurgical"]["value"], 100)
    a = int(min(ok_s.sum(), ok_n.sum()))
    if a == 0:
        return None, BATCH
    pick_s, pick_n = np.flatnonzero(ok_s)[:a], np.flatnonzero(ok_n)[:a]
    cand = {}
    for k in surg:
        col = np.empty((a, len(lay.treatment)), dtype=surg[k].dtype)
        col[:, lay.surgical], col[:, ~lay.surgical] = surg[k][pick_s], rest[k][pick_n]
        cand[k] = col
    keep = _rounds_to(np.median(cand["time"], axis=1), tg["median_followup_months"]["value"])
    lo, hi = READINGS[reading]
    if keep.any():
        p = survival_tests(cand["time"][keep], cand["died"][keep], lay.surgical)[test]
        keep[keep] = in_window(p, lo, hi)
    if not keep.any():
        return None, BATCH
    # the rest of the member, drawn for the candidates whose survival passed
    cand = {k: v[keep] for k, v in cand.items()}
    a, n = int(keep.sum()), len(lay.treatment)
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
    for key in {tuple(r) for r in n_sym.tolist()}:
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
    keep = any_l & any_p
    if not keep.any():
        return None, BATCH
    return _long(lay, cand, np.flatnonzero(keep)), BATCH


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
    return out[["candidate", *fields()]]


@dataclass(frozen=True)
class Ensemble:
    """Members (long: ``member`` + the 13 cohort columns), each member's design cell,
    and candidates drawn and accepted per cell."""

    members: pd.DataFrame
    design: pd.DataFrame       # member, model, palliation, test, rounding
    tried: pd.DataFrame        # model, palliation, test, rounding, tried, accepted, used
    seed: int

    @property
    def n_members(self) -> int:
        return len(self.design)


def _cell_stream(lay: Layout, cell_index: int, seed: int,
                 ffh: dict[tuple[int, ...], np.ndarray]) -> Iterator[tuple[pd.DataFrame, int]]:
    for b in range(MAX_BATCHES):
        rng = np.random.default_rng([seed, 100 + cell_index, b])
        found, tried = _draw_batch(lay, CELLS[cell_index], rng, ffh)
        yield found, tried
    raise RuntimeError(f"cell {CELLS[cell_index]}: too few candidates met the published "
                       f"targets in {MAX_BATCHES * BATCH:,} draws")


def build_ensemble(n_members: int, seed: int = ENSEMBLE_SEED,
                   targets: Targets | None = None) -> Ensemble:
    """Draw ``n_members`` abstract-consistent cohorts (module docstring for the models,
    cells and acceptance rules); deterministic in ``seed``."""
    lay = Layout.load(targets)
    ffh: dict[tuple[int, ...], np.ndarray] = {}
    per_cell = [len(range(c, n_members, len(CELLS))) for c in range(len(CELLS))]
    frames, tried_rows = {}, []
    for c, need in enumerate(per_cell):
        got: list[pd.DataFrame] = []
        tried = accepted = 0
        stream = _cell_stream(lay, c, seed, ffh)
        while need and sum(f["candidate"].nunique() for f in got) < need:
            found, n_tried = next(stream)
            tried += n_tried
            if found is not None:
                accepted += found["candidate"].nunique()
                found = found.assign(candidate=found["candidate"] + 10**7 * len(got))
                got.append(found)
        if got:
            cell_df = pd.concat(got, ignore_index=True)
            ids = pd.unique(cell_df["candidate"])[:need]
            cell_df = cell_df[cell_df["candidate"].isin(ids)]
            cell_df["rank"] = pd.Categorical(cell_df["candidate"], categories=ids).codes
            frames[c] = cell_df
        tried_rows.append(dict(zip(("model", "palliation", "test", "rounding"), CELLS[c],
                                   strict=True)) | {"tried": tried, "accepted": accepted,
                                                    "used": need})
    member_cell = np.arange(n_members) % len(CELLS)
    parts = []
    for j in range(len(CELLS)):
        if j not in frames:
            continue
        df = frames[j]
        members = np.flatnonzero(member_cell == j)
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

"""Known-truth cohorts shaped like the analysed one: the data-generating models.

:func:`cohort_shape` reads from the analysed cohort what every simulated cohort copies:
its size n, the number of surgical patients n1, the death rate of the non-surgical arm,
the distribution of potential follow-up (administrative censoring) and the covariates
of notebook 05's adjusted model. :func:`simulate` draws R replicate cohorts of one
:class:`Scenario` as (R, n) arrays. Every scenario has a stated true hazard ratio
``true_hr``: the **conditional** hazard ratio of surgery in the generating model (given
liver burden in the confounding scenario, given the unmeasured frailty in the
informative-censoring scenario, and from the day of the operation in the immortal-time
scenario).

Common to all scenarios (``S`` = the cohort's shape):

- Covariates: rows of (tumour type, % liver involved, age) drawn with replacement from
  the analysed cohort (their joint distribution kept).
- Death: exponential, baseline hazard ``lambda0`` = deaths / person-months of the
  analysed cohort's non-surgical arm (its maximum-likelihood exponential rate).
- Administrative censoring C: drawn from the analysed cohort's reverse Kaplan-Meier
  distribution of follow-up (censoring as the event), the mass beyond its last time
  placed at the cohort's longest follow-up. Observed time min(T, C, D), D a dropout
  time (informative-censoring scenario only).

Scenarios (``kind``):

- ``null``: exactly n1 patients, chosen at random, are surgical from diagnosis; hazard
  ``lambda0 * HR^surgical``. Nothing biases the comparison.
- ``confounding`` (by indication): x = liver involvement standardised by the cohort's
  mean and SD; P(surgical) = expit(a0 + ``ALPHA_LIVER`` x) (less liver burden, more
  often resected; a0 solved so that the expected count is n1 over the cohort's x), and
  hazard ``lambda0 * exp(BETA_LIVER x) * HR^surgical`` (more burden, worse prognosis).
  Liver involvement is a measured covariate, so adjustment and weighting can remove the
  bias. The naive and IPTW hazard ratios are marginal; the true HR is conditional on x
  (with a prognostic x the two differ slightly even without confounding: the Cox HR is
  non-collapsible).
- ``immortal``: n1 patients, at random, are intended for surgery; the operation takes
  place W ~ Uniform(0, ``WAIT_MAX``) months after diagnosis; the hazard is ``lambda0``
  before it and ``lambda0 * HR`` from it on. A patient who dies or leaves follow-up
  before W is never operated and, as in a naive analysis grouped by treatment received,
  is counted non-surgical; the operated are counted surgical from diagnosis.
- ``censoring`` (informative): n1 at random surgical; an unmeasured frailty
  U ~ N(0, 1) multiplies the hazard by exp(``GAMMA_FRAILTY`` U); surgical patients only
  also leave follow-up (e.g. back to local care when they decline) at the hazard
  ``DROPOUT_RATE * exp(DELTA_DROPOUT * U)`` per month, so the frailer surgical patients
  are lost before they die.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from nethep import privacy
from nethep.cox import coxph
from nethep.km import kaplan_meier

#: Confounding: log-odds of surgery per SD of liver involvement, log-hazard per SD.
ALPHA_LIVER = math.log(1 / 3)
BETA_LIVER = math.log(2)
#: Immortal time: the operation falls W ~ Uniform(0, WAIT_MAX) months after diagnosis.
WAIT_MAX = 12.0
#: Informative censoring: log-hazard of death per SD of the unmeasured frailty U, and
#: the surgical arm's dropout hazard (per month) and its log-hazard per SD of U.
GAMMA_FRAILTY = math.log(2)
DROPOUT_RATE = 0.02
DELTA_DROPOUT = math.log(4)
#: The kinds of scenario and the true hazard ratios each is run at.
KINDS = ("null", "confounding", "immortal", "censoring")
TRUE_HRS = (1.0, 0.5)
#: Patients in the large randomised cohort that gives the marginal HR (:func:`marginal_hr`).
MARGINAL_N = 400_000
#: Covariates of notebook 05's adjusted model, as simulated (tumour type as an indicator).
COVARIATES = ("tumor_type=islet_cell", "liver_involvement_pct", "age_years")
#: Fewest patients per arm a simulated cohort copies (:func:`simulation_reason`).
MIN_PER_ARM = 2
#: The numeric columns the shape reads (:func:`cohort_shape`); all must be finite.
SHAPE_COLUMNS = ("followup_months", "liver_involvement_pct", "age_years")


@dataclass(frozen=True)
class Scenario:
    """One data-generating model (see the module docstring for each ``kind``)."""

    kind: str
    true_hr: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"scenario kind must be one of {KINDS}, not {self.kind!r}")
        if not self.true_hr > 0:
            raise ValueError("the true hazard ratio must be positive")

    @property
    def key(self) -> str:
        """results.json key, e.g. ``null_hr1``, ``confounding_hr05`` (no dots)."""
        return f"{self.kind}_hr{f'{self.true_hr:g}'.replace('.', '')}"

    @property
    def label(self) -> str:
        """Display label, e.g. ``Confounding, true HR 0.5``."""
        names = {"null": "No bias", "confounding": "Confounding by indication",
                 "immortal": "Immortal time", "censoring": "Informative censoring"}
        return f"{names[self.kind]}, true HR {self.true_hr:g}"


def default_scenarios() -> tuple[Scenario, ...]:
    """Every kind at every true HR (:data:`KINDS` x :data:`TRUE_HRS`)."""
    return tuple(Scenario(k, hr) for k in KINDS for hr in TRUE_HRS)


@dataclass(frozen=True)
class CohortShape:
    """What every simulated cohort copies from the analysed one (:func:`cohort_shape`)."""

    n: int
    n_surgical: int
    lambda0: float  # deaths per person-month, non-surgical arm
    censor_times: np.ndarray  # support of the censoring distribution (increasing)
    censor_cdf: np.ndarray  # P(C <= time), at each support point (last = 1)
    covariates: np.ndarray  # (n, 3) the cohort's rows of COVARIATES
    liver_mean: float
    liver_sd: float
    intercept: float  # a0 of the confounding scenario's propensity model

    def describe(self, min_cell: int = 0) -> str:
        """The shape in one sentence; counts from 1 to ``min_cell - 1`` read ``<N``."""
        n, n1 = privacy.mark(self.n, min_cell), privacy.mark(self.n_surgical, min_cell)
        return (f"{n} patients ({n1} surgical), non-surgical death rate "
                f"{self.lambda0:.4f} per month (median survival "
                f"{math.log(2) / self.lambda0:.1f} months), potential follow-up up to "
                f"{self.censor_times[-1]:.1f} months")


def _intercept(x: np.ndarray, share: float) -> float:
    """a0 with mean(expit(a0 + ALPHA_LIVER x)) = share."""
    return float(optimize.brentq(
        lambda a: special.expit(a + ALPHA_LIVER * x).mean() - share, -30, 30, xtol=1e-12))


def simulation_reason(df: pd.DataFrame) -> str:
    """Why no cohort can be simulated in the shape of ``df``, in words ("" when one can):
    fewer than :data:`MIN_PER_ARM` patients in an arm (the simulated cohorts copy each
    arm's size, and a comparison needs patients on both sides), no death or no
    follow-up time in the non-surgical arm (no baseline death rate to simulate from), or
    a liver involvement that does not vary (nothing to standardise in the confounding
    scenario). Counts are not named (a small cohort's counts may be suppressed)."""
    if len(df) == 0:
        return "no patients"
    surgical = df["surgical"].to_numpy(bool)
    short = [f"no {name} patient" if not size
             else f"fewer than {MIN_PER_ARM} patients in the {name} arm"
             for name, size in (("surgical", int(surgical.sum())),
                                ("non-surgical", int((~surgical).sum())))
             if size < MIN_PER_ARM]
    if short:
        return (f"{' and '.join(short)}: the simulated cohorts copy each arm's size and "
                f"need at least {MIN_PER_ARM} patients in each arm")
    if not int(df.loc[~surgical, "died"].sum()):
        return ("no death in the non-surgical arm: there is no baseline death rate to "
                "simulate from")
    if not float(df.loc[~surgical, "followup_months"].sum()) > 0:
        return ("no follow-up time in the non-surgical arm: there is no baseline death "
                "rate to simulate from")
    values = df[list(SHAPE_COLUMNS)].to_numpy(float)
    if not np.isfinite(values).all():
        return "missing or non-finite follow-up, liver involvement or age values"
    liver = df["liver_involvement_pct"].to_numpy(float)
    if not float(liver.std(ddof=1)) > 0:
        return ("liver involvement is the same in every patient: the confounding scenario "
                "has no spread to standardise")
    return ""


def cohort_shape(df: pd.DataFrame) -> CohortShape:
    """The shape of the analysed cohort ``df`` (validated by :mod:`nethep.cohort`).
    Raises ValueError with :func:`simulation_reason` when it cannot be simulated."""
    reason = simulation_reason(df)
    if reason:
        raise ValueError(f"no cohort can be simulated in this shape: {reason}")
    t = df["followup_months"].to_numpy(float)
    died = df["died"].to_numpy(int)
    surgical = df["surgical"].to_numpy(bool)
    n, n1 = len(df), int(surgical.sum())
    person_time = t[~surgical].sum()
    deaths = died[~surgical].sum()
    reverse = kaplan_meier(t, 1 - died)
    times = np.append(reverse.time, t.max())
    cdf = np.append(1 - reverse.surv, 1.0)
    cdf = np.maximum.accumulate(cdf)  # flat stretches are never drawn (searchsorted)
    islet = (df["tumor_type"].astype(str) == "islet_cell").to_numpy(float)
    liver = df["liver_involvement_pct"].to_numpy(float)
    age = df["age_years"].to_numpy(float)
    covs = np.column_stack([islet, liver, age])
    mean, sd = float(liver.mean()), float(liver.std(ddof=1))
    return CohortShape(
        n=n, n_surgical=n1, lambda0=float(deaths / person_time), censor_times=times,
        censor_cdf=cdf, covariates=covs, liver_mean=mean, liver_sd=sd,
        intercept=_intercept((liver - mean) / sd, n1 / n))


@dataclass(frozen=True)
class Replicates:
    """R simulated cohorts of one scenario, as analysed (arrays of shape (R, n))."""

    scenario: Scenario
    time: np.ndarray  # observed months from diagnosis
    event: np.ndarray  # bool, death observed
    surgical: np.ndarray  # bool, the group as a naive analysis counts it
    wait: np.ndarray  # months from diagnosis to the operation (inf: not operated)
    covariates: np.ndarray  # (R, n, 3), COVARIATES

    @property
    def n_replicates(self) -> int:
        return self.time.shape[0]


def _fixed_count(rng: np.random.Generator, n_rep: int, n: int, k: int) -> np.ndarray:
    """(R, n) bool with exactly k True per row, at random."""
    return rng.random((n_rep, n)).argsort(axis=1).argsort(axis=1) < k


def simulate(shape: CohortShape, scenario: Scenario, n_replicates: int,
             rng: np.random.Generator) -> Replicates:
    """Draw ``n_replicates`` cohorts of ``scenario`` (module docstring), deterministic
    given ``rng``'s state."""
    n_rep, n, lam, hr = int(n_replicates), shape.n, shape.lambda0, scenario.true_hr
    rows = rng.integers(0, n, size=(n_rep, n))
    covs = shape.covariates[rows]
    x = (covs[..., 1] - shape.liver_mean) / shape.liver_sd
    censor = shape.censor_times[np.minimum(
        np.searchsorted(shape.censor_cdf, rng.random((n_rep, n)), side="left"),
        len(shape.censor_times) - 1)]
    unit = rng.exponential(1.0, (n_rep, n))  # unit-rate exponential: T = H^-1(unit)
    wait = np.full((n_rep, n), np.inf)
    kind = scenario.kind
    if kind == "confounding":
        surgical = rng.random((n_rep, n)) < special.expit(shape.intercept + ALPHA_LIVER * x)
        death = unit / (lam * np.exp(BETA_LIVER * x) * np.where(surgical, hr, 1.0))
    elif kind == "immortal":
        intended = _fixed_count(rng, n_rep, n, shape.n_surgical)
        w = rng.uniform(0.0, WAIT_MAX, (n_rep, n))
        before = unit / lam
        after = w + (before - w) / hr
        death = np.where(intended & (before > w), after, before)
        observed = np.minimum(death, censor)
        surgical = intended & (w < observed)
        wait = np.where(surgical, w, np.inf)
    else:
        surgical = _fixed_count(rng, n_rep, n, shape.n_surgical)
        rate = lam * np.where(surgical, hr, 1.0)
        if kind == "censoring":
            frailty = rng.standard_normal((n_rep, n))
            rate = rate * np.exp(GAMMA_FRAILTY * frailty)
            dropout = rng.exponential(1.0, (n_rep, n)) / (
                DROPOUT_RATE * np.exp(DELTA_DROPOUT * frailty))
            censor = np.where(surgical, np.minimum(censor, dropout), censor)
        death = unit / rate
    if kind != "immortal":
        wait = np.where(surgical, 0.0, np.inf)
    return Replicates(scenario=scenario, time=np.minimum(death, censor),
                      event=death <= censor, surgical=surgical, wait=wait, covariates=covs)


def true_rmst_difference(shape: CohortShape, scenario: Scenario, tau: float,
                         grid: int = 4001) -> float:
    """The true difference in restricted mean survival to ``tau`` (months), everyone
    operated minus no one operated, over the population the scenario draws from, with
    no censoring or dropout: E[RMST(1)] - E[RMST(0)], survival integrated by the
    trapezoidal rule on ``grid`` points. Operated means surgical from diagnosis, except
    in the immortal-time scenario: operated W ~ Uniform(0, WAIT_MAX) months after it
    (survival averaged over W in closed form). Covariates: the cohort's own rows (the
    resampling distribution, exactly); frailty: 60-point Gauss-Hermite quadrature."""
    lam, hr = shape.lambda0, scenario.true_hr
    t = np.linspace(0.0, tau, grid)
    if scenario.kind == "confounding":
        x = (shape.covariates[:, 1] - shape.liver_mean) / shape.liver_sd
        mult, weight = np.exp(BETA_LIVER * x), np.full(len(x), 1 / len(x))
    elif scenario.kind == "censoring":
        nodes, weights = np.polynomial.hermite_e.hermegauss(60)
        mult, weight = np.exp(GAMMA_FRAILTY * nodes), weights / weights.sum()
    else:
        mult, weight = np.ones(1), np.ones(1)
    cum0 = lam * mult[:, None] * t[None, :]
    s0 = weight @ np.exp(-cum0)
    if scenario.kind == "immortal":
        # E over W ~ U(0, a) of exp(-lam (min(t, W) + HR (t - W)+)), in closed form:
        # (1/a) [exp(-lam HR t) int_0^m exp(-lam (1 - HR) W) dW + (a - m) exp(-lam t)]
        a = WAIT_MAX
        m = np.minimum(t, a)
        k = lam * (1 - hr)
        inner = m if k == 0 else -np.expm1(-k * m) / k
        s1 = (np.exp(-lam * hr * t) * inner + (a - m) * np.exp(-lam * t)) / a
    else:
        s1 = weight @ np.exp(-cum0 * hr)
    return float(np.trapezoid(s1 - s0, t))


def marginal_hr(shape: CohortShape, scenario: Scenario, n: int = MARGINAL_N,
                seed: int = 1) -> float:
    """The marginal hazard ratio of the scenario's model: the naive Cox HR
    (:func:`nethep.cox.coxph`) in one large cohort of ``n`` patients drawn from the same
    covariate (confounding) or frailty (informative censoring) distribution, with the
    cohort's administrative censoring but surgery assigned at random (the cohort's
    share) and no dropout. With a prognostic factor the Cox HR is non-collapsible, so
    this differs from the conditional ``true_hr`` even without bias; the naive and IPTW
    models target a marginal HR. Equal to ``true_hr`` in the null and immortal-time
    scenarios (no other prognostic factor) and at true HR 1 (no effect is no effect,
    marginally too). Fixed ``seed``: the same value on rerun; its Monte Carlo SE is
    about 0.005 on the log scale."""
    if scenario.kind in ("null", "immortal") or scenario.true_hr == 1:
        return scenario.true_hr
    rng = np.random.default_rng(seed)
    if scenario.kind == "confounding":
        x = (shape.covariates[rng.integers(0, shape.n, n), 1] - shape.liver_mean) / shape.liver_sd
        mult = np.exp(BETA_LIVER * x)
    else:
        mult = np.exp(GAMMA_FRAILTY * rng.standard_normal(n))
    surgical = rng.random(n) < shape.n_surgical / shape.n
    censor = shape.censor_times[np.minimum(
        np.searchsorted(shape.censor_cdf, rng.random(n), side="left"),
        len(shape.censor_times) - 1)]
    death = rng.exponential(1.0, n) / (shape.lambda0 * mult
                                       * np.where(surgical, scenario.true_hr, 1.0))
    fit = coxph(np.minimum(death, censor), (death <= censor).astype(int),
                surgical.astype(float))
    return float(fit.hr[0])

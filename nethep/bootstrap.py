"""Bootstrap confidence interval of a Kaplan-Meier survival difference.

:func:`bootstrap_survival_difference`: Kaplan-Meier difference
``S_treated(at) - S_control(at)`` with a stratified bootstrap (resampling with
replacement within each arm, arm sizes fixed), percentile and BCa 95% intervals. BCa
follows Efron and Tibshirani (1993, ch. 14): bias correction
``z0 = Phi^-1(mid-rank of the estimate among the resamples)`` and the acceleration
from the jackknife, leaving out one patient at a time within each arm and combining
the arms as ``a = sum_j sum_i U_ji^3 / n_j^3 / (6 (sum_j sum_i U_ji^2 / n_j^2)^1.5)``,
``U_ji = (n_j - 1)(mean_i theta_(j,i) - theta_(j,i))``, the multi-sample formula of
``scipy.stats.bootstrap``. A resample whose Kaplan-Meier curve ends (last follow-up)
before ``at`` with survival above 0 has no estimate at ``at`` (as
:meth:`nethep.km.KaplanMeier.at`); such resamples are counted, reported, and excluded
from both intervals (the intervals are conditional on estimability), never dropped
silently. KM estimates for all resamples are computed at once from resampling weight
matrices (:func:`nethep.km.survival_at_weighted`; no Python loop per resample).
Checked against ``scipy.stats.bootstrap`` in ``tests/test_bootstrap.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from nethep.formats import finite_or_none
from nethep.km import ArrayLike, check_survival, survival_at_weighted
from nethep.permutation import DEFAULT_SEED

__all__ = ["BootstrapResult", "bootstrap_survival_difference"]


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap CI of the Kaplan-Meier survival difference at one time."""

    estimate: float  # S_treated(at) - S_control(at)
    surv_treated: float
    surv_control: float
    at: float
    treated: str
    control: str
    confidence_level: float
    percentile_lower: float
    percentile_upper: float
    bca_lower: float
    bca_upper: float
    bias_correction: float  # z0
    acceleration: float  # a (jackknife)
    bootstrap_se: float
    n_resamples: int
    n_nonestimable: int  # resamples with no KM estimate at `at` (excluded)
    n_nonestimable_treated: int
    n_nonestimable_control: int
    nonestimable_handling: str
    seed: int | None
    method: str

    @property
    def lower(self) -> float:
        return self.bca_lower

    @property
    def upper(self) -> float:
        return self.bca_upper

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """BCa and percentile intervals (no patient counts, so ``min_cell`` changes
        nothing)."""
        return pd.DataFrame([
            {"interval": "BCa", "estimate": self.estimate, "lower": self.bca_lower,
             "upper": self.bca_upper},
            {"interval": "percentile", "estimate": self.estimate,
             "lower": self.percentile_lower, "upper": self.percentile_upper},
        ]).assign(confidence_level=self.confidence_level, n_resamples=self.n_resamples,
                  n_nonestimable=self.n_nonestimable)

    def to_results(self) -> dict[str, Any]:
        return {
            "estimate": finite_or_none(self.estimate),
            "lower": finite_or_none(self.bca_lower),
            "upper": finite_or_none(self.bca_upper),
            "interval": "BCa",
            "percentile_lower": finite_or_none(self.percentile_lower),
            "percentile_upper": finite_or_none(self.percentile_upper),
            "bca_lower": finite_or_none(self.bca_lower),
            "bca_upper": finite_or_none(self.bca_upper),
            "surv_treated": finite_or_none(self.surv_treated),
            "surv_control": finite_or_none(self.surv_control),
            "at": finite_or_none(self.at),
            "treated": self.treated,
            "control": self.control,
            "confidence_level": self.confidence_level,
            "bias_correction": finite_or_none(self.bias_correction),
            "acceleration": finite_or_none(self.acceleration),
            "bootstrap_se": finite_or_none(self.bootstrap_se),
            "n_resamples": self.n_resamples,
            "n_nonestimable": self.n_nonestimable,
            "n_nonestimable_treated": self.n_nonestimable_treated,
            "n_nonestimable_control": self.n_nonestimable_control,
            "nonestimable_handling": self.nonestimable_handling,
            "seed": self.seed,
            "method": self.method,
        }

    def _repr_html_(self) -> str:
        return f"<p>{self.method}</p>" + self.table().to_html(index=False)


def _resample_weights(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Case weights of ``size`` resamples of n patients with replacement, (size, n)."""
    draws = rng.integers(0, n, size=(size, n))
    flat = (draws + n * np.arange(size)[:, None]).ravel()
    return np.bincount(flat, minlength=size * n).reshape(size, n)


def _bca_limits(boot: np.ndarray, estimate: float, jack: list[np.ndarray],
                alpha: float) -> tuple[float, float, float, float]:
    """BCa limits (lower, upper), z0 and acceleration (as scipy.stats.bootstrap)."""
    frac = (np.count_nonzero(boot < estimate) + np.count_nonzero(boot <= estimate)) / (
        2 * len(boot))
    z0 = float(special.ndtri(frac))
    nums = dens = 0.0
    for theta in jack:
        nj = float(len(theta))
        u = (nj - 1) * (theta.mean() - theta)
        nums += float(np.sum(u**3)) / nj**3
        dens += float(np.sum(u**2)) / nj**2
    accel = nums / (6 * dens**1.5) if dens > 0 else 0.0
    limits = []
    for z_alpha in (special.ndtri(alpha), -special.ndtri(alpha)):
        num = z0 + z_alpha
        level = special.ndtr(z0 + num / (1 - accel * num))
        limits.append(float(np.percentile(boot, 100 * level)) if np.isfinite(level)
                      else float("nan"))
    return limits[0], limits[1], z0, accel


def bootstrap_survival_difference(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    at: float = 36,
    n_resamples: int = 10_000,
    seed: int | None = DEFAULT_SEED,
    treated: str = "surgical",
    confidence_level: float = 0.95,
) -> BootstrapResult:
    """Stratified bootstrap CI for ``S_treated(at) - S_control(at)`` (Kaplan-Meier).

    ``group`` holds exactly two labels, ``treated`` and one other (the control). Each
    resample draws ``n_treated`` patients with replacement from the treated arm and
    ``n_control`` from the control arm (treated arm first, from
    ``numpy.random.default_rng(seed)``). Percentile and BCa intervals; resamples with
    no estimate at ``at`` are counted and excluded (see the module docstring).
    """
    t, e = check_survival(time, event)
    labels = np.asarray(group, dtype=object).astype(str)
    if labels.shape != t.shape:
        raise ValueError(f"group must be a 1-d array of {len(t)} labels")
    levels = sorted(set(labels))
    if treated not in levels or len(levels) != 2:
        raise ValueError(
            f"group must hold exactly two labels including treated={treated!r}; "
            f"found {levels}")
    control = str(next(x for x in levels if x != treated))
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    n_resamples = int(n_resamples)
    if n_resamples < 2:
        raise ValueError("n_resamples must be at least 2")
    arms = [(t[labels == g], e[labels == g]) for g in (treated, control)]
    point = [float(survival_at_weighted(ti, ei, np.ones((1, len(ti))), at)[0]) for ti, ei in arms]
    if not all(np.isfinite(point)):
        raise ValueError(f"S({at:g}) is not estimable in the data: an arm's follow-up ends "
                         f"before {at:g} with survival above 0")
    estimate = point[0] - point[1]

    rng = np.random.default_rng(seed)
    boot_surv = [survival_at_weighted(ti, ei, _resample_weights(len(ti), n_resamples, rng), at)
                 for ti, ei in arms]
    missing = [~np.isfinite(s) for s in boot_surv]
    boot = boot_surv[0] - boot_surv[1]
    ok = np.isfinite(boot)
    kept = boot[ok]
    n_missing = int(np.count_nonzero(~ok))

    jack = []
    for j, (ti, ei) in enumerate(arms):
        theta = survival_at_weighted(ti, ei, 1.0 - np.eye(len(ti)), at)
        jack.append(theta - point[1] if j == 0 else point[0] - theta)
    jack_ok = all(np.all(np.isfinite(x)) for x in jack)

    alpha = (1 - confidence_level) / 2
    if len(kept) >= 2:
        pct_lo, pct_hi = (float(x) for x in np.percentile(kept, [100 * alpha,
                                                                100 * (1 - alpha)]))
        se = float(np.std(kept, ddof=1))
    else:
        pct_lo = pct_hi = se = float("nan")
    if len(kept) >= 2 and jack_ok:
        bca_lo, bca_hi, z0, accel = _bca_limits(kept, estimate, jack, alpha)
    else:
        bca_lo = bca_hi = z0 = accel = float("nan")
    handling = (
        f"{n_missing} of {n_resamples} resamples had no Kaplan-Meier estimate at {at:g} "
        f"(a resampled arm's follow-up ended before {at:g} with survival above 0: "
        f"{int(missing[0].sum())} in {treated}, {int(missing[1].sum())} in {control}); "
        f"they were excluded, so both intervals use the {len(kept)} estimable resamples"
        + ("" if jack_ok else "; a jackknife value was not estimable, so BCa is undefined")
    )
    method = (
        f"Kaplan-Meier S({at:g}) {treated} minus {control}; stratified bootstrap "
        f"(resampling within each arm), {n_resamples:,} resamples, seed {seed}; "
        f"{100 * confidence_level:g}% percentile and BCa intervals (BCa: mid-rank bias "
        "correction, jackknife acceleration within arms)"
    )
    return BootstrapResult(
        estimate=estimate, surv_treated=point[0], surv_control=point[1], at=float(at),
        treated=treated, control=control, confidence_level=confidence_level,
        percentile_lower=pct_lo, percentile_upper=pct_hi, bca_lower=bca_lo,
        bca_upper=bca_hi, bias_correction=z0, acceleration=accel, bootstrap_se=se,
        n_resamples=n_resamples, n_nonestimable=n_missing,
        n_nonestimable_treated=int(missing[0].sum()),
        n_nonestimable_control=int(missing[1].sum()),
        nonestimable_handling=handling, seed=seed, method=method,
    )

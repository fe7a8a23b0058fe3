"""Inference with few deaths: the ordinary Cox tests beside Firth's, and the primary estimate.

With 2 deaths in one arm the Cox model's Wald, likelihood-ratio and score tests
disagree, and the maximum-likelihood hazard ratio is biased away from 1 (infinite when
an arm has no deaths). :func:`small_event_inference` fits both, on the surgical vs
non-surgical comparison, and names one estimate primary by a rule fixed before looking
at the estimates (it counts deaths only):

**Primary rule.** The primary estimate is the Cox hazard ratio (Efron ties) with its
Wald 95% CI and Wald P, unless either arm has fewer than :data:`MIN_DEATHS_PER_ARM`
(5) deaths or the Cox likelihood is monotone (the estimate is infinite, as when an arm
has no deaths); then the primary estimate is the Firth-penalised Cox hazard ratio
(Efron ties) with its profile-likelihood 95% CI and penalised likelihood-ratio P.

Why: the Wald interval assumes the log-likelihood is close to quadratic, which fails
when an arm contributes very few deaths (the three asymptotically equivalent tests
then disagree); Firth's penalty removes the O(1/deaths) bias of the estimate and stays
finite under monotone likelihood, and its profile-likelihood interval does not assume
a quadratic likelihood (Heinze and Schemper, Biometrics 2001;57:114). With 5 or more
deaths per arm the Wald interval of the ordinary model is the conventional choice
(R ``coxph``'s default) and the two estimates are close. The threshold of 5 is a
convention, not a derived bound; the other estimate is always shown beside the
primary as a sensitivity analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pandas as pd

from nethep import privacy
from nethep.contract import ARMS
from nethep.cox import HazardRatio
from nethep.estimable import comparison_reason, with_reason
from nethep.firth import CoxTests, FirthFit, NotEstimable, Ties, cox_tests, firth_coxph
from nethep.formats import finite_or_none, join_and, p_text

#: Fewer deaths than this in either arm makes the Firth estimate primary.
MIN_DEATHS_PER_ARM = 5
_COVARIATE = "surgical"
_ARM_WORDS = MappingProxyType({"surgical": "surgical", "nonsurgical": "non-surgical"})


@dataclass(frozen=True)
class SmallEventInference:
    """Ordinary Cox (Wald, LR and score tests) beside Firth-penalised Cox, and the
    primary estimate by the stated rule (see the module docstring)."""

    cox: CoxTests               # ordinary Cox, Efron ties
    firth: FirthFit             # Firth, Efron ties (nethep's convention)
    firth_breslow: FirthFit     # Firth, Breslow ties (R coxphf's), a sensitivity
    deaths: tuple[int, ...]     # per arm, in ARMS order (surgical, nonsurgical)
    patients: tuple[int, ...]   # per arm, in ARMS order
    min_deaths: int = MIN_DEATHS_PER_ARM

    @property
    def cox_hr(self) -> HazardRatio:
        """The ordinary Cox HR, Wald CI and P (NaN when not estimable)."""
        return self.cox.hazard_ratio(_COVARIATE)

    @property
    def firth_hr(self) -> HazardRatio:
        """The Firth HR (Efron ties), profile-likelihood CI, penalised LR P."""
        return self.firth.hazard_ratio(_COVARIATE)

    @property
    def firth_is_primary(self) -> bool:
        """True when an arm has fewer than ``min_deaths`` deaths or the Cox hazard ratio
        is not estimable (monotone likelihood)."""
        return min(self.deaths) < self.min_deaths or not self.cox.estimable

    @property
    def primary(self) -> HazardRatio:
        """The primary hazard ratio by :attr:`primary_rule` (``ci`` is ``"profile"``
        for Firth, ``"wald"`` for Cox; ``method`` names the model)."""
        return self.firth_hr if self.firth_is_primary else self.cox_hr

    @property
    def primary_method(self) -> str:
        """``"firth"`` or ``"cox"``: which model gives the primary estimate."""
        return "firth" if self.firth_is_primary else "cox"

    @property
    def primary_rule(self) -> str:
        """The rule, as one sentence (no numbers from the data)."""
        return (
            "The primary estimate is the Cox hazard ratio (Efron ties) with its Wald 95% CI "
            f"unless either arm has fewer than {self.min_deaths} deaths or the Cox "
            "likelihood is monotone (the estimate infinite); then it is the "
            "Firth-penalised Cox hazard ratio (Efron ties) with its profile-likelihood 95% "
            "CI and penalised likelihood-ratio P (Heinze and Schemper 2001). The other "
            "estimate is a sensitivity analysis.")

    def reason(self, min_cell: int = 0) -> str:
        """Why the rule picked the primary estimate here (deaths per arm; a count from 1
        to ``min_cell - 1`` reads ``<N``)."""
        per_arm = join_and([f"{privacy.mark(d, min_cell)} of {privacy.mark(n, min_cell)} "
                            f"{_ARM_WORDS[arm]} patients"
                            for arm, d, n in zip(ARMS, self.deaths, self.patients,
                                                 strict=True)])
        if self.cox.fit is None:
            return f"Deaths: {per_arm}."
        if not self.cox.estimable:
            why = "the Cox hazard ratio is not estimable"
        elif self.firth_is_primary:
            why = f"an arm has fewer than {self.min_deaths} deaths"
        else:
            why = f"each arm has at least {self.min_deaths} deaths"
        model = "Firth" if self.firth_is_primary else "Cox (Wald)"
        return f"Deaths: {per_arm}; {why}, so the {model} estimate is primary."

    def finding(self, min_cell: int = 0) -> str:
        """The three ordinary P values, the Firth estimate and the primary, in words."""
        c, f = self.cox, self.firth_hr
        if c.fit is None:
            return (f"Small-event inference: neither the Cox nor the Firth-penalised model "
                    f"has an estimate ({c.note}). {self.reason(min_cell)}")
        if c.estimable:
            cox_words = (f"Cox {self.cox_hr.words()}; its Wald, "
                         f"likelihood-ratio and score tests give {p_text(c.wald_p)}, "
                         f"{p_text(c.lr_p)} and {p_text(c.score_p)}")
        else:
            cox_words = (f"the Cox hazard ratio and its Wald test are not estimable ({c.note}); "
                         f"its likelihood-ratio and score tests give {p_text(c.lr_p)} and "
                         f"{p_text(c.score_p)}")
        return (f"Small-event inference: {cox_words}. Firth-penalised "
                f"{f.words(ci='profile-likelihood ')}, penalised likelihood-ratio "
                f"{p_text(f.p)}. {self.reason(min_cell)}")

    def table(self, min_cell: int = 0) -> pd.DataFrame:
        """One row per estimate or test: analysis, ties, hr, lower, upper, CI type, P,
        test, role (primary or sensitivity); deaths per arm as counts (``<N`` below
        ``min_cell``)."""
        primary = self.primary_method
        cox, f, fb = self.cox_hr, self.firth_hr, self.firth_breslow.hazard_ratio(_COVARIATE)
        rows: list[dict[str, Any]] = [
            {"analysis": "Cox", "ties": "efron", "hr": cox.hr, "lower": cox.lower,
             "upper": cox.upper, "ci": "wald", "p": self.cox.wald_p, "test": "Wald",
             "role": "primary" if primary == "cox" else "sensitivity"},
            {"analysis": "Cox", "ties": "efron", "hr": cox.hr, "lower": float("nan"),
             "upper": float("nan"), "ci": "", "p": self.cox.lr_p,
             "test": "likelihood ratio", "role": "sensitivity"},
            {"analysis": "Cox", "ties": "efron", "hr": cox.hr, "lower": float("nan"),
             "upper": float("nan"), "ci": "", "p": self.cox.score_p, "test": "score",
             "role": "sensitivity"},
            {"analysis": "Firth", "ties": "efron", "hr": f.hr, "lower": f.lower,
             "upper": f.upper, "ci": "profile", "p": f.p,
             "test": "penalised likelihood ratio",
             "role": "primary" if primary == "firth" else "sensitivity"},
            {"analysis": "Firth", "ties": "breslow", "hr": fb.hr, "lower": fb.lower,
             "upper": fb.upper, "ci": "profile", "p": fb.p,
             "test": "penalised likelihood ratio", "role": "sensitivity"},
        ]
        out = pd.DataFrame(rows)
        for arm, d in zip(ARMS, self.deaths, strict=True):
            out[f"deaths_{arm}"] = d
        return privacy.suppress_table(out, [f"deaths_{arm}" for arm in ARMS], min_cell)

    def to_results(self) -> dict[str, Any]:
        """``firth.{hr, lower, upper, p_lr, ties}``, ``firth_breslow`` (same keys),
        ``primary.{method, hr, lower, upper, p, ci, rule}`` and
        ``cox_tests.{wald_p, lr_p, score_p, estimable}`` (NaN as None)."""
        def why(hr: HazardRatio) -> str:
            return "" if hr.estimable else (hr.note or "no finite estimate")

        def firth(fit: FirthFit) -> dict[str, Any]:
            hr = fit.hazard_ratio(_COVARIATE)
            return with_reason({**hr.to_results(), "p_lr": finite_or_none(hr.p),
                                "ties": fit.ties}, why(hr))

        primary = self.primary
        tests = {"wald_p": finite_or_none(self.cox.wald_p),
                 "lr_p": finite_or_none(self.cox.lr_p),
                 "score_p": finite_or_none(self.cox.score_p),
                 "estimable": self.cox.estimable}
        return {
            "firth": firth(self.firth),
            "firth_breslow": firth(self.firth_breslow),
            "primary": with_reason({"method": primary.method, "model": self.primary_method,
                                    **primary.to_results(p=True), "ci": primary.ci,
                                    "rule": self.primary_rule}, why(primary)),
            "cox_tests": with_reason(tests, "" if None not in tests.values()
                                     else self.cox.note or "no finite estimate"),
        }

    def _repr_html_(self) -> str:
        return f"<p>{self.primary_rule}</p>" + self.table().to_html(index=False)


def small_event_inference(df: pd.DataFrame, min_deaths: int = MIN_DEATHS_PER_ARM,
                          conf_level: float = 0.95) -> SmallEventInference:
    """Cox (Efron; Wald, LR and score tests) and Firth (Efron, and Breslow as R coxphf)
    of ``surgical`` on ``followup_months``/``died``; the primary estimate by the rule
    of the module docstring (default threshold 5 deaths per arm; 95% CIs)."""
    t = df["followup_months"].to_numpy(float)
    e = df["died"].to_numpy(int)
    x = df["surgical"].to_numpy(float)
    per_arm = [df[df["arm"] == arm] for arm in ARMS]
    reason = comparison_reason(df)

    def firth(ties: Ties) -> FirthFit:
        if reason:
            return FirthFit.not_estimable([_COVARIATE], len(t), int(e.sum()), ties,
                                          conf_level, reason)
        try:
            return firth_coxph(t, e, x, names=[_COVARIATE], ties=ties, conf_level=conf_level)
        except NotEstimable as exc:
            return FirthFit.not_estimable([_COVARIATE], len(t), int(e.sum()), ties,
                                          conf_level, str(exc))

    nan = math.nan
    return SmallEventInference(
        cox=(CoxTests(fit=None, estimable=False, wald_statistic=nan, wald_p=nan,
                      lr_statistic=nan, lr_p=nan, score_statistic=nan, score_p=nan, df=1,
                      note=reason) if reason
             else cox_tests(t, e, x, names=[_COVARIATE], conf_level=conf_level)),
        firth=firth("efron"),
        firth_breslow=firth("breslow"),
        deaths=tuple(int(sub["died"].sum()) for sub in per_arm),
        patients=tuple(len(sub) for sub in per_arm),
        min_deaths=min_deaths,
    )

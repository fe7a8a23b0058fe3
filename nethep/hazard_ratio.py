"""The hazard ratio every result reports: one value type, with its interval and P.

:class:`HazardRatio` is re-exported by :mod:`nethep.cox`, whose models produce it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from nethep.formats import finite_or_none


@dataclass(frozen=True)
class HazardRatio:
    """A hazard ratio with its confidence interval and P (NaN where not estimable).

    ``ci`` names how the interval was formed (default ``"wald"``: exp(coef +- z se),
    z = qnorm(1 - (1 - conf_level) / 2)); ``method`` says which model gave it.
    Not :attr:`estimable` (e.g. no deaths in an arm): ``note`` says why, :meth:`words`
    says so in words, never "0.00 (0.00 to 0.00)".
    """

    hr: float
    lower: float
    upper: float
    p: float = math.nan
    conf_level: float = 0.95
    ci: str = "wald"
    method: str = ""
    note: str = ""  # why it is not estimable (empty when it is)

    @classmethod
    def not_estimable(cls, reason: str, method: str = "") -> HazardRatio:
        """A hazard ratio that has no finite estimate, with the reason (NaN numbers)."""
        return cls(math.nan, math.nan, math.nan, method=method, note=reason)

    @property
    def estimable(self) -> bool:
        """True when the estimate and both confidence limits are finite and positive."""
        return all(math.isfinite(v) and v > 0 for v in (self.hr, self.lower, self.upper))

    def words(self, label: str = "HR", ci: str = "") -> str:
        """``"HR 0.16 (95% CI 0.037 to 0.69)"`` (:meth:`number`), ``ci`` naming the interval
        (``"profile-likelihood "``); or ``"HR not estimable (<reason>)"``."""
        if not self.estimable:
            return f"{label} not estimable ({self.note or 'no finite estimate'})"
        hr, lo, up = (self.number(v) for v in (self.hr, self.lower, self.upper))
        return f"{label} {hr} ({100 * self.conf_level:g}% {ci}CI {lo} to {up})"

    @staticmethod
    def number(x: float) -> str:
        """A ratio for text: two decimals from 0.1 up, else two significant digits."""
        return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"

    @classmethod
    def wald(cls, coef: float, se: float, conf_level: float = 0.95,
             method: str = "") -> HazardRatio:
        """From a log hazard ratio and its SE: exp(coef +- z se), two-sided Wald P."""
        z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
        return cls(hr=math.exp(coef), lower=math.exp(coef - z * se),
                   upper=math.exp(coef + z * se), p=float(2 * stats.norm.sf(abs(coef / se))),
                   conf_level=conf_level, method=method)

    def to_results(self, p: bool = False) -> dict[str, float | None]:
        """``{hr, lower, upper}`` (and ``p`` when asked) for results.json; None for NaN/inf."""
        out = {"hr": finite_or_none(self.hr), "lower": finite_or_none(self.lower),
               "upper": finite_or_none(self.upper)}
        if p:
            out["p"] = finite_or_none(self.p)
        return out

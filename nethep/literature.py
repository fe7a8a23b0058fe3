"""Published estimates from the later literature, beside this cohort's hazard ratio.

The numbers here are *data*, copied from the abstract of one publication, not
computed: the pooled hazard ratios of the 2013 meta-analysis of observational
studies by Bacchetti et al. (:data:`BACCHETTI_2013`). :func:`literature_table`
returns them as a tidy table with this cohort's unadjusted Cox hazard ratio
(:func:`nethep.survival.cox_surgical`) in a separate section, and
:func:`nethep.plots.literature_forest_figure` draws that table.

What the comparison can and cannot say: the meta-analysis pooled a handful of
observational studies (fixed-effects model, literature 1990-2012), each exposed to
the same selection of fitter patients for surgery as this one; its comparisons
(hepatic *resection* vs embolisation, and vs all non-surgical treatment) are close
to, but not the same as, this study's (resection *or ablation* vs medical treatment
or embolisation, pooled). Whether Musunuru et al. 2006 is among the pooled studies
is not checked here; if it is, the pooled estimates are not independent of it.
With the bundled cohort, "this cohort" is a reconstruction from published
aggregates: the abstract publishes no hazard ratio, so the reconstructed one
describes the reconstruction, not the original patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from nethep import privacy
from nethep.cox import HazardRatio

if TYPE_CHECKING:
    from nethep.survival import CoxResult

__all__ = ["BACCHETTI_2013", "COLUMNS", "PublishedEstimate", "literature_table"]


@dataclass(frozen=True)
class PublishedEstimate:
    """One published effect estimate, as printed in its source."""

    source: str  # short name for figure labels, e.g. "Bacchetti et al. 2013"
    citation: str  # full reference
    doi: str
    design: str
    comparison: str
    measure: str  # "HR": hazard ratio of death, treatment vs comparator
    hazard_ratio: HazardRatio  # as printed: estimate and 95% CI (P not given)


_BACCHETTI_CITATION = (
    "Bacchetti S, Bertozzi S, Londero AP, Uzzau A, Pasqual EM. Surgical treatment and "
    "survival in patients with liver metastases from neuroendocrine tumors: a "
    "meta-analysis of observational studies. Int J Hepatol. 2013;2013:235040."
)
_BACCHETTI_DESIGN = "meta-analysis of observational studies (pooled, fixed effects)"



def _bacchetti(comparison: str, hr: float, lower: float, upper: float) -> PublishedEstimate:
    """One pooled hazard ratio of Bacchetti et al. 2013, as its abstract prints it."""
    return PublishedEstimate(
        source="Bacchetti et al. 2013", citation=_BACCHETTI_CITATION,
        doi="10.1155/2013/235040", design=_BACCHETTI_DESIGN, comparison=comparison,
        measure="HR",
        hazard_ratio=HazardRatio(hr=hr, lower=lower, upper=upper, method=_BACCHETTI_DESIGN))


#: The two pooled hazard ratios in the abstract of Bacchetti et al. 2013.
BACCHETTI_2013: tuple[PublishedEstimate, ...] = (
    _bacchetti("Hepatic resection vs embolisation", 0.34, 0.21, 0.55),
    _bacchetti("Hepatic resection vs all non-surgical treatment", 0.45, 0.34, 0.60),
)

#: Columns of :func:`literature_table`, in order.
COLUMNS = ("section", "source", "comparison", "measure", "estimate", "lower", "upper",
           "conf_level", "design", "reconstructed", "citation", "doi")

SECTION_PUBLISHED = "published"
SECTION_THIS_COHORT = "this_cohort"


def literature_table(
    cox: CoxResult | None = None,
    reconstructed: bool = True,
    published: tuple[PublishedEstimate, ...] = BACCHETTI_2013,
    min_cell: int = 0,
) -> pd.DataFrame:
    """Published pooled estimates, then this cohort's hazard ratio, one row each.

    ``section`` is ``"published"`` for the literature rows and ``"this_cohort"`` for
    the row made from ``cox`` (a :class:`nethep.survival.CoxResult` of surgical vs
    non-surgical; left out when ``None``). ``reconstructed`` says whether the cohort
    is the bundled reconstruction; it labels this cohort's row and is ``None`` on the
    published rows. All estimates are hazard ratios of death, surgery vs the
    comparator (below 1 favours surgery), with their 95% confidence limits. This
    cohort's ``design`` names its patients and deaths; counts from 1 to
    ``min_cell - 1`` read ``<N`` there.
    """
    rows = [{
        "section": SECTION_PUBLISHED, "source": e.source, "comparison": e.comparison,
        "measure": e.measure, "estimate": e.hazard_ratio.hr, "lower": e.hazard_ratio.lower,
        "upper": e.hazard_ratio.upper, "conf_level": e.hazard_ratio.conf_level,
        "design": e.design, "reconstructed": None,
        "citation": e.citation, "doi": e.doi,
    } for e in published]
    if cox is not None:
        hr = cox.hazard_ratio
        kind = "reconstructed cohort" if reconstructed else "user-supplied cohort"
        rows.append({
            "section": SECTION_THIS_COHORT,
            "source": f"This analysis ({kind})",
            "comparison": "Surgical (resection and/or ablation) vs non-surgical "
                          "(medical or embolization)",
            "measure": "HR", "estimate": hr.hr, "lower": hr.lower, "upper": hr.upper,
            "conf_level": hr.conf_level,
            "design": (f"unadjusted Cox model; {privacy.mark(cox.n, min_cell)} patients, "
                       f"{privacy.mark(cox.events, min_cell)} deaths"),
            "reconstructed": bool(reconstructed),
            "citation": ("Musunuru S, et al. Arch Surg. 2006;141(10):1000-1004, cohort "
                         "reconstructed from its published aggregates by nethep"
                         if reconstructed else "User-supplied cohort analysed with nethep"),
            "doi": "10.1001/archsurg.141.10.1000" if reconstructed else None,
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))

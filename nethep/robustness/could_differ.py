"""Could each robustness analysis have changed the answer on this cohort, and why?

On the bundled reconstruction several analyses cannot differ from the naive comparison
by construction: the covariates were simulated independently of survival and treatment
(survival was drawn by arm alone), and death times were drawn conditional on surviving
to the first treatment, so nobody could die while waiting. Agreement of such analyses
with the naive one is not support. :func:`could_differ` says so for each analysis of
notebook 05, in one sentence, and points to notebook 06 ("What these methods can
detect"), where each method meets simulated cohorts with a known true effect. On a
user's cohort the sentences claim nothing about construction: they say what each method
can detect there.
"""

from __future__ import annotations

from types import MappingProxyType

#: Where each method's ability to detect bias is shown (built on known-truth scenarios).
NOTEBOOK_06 = 'notebook 06 ("What these methods can detect")'

#: What each analysis can detect on real data (the user-cohort sentences).
DETECTS = MappingProxyType({
    "small_events": "bias of the ordinary Cox estimate and its Wald interval when an arm has "
                    "few deaths (Firth's penalty and the profile-likelihood interval)",
    "exact_tests": "a P value distorted by large-sample approximations in a small cohort",
    "bootstrap": "how precisely a survival difference is known without Greenwood's "
                 "large-sample formula (precision, not bias)",
    "adjusted": "confounding by the covariates that were measured and adjusted for",
    "iptw": "confounding by the measured covariates, as a marginal effect in the stated "
            "population, and a lack of overlap between the arms",
    "evalue": "nothing by itself: it says how strong an unmeasured confounder would have to "
              "be to explain the primary estimate away, not whether one exists",
    "landmark": "immortal-time bias, when the dates of treatment are the real ones",
    "time_varying": "immortal-time bias, when the dates of treatment are the real ones",
    "rmst": "a difference in months of life that a hazard ratio can hide, without assuming "
            "proportional hazards",
    "power": "nothing about this cohort's effect: it sizes a study able to confirm one",
})


def _construction(analysis: str, surgical_deaths: int | None,
                  waiting: tuple[float, float] | None) -> str:
    """The bundled reconstruction's sentence for one analysis (see the module docstring)."""
    deaths = ("few" if surgical_deaths is None else str(surgical_deaths))
    wait = ("short" if waiting is None else
            f"short (median {waiting[0]:.1f}, at most {waiting[1]:.1f} months among "
            "surgical patients)")
    independent = ("tumour type, age and liver involvement were simulated independently "
                   "of survival, which was drawn by arm alone")
    immortal = (f"the time from diagnosis to treatment was simulated {wait} and death times "
                "were drawn conditional on surviving to the first treatment in every group, "
                "so nobody could die while waiting: this analysis cannot show an "
                "immortal-time bias here and moves the estimate only through the simulated "
                "waiting time")
    texts = {
        "small_events": f"Yes: survival times and deaths were calibrated to the published "
                        f"aggregates, and with {deaths} surgical deaths the ordinary Cox and "
                        "Firth estimates, and the Wald, likelihood-ratio and score P values, "
                        "can disagree (and do)",
        "exact_tests": "Yes: these tests use only survival times, deaths and groups, which "
                       "were calibrated to the published aggregates",
        "bootstrap": "Yes: it uses only survival times, deaths and groups; it measures "
                     "precision, not bias",
        "adjusted": f"No, except by chance: {independent}, so adjustment can move the "
                    "estimate only through chance imbalance, never because of confounding; "
                    "the selection that matters (resectability, fitness) is not recorded",
        "iptw": f"No, except by chance: {independent}, so weighting can move the estimate "
                "only through chance imbalance; weights close to 1 show only that the "
                "simulated covariates do not predict surgery",
        "evalue": "It cannot differ: it restates the primary estimate on another scale; on "
                  "the reconstruction there is no confounding to explain by construction, "
                  "and in the real cohort selection for surgery is the confounder it describes",
        "landmark": f"Hardly: {immortal}",
        "time_varying": f"Hardly: {immortal}",
        "rmst": "Yes: it uses only survival times and deaths, which were calibrated to the "
                "published aggregates",
        "power": "Not an analysis of the effect: the design table uses the study's size and "
                 "deaths, which are published and calibrated, so it applies as stated",
    }
    return texts[analysis]


def could_differ(reconstructed: bool, surgical_deaths: int | None = None,
                 waiting: tuple[float, float] | None = None) -> dict[str, str]:
    """One sentence per analysis of notebook 05 (keys of :data:`DETECTS`): whether it
    could have changed the answer on this cohort, and why, pointing to notebook 06.

    ``reconstructed``: the bundled reconstruction (``df.attrs["reconstructed"]``); only
    then do the sentences speak of how the data were built. ``surgical_deaths`` and
    ``waiting`` (median and longest months from diagnosis to surgery) fill in numbers.
    """
    out = {}
    for analysis, detects in DETECTS.items():
        if reconstructed:
            head = _construction(analysis, surgical_deaths, waiting)
            tail = (f"What the methods of this notebook detect when the bias is real: "
                    f"{NOTEBOOK_06}." if analysis in ("evalue", "power") else
                    f"What it detects when the bias is real: {NOTEBOOK_06}.")
            out[analysis] = f"Could it have differed on the bundled reconstruction? {head}. {tail}"
        else:
            out[analysis] = (f"On this cohort the analysis can detect {detects}; whether it "
                             f"could have, and how often, is shown on simulated cohorts with a "
                             f"known true effect in {NOTEBOOK_06}.")
    return out

"""The data contract's vocabulary: columns, groups, arms, treatments, labels, units.

Read from ``data/datapackage.json`` (a Frictionless Table Schema with nethep's
extra keys: ``group_of``, ``provenance``...), which is the one source of truth;
:mod:`nethep.intake`, :mod:`nethep.cohort` and every analysis import it from here.
Display order is the contract's enum order (medical, embolization, surgical).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from nethep.paths import DATAPACKAGE

#: Days in a month of follow-up (365.25 / 12 = 30.4375, the Julian-year month).
DAYS_PER_MONTH = 365.25 / 12


@cache
def _package_text() -> str:
    return DATAPACKAGE.read_text(encoding="utf-8")


def load_contract() -> dict[str, Any]:
    """The cohort resource's Table Schema, with the whole package under ``"package"``
    (a fresh copy each call: callers may change it without changing the contract)."""
    package = json.loads(_package_text())
    resource = next(r for r in package["resources"] if r["name"] == "cohort")
    return {"package": package, **copy.deepcopy(resource["schema"])}


def fields() -> dict[str, dict[str, Any]]:
    """Contract fields by name, in file order."""
    return {f["name"]: f for f in load_contract()["fields"]}


def levels(column: str) -> tuple[Any, ...]:
    """The allowed values of an enumerated contract column, in the contract's order."""
    return tuple(fields()[column]["constraints"]["enum"])


def treatment_groups() -> dict[str, str]:
    """Map each treatment to its treatment group, as the contract states it."""
    return dict(fields()["treatment"]["group_of"])


#: Treatment groups, treatments and tumour types in the contract's (the study's) order.
GROUPS: tuple[str, ...] = levels("treatment_group")
TREATMENTS: tuple[str, ...] = levels("treatment")
TUMOR_TYPES: tuple[str, ...] = levels("tumor_type")
#: The two arms of the published comparison: surgical vs the other two groups pooled.
ARMS: tuple[str, ...] = ("surgical", "nonsurgical")

GROUP_TITLES: Mapping[str, str] = MappingProxyType(
    {"medical": "Medical", "embolization": "Embolization", "surgical": "Surgical"})
#: Labels of groups, arms and the whole cohort as figures and tables show them.
GROUP_LABELS: Mapping[str, str] = MappingProxyType({
    **GROUP_TITLES,
    "nonsurgical": "Non-surgical (medical + embolization)",
    "all": "All patients",
})
TREATMENT_LABELS: Mapping[str, str] = MappingProxyType({
    "octreotide": "Octreotide",
    "observation": "Observation",
    "chemotherapy": "Systemic chemotherapy",
    "embolization": "Hepatic artery embolization",
    "resection": "Anatomical liver resection",
    "ablation": "Ablation",
    "resection_ablation": "Resection plus ablation",
})
TUMOR_LABELS: Mapping[str, str] = MappingProxyType(
    {"carcinoid": "Carcinoid", "islet_cell": "Islet cell"})
#: Contract columns as words in a sentence (methods text, figure notes).
COVARIATE_WORDS: Mapping[str, str] = MappingProxyType({
    "tumor_type": "tumour type", "liver_involvement_pct": "liver involvement",
    "age_years": "age"})

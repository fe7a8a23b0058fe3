"""Result fragments written by the notebooks, merged into one ``results.json``.

Each notebook records its key numbers with :func:`save_fragment`, which writes
``<output_dir>/results/<section>.json``. After all notebooks have run,
:func:`write_results` merges every fragment into ``<output_dir>/results.json``,
keyed by section. Tests read the merged file, often through :func:`flatten`
(``survival.logrank.surgical_vs_nonsurgical.p``).

The keys that are read back (by :mod:`nethep.report`, :mod:`nethep.pages` and the
tests) are declared once, at the end of this module (``N_PATIENTS``, ``COX``...,
joined with :func:`key`); ``REQUIRED_KEYS`` lists those every complete run writes.

Conventions (the same for fragments and the merged file):

* values are JSON-safe: ``float``, ``int``, ``bool``, ``str``, ``None``, lists and
  dicts with string keys; :func:`to_jsonable` converts numpy and pandas values;
* ``None`` (JSON ``null``) means "no value": NaN, ``pd.NA``, ``NaT`` and also
  +/-infinity become ``None`` (strict JSON has no NaN or Infinity);
* keys are sorted, indentation is 2, the file ends in a newline, and nothing
  depends on the clock, so identical numbers give identical bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from nethep import privacy
from nethep.contract import GROUPS, TUMOR_TYPES

RESULTS_DIRNAME = "results"
RESULTS_FILENAME = "results.json"

_SECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_SEP = "."


class Tabular(Protocol):
    """A result object that shows itself as a tidy table (counts below ``min_cell``
    read ``<N``)."""

    def table(self, min_cell: int = 0) -> pd.DataFrame: ...


class Saveable(Protocol):
    """A result object that gives its results.json values (unsuppressed: suppression
    is applied once, by :func:`save_fragment`)."""

    def to_results(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------- conversion


def to_jsonable(obj: Any) -> Any:
    """Return ``obj`` as plain JSON-safe Python values, recursively.

    * numpy scalars become ``int``/``float``/``bool``; numpy arrays become lists;
    * NaN, +/-inf, ``pd.NA``, ``pd.NaT`` and ``None`` become ``None``;
    * tuples, lists and sets become lists (sets sorted);
    * mappings become dicts with ``str`` keys (two keys that collide as strings,
      such as ``1`` and ``"1"``, raise ``ValueError``);
    * a pandas Series becomes a dict keyed by its index, a DataFrame a list of
      row dicts; dates become ISO strings; a ``Path`` becomes its string.

    Anything else raises ``TypeError`` naming the type, rather than being
    stringified silently.
    """
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping):
        return _mapping_to_jsonable(obj)
    if isinstance(obj, pd.DataFrame):
        return [_mapping_to_jsonable(row) for row in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return _mapping_to_jsonable(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return [to_jsonable(item) for item in obj.tolist()]
    if isinstance(obj, list | tuple):
        return [to_jsonable(item) for item in obj]
    if isinstance(obj, set | frozenset):
        items = [to_jsonable(item) for item in obj]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(obj, pd.Timestamp | _dt.datetime | _dt.date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):  # e.g. np.str_, np.datetime64
        return to_jsonable(obj.item())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _mapping_to_jsonable(
            {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        )
    raise TypeError(
        f"cannot store a value of type {type(obj).__module__}.{type(obj).__qualname__} "
        f"in results.json: {obj!r:.80}. Convert it to a number, string, list or dict first."
    )


def _mapping_to_jsonable(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        skey = _key_to_str(key)
        if skey in out:
            raise ValueError(f"two keys become the same string {skey!r} in results.json")
        out[skey] = to_jsonable(value)
    return out


def _key_to_str(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, np.generic):
        key = key.item()
    return str(key)


def dumps(obj: Any) -> str:
    """Serialize ``obj`` the one way nethep writes JSON (sorted, indent 2, final newline)."""
    return (
        json.dumps(to_jsonable(obj), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # bytes, so no platform newline translation changes the output
    path.write_bytes(text.encode("utf-8"))


# --------------------------------------------------------------------------- fragments


def fragment_path(section: str, output_dir: str | Path) -> Path:
    """Where :func:`save_fragment` writes ``section``."""
    return Path(output_dir) / RESULTS_DIRNAME / f"{section}.json"


def save_fragment(section: str, values: Mapping[str, Any], output_dir: str | Path,
                  min_cell: int = 0) -> Path:
    """Write ``values`` to ``<output_dir>/results/<section>.json`` and return that path.

    ``section`` becomes the top-level key in ``results.json``: letters, digits,
    ``_`` and ``-`` only. ``values`` is a (nested) mapping, converted with
    :func:`to_jsonable`; keys must not contain ``"."`` so that :func:`flatten`
    keys stay unambiguous. Saving the same section again replaces the fragment.
    With ``min_cell`` above 1 (default 0: no suppression), counts from 1 to
    ``min_cell - 1`` become null (:func:`nethep.privacy.suppress_values`) and their
    keys are listed under ``suppressed: {min_cell, keys}``.
    """
    if not isinstance(section, str) or not _SECTION.match(section):
        raise ValueError(
            f"section name {section!r} is not allowed: use letters, digits, '_' or '-' "
            "(it becomes a file name and the top-level key in results.json)"
        )
    if not isinstance(values, Mapping):
        raise TypeError(
            f"values for section {section!r} must be a dict, got {type(values).__name__}"
        )
    data = to_jsonable(values)
    threshold = privacy.check_min_cell(min_cell)
    if threshold > 1:
        data, suppressed = privacy.suppress_values(data, threshold)
        if suppressed:
            data["suppressed"] = {"min_cell": threshold, "keys": suppressed}
    _check_keys(data, section)
    path = fragment_path(section, output_dir)
    _write_text(path, dumps(data))
    return path


def _check_keys(obj: Any, where: str) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if _SEP in key:
                raise ValueError(
                    f"key {key!r} in {where} contains {_SEP!r}, which flatten() uses to join "
                    "keys; use '_' instead (e.g. 'survival_1_5y')"
                )
            _check_keys(value, f"{where}{_SEP}{key}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_keys(item, f"{where}[{i}]")


# --------------------------------------------------------------------------- merging


def collect(output_dir: str | Path) -> dict[str, Any]:
    """Merge every ``<output_dir>/results/*.json`` into one dict keyed by section.

    The figure captions, one file per figure in ``results/figures/<name>.json``, are
    merged under ``figures.<name>``. Returns ``{}`` if there are no fragments. A
    fragment that is not valid JSON raises ``ValueError`` naming the file.
    """
    folder = Path(output_dir) / RESULTS_DIRNAME
    merged: dict[str, Any] = {}
    if not folder.is_dir():
        return merged
    for path in sorted(folder.glob("*.json")):
        try:
            merged[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"result fragment {path} is not valid JSON: {exc}") from exc
    # one file per figure (notebooks run concurrently), merged under FIGURES
    captions = {}
    for path in sorted((folder / FIGURES).glob("*.json")):
        try:
            captions[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"figure caption {path} is not valid JSON: {exc}") from exc
    if captions:
        merged[FIGURES] = captions
    return merged


def write_results(output_dir: str | Path) -> Path:
    """Write the merged fragments to ``<output_dir>/results.json`` and return its path."""
    path = Path(output_dir) / RESULTS_FILENAME
    _write_text(path, dumps(collect(output_dir)))
    return path


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys: ``{"a": {"b": 1}} -> {"a.b": 1}``.

    Lists (such as the ``paper_vs_ours`` rows) and empty dicts are kept as leaf
    values. Keys are returned in sorted order.
    """
    out: dict[str, Any] = {}
    for key in sorted(d, key=str):
        value = d[key]
        skey = str(key)
        if _SEP in skey:
            raise ValueError(f"key {skey!r} contains {_SEP!r}; cannot flatten unambiguously")
        full = f"{prefix}{_SEP}{skey}" if prefix else skey
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, full))
        else:
            out[full] = value
    return out


def key(*parts: object) -> str:
    """A dotted results key from its parts: ``key(COX, "hr")`` is
    ``"survival.cox.surgical_vs_nonsurgical.hr"``."""
    return _SEP.join(str(part) for part in parts)


def lookup(results: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted key of the merged results, or None when it is absent."""
    value: Any = results
    for part in dotted.split(_SEP):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


# --------------------------------------------------------------------------- keys read back
# Written by each section's result objects (``to_results()``), read by nethep.report,
# nethep.pages and the tests. A comment names the parts that follow a prefix.

SUPPRESSED = "suppressed"  # in any section: {min_cell, keys}
RECONSTRUCTED = "data.reconstructed"
DATA_SOURCE = "data.source"
N_PATIENTS = "cohort.n_patients"
N_BY_GROUP = "cohort.n_by_group"  # .<group>
N_BY_TUMOR_TYPE = "cohort.n_by_tumor_type"  # .<tumour type>
FOLLOWUP_MEDIAN = "followup.median_months"
FOLLOWUP_REVERSE_KM_MEDIAN = "followup.reverse_km_median_months"
SURVIVAL_AT = "survival.at_months"  # .<months>.<group or arm>.<estimate|lower|upper>
LOGRANK_ARMS = "survival.logrank.surgical_vs_nonsurgical"  # .statistic, .p
LOGRANK_GROUPS = "survival.logrank.three_groups"  # .statistic, .p
COX = "survival.cox.surgical_vs_nonsurgical"  # .hr, .lower, .upper, .p
PALLIATION_N_SYMPTOMATIC = "palliation.n_symptomatic"  # .<group>
PALLIATION_RATE = "palliation.rate"  # .<group>
PALLIATION_EXACT_P = "palliation.exact_p"
PALLIATION_CHI2_P = "palliation.chi2_p"
PAPER_VS_OURS = "comparison.paper_vs_ours"  # a list of rows
ALL_MATCH = "comparison.all_match"
COX_ADJUSTED = "robustness.cox_adjusted.surgical"  # .hr, .lower, .upper
IPTW = "robustness.iptw"  # .hr, .lower, .upper
TIME_VARYING = "robustness.time_varying"  # .hr, .lower, .upper
PERMUTATION_ARMS = "robustness.permutation_logrank.surgical_vs_nonsurgical"  # .p
EVALUE = "robustness.evalue.point"
COVARIATES = "robustness.choices.covariates"  # column names of the adjusted model
LANDMARK_MONTHS = "robustness.choices.landmark_months"

#: Parts that follow the prefixes above.
SURVIVAL_MONTHS = ("12", "36", "60")
CURVES = (*GROUPS, "nonsurgical")
LIMITS = ("estimate", "lower", "upper")
HR_PARTS = ("hr", "lower", "upper")

#: Every key above that a complete run (all notebooks, any valid cohort) writes; a value
#: may be null (not estimable, or suppressed).
REQUIRED_KEYS: tuple[str, ...] = (
    RECONSTRUCTED, DATA_SOURCE, N_PATIENTS, FOLLOWUP_MEDIAN, FOLLOWUP_REVERSE_KM_MEDIAN,
    *(key(N_BY_GROUP, g) for g in GROUPS),
    *(key(N_BY_TUMOR_TYPE, t) for t in TUMOR_TYPES),
    *(key(SURVIVAL_AT, t, c, k) for t in SURVIVAL_MONTHS for c in CURVES for k in LIMITS),
    *(key(test, k) for test in (LOGRANK_ARMS, LOGRANK_GROUPS) for k in ("statistic", "p")),
    *(key(COX, k) for k in (*HR_PARTS, "p")),
    *(key(PALLIATION_N_SYMPTOMATIC, g) for g in GROUPS),
    *(key(PALLIATION_RATE, g) for g in GROUPS),
    PALLIATION_EXACT_P, PALLIATION_CHI2_P, PAPER_VS_OURS, ALL_MATCH,
    *(key(model, k) for model in (COX_ADJUSTED, IPTW, TIME_VARYING) for k in HR_PARTS),
    key(PERMUTATION_ARMS, "p"), EVALUE, COVARIATES, LANDMARK_MONTHS,
)

# Issue 12, small-event inference, RMST horizon, power design (H1): written by
# robustness.small_events.SmallEventInference, effect_size and survival.CoxResult.
FIRTH = "robustness.firth"  # .hr, .lower, .upper, .p_lr, .ties
PRIMARY = "robustness.primary"  # .method, .model, .hr, .lower, .upper, .p, .ci, .rule
COX_TESTS = "robustness.cox_tests"  # .wald_p, .lr_p, .score_p, .estimable
RMST = "robustness.rmst"  # .tau, .tau_rule, .diff, .lower, .upper, ...; .extended.<tau>
POWER_DESIGN = "robustness.power.design"  # .hr_0_3|hr_0_5|hr_0_7 .{hr, power, events_80, n_80, ...}
PH_TEST_INFORMATIVE = "survival.cox.surgical_vs_nonsurgical.ph_test_informative"

# Issue 12 item 8, methods.md and figure captions (H4): read by nethep.report.
COULD_DIFFER = "robustness.could_differ"  # .<analysis>: one sentence each
EXACT_LOGRANK_ARMS = "robustness.exact_logrank.surgical_vs_nonsurgical"  # .p, .n_assignments
PERMUTATION_GROUPS = "robustness.permutation_logrank.three_groups"  # .p, .n_permutations
FIRTH_BRESLOW = "robustness.firth_breslow"  # .hr, .lower, .upper, .p_lr, .ties
IPTW_ATE = "robustness.iptw_ate"  # .hr, .lower, .upper, .boot_lower, .boot_upper, .boot_note
LANDMARK = "robustness.landmark"  # .<months>.{hr, lower, upper, n}
LANDMARK_ALTERNATIVE_MONTHS = "robustness.choices.landmark_alternative_months"
BOOTSTRAP_S36 = "robustness.bootstrap.survival_36_diff"  # .estimate, .lower, .upper, .interval
EVALUE_SECTION = "robustness.evalue"  # .point, .ci_limit, .hr, .conversion, .hr_from
POWER = "robustness.power"  # .events, .alpha, .design (POWER_DESIGN)
FIGURES = "figures"  # .<figure name>.{title, caption} (nethep.notebook.Notebook.figure)

# Issue 12 item 4, IPTW estimands and positivity (H3): written by
# robustness.weighting (IPTWCox, Positivity); robustness.iptw is the ATT (primary weighting).
IPTW_ATT = "robustness.iptw_att"  # .hr, .lower, .upper, .boot_lower, .boot_upper, .n_boot
# .ps_min|ps_max.<arm>, .overlap_lower|upper, .n_outside.<arm>, .share_outside, .max_weight
POSITIVITY = "robustness.positivity"

# Issue 11, the ensemble of abstract-consistent reconstructions (H7): written by notebook
# 07 from nethep.reconstruct.summary.EnsembleSummary (bundled data only; a user's cohort
# writes neither section).
ENSEMBLE_N_MEMBERS = "ensemble.n_members"
ENSEMBLE_MODELS = "ensemble.models"  # .survival, .censoring, .palliation_rates, .tests
ENSEMBLE_RULES = "ensemble.rules"  # .readings.<strict|lenient>.{lower, upper}, ...
ENSEMBLE_QUANTITIES = "ensemble.quantities"  # .<name>.{median, lower, upper, bundled, n_estimable}
ENSEMBLE_CONCLUSIONS = "ensemble.conclusions"  # .cNN.{statement, share, bundled}
TIPPING_POINT = "tipping_point"  # .bundled.{earliest, worst}; .ensemble.<rule>.{median, ...}

# Issue 12 item 1, known-truth scenarios (H2): written by
# robustness.scenarios.ScenarioStudy (notebook 06, section "scenarios").
SCENARIOS = "scenarios"  # .<scenario key>.<method key>.{bias, coverage, rejection, ...}
SCENARIO_PARTS = ("bias", "coverage", "rejection", "n_replicates", "n_failed", "true_hr")
SCENARIO_CHOICES = "scenarios.choices"  # .n_replicates, .seed, .n_permutations, ...

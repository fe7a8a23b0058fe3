"""Small-cell suppression for outputs shared under a data-use agreement.

``nethep run --min-cell N`` (notebook parameter ``min_cell``; each notebook calls
:func:`set_min_cell` before it shows anything) hides every count from 1 to N - 1
wherever it would be shown. A shown count reads ``<N``; a count in
``results.json`` becomes null and its key is listed under ``suppressed`` in its
section (:func:`nethep.results.save_fragment`, :func:`suppress_values`). Zero
counts are kept (they disclose no patient). ``min_cell = 0`` (the default) and 1
suppress nothing, and every output is then exactly what it is without this module.

Where it applies, each place reading :func:`min_cell` when it shows a count (never
in the notebooks themselves):

- the ``.table()`` of every result object that shows counts (patient flow, Table 1
  "n (%)" cells with their percentage, its column headings and excluded / missing
  counts, survival at fixed times, medians, log-rank observed deaths, Cox, palliation
  and its 2 x k table, landmark, IPTW, RMST, weight summary, robustness summary,
  paper vs ours) and the sentences they generate;
- figures (:mod:`nethep.plots`): numbers at risk and legend n under Kaplan-Meier
  plots, flow-diagram boxes, palliation tick labels, group n; a strip plot leaves out
  the points of a suppressed group, and the propensity histogram becomes one box
  per arm when a bin would hold a small count; each figure's note says suppression
  is on;
- the notebook banner (:func:`nethep.display.banner`), ``results.json`` and the
  generated methods paragraph.

Limitation, stated: this is primary suppression only. Rates, percentages of
unsuppressed counts, survival estimates and their steps, expected counts, events
per parameter, sums of weights and differences between shown counts (a total minus
the other groups) are still shown and can reveal a suppressed count
(complementary suppression is not attempted). Text fields written when a result is
made (landmark notes, power assumptions, the EPV warning) read the threshold then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

_state = {"min_cell": 0}

# Result keys (last part of the dotted path) that hold patient counts.
COUNT_KEYS = frozenset({
    "n", "n_patients", "events", "deaths", "n_risk", "n_events", "n_symptomatic",
    "n_palliated", "n_rows", "n_excluded", "n_reclassified", "n_surgical", "observed",
    "n_missing", "n_switched", "sizes",
})
COUNT_PREFIXES = ("n_by_", "n_symptomatic", "n_palliated")


def set_min_cell(min_cell: int | None) -> int:
    """Set the threshold for this session (0 or None: no suppression); return it."""
    value = int(min_cell or 0)
    if value < 0:
        raise ValueError(f"min_cell must be 0 or a positive whole number, not {min_cell}")
    _state["min_cell"] = value
    return value


def min_cell() -> int:
    """The threshold in force (0: none)."""
    return _state["min_cell"]


def note(threshold: int | None = None) -> str:
    """What suppression does, for banners and figure notes ("" when it is off)."""
    threshold = min_cell() if threshold is None else threshold
    if threshold <= 1:
        return ""
    return f"counts below {threshold} are shown as <{threshold}"


def is_small(count: Any, threshold: int | None = None) -> bool:
    """True when ``count`` is a count from 1 to threshold - 1."""
    threshold = min_cell() if threshold is None else threshold
    if threshold <= 1 or count is None or pd.isna(count):
        return False
    return 0 < float(count) < threshold


def mark(count: Any, threshold: int | None = None) -> Any:
    """The count, or ``"<N"`` when it must be suppressed."""
    threshold = min_cell() if threshold is None else threshold
    return f"<{threshold}" if is_small(count, threshold) else count


def suppress_table(table: pd.DataFrame, columns: Iterable[str],
                   threshold: int | None = None) -> pd.DataFrame:
    """A copy of ``table`` with small counts in ``columns`` replaced by ``"<N"``."""
    threshold = min_cell() if threshold is None else threshold
    out = table.copy()
    if threshold <= 1:
        return out
    for col in columns:
        if col in out.columns:
            out[col] = out[col].astype(object).map(lambda x: mark(x, threshold))
    return out


def is_count_key(key: str) -> bool:
    """Whether a result key (the last part of its dotted path) names a patient count."""
    return key in COUNT_KEYS or key.startswith(COUNT_PREFIXES)


def suppress_values(values: Mapping[str, Any], threshold: int | None = None,
                    _path: str = "", _count_context: bool = False) -> tuple[Any, list[str]]:
    """Null every small count in a nested result dict; return it and the suppressed keys.

    A value is a count when its key (or an enclosing key, e.g. ``n_by_group``) is
    a count key. Lists are searched too: a list under a count key (``sizes``) is a
    list of counts, and the dicts in a list (the rows of ``summary``) are searched
    like any dict; their paths read ``summary[3].n``.
    """
    threshold = min_cell() if threshold is None else threshold
    suppressed: list[str] = []
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{_path}.{key}" if _path else str(key)
        counting = _count_context or is_count_key(str(key))
        out[key], inner = _suppress_value(value, threshold, path, counting)
        suppressed += inner
    return out, suppressed


def _suppress_value(value: Any, threshold: int, path: str,
                    counting: bool) -> tuple[Any, list[str]]:
    if isinstance(value, Mapping):
        return suppress_values(value, threshold, path, counting)
    if isinstance(value, list | tuple):
        items, suppressed = [], []
        for i, item in enumerate(value):
            new, inner = _suppress_value(item, threshold, f"{path}[{i}]", counting)
            items.append(new)
            suppressed += inner
        return items, suppressed
    if (counting and isinstance(value, int | float) and not isinstance(value, bool)
            and is_small(value, threshold)):
        return None, [path]
    return value, []

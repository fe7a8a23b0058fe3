"""Small-cell suppression for outputs shared under a data-use agreement.

``nethep run --min-cell N`` (notebook parameter ``min_cell``) hides every count
from 1 to N - 1 wherever it would be shown: tables (:func:`suppress_table`),
numbers at risk under Kaplan-Meier plots, and ``results.json``
(:func:`suppress_values`). A suppressed table cell reads ``<N``; a suppressed
value in ``results.json`` becomes null and its key is listed under
``privacy.suppressed``. Zero counts are kept (they disclose no patient).
``min_cell = 0`` (the default) suppresses nothing.

Limitation, stated: this is primary suppression only. Rates and survival
estimates computed from small groups are still shown and can, with the group
size, reveal a count (complementary suppression is not attempted).
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


def _is_count_key(key: str) -> bool:
    return key in COUNT_KEYS or key.startswith(COUNT_PREFIXES)


def suppress_values(values: Mapping[str, Any], threshold: int | None = None,
                    _path: str = "", _count_context: bool = False) -> tuple[Any, list[str]]:
    """Null every small count in a nested result dict; return it and the suppressed keys.

    A value is a count when its key (or an enclosing key, e.g. ``n_by_group``) is
    a count key.
    """
    threshold = min_cell() if threshold is None else threshold
    suppressed: list[str] = []
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{_path}.{key}" if _path else str(key)
        counting = _count_context or _is_count_key(str(key))
        if isinstance(value, Mapping):
            out[key], inner = suppress_values(value, threshold, path, counting)
            suppressed += inner
        elif (counting and isinstance(value, int | float) and not isinstance(value, bool)
              and is_small(value, threshold)):
            out[key] = None
            suppressed.append(path)
        else:
            out[key] = value
    return out, suppressed

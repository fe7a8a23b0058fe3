"""Small-cell suppression for outputs shared under a data-use agreement.

``nethep run --min-cell N`` (notebook parameter ``min_cell``) hides every count
from 1 to N - 1 wherever it would be shown. A shown count reads ``<N``; a count in
``results.json`` becomes null and its key is listed under ``suppressed`` in its
section (:func:`nethep.results.save_fragment`, :func:`suppress_values`). Zero counts
are kept (they disclose no patient). ``min_cell`` 0 (the default) and 1 suppress
nothing, and every output is then exactly what it is without this module.

The threshold is always an explicit argument: this module holds no state. Every
function or method in :mod:`nethep` that shows a count (a result's ``.table()``,
its generated sentences, every figure function, the notebook banner and
:func:`nethep.results.save_fragment`) takes ``min_cell`` and passes it here. The
notebooks pass their ``min_cell`` parameter once, through
:class:`nethep.notebook.Notebook`.

Limitation, stated: this is primary suppression only. Rates, percentages of
unsuppressed counts, survival estimates and their steps, expected counts, events
per parameter, sums of weights and differences between shown counts (a total minus
the other groups) are still shown and can reveal a suppressed count
(complementary suppression is not attempted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

# Result keys (last part of the dotted path) that hold patient counts.
COUNT_KEYS = frozenset({
    "n", "n_patients", "events", "deaths", "n_risk", "n_events", "n_symptomatic",
    "n_palliated", "n_rows", "n_excluded", "n_reclassified", "n_surgical", "observed",
    "n_missing", "n_switched", "sizes",
})
COUNT_PREFIXES = ("n_by_", "n_symptomatic", "n_palliated")


def check_min_cell(min_cell: int | None) -> int:
    """``min_cell`` as a whole number >= 0 (None: 0); a clear error otherwise."""
    if min_cell is None:
        return 0
    if isinstance(min_cell, bool) or int(min_cell) != min_cell or min_cell < 0:
        raise ValueError(f"min_cell must be 0 or a positive whole number, not {min_cell!r}")
    return int(min_cell)


def note(threshold: int) -> str:
    """What suppression does, for banners and figure notes ("" when it is off)."""
    if threshold <= 1:
        return ""
    return f"counts below {threshold} are shown as <{threshold}"


def is_small(count: Any, threshold: int) -> bool:
    """True when ``count`` is a count from 1 to threshold - 1."""
    if threshold <= 1 or count is None or pd.isna(count):
        return False
    return 0 < float(count) < threshold


def mark(count: Any, threshold: int) -> Any:
    """The count, or ``"<N"`` when it must be suppressed."""
    return f"<{threshold}" if is_small(count, threshold) else count


def suppress_table(table: pd.DataFrame, columns: Iterable[str],
                   threshold: int) -> pd.DataFrame:
    """A copy of ``table`` with small counts in ``columns`` replaced by ``"<N"``."""
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


def suppress_values(values: Mapping[str, Any], threshold: int,
                    _path: str = "", _count_context: bool = False) -> tuple[Any, list[str]]:
    """Null every small count in a nested result dict; return it and the suppressed keys.

    A value is a count when its key (or an enclosing key, e.g. ``n_by_group``) is
    a count key. Lists are searched too: a list under a count key (``sizes``) is a
    list of counts, and the dicts in a list (the rows of ``summary``) are searched
    like any dict; their paths read ``summary[3].n``.
    """
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

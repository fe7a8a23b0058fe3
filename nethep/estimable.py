"""What cannot be estimated on a cohort, and how it is said: one convention for every section.

An analysis that a small or narrow cohort does not allow (one patient, one arm, no deaths,
no deaths in an arm, no symptomatic patient, no follow-up at 36 months...) still returns
its result object. Its numbers are NaN and a ``reason`` says why, in words:

- ``.table()`` keeps the row, with the numbers empty and the reason in a ``note`` column;
- sentences read "not estimable (<reason>)", never "0.00 (0.00 to 0.00)", "inf" or "nan"
  (:func:`words`);
- ``.to_results()`` writes ``null`` for each number and the reason under the key
  :data:`REASON` of the same dict (:func:`with_reason`), or of the section when the nulls
  sit in a map keyed by group or variable, so every ``null`` in results.json that is not
  a suppressed count has the words that explain it (:func:`unexplained_nulls` finds
  those that do not).

The reasons about the cohort's shape are written here once (:func:`arms_reason`,
:func:`deaths_reason`, :func:`comparison_reason`), so every section says the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nethep.formats import NOT_ESTIMABLE, finite_or_none, join_and

#: The results.json key that explains the nulls of its dict.
REASON = "reason"
#: How the two arms of the comparison are named in a reason.
_ARM_WORDS = (("surgical", "surgical"), ("nonsurgical", "non-surgical"))


def words(reason: str) -> str:
    """``"not estimable (<reason>)"``, or ``"not estimable"`` without a reason."""
    return f"{NOT_ESTIMABLE} ({reason})" if reason else NOT_ESTIMABLE


def number(x: Any, spec: str = ".2f", reason: str = "") -> str:
    """``x`` formatted by ``spec``, or :func:`words` when it is None, NaN or infinite."""
    value = finite_or_none(x)
    return words(reason) if value is None else format(value, spec)


def with_reason(values: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """``values`` with :data:`REASON` added when ``reason`` is not empty."""
    out = dict(values)
    if reason:
        out[REASON] = reason
    return out


def null_values(keys: tuple[str, ...] | list[str], reason: str) -> dict[str, Any]:
    """Every key null, and the reason beside them."""
    return {**dict.fromkeys(keys), REASON: reason or NOT_ESTIMABLE}


def _arms(df: pd.DataFrame) -> pd.Series:
    """The arm of each patient: ``arm`` as :func:`nethep.cohort.derive` writes it, or,
    for a frame that has only the ``surgical`` indicator (e.g. a reference data set),
    the same words derived from it."""
    if "arm" in df:
        return df["arm"]
    return pd.Series(np.where(df["surgical"], "surgical", "nonsurgical"), index=df.index)


def arms_reason(df: pd.DataFrame, by: str = "arm") -> str:
    """Why ``df`` cannot compare the levels of ``by``: "" when it has two or more levels."""
    levels = sorted(set((_arms(df) if by == "arm" else df[by]).dropna()))
    if len(df) == 0:
        return "no patients"
    if len(levels) >= 2:
        return ""
    if by == "arm":
        named = dict(_ARM_WORDS).get(levels[0], levels[0])
        other = "non-surgical" if named == "surgical" else "surgical"
        return (f"every patient is {named}: there is no {other} patient to compare with"
                if len(df) > 1 else f"one patient ({named}): there is nothing to compare")
    return (f"every patient is in one {by.replace('_', ' ')} ({levels[0]}): there is no "
            "other group to compare with")


def deaths_reason(df: pd.DataFrame) -> str:
    """"no patient died" when nobody died, else ""."""
    return "" if int(df["died"].sum()) else "no patient died"


def arms_without_deaths(df: pd.DataFrame) -> list[str]:
    """The arms (in words) in which nobody died."""
    arms = _arms(df)
    return [named for arm, named in _ARM_WORDS
            if (arms == arm).any() and not int(df.loc[arms == arm, "died"].sum())]


def comparison_reason(df: pd.DataFrame, *, deaths_in_each_arm: bool = False) -> str:
    """Why the surgical vs non-surgical comparison is not estimable on ``df`` ("" when it
    is): fewer than two arms, no death at all, or (``deaths_in_each_arm``: a hazard
    ratio) an arm without deaths, where the partial likelihood has no finite maximum."""
    reason = arms_reason(df) or deaths_reason(df)
    if reason or not deaths_in_each_arm:
        return reason
    empty = arms_without_deaths(df)
    if not empty:
        return ""
    return (f"no deaths in the {join_and(empty)} arm{'s' if len(empty) > 1 else ''}: "
            "the hazard ratio has no finite estimate")


def unexplained_nulls(tree: Any, path: str = "", explained: bool = False) -> list[str]:
    """Dotted paths of the nulls in a results tree (``to_results()``) that nothing explains.

    A null is explained by a non-empty :data:`REASON` in its own dict or in any dict above
    it (a section's reason covers its maps keyed by group or variable, whose keys must stay
    group or variable names), or, in a table's rows stored as a list of dicts, by the
    row's non-empty ``note`` (the column a ``.table()`` gives the reason in), or, for a
    count hidden by small-cell suppression, by its path in the section's
    ``suppressed.keys`` (:func:`nethep.results.save_fragment`). Empty when every null is
    explained.
    """
    found: list[str] = []
    if isinstance(tree, Mapping):
        explained = explained or bool(tree.get(REASON)) or bool(tree.get("note"))
        for key, value in tree.items():
            where = f"{path}.{key}" if path else str(key)
            if value is None and not explained:
                found.append(where)
            elif isinstance(value, Mapping | list | tuple):
                found.extend(unexplained_nulls(value, where, explained))
        suppressed = tree.get("suppressed")
        if isinstance(suppressed, Mapping) and suppressed.get("keys"):
            hidden, prefix = set(suppressed["keys"]), f"{path}." if path else ""
            found = [where for where in found if where.removeprefix(prefix) not in hidden]
    elif isinstance(tree, list | tuple):
        for i, item in enumerate(tree):
            found.extend(unexplained_nulls(item, f"{path}[{i}]", explained))
    return found

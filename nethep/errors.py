"""The one error type for bad cohort input, and the located problem it lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LISTED = 200  # problems written into the message; all stay in ``.problems``
MAX_SHOWN = 80  # characters of a value or column name shown in a message; all stay in the Problem
#: A value that holds a calendar date in any common layout (2003-07-15, 15/07/2003,
#: 15.07.03, 2003/7/15, 15-Jul-2003, Excel's 2003-07-15 10:00:00): never shown in a message.
DATE_LIKE = re.compile(
    r"(?<![0-9])([0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}"
    r"|(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01]))(?![0-9])"
    r"|[0-9]{1,2}[-/. ]?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
    r"[-/. ]?[0-9]{2,4}",
    re.IGNORECASE)
DATE_HIDDEN = "(a date, not shown: dates are identifying)"


def looks_like_date(text: str) -> bool:
    """Whether ``text`` holds something written like a calendar date (:data:`DATE_LIKE`)."""
    return DATE_LIKE.search(text) is not None


def _shown(text: str) -> str:
    """``repr`` of a value, shortened in the middle when it is long (a whole file in a
    cell); a value that looks like a date is never shown (:data:`DATE_HIDDEN`)."""
    if looks_like_date(text):
        return DATE_HIDDEN
    shown = repr(text)
    if len(shown) <= MAX_SHOWN:
        return shown
    half = (MAX_SHOWN - 5) // 2
    return f"{shown[:half]}[...]{shown[-half:]} ({len(text)} characters)"


@dataclass(frozen=True)
class Problem:
    """One violation of the data contract, located as precisely as the file allows."""

    file: str
    line: int | None
    patient_id: str | None
    column: str | None
    value: str | None
    rule: str
    fix: str

    @classmethod
    def at(cls, file: str, rule: str, fix: str, *, column: str | None = None,
           line: int | None = None, patient_id: str | None = None,
           value: str | None = None) -> Problem:
        """A problem located by keyword (everything but the file, rule and fix may be None)."""
        return cls(file, line, patient_id, column, value, rule, fix)

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.patient_id:
            where.append(f"patient_id {self.patient_id}")
        if self.column:
            column = self.column if len(self.column) <= MAX_SHOWN else _shown(self.column)[1:-1]
            where.append(f"column '{column}'")
        value = "" if self.value is None else f" value {_shown(str(self.value))}:"
        return f"{', '.join(where)}:{value} {self.rule}. Fix: {self.fix}"


class CohortValidationError(ValueError):
    """Raised with every contract violation found in a cohort file."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        n = len(problems)
        header = f"{n} problem{'s' if n != 1 else ''} in cohort data:"
        lines = [f"  - {p}" for p in problems[:MAX_LISTED]]
        if n > MAX_LISTED:
            lines.append(f"  ... and {n - MAX_LISTED} more (all are in .problems)")
        super().__init__("\n".join([header, *lines]))


def fail(file: str, rule: str, fix: str, **where: Any) -> CohortValidationError:
    """The error for one problem (``where``: column, line, patient_id, value), to raise."""
    return CohortValidationError([Problem.at(file, rule, fix, **where)])

"""How numbers and lists are written: P values, missing estimates, lists in a sentence.

P values follow the AMA style that JAMA Surgery (formerly Arch Surg) prints: no
leading zero; ``<.001`` below .001; three decimals below .01 (``.005``); two decimals
otherwise (``.01``, ``.50``); never 1.00, so P >= .995 is ``.99`` in a table and
"P > .99" in a sentence. Rounding is half up on the shortest decimal form of the float
(0.015 -> .02), and the number of decimals is chosen on the rounded value (0.0099 ->
.01, not .010). results.json keeps the full-precision floats; only display uses these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

NOT_ESTIMABLE = "not estimable"
_SMALLEST = 0.001  # below this, "<.001"
_LARGEST = Decimal("0.995")  # from here on, ".99" ("P > .99" in a sentence)


def finite_or_none(x: Any) -> float | None:
    """``x`` as a float, or None when it is None, NaN or infinite (JSON has no NaN)."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def _decimals(value: Decimal, places: int) -> str:
    """``value`` rounded half up to ``places`` decimals, without the leading zero."""
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:.{places}f}".removeprefix("0")


def format_p(p: float | None) -> str:
    """P for tables and figures in journal style: ``<.001``, ``.005``, ``.01``, ``.50``,
    ``.99`` (for P >= .995); empty when None, NaN or infinite."""
    value = finite_or_none(p)
    if value is None:
        return ""
    if value < _SMALLEST:
        return "<.001"
    exact = Decimal(repr(value))
    if exact >= _LARGEST:
        return ".99"
    three = _decimals(exact, 3)
    return three if Decimal(three) < Decimal("0.01") else _decimals(exact, 2)


def p_text(p: float | None) -> str:
    """P for a sentence: ``P = .01``, ``P < .001``, ``P > .99`` (P >= .995), or
    ``P not estimable`` when None, NaN or infinite."""
    value = finite_or_none(p)
    if value is None:
        return f"P {NOT_ESTIMABLE}"
    if value < _SMALLEST:
        return "P < .001"
    if Decimal(repr(value)) >= _LARGEST:
        return "P > .99"
    return f"P = {format_p(value)}"


def p_digits(p: float | None, places: int) -> str:
    """P with a fixed number of decimals and no leading zero (``.00312``), for Monte
    Carlo P values compared with an exact P, where the journal's two or three decimals
    would hide the difference; empty when None, NaN or infinite."""
    value = finite_or_none(p)
    return "" if value is None else _decimals(Decimal(repr(value)), places)


def join_and(parts: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``: a list in a sentence ("" when empty)."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]

"""How numbers are written: P values and missing estimates, the same everywhere."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(x: Any) -> float | None:
    """``x`` as a float, or None when it is None, NaN or infinite (JSON has no NaN)."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def format_p(p: float | None) -> str:
    """P for display: three decimals, ``<0.001`` below that, empty when not computed."""
    value = finite_or_none(p)
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"

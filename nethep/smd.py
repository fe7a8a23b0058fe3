"""Standardized mean differences (SMD) between two groups, and the largest over pairs.

Austin (2009) for continuous variables (sample SDs, ddof 1) and proportions; Yang &
Dalton (2012) multi-level SMD, sqrt(T' S^-1 T), for categorical variables (equal to
the proportion formula for two levels). All absolute; NaN when not defined.
Table 1 reports the largest pairwise SMD (:func:`max_pairwise_smd`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def smd_continuous(a: Sequence[float], b: Sequence[float]) -> float:
    """Absolute SMD of two samples: |mean_a - mean_b| / sqrt((sd_a^2 + sd_b^2) / 2).

    Sample standard deviations (ddof 1), missing values ignored (Austin 2009).
    NaN when either sample has fewer than two values or both SDs are 0.
    """
    x = pd.Series(a, dtype=float).dropna().to_numpy()
    y = pd.Series(b, dtype=float).dropna().to_numpy()
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    pooled = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    if pooled == 0:
        return float("nan")
    return float(abs(x.mean() - y.mean()) / pooled)


def smd_binary(p1: float, p2: float) -> float:
    """Absolute SMD of two proportions: |p1 - p2| / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2).

    NaN when both proportions are 0 or both are 1 (no variance).
    """
    var = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    if var == 0:
        return float("nan")
    return float(abs(p1 - p2) / math.sqrt(var))


def smd_categorical(counts_a: Sequence[int], counts_b: Sequence[int]) -> float:
    """Multi-level SMD of Yang & Dalton (2012) from counts per level in two groups.

    With proportion vectors p_a, p_b over k levels, T = (p_a - p_b) without the first
    level and S = (S_a + S_b) / 2, where S_g has p_gi (1 - p_gi) on the diagonal and
    -p_gi p_gj off it; SMD = sqrt(T' S^-1 T). Levels absent from both groups are
    dropped first (a Moore-Penrose inverse covers any remaining singularity). For two
    levels this equals :func:`smd_binary`. NaN when a group has no observations or
    fewer than two levels are observed.
    """
    a = np.asarray(counts_a, dtype=float)
    b = np.asarray(counts_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("counts_a and counts_b must be 1-d and of equal length")
    if a.sum() == 0 or b.sum() == 0:
        return float("nan")
    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    if len(a) < 2:
        return float("nan")
    pa, pb = a / a.sum(), b / b.sum()
    t = (pa - pb)[1:]

    def cov(p: np.ndarray) -> np.ndarray:
        q = p[1:]
        return np.diag(q) - np.outer(q, q)

    s = (cov(pa) + cov(pb)) / 2
    value = float(t @ np.linalg.pinv(s) @ t)
    return float(math.sqrt(max(value, 0.0)))


def max_pairwise_smd(
    samples: Mapping[str, Any], smd: Callable[[Any, Any], float]
) -> float | None:
    """Largest finite ``smd(x, y)`` over every pair of groups; None if there is none."""
    names = list(samples)
    values = [smd(samples[a], samples[b]) for i, a in enumerate(names) for b in names[i + 1:]]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None

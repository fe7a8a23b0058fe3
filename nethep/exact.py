"""Exact small-sample tests: Fisher-Freeman-Halton r x c test and Clopper-Pearson intervals.

:func:`fisher_exact_rxc` reproduces R's ``fisher.test(x)$p.value`` (two-sided) by complete
enumeration of every table with the observed margins, so it is exact for any r x c table
small enough to enumerate. ``scipy.stats.fisher_exact`` is exact only for 2 x 2 tables (for
larger tables it needs a Monte Carlo ``method``), hence this module.

:func:`clopper_pearson` is the exact binomial interval of ``binom.test(k, n)$conf.int``.

Both are checked against R in ``tests/test_exact.py`` with reference values produced by
``tests/reference/make_exact_reference.R``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln
from statsmodels.stats.proportion import proportion_confint

__all__ = ["MAX_TABLES", "fisher_exact_rxc", "clopper_pearson", "count_tables"]

#: Largest number of tables :func:`fisher_exact_rxc` enumerates before refusing.
MAX_TABLES = 50_000_000

#: R's 2 x 2 branch of ``fisher.test``: tables with ``d <= d_obs * (1 + 1e-7)`` count.
_REL_TOL_2X2 = 1e-7
#: R's r x c branch (FEXACT, ``TOL`` in ``f2xact``): ``log p <= log p_obs + 3.45254e-7``.
_LOG_TOL_RXC = 3.45254e-7

# Partial tables are expanded breadth-first; batches larger than this are split so that
# memory stays bounded (roughly _CHUNK * (n + 1) rows at the widest expansion).
_CHUNK = 1 << 16

IntTable = Sequence[Sequence[int]] | np.ndarray


def _as_count_table(table: IntTable) -> np.ndarray:
    """Validate ``table`` as a 2-D array of non-negative integer counts (int64)."""
    try:
        arr = np.asarray(table)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"table must be a rectangular 2-D array of counts: {exc}") from exc
    if arr.ndim != 2:
        raise ValueError(f"table must be 2-dimensional, got {arr.ndim} dimension(s)")
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"table entries must be integer counts, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("table entries must be finite integer counts (found NaN or inf)")
        if np.any(arr != np.round(arr)):
            bad = arr[arr != np.round(arr)].ravel()[0]
            raise ValueError(f"table entries must be integer counts, found non-integer {bad!r}")
    if np.any(arr < 0):
        bad = arr[arr < 0].ravel()[0]
        raise ValueError(f"table entries must be non-negative counts, found {bad!r}")
    if np.any(arr > np.iinfo(np.int32).max):
        raise ValueError("table entries are too large for exact enumeration")
    return arr.astype(np.int64)


def _drop_empty(arr: np.ndarray) -> np.ndarray:
    """Drop rows and columns whose margin is zero (they carry no information)."""
    return arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0]


def _cell_ranges(
    rem: np.ndarray, need: np.ndarray, i: int
) -> tuple[np.ndarray, np.ndarray]:
    """Feasible range [lo, hi] of cell (i, current column) for each partial table.

    ``rem`` holds the remaining row margins (S x r) and ``need`` what the current column
    still needs (S,). Rows below ``i`` must be able to absorb the rest of the column.
    """
    below = rem[:, i + 1 :].sum(axis=1)
    lo = np.maximum(need - below, 0)
    hi = np.minimum(rem[:, i], need)
    return lo, hi


def _expand(counts: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent index and cell value for every child of a batch of partial tables."""
    parent = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    values = lo[parent] + (np.arange(parent.size) - starts[parent])
    return parent, values


def _count_tables_capped(rows: np.ndarray, cols: np.ndarray, cap: int) -> int | None:
    """Exact number of tables with margins ``rows``/``cols``, or None if it exceeds ``cap``.

    Cell-by-cell dynamic programming in which partial tables with the same remaining row
    margins and column need are merged (with a multiplicity), so the work grows with the
    number of distinct states, not of tables. Every partial table extends to at least one
    full table, so the running number of partial tables is a lower bound on the answer and
    the count stops as soon as that bound passes ``cap``; memory is bounded by the cap.
    """
    r = rows.size
    if r <= 1 or cols.size <= 1:
        return 1
    # state columns: remaining row margins (r) then what the current column still needs
    states = np.append(rows, cols[0])[None, :].astype(np.int64)
    mult = np.ones(1, dtype=np.int64)
    for j in range(cols.size - 1):
        states[:, r] = cols[j]
        for i in range(r - 1):  # the last row of the column is forced
            lo, hi = _cell_ranges(states[:, :r], states[:, r], i)
            width = hi - lo + 1
            if float(np.dot(mult.astype(np.float64), width)) > cap:
                return None
            parent, values = _expand(width, lo)
            states = states[parent]
            states[:, i] -= values
            states[:, r] -= values
            states, inverse = np.unique(states, axis=0, return_inverse=True)
            merged = np.zeros(states.shape[0], dtype=np.int64)
            np.add.at(merged, inverse.ravel(), mult[parent])
            mult = merged
        states[:, r - 1] -= states[:, r]
    return int(mult.sum())


def count_tables(
    row_margins: Sequence[int], col_margins: Sequence[int], *, cap: int = 2**62
) -> int:
    """Number of non-negative integer tables with the given row and column margins.

    Exact, by dynamic programming with merged partial states (far cheaper than
    enumeration). Raises ValueError if the margins disagree or the count exceeds ``cap``.
    """
    rows = np.asarray(row_margins, dtype=np.int64)
    cols = np.asarray(col_margins, dtype=np.int64)
    if rows.ndim != 1 or cols.ndim != 1 or np.any(rows < 0) or np.any(cols < 0):
        raise ValueError("margins must be 1-D sequences of non-negative integers")
    if rows.sum() != cols.sum():
        raise ValueError("row and column margins must have the same total")
    count = _count_tables_capped(rows[rows > 0], cols[cols > 0], cap)
    if count is None:
        raise ValueError(f"more than {cap:,} tables have these margins")
    return count


def fisher_exact_rxc(table: IntTable, *, max_tables: int = MAX_TABLES) -> float:
    """Two-sided Fisher-Freeman-Halton exact test P for an r x c table of counts.

    Same definition as R's ``fisher.test(table)$p.value`` (Fisher 1922; Freeman & Halton
    1951): with all margins fixed, the P value is the total hypergeometric probability of
    the tables that are no more probable than the observed one. Rows and columns with a
    zero margin are dropped first; with fewer than two non-empty rows or columns P = 1.

    Ties are decided with R's tolerances: for a 2 x 2 input, probabilities up to
    ``p_obs * (1 + 1e-7)`` count (R's ``relErr``); for any other shape R calls FEXACT
    (Mehta & Patel 1983), which counts ``log p <= log p_obs + 3.45254e-7``.

    Unlike FEXACT's network algorithm this enumerates every table (column by column, the
    last column fixed by the remaining row margins), vectorised with numpy and computed in
    log space with ``scipy.special.gammaln``. Raises ValueError for negative, non-integer
    or non-2-D input, and when the table count exceeds ``max_tables``.
    """
    arr = _as_count_table(table)
    is_2x2 = arr.shape == (2, 2)
    arr = _drop_empty(arr)
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        return 1.0
    if arr.shape[0] > arr.shape[1]:
        arr = arr.T  # fewer rows: fewer cells to branch on per column
    rows = arr.sum(axis=1)
    cols = arr.sum(axis=0)
    n = int(rows.sum())

    if _count_tables_capped(rows, cols, max_tables) is None:
        raise ValueError(
            f"exact enumeration would visit more than {max_tables:,} tables "
            f"(margins {rows.tolist()} x {cols.tolist()}); "
            "use a Monte Carlo P value instead, e.g. "
            "scipy.stats.fisher_exact(table, method=scipy.stats.MonteCarloMethod()) "
            "or R's fisher.test(x, simulate.p.value = TRUE)"
        )

    lfact = gammaln(np.arange(n + 1, dtype=np.float64) + 1.0)
    log_const = lfact[rows].sum() + lfact[cols].sum() - lfact[n]
    log_obs = log_const - lfact[arr].sum()
    if is_2x2:
        log_threshold = log_obs + math.log1p(_REL_TOL_2X2)
    else:
        log_threshold = log_obs + _LOG_TOL_RXC

    r, c = arr.shape
    p_value = 0.0
    # Work stack of (column, row, remaining row margins, column need, sum of log x!).
    stack = [(0, 0, rows[None, :].copy(), np.array([cols[0]]), np.zeros(1))]
    while stack:
        j, i, rem, need, acc = stack.pop()
        if j == c - 1:  # last column is determined by the remaining row margins
            logp = log_const - acc - lfact[rem].sum(axis=1)
            p_value += float(np.exp(logp[logp <= log_threshold]).sum())
            continue
        if i == r - 1:  # last row of a column takes what the column still needs
            rem = rem.copy()
            rem[:, i] -= need
            acc = acc + lfact[need]
            stack.append((j + 1, 0, rem, np.full(rem.shape[0], cols[j + 1]), acc))
            continue
        lo, hi = _cell_ranges(rem, need, i)
        parent, values = _expand(hi - lo + 1, lo)
        rem = rem[parent]
        rem[:, i] -= values
        need = need[parent] - values
        acc = acc[parent] + lfact[values]
        for start in range(0, parent.size, _CHUNK):
            sl = slice(start, start + _CHUNK)
            stack.append((j, i + 1, rem[sl], need[sl], acc[sl]))
    return min(1.0, p_value)


def clopper_pearson(k: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (1934) exact binomial confidence interval for ``k`` of ``n``.

    Implemented by calling ``statsmodels.stats.proportion.proportion_confint`` with
    ``method="beta"``, which matches R's ``binom.test(k, n)$conf.int``: the beta quantiles
    at ``(1 - conf_level) / 2`` on each side, with bounds 0 at k = 0 and 1 at k = n.
    Returns ``(nan, nan)`` when ``n == 0``.
    """
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    if int(k) != k or int(n) != n:
        raise ValueError(f"k and n must be integers, got k={k!r}, n={n!r}")
    k, n = int(k), int(n)
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    lower, upper = proportion_confint(k, n, alpha=1.0 - conf_level, method="beta")
    return (float(lower), float(upper))

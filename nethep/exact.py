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

# Batches of partial tables whose expansion would exceed this many rows are halved first,
# so memory stays bounded whatever the number of tables.
_CHUNK = 1 << 16
# Table counts are accumulated in float64, exact up to 2**53.
_MAX_CAP = 2**53

IntTable = Sequence[Sequence[int]] | np.ndarray


def _as_count_table(table: IntTable) -> np.ndarray:
    """Validate ``table`` as a 2-D array of non-negative integer counts (int64)."""
    try:
        arr = np.asarray(table)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"table must be a rectangular 2-D array of counts: {exc}") from exc
    if arr.ndim != 2:
        raise ValueError(f"table must be 2-dimensional, got {arr.ndim} dimension(s)")
    if arr.dtype == object:  # e.g. DataFrame.to_numpy() on pandas nullable integer columns
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"table entries must be integer counts: {exc}") from exc
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"table entries must be integer counts, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("table entries must be finite integer counts (found NaN or inf)")
        if np.any(arr != np.round(arr)):
            bad = arr[arr != np.round(arr)].ravel()[0].item()
            raise ValueError(f"table entries must be integer counts, found non-integer {bad!r}")
    if np.any(arr < 0):
        bad = arr[arr < 0].ravel()[0].item()
        raise ValueError(f"table entries must be non-negative counts, found {bad!r}")
    if np.any(arr > np.iinfo(np.int32).max):
        raise ValueError("table entries are too large for exact enumeration")
    return arr.astype(np.int64)


def _drop_empty(arr: np.ndarray) -> np.ndarray:
    """Drop rows and columns whose margin is zero (they carry no information)."""
    return arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0]


def _cell_ranges(rem: np.ndarray, need: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
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
    margins are merged (with a multiplicity; the current column's need follows from them),
    so the work grows with the number of distinct states, not of tables. Every partial
    table extends to at least one full table, so the running number of partial tables is a
    lower bound on the answer and counting stops as soon as that bound passes ``cap``.
    """
    r = rows.size
    if r <= 1 or cols.size <= 1:
        return 1
    if cap > _MAX_CAP:
        raise ValueError(f"cap must be at most 2**53, got {cap}")
    radix = np.cumprod(np.append(1, rows[:-1] + 1))
    packable = math.prod(int(m) + 1 for m in rows) < 2**62
    rem = rows[None, :].astype(np.int64)
    mult = np.ones(1)
    left_after = int(rows.sum())  # total of the columns after the current one
    for j in range(cols.size - 1):
        left_after -= int(cols[j])
        for i in range(r - 1):  # the last row of each column is forced
            need = rem.sum(axis=1) - left_after
            lo, hi = _cell_ranges(rem, need, i)
            width = hi - lo + 1
            if float(np.dot(mult.astype(np.float64), width)) > cap:
                return None
            parent, values = _expand(width, lo)
            rem = rem[parent]
            rem[:, i] -= values
            if packable:
                _, first, inverse = np.unique(rem @ radix, return_index=True, return_inverse=True)
                rem = rem[first]
            else:
                rem, inverse = np.unique(rem, axis=0, return_inverse=True)
            # float64 sums are exact here: every multiplicity is <= cap <= 2**53
            mult = np.bincount(inverse.ravel(), weights=mult[parent], minlength=rem.shape[0])
        rem[:, r - 1] -= rem.sum(axis=1) - left_after
    return int(round(float(mult.sum())))


def count_tables(
    row_margins: Sequence[int], col_margins: Sequence[int], *, cap: int = 2**53
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
    if not 1 <= max_tables <= _MAX_CAP:
        raise ValueError(f"max_tables must be between 1 and 2**53, got {max_tables}")
    arr = _as_count_table(table)
    is_2x2 = arr.shape == (2, 2)
    arr = _drop_empty(arr)
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        return 1.0
    if arr.shape[0] > arr.shape[1]:
        arr = arr.T  # fewer rows: fewer cells to branch on per column
    r, c = arr.shape
    rows = arr.sum(axis=1)
    cols = arr.sum(axis=0)
    n = int(rows.sum())

    # A cheap upper bound (column compositions ignoring the row limits) first; the exact
    # count only when that bound is above the cap.
    bound = math.prod(math.comb(int(cj) + r - 1, r - 1) for cj in cols[:-1])
    if bound > max_tables and _count_tables_capped(rows, cols, max_tables) is None:
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

    p_value = 0.0
    # Depth-first work stack of batches of partial tables, each batch waiting for cell
    # (i, j): remaining row margins, what column j still needs, and the sum of log x! so far.
    stack = [(0, 0, rows[None, :].copy(), cols[:1].copy(), np.zeros(1))]
    while stack:
        j, i, rem, need, acc = stack.pop()
        if j == c - 1:  # the last column is fixed by the remaining row margins
            logp = log_const - acc - lfact[rem].sum(axis=1)
            p_value += float(np.exp(logp[logp <= log_threshold]).sum())
            continue
        if i == r - 1:  # the last row of a column takes what the column still needs
            rem = rem.copy()
            rem[:, i] -= need
            stack.append((j + 1, 0, rem, np.full(rem.shape[0], cols[j + 1]), acc + lfact[need]))
            continue
        lo, hi = _cell_ranges(rem, need, i)
        width = hi - lo + 1
        if rem.shape[0] > 1 and int(width.sum()) > _CHUNK:  # bound memory: split the batch
            half = rem.shape[0] // 2
            for part in (slice(half, None), slice(None, half)):
                stack.append((j, i, rem[part], need[part], acc[part]))
            continue
        parent, values = _expand(width, lo)
        rem = rem[parent]
        rem[:, i] -= values
        stack.append((j, i + 1, rem, need[parent] - values, acc[parent] + lfact[values]))
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

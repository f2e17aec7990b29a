"""Two quantiles of a customer's values without sorting them, for the value scorer's
intervals (:mod:`lifevalue.value.scoring_kernel`) and the models' per-customer intervals
(:func:`lifevalue.models.scoring.reduce_draws`): equal to ``numpy.quantile`` with linear
interpolation (Hyndman & Fan 1996, definition 7), by selection (Hoare's quickselect)
among the few candidates beyond a sampled threshold.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["column_quantiles", "row_quantiles", "two_quantiles"]


@numba.njit(nogil=True, cache=True)
def two_quantiles(values, n_values, n_floor, floor, lo_q, hi_q):
    """``np.quantile(v, [lo_q, hi_q])`` (linear interpolation) of ``v``: ``n_floor``
    copies of ``floor`` followed by ``values[:n_values]``, all of which are ``>=
    floor``. ``values`` is left as it was.

    Each quantile needs two neighbouring order statistics. Rather than sorting, a
    sample of 32 values sets a threshold a little beyond them; one branch-free pass keeps
    the values beyond it, and the order statistics are selected among those few. When
    the threshold turns out too tight (the kept values do not reach the rank), the
    whole array is selected instead, so the result is exact either way.

    Examples
    --------
    >>> v = np.array([3.0, -1.0, 7.0, 2.0, 2.0, 9.0, 0.5])
    >>> two_quantiles(v, 7, 0, 0.0, 0.05, 0.95) == tuple(np.quantile(v, [0.05, 0.95]))
    True
    >>> w = np.array([4.0, 1.0])
    >>> full = np.array([0.0, 0.0, 0.0, 4.0, 1.0])
    >>> two_quantiles(w, 2, 3, 0.0, 0.1, 0.9) == tuple(np.quantile(full, [0.1, 0.9]))
    True
    """
    n = n_values + n_floor
    scratch = np.empty(max(n_values, 1))
    sample = np.empty(_SAMPLE)
    if n_values >= 4 * _SAMPLE:
        step = n_values // _SAMPLE
        for j in range(_SAMPLE):
            sample[j] = values[j * step]
    out = np.empty(2)
    for side in range(2):
        pos = (lo_q if side == 0 else hi_q) * (n - 1)
        k = int(math.floor(pos))
        k1 = min(k + 1, n - 1)
        if k1 < n_floor:
            first, second = floor, floor
        elif k < n_floor:  # k + 1 is the least value
            first, second = floor, _least(values, n_values)
        else:
            first, second = _order_pair(values, n_values, k - n_floor, k1 - n_floor, sample,
                                        scratch)
        out[side] = _lerp(first, second, pos - k)
    return out[0], out[1]


def column_quantiles(values: np.ndarray, lo_q: float, hi_q: float, discrete: bool = False):
    """``np.quantile(values, [lo_q, hi_q], axis=0)`` of a ``(S, k)`` array, as two ``(k,)``
    arrays: linear interpolation, or with ``discrete`` NumPy's ``"inverted_cdf"`` (an
    observed value). The same numbers, by selection instead of NumPy's partition along
    a strided axis (about four times faster on 1000 draws). A column with a NaN gets
    NaN, as NumPy gives.

    Examples
    --------
    >>> v = np.random.default_rng(0).normal(size=(1000, 3))
    >>> lo, hi = column_quantiles(v, 0.05, 0.95)
    >>> bool(np.array_equal(np.stack([lo, hi]), np.quantile(v, [0.05, 0.95], axis=0)))
    True
    """
    return row_quantiles(np.ascontiguousarray(np.asarray(values, dtype="float64").T), lo_q,
                         hi_q, discrete)


def row_quantiles(rows: np.ndarray, lo_q: float, hi_q: float, discrete: bool = False):
    """:func:`column_quantiles` of ``rows.T``: the quantiles of each row of a C-ordered
    ``(k, S)`` float64 array (left as it was)."""
    lo, hi = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    n = rows.shape[1]
    if n == 0:
        raise ValueError("quantiles of no draws")
    if discrete:  # NumPy's inverted_cdf: index n q - 1, rounded up unless whole
        ks = []
        for q in (lo_q, hi_q):
            index = n * np.float64(q) - 1.0
            k = np.floor(index)
            ks.append(int(np.clip(k if index == k else k + 1.0, 0, n - 1)))
        _row_order_statistics(rows, ks[0], ks[1], lo, hi)
    else:
        _row_quantiles(rows, float(lo_q), float(hi_q), lo, hi)
    return lo, hi


@numba.njit(nogil=True, cache=True)
def _row_order_statistics(rows, k_lo, k_hi, lo, hi):
    """Order statistics ``k_lo`` and ``k_hi`` (0-based) of each row (NaN for a row with
    a NaN)."""
    n = rows.shape[1]
    scratch = np.empty(n)
    sample = np.empty(_SAMPLE)
    step = max(n // _SAMPLE, 1)
    for i in range(rows.shape[0]):
        row = rows[i]
        if _has_nan(row):
            lo[i], hi[i] = np.nan, np.nan
            continue
        if n >= 4 * _SAMPLE:
            for j in range(_SAMPLE):
                sample[j] = row[j * step]
        lo[i] = _order_pair(row, n, k_lo, k_lo, sample, scratch)[0]
        hi[i] = _order_pair(row, n, k_hi, k_hi, sample, scratch)[0]


@numba.njit(nogil=True, cache=True)
def _row_quantiles(rows, lo_q, hi_q, lo, hi):
    none = np.int64(0)  # not a literal 0: one specialisation of two_quantiles, the scorer's
    for i in range(rows.shape[0]):
        row = rows[i]
        if _has_nan(row):
            lo[i], hi[i] = np.nan, np.nan
        else:
            lo[i], hi[i] = two_quantiles(row, len(row), none, 0.0, lo_q, hi_q)


@numba.njit(nogil=True, cache=True)
def _has_nan(row):
    """Whether a row holds a NaN (one branch-free pass)."""
    nan = False
    for s in range(len(row)):
        nan |= row[s] != row[s]
    return nan


#: Values sampled to set the threshold of the candidates of an order statistic.
_SAMPLE = 32


@numba.njit(nogil=True, cache=True)
def _order_pair(values, n, k, k1, sample, scratch):
    """Order statistics k and k1 = k or k + 1 (0-based) of ``values[:n]``, selected in
    ``scratch`` among the candidates beyond a threshold from ``sample`` (reordered; or
    among all the values when ``n`` is small or the threshold misses)."""
    # np.int64, not literal ints, in calls: numba compiles a specialisation per literal
    zero, size, c = np.int64(0), np.int64(_SAMPLE), np.int64(0)
    if n >= 4 * _SAMPLE:
        top = k > n // 2
        # ranks to cover from the nearer end, and a sample rank about 1.5 times beyond
        reach = n - k if top else k1 + 1
        j = min(_SAMPLE - 1, 2 + (3 * reach * _SAMPLE) // (2 * n))
        if top:
            _select(sample, zero, size, _SAMPLE - 1 - j)
            cut = sample[_SAMPLE - 1 - j]
            for i in range(n):  # branch-free: write always, advance when kept
                v = values[i]
                scratch[c] = v
                c += v >= cut
            if c >= reach:
                base = n - c
                return _select_pair(scratch, c, k - base, k1 - base)
        else:
            _select(sample, zero, size, j)
            cut = sample[j]
            for i in range(n):
                v = values[i]
                scratch[c] = v
                c += v <= cut
            if c >= reach:
                return _select_pair(scratch, c, k, k1)
    for i in range(n):  # a loop: a slice copy's error path costs seconds to compile
        scratch[i] = values[i]
    return _select_pair(scratch, n, k, k1)


@numba.njit(nogil=True, cache=True)
def _select_pair(values, n, k, k1):
    """Order statistics k and k1 = k or k + 1 of ``values[:n]`` (reordered)."""
    _select(values, np.int64(0), n, k)
    if k1 == k:
        return values[k], values[k]
    best = values[k + 1]
    for i in range(k + 2, n):
        if values[i] < best:
            best = values[i]
    return values[k], best


@numba.njit(nogil=True, cache=True)
def _select(values, lo, hi, k):
    """Reorder ``values[lo:hi]`` so that ``values[k]`` is its (k - lo)-th smallest, the
    smaller before it and the larger after it.

    Quickselect with a median-of-three pivot and a branch-free Lomuto partition (every
    element is swapped, the boundary advances by the comparison): the comparisons of a
    selection are unpredictable, and a mispredicted branch costs more than the swap.
    Values equal to the pivot are gathered after the smaller ones, so ties end it.
    """
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        a, b, c = values[lo], values[mid], values[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        store = lo
        for i in range(lo, hi):
            v = values[i]
            values[i] = values[store]
            values[store] = v
            store += v < pivot
        if k < store:
            hi = store
            continue
        equal = store
        for i in range(store, hi):
            v = values[i]
            values[i] = values[equal]
            values[equal] = v
            equal += v == pivot
        if k < equal:
            return
        lo = equal


@numba.njit(nogil=True, cache=True, inline="always")
def _least(values, n):
    """The least of ``values[:n]`` (n >= 1)."""
    best = values[0]
    for i in range(1, n):
        best = min(best, values[i])
    return best


@numba.njit(nogil=True, cache=True, inline="always")
def _lerp(lo, hi, t):
    """NumPy's ``_lerp``: from the nearer end, so that t = 0 and t = 1 are exact."""
    diff = hi - lo
    if t >= 0.5:
        return hi - diff * (1.0 - t)
    return lo + diff * t

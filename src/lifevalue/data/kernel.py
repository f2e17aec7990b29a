"""Per-customer aggregates of a checked transaction log held in NumPy arrays.

The in-memory engine of :func:`lifevalue.data.summary.summarize` (pandas, Polars and
Arrow input) reduces the log with one sort instead of a hash group-by: customer,
holdout flag, occasion and row position are packed into one 64-bit key wherever they fit
(a plain integer sort, which NumPy runs in a vectorised radix/quick sort), and the
purchase occasions and customers are then runs of equal keys. Amounts of one occasion
add up in row order. Where the packed key would not fit in 63 bits the rows are sorted
by a stable ``argsort`` of the key without the row position, which gives the same
order.

The result is the aggregate frame every engine produces (see
:func:`lifevalue.data.aggregates._summary_from_aggregates`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def customer_codes(ids) -> tuple[np.ndarray, object]:
    """Integer codes of the customer ids, in id order, and a function that turns the
    codes that occur back into ids (sorted).

    Integer ids whose range is small are their own codes (less the smallest); other
    ids are factorised with sorting (``pandas.factorize(sort=True)``), so the codes
    follow the ids' own order either way.
    """
    values = ids.to_numpy() if isinstance(ids, pd.Series) else np.asarray(ids)
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < 1 << 40:
            codes = values.astype("int64", copy=False) - low
            return codes, lambda used: (used + low).astype(values.dtype, copy=False)
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype("int64", copy=False), lambda used: uniques.take(used)


def _bits(n: int) -> int:
    return max(1, int(n).bit_length())


def run_starts(values: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts (``values`` not empty)."""
    change = np.empty(len(values), dtype=bool)
    change[0] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    return np.flatnonzero(change)


def sorted_occasions(codes: np.ndarray, occ: np.ndarray, holdout: np.ndarray | None,
                     amount: np.ndarray | None, *, refund: bool = False):
    """The purchase occasions of the log, sorted by (customer, holdout, occasion).

    ``codes`` is overwritten (it becomes the sort key). Returns
    ``(code, holdout, occasion, amount, refund)`` arrays with one entry per
    occasion: the amount is the sum of the occasion's transactions, added in row order;
    ``refund`` (only when asked, else ``None``) whether any of them has a negative amount.
    Each step works in place where it can: at ten million rows every temporary array
    costs as much as the arithmetic.
    """
    n = len(codes)
    occ_low = int(occ.min())
    ob = _bits(int(occ.max()) - occ_low)
    hb = 1 if holdout is not None else 0
    cb = _bits(int(codes.max()))
    rb = _bits(n)
    fits = cb + hb + ob + rb <= 63
    shift = rb if fits else 0
    key = np.left_shift(codes, hb + ob + shift, out=codes)  # codes are ours to overwrite
    part = np.subtract(occ, occ_low, dtype="int64")
    if shift:
        np.left_shift(part, shift, out=part)
    key |= part
    if holdout is not None:
        part[:] = holdout
        np.left_shift(part, ob + shift, out=part)
        key |= part
    if fits:  # the row position in the key: one plain sort, row order within groups
        part.fill(1)  # 0, 1, ..., n - 1 in the same memory
        np.cumsum(part, out=part)
        part -= 1
        key |= part
        key.sort()
        order = np.bitwise_and(key, (1 << rb) - 1, out=part)
        key >>= rb
    else:  # ids or dates too spread out to pack with the row position
        del part
        order = np.argsort(key, kind="stable")
        key = key[order]
    starts = run_starts(key)
    first_keys = key[starts]
    del key
    sums, refunds = np.zeros(len(starts)), None
    if amount is not None:
        ordered = np.take(amount, order)
        sums = np.add.reduceat(ordered, starts)
        if refund:
            refunds = np.logical_or.reduceat(ordered < 0, starts)
    hold = ((first_keys >> ob) & 1).astype(bool) if holdout is not None else np.zeros(
        len(starts), dtype=bool)
    occasions = first_keys & ((1 << ob) - 1)
    occasions += occ_low
    first_keys >>= hb + ob
    return first_keys, hold, occasions, sums, refunds


def aggregate(cust: np.ndarray, hold: np.ndarray, occ_i: np.ndarray, amt: np.ndarray,
              index) -> pd.DataFrame:
    """Per-customer aggregates from occasions sorted by (customer, holdout, occasion):
    ``n_cal``, ``first``, ``last``, ``repeat_sum``, ``n_hold``, ``hold_sum``, indexed by
    ``index(customer codes)``.

    Sums run over each customer's occasions in order, with the occasions left out
    counted as 0.0 (which leaves every partial sum as it is).
    """
    n = len(cust)
    if n == 0:  # every occasion refunded in full
        columns = ["n_cal", "first", "last", "repeat_sum", "n_hold", "hold_sum"]
        return pd.DataFrame({c: np.zeros(0, dtype="float64" if c.endswith("sum") else "int64")
                             for c in columns}, index=index(cust))
    starts = run_starts(cust)
    n_occ = np.diff(np.append(starts, n))
    any_hold = bool(hold.any())
    n_cal = (np.add.reduceat(~hold, starts, dtype="int64") if any_hold else n_occ)
    known = n_cal > 0
    # a customer's calibration occasions come first, so the first row of a customer
    # with any is its first occasion
    first = np.where(known, occ_i[starts], -1)
    last = np.where(known, occ_i[np.maximum(starts + n_cal - 1, 0)], -1)
    repeat = amt.copy()
    if any_hold:
        repeat[hold] = 0.0
    repeat[starts[known]] = 0.0
    if any_hold:
        hold_sum = np.add.reduceat(np.where(hold, amt, 0.0), starts)
    else:
        hold_sum = np.zeros(len(starts))
    return pd.DataFrame(
        {
            "n_cal": n_cal.astype("int64"),
            "first": first.astype("int64"),
            "last": last.astype("int64"),
            "repeat_sum": np.add.reduceat(repeat, starts),
            "n_hold": (n_occ - n_cal).astype("int64"),
            "hold_sum": hold_sum,
        },
        index=index(cust[starts]),
        copy=False,
    )

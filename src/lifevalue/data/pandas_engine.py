"""In-memory engine of :func:`lifevalue.data.summary.summarize`: pandas, Polars and
Arrow logs (and files read into pandas).

The row rules run on the frame (:func:`lifevalue.validation.check_transactions_frame`),
the log is reduced to per-customer aggregates by one sort
(:mod:`lifevalue.data.kernel`), and the final formulas are
:func:`lifevalue.data.aggregates._summary_from_aggregates`, as for the other engines.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.data import kernel
from lifevalue.data.periods import _end_indices, occasion_index

_log = logging.getLogger("lifevalue.data.summary")


def _aggregates_pandas(frame, customer_id, date, amount, date_format, obs_end, cal_end, occasion,
                       on_bad_rows="error", refunds="error"):
    checked = v.check_transactions_frame(frame, customer_id, date, amount, date_format,
                                         observation_end=obs_end, on_bad_rows=on_bad_rows,
                                         refunds=refunds)
    clean, rejected, counts = checked.clean, checked.rejected, checked.counts
    if refunds == "net" and amount is not None:
        clean, extra = _net_refunds(frame, checked, customer_id, date, amount, on_bad_rows)
        if len(extra):
            rejected = pd.concat([rejected, extra]).sort_index()
            counts[extra["reason"].iloc[0]] = len(extra)
    dates = clean[date]
    day = np.asarray(dates.to_numpy(), dtype="datetime64[D]").view("int64")
    if obs_end is None:
        obs_end = _infer_end(frame, clean, day, customer_id, date, amount)
    end_occ, cal_occ, cal_day = _end_indices(obs_end, cal_end, occasion)
    codes, ids_of = kernel.customer_codes(clean[customer_id])
    amounts = clean[amount].to_numpy(dtype="float64") if amount is not None else None
    cust, hold, occ_i, amt, refund = kernel.sorted_occasions(
        codes, occasion_index(day, dates, occasion),
        (day > cal_day) if cal_end is not None else None, amounts,
        refund=refunds == "net" and amount is not None)
    if refund is not None:
        # an occasion that nets to 0 or less was refunded in full: no purchase
        refunded = refund & (amt <= 0)
        if refunded.any():
            _log.warning("%d purchase occasions were refunded in full and are left out",
                         int(refunded.sum()))
            keep = ~refunded
            cust, hold, occ_i, amt = cust[keep], hold[keep], occ_i[keep], amt[keep]
    agg = kernel.aggregate(cust, hold, occ_i, amt,
                           lambda used: pd.Index(ids_of(used), name=customer_id))
    return agg, end_occ, cal_occ, obs_end, rejected, counts


def _infer_end(frame, clean, day, customer_id, date, amount) -> pd.Timestamp:
    """The last date, after the isolated-date check of :func:`v.isolated_after`."""
    rank = v.tail_rank(len(day))
    bulk_end = int(np.partition(day, rank - 1)[rank - 1])
    after = v.isolated_after(int(day.min()), bulk_end, int(day.max()))
    if after is not None:
        bad = day > after
        cols = list(dict.fromkeys([customer_id, date] + ([amount] if amount else [])))
        raise v.isolated_dates_error(date, frame.loc[clean.index[bad], cols], int(bad.sum()),
                                     bulk_end)
    return pd.Timestamp(np.datetime64(int(day.max()), "D"))


def _net_refunds(frame, checked, customer_id, date, amount, on_bad_rows):
    """Move each refund (negative amount) to the date of the customer's latest purchase
    on or before it, so that it nets into that purchase occasion. Returns the rows to
    summarise and the refunds with no earlier purchase (rejected, or raised)."""
    clean = checked.clean
    empty = frame.iloc[:0].assign(reason=pd.Series(dtype=object))
    refund = (clean[amount] < 0).to_numpy()
    if not refund.any():
        return clean, empty
    ids, dates = clean[customer_id].to_numpy(), clean[date].to_numpy()
    r_pos = np.flatnonzero(refund)
    refunds = pd.DataFrame({"cid": ids[r_pos], "on": dates[r_pos], "i": r_pos})
    buys = pd.DataFrame({"cid": ids[~refund], "on": dates[~refund], "buy": dates[~refund]})
    matched = pd.merge_asof(refunds.sort_values("on"), buys.sort_values("on"), on="on",
                            by="cid", direction="backward").sort_values("i")
    orphan = matched["buy"].isna().to_numpy()
    moved_dates = dates.copy()
    moved_dates[matched["i"].to_numpy()[~orphan]] = matched["buy"].to_numpy()[~orphan]
    moved = clean.assign(**{date: moved_dates})
    orphan_i = matched["i"].to_numpy()[orphan]
    if not len(orphan_i):
        return moved, empty
    # positions in the input
    positions = orphan_i if checked.kept is None else checked.kept[orphan_i]
    cols = list(dict.fromkeys([customer_id, date, amount]))
    if on_bad_rows == "error":
        raise v.offending_rows_error(amount, frame.iloc[positions][cols], len(positions),
                                     "a refund before any purchase of the customer")
    extra = frame.iloc[positions].copy()
    extra["reason"] = "refund before any purchase"
    extra.index = pd.Index(positions)
    keep = np.ones(len(clean), dtype=bool)
    keep[orphan_i] = False
    return moved[keep], extra

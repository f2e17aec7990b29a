"""From per-customer aggregates to the RFM summary: the last step every engine shares.

Each engine (pandas, the in-memory kernel, DuckDB, Spark) reduces a transaction log to
the same per-customer aggregates; :func:`_summary_from_aggregates` turns them into the
summary, so the engines cannot drift apart. It sits below :mod:`lifevalue.data.summary`
(the dispatch) and the engines, which all import it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.data.periods import _in_units

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
HOLDOUT_COLUMNS = ["frequency_holdout", "monetary_value_holdout", "duration_holdout"]


def _with_metadata_columns(out: pd.DataFrame) -> pd.DataFrame:
    """Add the constant columns ``time_unit``, ``observation_end`` (and
    ``calibration_end``) that carry ``attrs`` through a CSV file."""
    for name in v.METADATA_COLUMNS:
        if out.attrs.get(name) is not None:
            out[name] = pd.Series(out.attrs[name], index=out.index, dtype="str")
    return out


def _summary_from_aggregates(
    agg: pd.DataFrame,
    has_amount: bool,
    end_occ: int,
    cal_occ: int | None,
    time_unit: str,
    occasion: str,
    obs_end: pd.Timestamp,
    cal_end: pd.Timestamp | None,
) -> pd.DataFrame:
    """Turn per-customer aggregates into the RFM summary.

    Every engine reduces the log to the same aggregates, indexed by customer id and
    sorted: ``n_cal`` calibration occasions, ``first`` and ``last`` calibration
    occasion index, ``repeat_sum`` the amount of calibration occasions after the first,
    ``n_hold`` holdout occasions and ``hold_sum`` their amount. The formulas from there
    on live here only, so the engines cannot drift apart.
    """
    n_cal = agg["n_cal"].to_numpy()
    known = n_cal > 0
    new_ids = list(agg.index[~known])
    if cal_end is not None and not known.any() and len(agg):
        raise v.EmptyInputError(
            f"no customer bought on or before calibration_end {cal_end.date()}: all "
            f"{len(agg)} customers first bought after it, so the calibration summary would "
            "be empty; choose a later calibration_end", column="calibration_end")
    a = agg if known.all() else agg[known]
    n_cal = n_cal[known]
    first = a["first"].to_numpy()
    horizon = end_occ if cal_occ is None else cal_occ
    freq = (n_cal - 1).astype("int64")
    out = pd.DataFrame(
        {
            "frequency": freq,
            "recency": _in_units(a["last"].to_numpy() - first, occasion, time_unit),
            "T": _in_units(horizon - first, occasion, time_unit),
        },
        index=a.index,
        copy=False,
    )
    if has_amount:
        repeat_sum = a["repeat_sum"].to_numpy(dtype="float64")
        out["monetary_value"] = np.where(freq > 0, repeat_sum / np.maximum(freq, 1), 0.0)
    out.attrs.update(
        time_unit=time_unit,
        occasion=occasion,
        observation_end=str(obs_end.date()),
        calibration_end=None,
    )
    if cal_end is None:
        return _with_metadata_columns(out)
    out.columns = [f"{c}_cal" for c in out.columns]
    n_hold = a["n_hold"].to_numpy().astype("int64")
    out["frequency_holdout"] = n_hold
    if has_amount:
        hold_sum = a["hold_sum"].to_numpy(dtype="float64")
        out["monetary_value_holdout"] = np.where(n_hold > 0, hold_sum / np.maximum(n_hold, 1), 0.0)
    out["duration_holdout"] = float(_in_units(end_occ - cal_occ, occasion, time_unit))
    out.attrs.update(calibration_end=str(cal_end.date()), new_in_holdout=new_ids)
    out = _with_metadata_columns(out)
    if new_ids:
        warnings.warn(
            f"{len(new_ids)} customers first bought after calibration_end {cal_end.date()} and "
            "have no calibration history; they are left out of the calibration summary and "
            "listed in summary.attrs['new_in_holdout']",
            UserWarning,
            stacklevel=3,
        )
    return out

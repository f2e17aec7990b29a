"""Purchase occasions and time units: the calendar arithmetic every engine of
:func:`lifevalue.data.summary.summarize` shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue import validation as v


def occasion_index(day: np.ndarray, dates: pd.Series | None, occasion: str) -> np.ndarray:
    """Integer index of each purchase occasion.

    ``'D'``: days since 1970-01-01; ``'W'``: Monday-to-Sunday weeks since the week of
    1970-01-01; ``'M'``: calendar months, ``year * 12 + month - 1``.
    """
    if occasion == "D":
        return day
    if occasion == "W":
        return np.floor_divide(day + 3, 7)
    months = np.asarray(dates.to_numpy(), dtype="datetime64[M]").astype("int64")
    return months + 1970 * 12


def _end_indices(obs_end, cal_end, occasion):
    def index_of(ts):
        day = np.array([v._day_number(ts)])
        return int(occasion_index(day, pd.Series([ts]), occasion)[0]), int(day[0])

    end_occ, _ = index_of(obs_end)
    if cal_end is None:
        return end_occ, None, None
    cal_occ, cal_day = index_of(cal_end)
    return end_occ, cal_occ, cal_day


def _in_units(occ_diff: np.ndarray, occasion: str, time_unit: str) -> np.ndarray:
    """Convert a difference of occasion indices to ``time_unit``.

    Divides when the unit is the longer one, so that days to weeks is ``days / 7``
    exactly as ``lifetimes`` computes it.
    """
    occ_diff = np.asarray(occ_diff, dtype="float64")
    if occasion == time_unit:
        return occ_diff
    ratio = v.DAYS_PER_UNIT[occasion] / v.DAYS_PER_UNIT[time_unit]
    if ratio >= 1:
        return occ_diff * ratio
    return occ_diff / (v.DAYS_PER_UNIT[time_unit] / v.DAYS_PER_UNIT[occasion])

"""Transaction log -> RFM summary (frequency, recency, T, monetary value).

The summary follows Fader, Hardie & Lee (2005) and ``lifetimes``:

* transactions of one customer in the same purchase *occasion* (a calendar day by
  default; a Monday-to-Sunday week or a calendar month on request) count as one
  purchase, and their amounts add up;
* ``frequency`` x is the number of occasions after the first one (repeat purchases);
* ``recency`` t_x is the time from the first to the last occasion, and ``T`` the time
  from the first occasion to ``observation_end``, both in ``time_unit``;
* ``monetary_value`` is the mean amount of the repeat occasions; the first purchase is
  excluded, and it is 0 for a customer with no repeat purchase.

Time units: ``'D'`` days, ``'W'`` weeks of 7 days, ``'M'`` months of 365.25/12 =
30.4375 days. When ``occasion='M'`` and ``time_unit='M'``, months are counted exactly
as calendar-month differences. ``time_unit='W'`` with ``occasion='D'`` is the
CDNOW convention of the papers (``lifetimes``' ``freq='D', freq_multiplier=7``).

Two engines compute it: pandas for frames that fit comfortably in memory, and DuckDB
for large frames and for CSV or Parquet files, which it reads directly. Both give the
same summary (integer columns exactly, floats up to summation order).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from lifevalue import validation as v

#: Frames with at least this many rows go to DuckDB when ``engine='auto'``.
AUTO_DUCKDB_ROWS = 2_000_000

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
HOLDOUT_COLUMNS = ["frequency_holdout", "monetary_value_holdout", "duration_holdout"]


def summarize(
    transactions,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = None,
    observation_end=None,
    calibration_end=None,
    time_unit: str = "W",
    occasion: str = "D",
    date_format: str | None = None,
    engine: str = "auto",
) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame, str or path-like
        The log: a frame, or a path to a ``.csv`` or ``.parquet`` file (or a Parquet
        folder).
    customer_id, date, amount : str
        Column names. ``amount`` is optional; without it there is no monetary value.
    observation_end : date-like, optional
        End of the observation period; defaults to the last transaction date. A
        transaction after it is an error, not silently dropped.
    calibration_end : date-like, optional
        If given, the summary covers the calibration period up to this date
        (columns ``frequency_cal, recency_cal, T_cal, monetary_value_cal``) and adds
        the holdout ``frequency_holdout, monetary_value_holdout, duration_holdout``
        for the period after it up to ``observation_end``.
    time_unit : {'D', 'W', 'M'}
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    occasion : {'D', 'W', 'M'}
        Granularity at which one customer's transactions merge into one purchase.
    date_format : str, optional
        ``strftime`` format of the date column when it is text (e.g. ``'%Y%m%d'``).
    engine : {'auto', 'pandas', 'duckdb', 'spark'}
        ``'auto'`` uses Spark for a Spark DataFrame, DuckDB for files and for frames of
        at least ``AUTO_DUCKDB_ROWS`` rows, pandas otherwise.

    Returns
    -------
    pandas.DataFrame or pyspark.sql.DataFrame
        Indexed by customer id, sorted. A Spark log gives a Spark DataFrame with the
        customer id as a column and the ``attrs`` in column metadata (see
        :mod:`lifevalue.data.spark_engine`). ``attrs`` records ``time_unit``, ``occasion``,
        ``observation_end`` and ``calibration_end``. With ``calibration_end``,
        customers whose first purchase falls in the holdout period have no calibration
        history; they are left out with a ``UserWarning`` that counts them, and their
        ids are in ``attrs['new_in_holdout']``.

    Raises
    ------
    lifevalue.validation.InputError
        For a missing column, an empty log, a missing customer id, an unparsable date,
        a date after ``observation_end``, a non-numeric, NaN or negative amount, an
        unknown time unit, or ``calibration_end`` after ``observation_end``.

    Examples
    --------
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2],
    ...     "date": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08"],
    ...     "amount": [10.0, 5.0, 20.0, 7.0],
    ... })
    >>> summarize(log, amount="amount", observation_end="2024-01-29")
                 frequency  recency    T  monetary_value
    customer_id
    1                    1      2.0  4.0            20.0
    2                    0      0.0  3.0             0.0
    """
    v.check_time_unit(time_unit)
    v.check_time_unit(occasion, "occasion")
    v.check_engine(engine)
    obs_end = None if observation_end is None else v.parse_date_option(
        observation_end, "observation_end", date_format
    )
    cal_end = None if calibration_end is None else v.parse_date_option(
        calibration_end, "calibration_end", date_format
    )
    if obs_end is not None and cal_end is not None:
        v.check_calibration_end(cal_end, obs_end)

    chosen = _choose_engine(transactions, engine)
    if chosen == "spark":
        from lifevalue.data.spark_engine import summarize_spark

        return summarize_spark(transactions, customer_id, date, amount, date_format, obs_end,
                               cal_end, occasion, time_unit)
    if chosen == "duckdb":
        from lifevalue.data.duckdb_engine import summarize_duckdb

        agg, end_occ, cal_occ, obs_end = summarize_duckdb(
            transactions, customer_id, date, amount, date_format, obs_end, cal_end, occasion
        )
    else:
        frame = _read_pandas(transactions, customer_id, date, amount)
        agg, end_occ, cal_occ, obs_end = _aggregates_pandas(
            frame, customer_id, date, amount, date_format, obs_end, cal_end, occasion
        )
    if cal_end is not None:
        v.check_calibration_end(cal_end, obs_end)
    return _summary_from_aggregates(
        agg, amount is not None, end_occ, cal_occ, time_unit, occasion, obs_end, cal_end
    )


def _choose_engine(transactions, engine: str) -> str:
    from lifevalue.data.spark_engine import is_spark_frame

    spark_input = is_spark_frame(transactions)
    if spark_input and engine in ("auto", "spark"):
        return "spark"
    if spark_input or engine == "spark":
        raise v.InvalidOptionError(
            "engine 'spark' summarises a Spark DataFrame, and a Spark DataFrame needs engine "
            f"'spark' or 'auto'; got engine {engine!r} and a {type(transactions).__name__}",
            column="engine")
    if engine != "auto":
        return engine
    if isinstance(transactions, pd.DataFrame):
        return "duckdb" if len(transactions) >= AUTO_DUCKDB_ROWS else "pandas"
    return "duckdb"


def _read_pandas(transactions, customer_id, date, amount) -> pd.DataFrame:
    path = v.check_transactions_source(transactions)
    if path is None:
        return transactions
    if path.suffix.lower() in (".parquet", ".pq") or path.is_dir():
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={date: "string", **({amount: "string"} if amount else {})})


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


def _aggregates_pandas(frame, customer_id, date, amount, date_format, obs_end, cal_end, occasion):
    clean = v.check_transactions_frame(frame, customer_id, date, amount, date_format)
    dates = clean[date]
    day = np.asarray(dates.to_numpy(), dtype="datetime64[D]").astype("int64")
    if obs_end is None:
        obs_end = pd.Timestamp(dates.max()).normalize()
    else:
        v.check_dates_until(frame[list(clean.columns)], date, day, obs_end)
    end_occ, cal_occ, cal_day = _end_indices(obs_end, cal_end, occasion)
    table = pd.DataFrame(
        {
            "cid": clean[customer_id].to_numpy(),
            "holdout": (day > cal_day) if cal_end is not None else np.zeros(len(day), bool),
            "occ": occasion_index(day, dates, occasion),
            "amount": clean[amount].to_numpy() if amount is not None else 0.0,
        }
    )
    occ = table.groupby(["cid", "holdout", "occ"], sort=True)["amount"].sum().reset_index()
    ids = occ["cid"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(ids)]))
    hold = occ["holdout"].to_numpy()
    occ_i = occ["occ"].to_numpy()
    amt = occ["amount"].to_numpy(dtype="float64")
    cal = ~hold
    n_cal = np.bincount(group[cal], minlength=len(starts))
    # rows are sorted by (customer, holdout, occasion): a customer's calibration occasions
    # come first, so the first row of a customer with any is its first occasion
    first = np.where(n_cal > 0, occ_i[starts], -1)
    last = np.where(n_cal > 0, occ_i[np.maximum(starts + n_cal - 1, 0)], -1)
    repeat = cal.copy()
    repeat[starts[n_cal > 0]] = False
    agg = pd.DataFrame(
        {
            "n_cal": n_cal.astype("int64"),
            "first": first.astype("int64"),
            "last": last.astype("int64"),
            "repeat_sum": np.bincount(group[repeat], weights=amt[repeat], minlength=len(starts)),
            "n_hold": np.bincount(group[hold], minlength=len(starts)).astype("int64"),
            "hold_sum": np.bincount(group[hold], weights=amt[hold], minlength=len(starts)),
        },
        index=pd.Index(ids[starts], name=customer_id),
    )
    return agg, end_occ, cal_occ, obs_end


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
    a = agg[known]
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
        return out
    out.columns = [f"{c}_cal" for c in out.columns]
    n_hold = a["n_hold"].to_numpy().astype("int64")
    out["frequency_holdout"] = n_hold
    if has_amount:
        hold_sum = a["hold_sum"].to_numpy(dtype="float64")
        out["monetary_value_holdout"] = np.where(n_hold > 0, hold_sum / np.maximum(n_hold, 1), 0.0)
    out["duration_holdout"] = float(_in_units(end_occ - cal_occ, occasion, time_unit))
    out.attrs.update(calibration_end=str(cal_end.date()), new_in_holdout=new_ids)
    if new_ids:
        warnings.warn(
            f"{len(new_ids)} customers first bought after calibration_end {cal_end.date()} and "
            "have no calibration history; they are left out of the calibration summary and "
            "listed in summary.attrs['new_in_holdout']",
            UserWarning,
            stacklevel=3,
        )
    return out

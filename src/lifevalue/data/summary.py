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

Three engines compute it: the in-memory engine ``'pandas'``
(:mod:`lifevalue.data.pandas_engine`: checks in pandas, one sort of packed integer keys
in NumPy) for pandas, Polars and Arrow logs; DuckDB (:mod:`lifevalue.data.duckdb_engine`)
for CSV and Parquet files, which it reads directly, and for frames it scans in place;
Spark (:mod:`lifevalue.data.spark_engine`) for Spark DataFrames. All give the same
summary (integer columns exactly, floats up to summation order).
"""

from __future__ import annotations

import logging

import pandas as pd

from lifevalue import validation as v
from lifevalue.data import inputs, readers
from lifevalue.data.aggregates import (  # noqa: F401 - public names
    HOLDOUT_COLUMNS,
    SUMMARY_COLUMNS,
    _summary_from_aggregates,
    _with_metadata_columns,
)
from lifevalue.data.pandas_engine import _aggregates_pandas
from lifevalue.data.periods import occasion_index

__all__ = ["calibration_part", "occasion_index", "summarize"]

_log = logging.getLogger(__name__)

#: Frames with at least this many rows go to DuckDB when ``engine='auto'``, unless their
#: customer ids are integers and their dates are dates or timestamps: the in-memory
#: engine sorts those faster than DuckDB groups them, at any size.
AUTO_DUCKDB_ROWS = 2_000_000



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
    on_bad_rows: str = "error",
    refunds: str = "error",
) -> pd.DataFrame:
    """Summarise a transaction log into one row per customer.

    Parameters
    ----------
    transactions : DataFrame, LazyFrame, pyarrow.Table, str or path-like
        The log: a pandas or Polars DataFrame, a Polars LazyFrame (collected), a pyarrow
        Table, a Spark DataFrame (classic or Connect), or a path to a ``.csv`` or
        ``.parquet`` file (or a Parquet folder). Every kind gives the same summary.
    customer_id, date, amount : str
        Column names. ``amount`` is optional; without it there is no monetary value.
    observation_end : date-like, optional
        End of the observation period: the date the summary describes customers "as
        of". A transaction after it is a bad row (see ``on_bad_rows``), never silently
        dropped. Not given, it is inferred from the last transaction date, and said so
        (a ``logging`` warning; ``attrs['observation_end_inferred']``), after two
        checks that refuse the inference with :class:`InvalidValueError` on ``date``:
        no date may lie after today, and the last date may not be isolated far after
        the rest of the log (more than max(28 days, 10% of the log's span) after the
        date that 99.9% of the rows reach; never for fewer than 1,000 rows).
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
        at least ``AUTO_DUCKDB_ROWS`` rows whose ids are not integers or whose dates are
        text, the in-memory engine ``'pandas'`` otherwise (also when ``refunds='net'``,
        which only it does). ``'pandas'`` takes pandas, Polars and Arrow logs (converted
        to pandas) and files; ``'duckdb'`` scans pandas and Arrow (and Polars through
        Arrow) in place and reads files itself.
    on_bad_rows : {'error', 'reject'}
        ``'error'`` (default) raises :class:`InvalidValueError` for the first row rule
        that refuses a row: missing customer id, unparsable date, non-numeric, NaN or
        negative amount, a date after ``observation_end`` (or after today when it is
        inferred). ``'reject'`` removes every such row, logs how many each rule
        refused, and summarises the rest: ``attrs['rejected_rows']`` holds the refused
        input rows (all their columns and a ``reason``, indexed by row position from 0)
        and ``attrs['row_rules']`` the count per reason. Not with engine ``'spark'``.
    refunds : {'error', 'reject', 'net'}
        Rows with a negative amount. ``'error'`` (default): a bad row like any other.
        ``'reject'``: always set aside (reason ``'refund (negative amount)'``), even with
        ``on_bad_rows='error'``. ``'net'``: added to the customer's latest purchase
        occasion on or before the refund's date; an occasion whose amount nets to 0 or
        less was refunded in full and is no purchase. A refund with no earlier purchase
        is a bad row (``'refund before any purchase'``).

    Returns
    -------
    pandas.DataFrame or pyspark.sql.DataFrame
        Indexed by customer id, sorted. A Spark log gives a Spark DataFrame with the
        customer id as a column and the ``attrs`` in column metadata (see
        :mod:`lifevalue.data.spark_engine`). ``attrs`` records ``time_unit``, ``occasion``,
        ``observation_end``, ``observation_end_inferred`` and ``calibration_end``; the
        constant columns ``time_unit`` and ``observation_end`` (and ``calibration_end``
        for a split) carry the unit and dates through a CSV file, where ``attrs`` are
        lost. With ``calibration_end`` the RFM columns end in ``_cal`` and describe
        customers as of the calibration end; models and values refuse such a split
        until :func:`calibration_part` makes the choice explicit. Customers whose first
        purchase falls in the holdout period have no calibration history; they are left
        out with a ``UserWarning`` that counts them, and their ids are in
        ``attrs['new_in_holdout']``.

    Raises
    ------
    lifevalue.validation.InputError
        For a missing column, an empty log or file, an unreadable line, a missing
        customer id, an unparsable date, a date after ``observation_end``, a
        non-numeric, NaN or negative amount, an unknown time unit, ``calibration_end``
        after ``observation_end`` or before every first purchase, and (when
        ``observation_end`` is inferred) a date after today or isolated after the rest.

    Examples
    --------
    >>> log = pd.DataFrame({
    ...     "customer_id": [1, 1, 1, 2],
    ...     "date": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08"],
    ...     "amount": [10.0, 5.0, 20.0, 7.0],
    ... })
    >>> summarize(log, amount="amount", observation_end="2024-01-29")
                 frequency  recency    T  monetary_value time_unit observation_end
    customer_id
    1                    1      2.0  4.0            20.0         W      2024-01-29
    2                    0      0.0  3.0             0.0         W      2024-01-29
    """
    v.check_time_unit(time_unit)
    v.check_time_unit(occasion, "occasion")
    v.check_engine(engine)
    v.check_choice(on_bad_rows, "on_bad_rows", v.ON_BAD_ROWS)
    v.check_choice(refunds, "refunds", v.REFUNDS)
    obs_end = None if observation_end is None else v.parse_date_option(
        observation_end, "observation_end", date_format
    )
    cal_end = None if calibration_end is None else v.parse_date_option(
        calibration_end, "calibration_end", date_format
    )
    if obs_end is not None and cal_end is not None:
        v.check_calibration_end(cal_end, obs_end)
    inferred = obs_end is None

    chosen = _choose_engine(transactions, engine, refunds, customer_id, date)
    if chosen == "spark":
        if on_bad_rows != "error" or refunds != "error":
            raise v.InvalidOptionError(
                "on_bad_rows='reject' and refunds='reject'/'net' are not available with "
                "engine 'spark' yet: filter the Spark DataFrame first, or summarise with "
                "engine 'duckdb' or 'pandas'", column="on_bad_rows")
        from lifevalue.data.spark_engine import summarize_spark

        return summarize_spark(transactions, customer_id, date, amount, date_format, obs_end,
                               cal_end, occasion, time_unit)
    if chosen == "duckdb":
        from lifevalue.data.duckdb_engine import summarize_duckdb

        agg, end_occ, cal_occ, obs_end, rejected, counts = summarize_duckdb(
            transactions, customer_id, date, amount, date_format, obs_end, cal_end, occasion,
            on_bad_rows, refunds)
    else:
        frame = _read_pandas(transactions, customer_id, date, amount)
        agg, end_occ, cal_occ, obs_end, rejected, counts = _aggregates_pandas(
            frame, customer_id, date, amount, date_format, obs_end, cal_end, occasion,
            on_bad_rows, refunds)
    if inferred:
        _log.warning("observation_end not given: inferred as %s, the last transaction date; "
                     "pass observation_end= to state it", obs_end.date())
    if counts:
        _log.warning("%d rows rejected (%s); they are in summary.attrs['rejected_rows']",
                     sum(counts.values()), v._count_words(counts))
    if cal_end is not None:
        v.check_calibration_end(cal_end, obs_end)
    out = _summary_from_aggregates(
        agg, amount is not None, end_occ, cal_occ, time_unit, occasion, obs_end, cal_end
    )
    out.attrs["observation_end_inferred"] = inferred
    if on_bad_rows == "reject" or refunds != "error":
        out.attrs["rejected_rows"] = (rejected if rejected is not None
                                      else _no_rejects(transactions, frame if chosen == "pandas"
                                                       else None))
        out.attrs["row_rules"] = dict(counts)
    return out


def _no_rejects(transactions, frame) -> pd.DataFrame:
    """An empty rejected-rows frame with the input's columns and ``reason``."""
    cols = list(frame.columns) if frame is not None else (
        inputs.columns_of(transactions) if v.frame_kind(transactions) else [])
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out["reason"] = pd.Series(dtype=object)
    return out


def calibration_part(summary: pd.DataFrame) -> pd.DataFrame:
    """The calibration part of a calibration/holdout summary, as a plain summary.

    The ``*_cal`` columns are renamed to ``frequency``, ``recency``, ``T`` and
    ``monetary_value``: customers as of the calibration end, ready to fit a model or
    value them at that date. The holdout columns and the metadata columns stay (the
    ``calibration_end`` column and ``attrs['calibration_end']`` say "as of" when). Models
    and values refuse the split itself, so that nobody values customers as of the
    calibration end without choosing to.

    Parameters
    ----------
    summary : pandas.DataFrame
        Made by :func:`summarize` with ``calibration_end`` (or its calibration part).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> log = pd.DataFrame({"customer_id": [1, 1, 1], "date": ["2024-01-01", "2024-01-08",
    ...                     "2024-01-22"], "amount": [5.0, 7.0, 9.0]})
    >>> split = summarize(log, amount="amount", calibration_end="2024-01-15",
    ...                   observation_end="2024-01-29")
    >>> calibration_part(split).iloc[:, :5]
                 frequency  recency    T  monetary_value  frequency_holdout
    customer_id
    1                    1      1.0  2.0             7.0                  1
    """
    if not isinstance(summary, pd.DataFrame):
        raise v.InputError(f"the summary must be a pandas DataFrame, not "
                           f"{type(summary).__name__}")
    if not v.is_split_summary(summary):
        if "frequency" in summary.columns and v.summary_metadata(summary).get(
                "calibration_end"):
            return summary.copy()  # already the calibration part
        raise v.InvalidOptionError(
            "the summary has no calibration columns ('frequency_cal', ...): it is not a "
            "calibration/holdout split; make one with summarize(..., calibration_end=...)",
            column="calibration_end")
    out = summary.rename(columns={f"{c}_cal": c for c in SUMMARY_COLUMNS})
    out.attrs = dict(summary.attrs)
    return out


def _choose_engine(transactions, engine: str, refunds: str = "error",
                   customer_id: str = "customer_id", date: str = "date") -> str:
    from lifevalue.data.spark_engine import is_spark_frame

    spark_input = is_spark_frame(transactions)
    if spark_input and engine in ("auto", "spark"):
        return "spark"
    if spark_input or engine == "spark":
        raise v.InvalidOptionError(
            "engine 'spark' summarises a Spark DataFrame, and a Spark DataFrame needs engine "
            f"'spark' or 'auto'; got engine {engine!r} and a {type(transactions).__name__}",
            column="engine")
    if refunds == "net" and engine == "duckdb":
        raise v.InvalidOptionError("refunds 'net' needs engine 'pandas' (or 'auto')",
                                   column="refunds")
    if engine != "auto":
        return engine
    if refunds == "net":
        return "pandas"
    if v.frame_kind(transactions) is not None:
        if inputs.has_typed_columns(transactions, customer_id, date):
            return "pandas"
        rows = inputs.row_count(transactions)
        return "duckdb" if rows is None or rows >= AUTO_DUCKDB_ROWS else "pandas"
    return "duckdb"


def _read_pandas(transactions, customer_id, date, amount) -> pd.DataFrame:
    path = v.check_transactions_source(transactions)
    if path is None:
        return inputs.to_pandas(transactions)
    required = [customer_id, date] + ([amount] if amount is not None else [])
    return readers.read_pandas(path, date, amount, required)

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

import logging
import warnings

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.data import readers

_log = logging.getLogger(__name__)

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
    on_bad_rows: str = "error",
    refunds: str = "error",
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
        at least ``AUTO_DUCKDB_ROWS`` rows, pandas otherwise (pandas also when
        ``refunds='net'``, which only pandas does).
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

    chosen = _choose_engine(transactions, engine, refunds)
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
        list(transactions.columns) if isinstance(transactions, pd.DataFrame) else [])
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


def _choose_engine(transactions, engine: str, refunds: str = "error") -> str:
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
    if isinstance(transactions, pd.DataFrame):
        return "duckdb" if len(transactions) >= AUTO_DUCKDB_ROWS else "pandas"
    return "duckdb"


def _read_pandas(transactions, customer_id, date, amount) -> pd.DataFrame:
    path = v.check_transactions_source(transactions)
    if path is None:
        return transactions
    required = [customer_id, date] + ([amount] if amount is not None else [])
    return readers.read_pandas(path, date, amount, required)


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
    day = np.asarray(dates.to_numpy(), dtype="datetime64[D]").astype("int64")
    if obs_end is None:
        obs_end = _infer_end(frame, clean, day, customer_id, date, amount)
    end_occ, cal_occ, cal_day = _end_indices(obs_end, cal_end, occasion)
    table = pd.DataFrame(
        {
            "cid": clean[customer_id].to_numpy(),
            "holdout": (day > cal_day) if cal_end is not None else np.zeros(len(day), bool),
            "occ": occasion_index(day, dates, occasion),
            "amount": clean[amount].to_numpy() if amount is not None else 0.0,
        }
    )
    if refunds == "net" and amount is not None:
        table["refund"] = table["amount"] < 0
        occ = table.groupby(["cid", "holdout", "occ"], sort=True).agg(
            amount=("amount", "sum"), refund=("refund", "any")).reset_index()
        # an occasion that nets to 0 or less was refunded in full: no purchase
        refunded = (occ["refund"] & (occ["amount"] <= 0)).to_numpy()
        if refunded.any():
            _log.warning("%d purchase occasions were refunded in full and are left out",
                         int(refunded.sum()))
        occ = occ[~refunded].drop(columns="refund").reset_index(drop=True)
    else:
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
    positions = checked.kept[orphan_i]  # positions in the input
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

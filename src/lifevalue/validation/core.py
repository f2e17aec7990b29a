"""Errors, option checks and the pandas row rules of :mod:`lifevalue.validation`."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

MAX_SHOWN = 5

#: Length of each time unit in days. A month is 365.25 / 12 = 30.4375 days; when
#: both the purchase occasion and the time unit are months, month counts are exact.
DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
TIME_UNIT_NAMES = {"D": "days", "W": "weeks", "M": "months"}


class InputError(ValueError):
    """Base class of every input error lifevalue raises.

    Attributes
    ----------
    column : str or None
        The column or option at fault.
    rows : pandas.DataFrame or None
        Up to five offending rows, as shown in the message.
    """

    def __init__(self, message: str, *, column: str | None = None, rows=None):
        super().__init__(message)
        self.column = column
        self.rows = rows


class MissingColumnError(InputError):
    """A required column is absent."""


class EmptyInputError(InputError):
    """The input has no rows."""


class InvalidValueError(InputError):
    """Some rows hold a value the column does not allow."""


class InvalidOptionError(InputError):
    """An option (time unit, dates, value settings) is out of its domain."""


def offending_rows_error(
    column: str, rows: pd.DataFrame, n_bad: int, what: str, cls=InvalidValueError,
    hint: str | None = None,
) -> InputError:
    """Build the standard error for ``n_bad`` rows of ``column`` that hold ``what``.

    Parameters
    ----------
    column : str
        The column at fault.
    rows : pandas.DataFrame
        Offending rows; only the first five are shown.
    n_bad : int
        How many rows offend in total.
    what : str
        A phrase such as ``"a negative amount"``.
    hint : str, optional
        What to do, a last line after the rows.

    Examples
    --------
    >>> df = pd.DataFrame({"amount": [-1.0]}, index=[7])
    >>> str(offending_rows_error("amount", df, 1, "a negative amount")).splitlines()[0]
    "column 'amount': 1 row with a negative amount; offending rows (up to 5):"
    """
    shown = rows.head(MAX_SHOWN)
    plural = "row" if n_bad == 1 else "rows"
    message = (
        f"column {column!r}: {n_bad} {plural} with {what}; offending rows (up to {MAX_SHOWN}):\n"
        f"{shown.to_string()}"
    )
    if hint:
        message += f"\n{hint}"
    return cls(message, column=column, rows=shown)


# --------------------------------------------------------------------------- options


def check_time_unit(time_unit: str, option: str = "time_unit") -> str:
    """Return ``time_unit`` if it is one of 'D', 'W', 'M', else raise.

    >>> check_time_unit("W")
    'W'
    """
    if time_unit not in DAYS_PER_UNIT:
        raise InvalidOptionError(
            f"{option} {time_unit!r} is not one of 'D' (days), 'W' (weeks), 'M' (months)",
            column=option,
        )
    return time_unit


def check_engine(engine: str) -> str:
    if engine not in ("auto", "pandas", "duckdb", "spark"):
        raise InvalidOptionError(
            f"engine {engine!r} is not one of 'auto', 'pandas', 'duckdb', 'spark'",
            column="engine",
        )
    return engine


def parse_date_option(value, option: str, date_format: str | None = None) -> pd.Timestamp:
    """Parse an observation or calibration end date given as str, date or Timestamp."""
    try:
        if isinstance(value, str) and date_format is not None:
            try:
                return pd.Timestamp(pd.to_datetime(value, format=date_format))
            except (ValueError, TypeError):
                pass
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise InvalidOptionError(f"{option} {value!r} is not a date", column=option) from err
    if ts is pd.NaT:
        raise InvalidOptionError(f"{option} {value!r} is not a date", column=option)
    if ts.tzinfo is not None:  # the date as given, in its own time zone (see wall_clock_format)
        ts = ts.tz_localize(None)
    return ts


def check_calibration_end(calibration_end: pd.Timestamp, observation_end: pd.Timestamp) -> None:
    if calibration_end.normalize() > observation_end.normalize():
        raise InvalidOptionError(
            f"calibration_end {calibration_end.date()} is after observation_end "
            f"{observation_end.date()}",
            column="calibration_end",
        )


# ------------------------------------------------------------------ pandas transactions


#: What ``summarize`` takes, for messages.
TRANSACTIONS_INPUTS = ("a pandas DataFrame or a path to a CSV or Parquet file (or a Polars "
                       "DataFrame or LazyFrame, a pyarrow Table, a Spark DataFrame)")


def frame_kind(obj) -> str | None:
    """``'pandas'``, ``'polars'``, ``'polars-lazy'`` or ``'arrow'`` for a log held in
    memory, ``None`` for anything else; Polars is not imported to tell.

    >>> frame_kind(pd.DataFrame()), frame_kind("log.csv")
    ('pandas', None)
    """
    if isinstance(obj, pd.DataFrame):
        return "pandas"
    cls = type(obj)
    module = cls.__module__ or ""
    if module.startswith("polars"):
        return {"DataFrame": "polars", "LazyFrame": "polars-lazy"}.get(cls.__name__)
    if module.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(obj, pa.Table | pa.RecordBatch):
            return "arrow"
    return None


def check_transactions_source(transactions):
    """``None`` for a log held in memory (:func:`frame_kind`), else the path of an
    existing CSV or Parquet input."""
    from pathlib import Path

    if frame_kind(transactions) is not None:
        return None
    if not isinstance(transactions, str | os.PathLike):
        raise InputError(
            f"transactions must be {TRANSACTIONS_INPUTS}, not {type(transactions).__name__}"
        )
    path = Path(transactions)
    if not path.exists():
        raise InputError(f"transactions file {str(path)!r} does not exist")
    return path


def check_columns(columns: Sequence[str], required: Sequence[str], what: str = "transactions"):
    missing = [c for c in required if c not in columns]
    if missing:
        raise MissingColumnError(
            f"missing column {missing[0]!r}: the {what} have columns {list(columns)}",
            column=missing[0],
        )


#: ``on_bad_rows`` choices: raise on the first rule a row breaks, or set such rows aside.
ON_BAD_ROWS = ("error", "reject")
#: ``refunds`` choices for rows with a negative amount.
REFUNDS = ("error", "reject", "net")
REFUND_REASON = "refund (negative amount)"


def check_choice(value, option: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise InvalidOptionError.

    >>> check_choice("reject", "on_bad_rows", ON_BAD_ROWS)
    'reject'
    """
    if value not in choices:
        raise InvalidOptionError(
            f"{option} {value!r} is not one of {', '.join(repr(c) for c in choices)}",
            column=option)
    return value


def today() -> pd.Timestamp:
    """Today's date (local clock); the future-date check compares with it."""
    return pd.Timestamp.now().normalize()


class CheckedLog(NamedTuple):
    """A checked log: ``clean`` rows (normalised columns, input index), ``rejected``
    input rows with a ``reason`` column (indexed by input row position) and ``counts``
    {reason: rows}."""

    clean: pd.DataFrame
    rejected: pd.DataFrame
    counts: dict
    kept: np.ndarray | None  # input positions of the clean rows; None: every row


def check_transactions_frame(
    frame: pd.DataFrame,
    customer_id: str,
    date: str,
    amount: str | None,
    date_format: str | None = None,
    *,
    observation_end: pd.Timestamp | None = None,
    on_bad_rows: str = "error",
    refunds: str = "error",
) -> CheckedLog:
    """Validate a transaction log held in pandas, applying the row rules.

    Each row is checked against the rules in this order, and a row that breaks one is
    refused for the first: missing customer id; unparsable or missing date; non-numeric
    amount; NaN or infinite amount; negative amount (a refund, see ``refunds``); a date
    after ``observation_end`` (or, when ``observation_end`` is not given and will be
    inferred, a date after today). With ``on_bad_rows='error'`` the first rule that
    refuses any row raises :class:`InvalidValueError` showing its rows; with
    ``'reject'`` refused rows are set aside with their reason. ``refunds='reject'``
    sets negative amounts aside in either mode, ``'net'`` keeps them (the summary nets
    them into a purchase occasion).

    Returns
    -------
    CheckedLog
        ``clean`` has the kept rows with the same index and the columns
        ``customer_id``, ``date`` (``datetime64``, timezone-naive) and ``amount``
        (``float64``) if given.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"transactions must be {TRANSACTIONS_INPUTS}, not {type(frame).__name__}")
    check_choice(on_bad_rows, "on_bad_rows", ON_BAD_ROWS)
    check_choice(refunds, "refunds", REFUNDS)
    required = [customer_id, date] + ([amount] if amount is not None else [])
    check_columns(list(frame.columns), required)
    if len(frame) == 0:
        raise EmptyInputError("the transactions are empty: no rows to summarise")
    shown = frame[list(dict.fromkeys(required))]

    ids = shown[customer_id]
    dates = _parse_dates(shown[date], date_format)
    # (reason, column, what, mask, always_reject)
    rules = [("missing customer id", customer_id, "a missing customer id",
              ids.isna().to_numpy(), False),
             ("unparsable or missing date", date, "an unparsable or missing date",
              dates.isna().to_numpy(), False)]
    # no consolidation into one block: the columns are used one at a time
    columns = {customer_id: ids, date: dates}
    if amount is not None:
        raw = shown[amount]
        if pd.api.types.is_bool_dtype(raw):
            numeric = pd.Series(np.nan, index=raw.index)
            not_numeric = np.ones(len(raw), dtype=bool)
        elif pd.api.types.is_numeric_dtype(raw):
            numeric = raw.astype("float64")
            not_numeric = np.zeros(len(raw), dtype=bool)
        else:
            numeric = pd.to_numeric(raw, errors="coerce").astype("float64")
            not_numeric = (numeric.isna() & raw.notna()).to_numpy()
        values = numeric.to_numpy()
        with np.errstate(invalid="ignore"):
            negative = values < 0
        rules += [("non-numeric amount", amount, "a non-numeric amount", not_numeric, False),
                  ("missing (NaN) or infinite amount", amount,
                   "a missing (NaN) or infinite amount", ~np.isfinite(values), False)]
        if refunds != "net":
            rules.append((REFUND_REASON if refunds == "reject" else "negative amount", amount,
                          "a negative amount", negative, refunds == "reject"))
        columns[amount] = values
    out = pd.DataFrame(columns, index=frame.index, copy=False)
    day = np.asarray(dates.to_numpy(), dtype="datetime64[D]").view("int64")
    if observation_end is not None:
        end = observation_end
        rules.append((f"date after observation_end {end.date()}", date,
                      f"a date after observation_end {end.date()}",
                      dates.notna().to_numpy() & (day > _day_number(end)), False))
    else:
        now = today()
        rules.append((f"date after today {now.date()}", date, f"a date after today {now.date()}",
                      dates.notna().to_numpy() & (day > _day_number(now)), False))
    return _apply_rules(frame, shown, out, rules, on_bad_rows)


def _apply_rules(frame, shown, clean, rules, on_bad_rows) -> CheckedLog:
    taken = np.zeros(len(frame), dtype=bool)
    reason = None
    counts = {}
    for name, column, what, mask, always in rules:
        if not mask.any():
            continue
        mask = mask & ~taken
        if not mask.any():
            continue
        if on_bad_rows == "error" and not always:
            hint = (INFERRED_END_HINT if name.startswith("date after today") else None)
            raise offending_rows_error(column, shown[mask], int(mask.sum()), what, hint=hint)
        if reason is None:
            reason = np.full(len(frame), None, dtype=object)
        taken |= mask
        reason[mask] = name
        counts[name] = int(mask.sum())
    if reason is None:  # every row passes: nothing to copy
        rejected = frame.iloc[:0].copy()
        rejected["reason"] = np.empty(0, dtype=object)
        rejected.index = pd.RangeIndex(len(frame))[taken]
        return CheckedLog(clean, rejected, counts, None)
    rejected = frame.iloc[np.flatnonzero(taken)].copy()
    rejected["reason"] = reason[taken]
    rejected.index = pd.RangeIndex(len(frame))[taken]
    if taken.all():
        raise EmptyInputError(
            f"every row of the transactions was rejected ({_count_words(counts)}): "
            "no rows to summarise")
    return CheckedLog(clean[~taken], rejected, counts, np.flatnonzero(~taken))


def _count_words(counts: dict) -> str:
    return ", ".join(f"{n} {r}" for r, n in counts.items())


#: What to do when observation_end would be inferred from dates that look wrong.
INFERRED_END_HINT = ("observation_end was not given and would be inferred from the last date: "
                     "pass observation_end= explicitly (rows after it are then refused), or "
                     "fix or remove these rows")

#: The isolated-date rule of an inferred observation_end: the last date is refused when
#: it lies more than max(TAIL_MIN_GAP_DAYS, TAIL_SPAN_FRACTION x the span of the bulk)
#: days after the date that TAIL_QUANTILE of the rows reach. Fewer than 1,000 rows never
#: trigger it (their 99.9% date is the last date itself).
TAIL_QUANTILE = 0.999
TAIL_MIN_GAP_DAYS = 28
TAIL_SPAN_FRACTION = 0.10


def tail_rank(n_rows: int) -> int:
    """1-based rank of the date that :data:`TAIL_QUANTILE` of ``n_rows`` rows reach."""
    return max(1, math.ceil(TAIL_QUANTILE * n_rows))


def isolated_after(first: int, bulk_end: int, last: int) -> float | None:
    """The day number after which dates are isolated from the bulk, or ``None``.

    ``first``, ``bulk_end`` and ``last`` are day numbers of the first date, the
    :data:`TAIL_QUANTILE` date and the last date.

    >>> isolated_after(0, 545, 546) is None, isolated_after(0, 545, 12_300)
    (True, 599.5)
    """
    gap = max(TAIL_MIN_GAP_DAYS, TAIL_SPAN_FRACTION * (bulk_end - first))
    return bulk_end + gap if last - bulk_end > gap else None


def isolated_dates_error(column: str, rows: pd.DataFrame, n_bad: int, bulk_end: int):
    """The error for dates isolated after the bulk of the log (see :func:`isolated_after`)."""
    date = pd.Timestamp(np.datetime64(int(bulk_end), "D")).date()
    what = (f"a date isolated far after the rest of the log ({TAIL_QUANTILE:.1%} of the rows "
            f"are dated {date} or earlier)")
    return offending_rows_error(column, rows, n_bad, what, hint=INFERRED_END_HINT)


#: A UTC offset (``Z``, ``+05``, ``-0500``, ``+05:30``) after a time of day: the calendar
#: day of a purchase is the one written before it (see :func:`wall_clock_format`).
OFFSET_PATTERN = r"^(.*\d:\d\d(?::\d\d(?:[.,]\d+)?)?)\s*(?:Z|[+-]\d\d(?::?\d\d)?)$"


def wall_clock_format(date_format: str | None) -> str | None:
    """``date_format`` without its UTC-offset directive (``%z``, ``%Z``).

    Every engine takes a purchase's calendar day as it was recorded, in the log's own
    local time: a UTC offset written after the time (``2024-03-01T23:30:00-05:00``) is
    ignored rather than converted to UTC (which would move that purchase to March 2),
    and a column of time-zone-aware timestamps is read as wall-clock time in its own
    zone. The offset is removed from the values (:data:`OFFSET_PATTERN`) and its
    directive from the format.

    >>> wall_clock_format("%Y-%m-%d %H:%M:%S %z")
    '%Y-%m-%d %H:%M:%S'
    """
    if date_format is None:
        return None
    return re.sub(r"\s*%[zZ]", "", date_format)


def _strip_offsets(values: pd.Series) -> pd.Series:
    return values.astype("string").str.replace(OFFSET_PATTERN, r"\1", regex=True)


def _parse_dates(raw: pd.Series, date_format: str | None) -> pd.Series:
    """Naive timestamps of ``raw``, in the log's own local time (see
    :func:`wall_clock_format`); NaT where a value cannot be parsed."""
    if pd.api.types.is_datetime64_any_dtype(raw):  # aware: wall-clock time in its zone
        return raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
    values = raw
    if date_format is not None and pd.api.types.is_numeric_dtype(raw):
        # e.g. CDNOW's 19970101 read as an integer
        values = raw.astype("Int64").astype("string")
    fmt = wall_clock_format(date_format)
    if fmt != date_format:
        values = _strip_offsets(values)
    try:
        dates = pd.to_datetime(values, format=fmt, errors="coerce")
    except ValueError:  # offsets that differ (daylight saving time): remove them
        values = _strip_offsets(values)
        dates = pd.to_datetime(values, format=fmt, errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:  # one offset throughout
        dates = dates.dt.tz_localize(None)
    retry = (dates.isna() & values.notna()).to_numpy()
    if fmt is None and retry.any():  # pandas inferred one format: the rest one by one
        dates[retry] = pd.to_datetime(_strip_offsets(values[retry]), format="mixed",
                                      errors="coerce")
    return dates


def _day_number(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.to_datetime64(), "D").astype("int64"))


def is_finite_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def check_random_seed(value, option: str = "random_seed", *, none_ok: bool = False):
    """A seed of lifevalue's random numbers as a whole number >= 0.

    ``value`` is a whole number >= 0 (returned as is), a ``numpy.random.Generator``
    (one number is drawn from it, so a generator passed twice gives two different
    results, as in NumPy) or None: kept as None where ``none_ok`` (the samplers then
    seed themselves), else fresh entropy from the operating system (unrepeatable
    results, like ``numpy.random.default_rng(None)``).

    Examples
    --------
    >>> import numpy as np
    >>> check_random_seed(7)
    7
    >>> gen = np.random.default_rng(1)
    >>> a, b = check_random_seed(gen), check_random_seed(gen)
    >>> a == check_random_seed(np.random.default_rng(1)) and a != b
    True
    """
    if isinstance(value, np.random.Generator):
        return int(value.integers(0, 2**63))
    if value is None:
        return None if none_ok else int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InvalidOptionError(f"{option} must be a whole number >= 0, a "
                                 f"numpy.random.Generator or None, got {value!r}",
                                 column=option)
    return int(value)


def check_probability(value: float, option: str) -> float:
    if not (isinstance(value, int | float | np.floating) and 0 < value < 1):
        raise InvalidOptionError(f"{option} must be a number strictly between 0 and 1, "
                                 f"got {value!r}", column=option)
    return float(value)


class NotFittedError(RuntimeError):
    """A model was used before ``fit`` (or ``load``)."""

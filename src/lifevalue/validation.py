"""Every input check of lifevalue, in one place.

Each check raises a subclass of :class:`InputError` (itself a ``ValueError``) whose
message names the offending column or option and shows up to five offending rows.
Row labels are the input's own index; for a file read from disk they count data
rows from 0, header excluded. Tests match these messages exactly, so change a
message here and in ``tests/test_validation.py`` together.

The checks exist in two dialects: pandas, for frames, and SQL, for the DuckDB
engine that validates a large file without loading it into pandas. Both produce the
same messages through :func:`offending_rows_error`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

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
    column: str, rows: pd.DataFrame, n_bad: int, what: str, cls=InvalidValueError
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
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return ts


def check_calibration_end(calibration_end: pd.Timestamp, observation_end: pd.Timestamp) -> None:
    if calibration_end.normalize() > observation_end.normalize():
        raise InvalidOptionError(
            f"calibration_end {calibration_end.date()} is after observation_end "
            f"{observation_end.date()}",
            column="calibration_end",
        )


# ------------------------------------------------------------------ pandas transactions


def check_transactions_source(transactions):
    """``None`` for a DataFrame, else the path of an existing CSV or Parquet input."""
    from pathlib import Path

    if isinstance(transactions, pd.DataFrame):
        return None
    if not isinstance(transactions, str | os.PathLike):
        raise InputError(
            "transactions must be a pandas DataFrame or a path to a CSV or Parquet file, "
            f"not {type(transactions).__name__}"
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


def check_transactions_frame(
    frame: pd.DataFrame,
    customer_id: str,
    date: str,
    amount: str | None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Validate a transaction log held in pandas and return it normalised.

    Returns a frame with the same index and the columns ``customer_id`` (as given),
    ``date`` (``datetime64``, timezone-naive) and, if ``amount`` is given, ``amount``
    as ``float64``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"transactions must be a pandas DataFrame or a path to a CSV or Parquet file, "
            f"not {type(frame).__name__}"
        )
    required = [customer_id, date] + ([amount] if amount is not None else [])
    check_columns(list(frame.columns), required)
    if len(frame) == 0:
        raise EmptyInputError("the transactions are empty: no rows to summarise")
    cols = list(dict.fromkeys(required))
    frame = frame[cols]

    ids = frame[customer_id]
    bad = ids.isna().to_numpy()
    if bad.any():
        raise offending_rows_error(
            customer_id, frame[bad], int(bad.sum()), "a missing customer id"
        )

    dates = _parse_dates(frame[date], date_format)
    bad = dates.isna().to_numpy()
    if bad.any():
        raise offending_rows_error(
            date, frame[bad], int(bad.sum()), "an unparsable or missing date"
        )

    out = pd.DataFrame({customer_id: ids, date: dates}, index=frame.index)
    if amount is not None:
        raw = frame[amount]
        if pd.api.types.is_bool_dtype(raw):
            numeric = pd.Series(np.nan, index=raw.index)
            not_numeric = np.ones(len(raw), dtype=bool)
        elif pd.api.types.is_numeric_dtype(raw):
            numeric = raw.astype("float64")
            not_numeric = np.zeros(len(raw), dtype=bool)
        else:
            numeric = pd.to_numeric(raw, errors="coerce").astype("float64")
            not_numeric = (numeric.isna() & raw.notna()).to_numpy()
        if not_numeric.any():
            raise offending_rows_error(
                amount, frame[not_numeric], int(not_numeric.sum()), "a non-numeric amount"
            )
        values = numeric.to_numpy()
        bad = ~np.isfinite(values)
        if bad.any():
            raise offending_rows_error(
                amount, frame[bad], int(bad.sum()), "a missing (NaN) or infinite amount"
            )
        bad = values < 0
        if bad.any():
            raise offending_rows_error(amount, frame[bad], int(bad.sum()), "a negative amount")
        out[amount] = values
    return out


def _parse_dates(raw: pd.Series, date_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        dates = raw
    else:
        values = raw
        if date_format is not None and pd.api.types.is_numeric_dtype(raw):
            # e.g. CDNOW's 19970101 read as an integer
            values = raw.astype("Int64").astype("string")
        dates = pd.to_datetime(values, format=date_format, errors="coerce", utc=True)
        retry = (dates.isna() & values.notna()).to_numpy()
        if date_format is None and retry.any():
            # pandas infers one format from the first value; parse the rest one by one
            dates[retry] = pd.to_datetime(values[retry], format="mixed", errors="coerce",
                                          utc=True)
        dates = dates.dt.tz_convert(None)
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(None)
    return dates


def check_dates_until(frame: pd.DataFrame, date: str, day: np.ndarray, end: pd.Timestamp):
    """Raise if any transaction is dated after ``end`` (compared by calendar day)."""
    bad = day > _day_number(end)
    if bad.any():
        raise offending_rows_error(
            date, frame[bad], int(bad.sum()), f"a date after observation_end {end.date()}"
        )


def _day_number(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.to_datetime64(), "D").astype("int64"))


# ---------------------------------------------------------------------- SQL (DuckDB)


def sql_ident(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def sql_date_expr(column: str, column_type: str, date_format: str | None) -> str:
    """SQL that parses ``column`` to a TIMESTAMP, NULL where it cannot."""
    col = sql_ident(column)
    upper = column_type.upper()
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        expr = f"CAST({col} AS TIMESTAMP)"
        if "TIME ZONE" in upper:
            expr = f"CAST(timezone('UTC', {col}) AS TIMESTAMP)"
        return expr
    if date_format is not None:
        fmt = date_format.replace("'", "''")
        return f"try_strptime(CAST({col} AS VARCHAR), '{fmt}')"
    return f"TRY_CAST({col} AS TIMESTAMP)"


def sql_amount_expr(column: str) -> str:
    return f"TRY_CAST({sql_ident(column)} AS DOUBLE)"


def check_transactions_sql(
    con,
    source: str,
    columns: dict[str, str],
    customer_id: str,
    date: str,
    amount: str | None,
    date_format: str | None,
    observation_end: pd.Timestamp | None,
) -> None:
    """Run the transaction checks in DuckDB on ``source`` (a table expression).

    ``columns`` maps each column name of the source to its DuckDB type. The checks and
    messages are those of :func:`check_transactions_frame` and :func:`check_dates_until`;
    offending rows are labelled by their 0-based position in the source.
    """
    required = [customer_id, date] + ([amount] if amount is not None else [])
    check_columns(list(columns), required)
    cid = sql_ident(customer_id)
    date_expr = sql_date_expr(date, columns[date], date_format)
    checks: list[tuple[str, str, str]] = [
        (customer_id, f"{cid} IS NULL", "a missing customer id"),
        (date, f"{date_expr} IS NULL", "an unparsable or missing date"),
    ]
    if amount is not None:
        amt = sql_ident(amount)
        num = sql_amount_expr(amount)
        checks += [
            (amount, f"{amt} IS NOT NULL AND {num} IS NULL", "a non-numeric amount"),
            (amount, f"{num} IS NULL OR isnan({num}) OR isinf({num})",
             "a missing (NaN) or infinite amount"),
            (amount, f"{num} < 0", "a negative amount"),
        ]
    if observation_end is not None:
        checks.append(
            (date, f"CAST({date_expr} AS DATE) > DATE '{observation_end.date()}'",
             f"a date after observation_end {observation_end.date()}")
        )
    counts_sql = ", ".join(f"count(*) FILTER (WHERE {pred})" for _, pred, _ in checks)
    row = con.execute(f"SELECT count(*), {counts_sql} FROM {source}").fetchone()
    if row[0] == 0:
        raise EmptyInputError("the transactions are empty: no rows to summarise")
    for (column, pred, what), n_bad in zip(checks, row[1:], strict=True):
        if n_bad:
            cols = ", ".join(sql_ident(c) for c in dict.fromkeys(required))
            rows = con.execute(
                f"SELECT * FROM (SELECT row_number() OVER () - 1 AS row, {cols}, "
                f"({pred}) AS _bad FROM {source}) WHERE _bad ORDER BY row LIMIT {MAX_SHOWN}"
            ).df()
            rows = rows.drop(columns="_bad").set_index("row")
            rows.index.name = None
            raise offending_rows_error(column, rows, int(n_bad), what)


# ------------------------------------------------------------------- Spark transactions

#: strftime directives and their Java (Spark) datetime patterns.
_JAVA_PATTERNS = {"Y": "yyyy", "y": "yy", "m": "MM", "d": "dd", "H": "HH", "M": "mm",
                  "S": "ss", "f": "SSSSSS", "b": "MMM", "B": "MMMM", "j": "DDD", "%": "%"}


def spark_ident(name: str) -> str:
    """Quote an identifier for Spark SQL."""
    return "`" + name.replace("`", "``") + "`"


def java_date_pattern(date_format: str) -> str:
    """Translate a ``strftime`` format to Spark's datetime pattern.

    >>> java_date_pattern("%Y%m%d"), java_date_pattern("%d/%m/%Y %H:%M")
    ('yyyyMMdd', 'dd/MM/yyyy HH:mm')
    """
    out, literal, i = [], "", 0
    while i < len(date_format):
        ch = date_format[i]
        if ch == "%" and i + 1 < len(date_format):
            code = date_format[i + 1]
            if code not in _JAVA_PATTERNS:
                raise InvalidOptionError(
                    f"date_format {date_format!r}: directive %{code} is not supported with "
                    f"Spark; use {', '.join('%' + k for k in _JAVA_PATTERNS)}",
                    column="date_format")
            if literal:
                out.append(literal if literal.isspace() or literal in "-/:.,"
                           else "'" + literal.replace("'", "''") + "'")
                literal = ""
            out.append(_JAVA_PATTERNS[code])
            i += 2
        else:
            literal += ch
            i += 1
    if literal:
        out.append(literal if literal.isspace() or literal in "-/:.,"
                   else "'" + literal.replace("'", "''") + "'")
    return "".join(out)


def check_transactions_spark(
    frame,
    customer_id: str,
    date: str,
    amount: str | None,
    date_format: str | None,
    observation_end: pd.Timestamp | None,
):
    """Run the transaction checks in Spark on a Spark DataFrame.

    The checks and messages are those of :func:`check_transactions_frame` and
    :func:`check_dates_until`, counted in one pass over the data. Returns Spark column
    expressions of the parsed timestamp and of the amount as a double.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    required = [customer_id, date] + ([amount] if amount is not None else [])
    check_columns(list(frame.columns), required)
    fields = {f.name: f.dataType for f in frame.schema.fields}
    col = F.col(customer_id)
    if isinstance(fields[date], T.TimestampType | T.TimestampNTZType | T.DateType):
        ts = F.col(date).cast("timestamp")
    elif date_format is not None:
        ts = F.try_to_timestamp(F.col(date).cast("string"), F.lit(java_date_pattern(date_format)))
    else:
        ts = F.expr(f"try_cast(CAST({spark_ident(date)} AS STRING) AS TIMESTAMP)")
    checks = [(customer_id, col.isNull(), "a missing customer id"),
              (date, ts.isNull(), "an unparsable or missing date")]
    num = None
    if amount is not None:
        raw, kind = F.col(amount), fields[amount]
        if isinstance(kind, T.BooleanType):
            num, not_numeric = F.lit(None).cast("double"), F.lit(True)
        elif isinstance(kind, T.NumericType):
            num, not_numeric = raw.cast("double"), F.lit(False)
        else:
            num = F.expr(f"try_cast({spark_ident(amount)} AS DOUBLE)")
            not_numeric = raw.isNotNull() & num.isNull()
        checks += [
            (amount, not_numeric, "a non-numeric amount"),
            (amount, num.isNull() | F.isnan(num) | (F.abs(num) == float("inf")),
             "a missing (NaN) or infinite amount"),
            (amount, num < 0, "a negative amount"),
        ]
    if observation_end is not None:
        checks.append((date, F.to_date(ts) > F.lit(str(observation_end.date())).cast("date"),
                       f"a date after observation_end {observation_end.date()}"))
    counts = frame.agg(F.count(F.lit(1)),
                       *(F.count(F.when(pred, 1)) for _, pred, _ in checks)).first()
    if counts[0] == 0:
        raise EmptyInputError("the transactions are empty: no rows to summarise")
    for (column, pred, what), n_bad in zip(checks, counts[1:], strict=True):
        if n_bad:
            rows = frame.where(pred).select(*dict.fromkeys(required)).limit(MAX_SHOWN).toPandas()
            raise offending_rows_error(column, rows, int(n_bad), what)
    return ts, num


def is_finite_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# -------------------------------------------------------------------- RFM summaries


def summary_columns(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, str]:
    """Map each RFM name to the frame's column: ``frequency`` or ``frequency_cal``.

    A calibration/holdout summary is used through its calibration columns.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"the summary must be a pandas DataFrame, not {type(frame).__name__}")
    # the naming the frame follows more closely: a summary missing 'recency' is told
    # so, not that it lacks 'frequency_cal'
    plain = sum(n in frame.columns for n in names)
    cal = sum(f"{n}_cal" in frame.columns for n in names)
    suffix = "_cal" if cal > plain else ""
    mapping = {n: n + suffix for n in names}
    check_columns(list(frame.columns), list(mapping.values()), what="summary")
    return mapping


def check_summary(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Validate an RFM summary and return its columns as float arrays by RFM name.

    Checks: the columns exist; the summary is not empty; customer ids (the index) are
    unique; values are numeric, finite and not negative; ``frequency`` is a whole
    number; ``recency`` <= ``T``; ``recency`` is 0 when ``frequency`` is 0; and
    ``monetary_value`` > 0 for repeat customers.
    """
    cols = summary_columns(frame, names)
    if len(frame) == 0:
        raise EmptyInputError("the summary is empty: no customers")
    dup = frame.index.duplicated(keep=False)
    if dup.any():
        raise offending_rows_error(
            frame.index.name or "index", frame[dup][list(cols.values())], int(dup.sum()),
            "a duplicated customer id",
        )
    shown = frame[list(cols.values())]
    out = {}
    for name, col in cols.items():
        raw = frame[col]
        if not pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
            bad = np.isnan(values) & raw.notna().to_numpy()
            if bad.any():
                raise offending_rows_error(col, shown[bad], int(bad.sum()), "a non-numeric value")
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise offending_rows_error(col, shown[bad], int(bad.sum()),
                                       "a missing (NaN) or infinite value")
        bad = values < 0
        if bad.any():
            raise offending_rows_error(col, shown[bad], int(bad.sum()), "a negative value")
        out[name] = values
    if "frequency" in out:
        bad = out["frequency"] != np.round(out["frequency"])
        if bad.any():
            raise offending_rows_error(cols["frequency"], shown[bad], int(bad.sum()),
                                       "a frequency that is not a whole number")
    if "recency" in out and "T" in out:
        bad = out["recency"] > out["T"]
        if bad.any():
            raise offending_rows_error(cols["recency"], shown[bad], int(bad.sum()),
                                       "a recency greater than T")
        bad = (out["frequency"] == 0) & (out["recency"] != 0)
        if bad.any():
            raise offending_rows_error(cols["recency"], shown[bad], int(bad.sum()),
                                       "a non-zero recency but no repeat purchase")
    if "monetary_value" in out:
        bad = (out["frequency"] > 0) & (out["monetary_value"] <= 0)
        if bad.any():
            raise offending_rows_error(cols["monetary_value"], shown[bad], int(bad.sum()),
                                       "a monetary value <= 0 for a repeat customer")
    return out


#: Optional summary column: how many customers each row stands for (sufficient statistics).
COUNT_COLUMN = "n_customers"


def check_counts(frame: pd.DataFrame) -> np.ndarray | None:
    """The :data:`COUNT_COLUMN` of a summary as whole numbers >= 1, or ``None`` when the
    summary has one row per customer (no such column)."""
    if COUNT_COLUMN not in frame.columns:
        return None
    raw = frame[COUNT_COLUMN]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 1) | (values != np.round(values))
    if bad.any():
        raise offending_rows_error(COUNT_COLUMN, frame[bad], int(bad.sum()),
                                   "a count that is not a whole number >= 1")
    return values.astype("int64")


def check_time_unit_matches(summary: pd.DataFrame, model_unit: str | None) -> None:
    """Raise if the summary was made in another time unit than the model was fitted on."""
    unit = getattr(summary, "attrs", {}).get("time_unit")  # not a frame: check_summary says so
    if unit is not None and model_unit is not None and unit != model_unit:
        raise InvalidOptionError(
            f"the summary is in time_unit {unit!r} ({TIME_UNIT_NAMES.get(unit, unit)}) but the "
            f"model was fitted in {model_unit!r} ({TIME_UNIT_NAMES.get(model_unit, model_unit)});"
            " summarise again with the model's time_unit",
            column="time_unit",
        )


def check_probability(value: float, option: str) -> float:
    if not (isinstance(value, int | float | np.floating) and 0 < value < 1):
        raise InvalidOptionError(f"{option} must be a number strictly between 0 and 1, "
                                 f"got {value!r}", column=option)
    return float(value)


class NotFittedError(RuntimeError):
    """A model was used before ``fit`` (or ``load``)."""

"""Transaction checks in the SQL dialects: DuckDB and Spark.

Part of :mod:`lifevalue.validation`, which re-exports every name here: the checks and
messages are those of :func:`lifevalue.validation.check_transactions_frame`, counted in
one pass over the data. ``on_bad_rows='reject'`` is served by :func:`sql_row_reasons`,
which names the first rule each row breaks.
"""

from __future__ import annotations

import pandas as pd

from lifevalue.validation.core import (
    MAX_SHOWN,
    OFFSET_PATTERN,
    EmptyInputError,
    InvalidOptionError,
    check_columns,
    offending_rows_error,
    wall_clock_format,
)

# ---------------------------------------------------------------------- SQL (DuckDB)


def sql_ident(name: str) -> str:
    """Quote an identifier for SQL."""
    return '"' + name.replace('"', '""') + '"'


def sql_date_expr(column: str, column_type: str, date_format: str | None) -> str:
    """SQL that parses ``column`` to a TIMESTAMP, NULL where it cannot: wall-clock time
    as recorded (DuckDB's cast ignores a UTC offset after the time, and one named by
    ``%z`` in the format is removed, as :func:`lifevalue.validation.core.wall_clock_format`
    says). A column of instants without a zone of their own (TIMESTAMP WITH TIME ZONE)
    is taken in UTC; in-memory frames and Parquet files whose schema names a zone are
    read in it before they reach this expression
    (:func:`lifevalue.data.inputs.local_timestamps`,
    ``lifevalue.data.duckdb_engine._local_parquet``)."""
    col = sql_ident(column)
    upper = column_type.upper()
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        expr = f"CAST({col} AS TIMESTAMP)"
        if "TIME ZONE" in upper:
            expr = f"CAST(timezone('UTC', {col}) AS TIMESTAMP)"
        return expr
    if date_format is not None:
        fmt = wall_clock_format(date_format)
        text = f"CAST({col} AS VARCHAR)"
        if fmt != date_format:
            pattern = OFFSET_PATTERN.replace("'", "''")
            text = f"regexp_replace({text}, '{pattern}', '\\1')"
        fmt = fmt.replace("'", "''")
        return f"try_strptime({text}, '{fmt}')"
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
    *,
    on_bad_rows: str = "error",
    refunds: str = "error",
):
    """Run the transaction row rules in DuckDB on ``source`` (a table expression).

    ``columns`` maps each column name of the source to its DuckDB type. Rules, order and
    messages are those of :func:`lifevalue.validation.check_transactions_frame`;
    offending rows are labelled by their 0-based position in the source. Returns
    ``(kept, rejected, counts)``: ``kept`` is a table expression of the rows that pass
    (``source`` itself when none is rejected), ``rejected`` the refused input rows with
    a ``reason`` column, indexed by position, and ``counts`` {reason: rows}.
    """
    from lifevalue.validation import INFERRED_END_HINT, REFUND_REASON, today

    required = [customer_id, date] + ([amount] if amount is not None else [])
    check_columns(list(columns), required)
    cid = sql_ident(customer_id)
    date_expr = sql_date_expr(date, columns[date], date_format)
    # (reason, column, predicate, what, always_reject)
    checks: list[tuple[str, str, str, str, bool]] = [
        ("missing customer id", customer_id, f"{cid} IS NULL", "a missing customer id", False),
        ("unparsable or missing date", date, f"{date_expr} IS NULL",
         "an unparsable or missing date", False),
    ]
    if amount is not None:
        amt = sql_ident(amount)
        num = sql_amount_expr(amount)
        checks += [
            ("non-numeric amount", amount, f"{amt} IS NOT NULL AND {num} IS NULL",
             "a non-numeric amount", False),
            ("missing (NaN) or infinite amount", amount,
             f"{num} IS NULL OR isnan({num}) OR isinf({num})",
             "a missing (NaN) or infinite amount", False),
        ]
        if refunds != "net":
            checks.append((REFUND_REASON if refunds == "reject" else "negative amount", amount,
                           f"{num} < 0", "a negative amount", refunds == "reject"))
    end = observation_end if observation_end is not None else today()
    label = "observation_end" if observation_end is not None else "today"
    checks.append((f"date after {label} {end.date()}", date,
                   f"CAST({date_expr} AS DATE) > DATE '{end.date()}'",
                   f"a date after {label} {end.date()}", False))
    case = "CASE " + " ".join(
        f"WHEN coalesce({pred}, false) THEN '{name.replace(chr(39), chr(39) * 2)}'"
        for name, _, pred, _, _ in checks) + " END"
    per_rule = ", ".join(f"count(*) FILTER (WHERE _r = {i})" for i in range(len(checks)))
    n_rows, *n_by = con.execute(
        f"SELECT count(*), {per_rule} "
        f"FROM (SELECT {_case_index(checks)} AS _r FROM {source})").fetchone()
    if n_rows == 0:
        raise EmptyInputError("the transactions are empty: no rows to summarise")
    cols = ", ".join(sql_ident(c) for c in dict.fromkeys(required))
    counts = {}
    for i, ((name, column, _pred, what, always), n_bad) in enumerate(
            zip(checks, n_by, strict=True)):
        if not n_bad:
            continue
        if on_bad_rows == "error" and not always:
            rows = con.execute(
                f"SELECT * FROM (SELECT row_number() OVER () - 1 AS row, {cols}, "
                f"{_case_index(checks)} AS _r FROM {source}) WHERE _r = {i} "
                f"ORDER BY row LIMIT {MAX_SHOWN}").df()
            rows = rows.drop(columns="_r").set_index("row")
            rows.index.name = None
            hint = INFERRED_END_HINT if label == "today" and name.startswith("date after") \
                else None
            raise offending_rows_error(column, rows, int(n_bad), what, hint=hint)
        counts[name] = int(n_bad)
    if not counts:
        return source, None, counts
    if sum(counts.values()) == n_rows:
        from lifevalue.validation import _count_words

        raise EmptyInputError(f"every row of the transactions was rejected "
                              f"({_count_words(counts)}): no rows to summarise")
    numbered = (f"(SELECT row_number() OVER () - 1 AS _lv_row, *, {case} AS reason "
                f"FROM {source})")
    con.execute(f"CREATE TEMP TABLE _lv_checked AS SELECT * FROM {numbered}")
    rejected = con.execute(
        "SELECT * FROM _lv_checked WHERE reason IS NOT NULL ORDER BY _lv_row").df()
    rejected = rejected.set_index("_lv_row")
    rejected.index.name = None
    kept = "(SELECT * EXCLUDE (_lv_row, reason) FROM _lv_checked WHERE reason IS NULL)"
    return kept, rejected, counts


def _case_index(checks) -> str:
    """SQL: the index of the first check a row breaks, NULL when it passes them all."""
    return "CASE " + " ".join(f"WHEN coalesce({pred}, false) THEN {i}"
                              for i, (_, _, pred, _, _) in enumerate(checks)) + " END"


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
    # text dates: the wall-clock time as written, a UTC offset after it removed (see
    # core.wall_clock_format); Spark timestamps are instants, in the session time zone
    text = F.regexp_replace(F.col(date).cast("string"), OFFSET_PATTERN, "$1")
    if isinstance(fields[date], T.TimestampType | T.TimestampNTZType | T.DateType):
        ts = F.col(date).cast("timestamp")
    elif date_format is not None:
        ts = F.try_to_timestamp(text, F.lit(java_date_pattern(wall_clock_format(date_format))))
    else:
        ts = text.try_cast("timestamp")
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


__all__ = ["check_transactions_spark", "check_transactions_sql", "java_date_pattern",
           "spark_ident", "sql_amount_expr", "sql_date_expr", "sql_ident"]

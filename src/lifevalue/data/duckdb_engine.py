"""DuckDB engine of :func:`lifevalue.data.summary.summarize`.

DuckDB reads a CSV or Parquet file (or scans a pandas frame) and reduces the log to
per-customer aggregates in SQL; only one row per customer reaches pandas. The checks
and their messages come from :mod:`lifevalue.validation`, the final formulas from
:func:`lifevalue.data.aggregates._summary_from_aggregates`, so the engines share both.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.data import inputs, readers


def _local_parquet(source: str, first_file, date: str) -> str:
    """``source`` with a time-zone-aware ``date`` column read as wall-clock time in the
    zone its Parquet schema names (as pandas and Arrow read it; DuckDB alone would take
    UTC), per :func:`lifevalue.validation.core.wall_clock_format`."""
    if first_file is None:
        return source
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(first_file)
    except (OSError, pa.ArrowException):
        return source  # DuckDB says what is wrong with the file
    if date not in schema.names:
        return source
    kind = schema.field(date).type
    if not (pa.types.is_timestamp(kind) and kind.tz):
        return source
    zone = str(kind.tz).replace("'", "''")
    col = v.sql_ident(date)
    return f"(SELECT * REPLACE (timezone('{zone}', {col}) AS {col}) FROM {source})"


def _source(con, transactions, date: str, amount: str | None, required) -> str:
    """Register the input and return a table expression that reads it.

    A CSV file is first read as DuckDB sniffs it, to check its columns: naming a
    column that is absent in ``types`` would fail with DuckDB's own binder error.
    Whatever DuckDB cannot read is explained by :func:`readers.diagnose_csv`.
    """
    path = v.check_transactions_source(transactions)
    if path is None:
        # pandas is scanned as it is, Arrow in place; Polars through its Arrow memory
        arrow = inputs.to_arrow(transactions)
        frame = inputs.local_timestamps(transactions if arrow is None else arrow, date)
        con.register("transactions_frame", frame)
        return "transactions_frame"
    quoted = str(path).replace("'", "''")
    if path.is_dir():
        return _local_parquet(f"read_parquet('{quoted}/**/*.parquet')",
                              next(iter(sorted(path.rglob("*.parquet"))), None), date)
    if path.suffix.lower() in (".parquet", ".pq"):
        return _local_parquet(f"read_parquet('{quoted}')", path, date)
    try:
        sniffed = [r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_csv('{quoted}')").fetchall()]
    except duckdb.Error as err:
        readers.diagnose_csv(path, required, err)
        raise  # pragma: no cover - diagnose_csv raises when given an error
    if not all(c in sniffed for c in required):
        readers.diagnose_csv(path, required)  # an empty file or a ragged line
        v.check_columns(sniffed, required)
    # dates and amounts are read as text and cast in SQL, so that one bad value far
    # into the file becomes a clear error instead of a sniffer failure
    types = {date: "VARCHAR"}
    if amount is not None:
        types[amount] = "VARCHAR"
    spec = ", ".join(f"'{k.replace(chr(39), chr(39) * 2)}': '{t}'" for k, t in types.items())
    return f"read_csv('{quoted}', types={{{spec}}})"


def _occasion_sql(ts: str, occasion: str) -> str:
    day = f"datediff('day', DATE '1970-01-01', CAST({ts} AS DATE))"
    if occasion == "D":
        return day
    if occasion == "W":
        return f"CAST(floor(({day} + 3) / 7.0) AS BIGINT)"
    return f"(year({ts}) * 12 + month({ts}) - 1)"


def summarize_duckdb(transactions, customer_id, date, amount, date_format, obs_end, cal_end,
                     occasion, on_bad_rows="error", refunds="error"):
    """Return ``(aggregates, end_occ, cal_occ, obs_end, rejected, counts)`` computed in
    DuckDB; ``obs_end`` is inferred (and checked) when not given."""
    from lifevalue.data.periods import _end_indices

    required = [customer_id, date] + ([amount] if amount is not None else [])
    con = duckdb.connect()
    try:
        source = _source(con, transactions, date, amount, required)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except duckdb.Error as err:
            path = v.check_transactions_source(transactions)
            if path is not None and path.suffix.lower() not in (".parquet", ".pq"):
                readers.diagnose_csv(path, required, err)
            raise v.InputError(f"cannot read transactions: {err}") from err
        columns = {row[0]: row[1] for row in described}
        try:
            source, rejected, counts = v.check_transactions_sql(
                con, source, columns, customer_id, date, amount, date_format, obs_end,
                on_bad_rows=on_bad_rows, refunds=refunds)
        except duckdb.Error as err:  # a line DuckDB cannot parse far into the file
            path = v.check_transactions_source(transactions)
            if path is not None and path.suffix.lower() not in (".parquet", ".pq"):
                readers.diagnose_csv(path, required, err)
            raise v.InputError(f"cannot read transactions: {err}") from err
        ts = v.sql_date_expr(date, columns[date], date_format)
        if obs_end is None:
            obs_end = _infer_end(con, source, ts, date, required)
        end_occ, cal_occ, cal_day = _end_indices(obs_end, cal_end, occasion)
        cid = v.sql_ident(customer_id)
        amt = v.sql_amount_expr(amount) if amount is not None else "0.0"
        day = f"datediff('day', DATE '1970-01-01', CAST({ts} AS DATE))"
        holdout = f"({day} > {cal_day})" if cal_end is not None else "false"
        query = f"""
            WITH o AS (
                SELECT {cid} AS cid, {holdout} AS holdout, {_occasion_sql(ts, occasion)} AS occ,
                       sum({amt}) AS amt
                FROM {source} GROUP BY ALL
            ), w AS (
                SELECT *, min(occ) FILTER (WHERE NOT holdout) OVER (PARTITION BY cid) AS first_occ
                FROM o
            )
            SELECT cid,
                   count(*) FILTER (WHERE NOT holdout) AS n_cal,
                   coalesce(min(occ) FILTER (WHERE NOT holdout), -1) AS first,
                   coalesce(max(occ) FILTER (WHERE NOT holdout), -1) AS last,
                   coalesce(sum(amt) FILTER (WHERE NOT holdout AND occ > first_occ), 0.0)
                       AS repeat_sum,
                   count(*) FILTER (WHERE holdout) AS n_hold,
                   coalesce(sum(amt) FILTER (WHERE holdout), 0.0) AS hold_sum
            FROM w GROUP BY cid
        """
        agg = con.execute(query).df()
    finally:
        con.close()
    # sorting millions of aggregates costs DuckDB more than pandas (DuckDB's order of
    # text is pandas' too: by code point)
    agg = agg.set_index("cid").sort_index()
    agg.index.name = customer_id
    agg = agg.astype({"n_cal": "int64", "first": "int64", "last": "int64", "n_hold": "int64",
                      "repeat_sum": "float64", "hold_sum": "float64"})
    return agg, end_occ, cal_occ, obs_end, rejected, counts


def _infer_end(con, source, ts, date, required) -> pd.Timestamp:
    """The last date, after the isolated-date check of :func:`v.isolated_after`."""
    day = f"datediff('day', DATE '1970-01-01', CAST({ts} AS DATE))"
    n, first, last = con.execute(f"SELECT count(*), min({day}), max({day}) FROM {source}"
                                 ).fetchone()
    rank = v.tail_rank(n)
    bulk_end = con.execute(f"SELECT {day} AS d FROM {source} ORDER BY d "
                           f"LIMIT 1 OFFSET {rank - 1}").fetchone()[0]
    after = v.isolated_after(first, bulk_end, last)
    if after is not None:
        pred = f"{day} > {after}"
        n_bad = con.execute(f"SELECT count(*) FROM {source} WHERE {pred}").fetchone()[0]
        cols = ", ".join(v.sql_ident(c) for c in dict.fromkeys(required))
        rows = con.execute(
            f"SELECT * FROM (SELECT row_number() OVER () - 1 AS row, {cols}, {pred} AS _bad "
            f"FROM {source}) WHERE _bad ORDER BY row LIMIT {v.MAX_SHOWN}").df()
        rows = rows.drop(columns="_bad").set_index("row")
        rows.index.name = None
        raise v.isolated_dates_error(date, rows, int(n_bad), bulk_end)
    return pd.Timestamp(np.datetime64(int(last), "D"))

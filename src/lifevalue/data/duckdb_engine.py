"""DuckDB engine of :func:`lifevalue.data.summary.summarize`.

DuckDB reads a CSV or Parquet file (or scans a pandas frame) and reduces the log to
per-customer aggregates in SQL; only one row per customer reaches pandas. The checks
and their messages come from :mod:`lifevalue.validation`, the final formulas from
:func:`lifevalue.data.summary._summary_from_aggregates`, so the engines share both.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from lifevalue import validation as v


def _source(con, transactions, date: str, amount: str | None) -> str:
    """Register the input and return a table expression that reads it."""
    path = v.check_transactions_source(transactions)
    if path is None:
        con.register("transactions_frame", transactions)
        return "transactions_frame"
    quoted = str(path).replace("'", "''")
    if path.is_dir():
        return f"read_parquet('{quoted}/**/*.parquet')"
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"read_parquet('{quoted}')"
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
                     occasion):
    """Return ``(aggregates, end_occ, cal_occ, obs_end)`` computed in DuckDB."""
    from lifevalue.data.summary import _end_indices

    con = duckdb.connect()
    try:
        source = _source(con, transactions, date, amount)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except duckdb.Error as err:
            raise v.InputError(f"cannot read transactions: {err}") from err
        columns = {row[0]: row[1] for row in described}
        v.check_transactions_sql(
            con, source, columns, customer_id, date, amount, date_format, obs_end
        )
        ts = v.sql_date_expr(date, columns[date], date_format)
        if obs_end is None:
            last = con.execute(f"SELECT CAST(max({ts}) AS DATE) FROM {source}").fetchone()[0]
            obs_end = pd.Timestamp(last)
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
            FROM w GROUP BY cid ORDER BY cid
        """
        agg = con.execute(query).df()
    finally:
        con.close()
    agg = agg.set_index("cid")
    agg.index.name = customer_id
    agg = agg.astype({"n_cal": "int64", "first": "int64", "last": "int64", "n_hold": "int64",
                      "repeat_sum": "float64", "hold_sum": "float64"})
    return agg, end_occ, cal_occ, obs_end

"""Logs held in memory: pandas, Polars (eager or lazy) and Arrow, for every engine.

DuckDB scans Arrow memory in place, so a pyarrow Table, and a Polars frame through its
(zero-copy) ``to_arrow``, reach the DuckDB engine without a copy; a LazyFrame is
collected first. The in-memory engine works on pandas: Arrow columns become pandas
columns with the same values (integers stay integers when they hold nulls, so that a
missing customer id is reported as such and the ids keep their type).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lifevalue import validation as v


def to_arrow(transactions):
    """A pyarrow Table of a Polars or Arrow log (``None`` for anything else)."""
    import pyarrow as pa

    kind = v.frame_kind(transactions)
    if kind == "polars-lazy":
        transactions, kind = transactions.collect(), "polars"
    if kind == "polars":
        return transactions.to_arrow()
    if kind == "arrow":
        if isinstance(transactions, pa.RecordBatch):
            return pa.Table.from_batches([transactions])
        return transactions
    return None


def local_timestamps(frame, date: str):
    """``frame`` (pandas or a pyarrow Table) with a time-zone-aware ``date`` column
    replaced by its wall-clock time in that zone, as every engine reads it (see
    :func:`lifevalue.validation.core.wall_clock_format`); anything else as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(frame, pa.Table):
        field = frame.schema.field(date) if date in frame.column_names else None
        if field is not None and pa.types.is_timestamp(field.type) and field.type.tz:
            i = frame.column_names.index(date)
            return frame.set_column(i, date, pc.local_timestamp(frame.column(i)))
        return frame
    if (isinstance(frame, pd.DataFrame) and date in frame.columns
            and getattr(getattr(frame[date], "dt", None), "tz", None) is not None):
        return frame.assign(**{date: frame[date].dt.tz_localize(None)})
    return frame


def _nullable_integers(arrow_type):
    """pandas' nullable integer dtype for Arrow integers (else ``None``: the default)."""
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.api.types.pandas_dtype(str(arrow_type).replace("int", "Int").replace("uInt",
                                                                                       "UInt"))
    return None


def to_pandas(transactions) -> pd.DataFrame:
    """The log as a pandas DataFrame (a pandas log as it is), indexed by row position."""
    if isinstance(transactions, pd.DataFrame):
        return transactions
    table = to_arrow(transactions)
    if not any(col.null_count for col in table.columns):
        return table.to_pandas()
    nullable = {field.name for field, col in zip(table.schema, table.columns, strict=True)
                if col.null_count and _nullable_integers(field.type) is not None}
    frame = table.to_pandas()
    for name in nullable:
        frame[name] = table[name].to_pandas(types_mapper=_nullable_integers)
    return frame


def columns_of(transactions) -> list[str]:
    """The column names of a log held in memory."""
    kind = v.frame_kind(transactions)
    if kind == "pandas":
        return list(transactions.columns)
    if kind == "polars-lazy":
        return list(transactions.collect_schema().names())
    if kind == "polars":
        return list(transactions.columns)
    return list(transactions.schema.names)


def row_count(transactions) -> int | None:
    """Rows of a log held in memory; ``None`` for a LazyFrame (not collected to tell)."""
    kind = v.frame_kind(transactions)
    if kind == "polars-lazy":
        return None
    if kind == "arrow":
        return transactions.num_rows
    return len(transactions)


def has_typed_columns(transactions, customer_id: str, date: str) -> bool:
    """Whether the customer ids are integers (without nulls, for pandas) and the dates
    dates or timestamps: the columns the in-memory engine sorts fastest."""
    kind = v.frame_kind(transactions)
    if kind == "pandas":
        if customer_id not in transactions.columns or date not in transactions.columns:
            return False
        ids, dates = transactions[customer_id].dtype, transactions[date].dtype
        return (isinstance(ids, np.dtype) and ids.kind in "iu"
                and pd.api.types.is_datetime64_any_dtype(dates))
    if kind in ("polars", "polars-lazy"):
        schema = (transactions.collect_schema() if kind == "polars-lazy"
                  else transactions.schema)
        if customer_id not in schema or date not in schema:
            return False
        return schema[customer_id].is_integer() and schema[date].is_temporal() and str(
            schema[date]).startswith(("Date", "Datetime"))
    import pyarrow as pa

    schema = transactions.schema
    if customer_id not in schema.names or date not in schema.names:
        return False
    date_type = schema.field(date).type
    return pa.types.is_integer(schema.field(customer_id).type) and (
        pa.types.is_timestamp(date_type) or pa.types.is_date(date_type))

"""Spark engine of :func:`lifevalue.data.summary.summarize`.

For logs that outgrow one machine. The log stays a Spark DataFrame: it is checked and
reduced to the same per-customer aggregates as the pandas and DuckDB engines, in
Spark, and the final formulas (:func:`lifevalue.data.aggregates._summary_from_aggregates`)
run on each partition of the aggregates through ``mapInPandas``, so the three engines
share them. The result is a Spark DataFrame with one row per customer: the customer id
column and the summary columns. What the pandas summary keeps in ``attrs`` (time unit,
occasion, observation and calibration end) travels as column metadata of ``T`` (or
``T_cal``) and is read back by :func:`summary_attrs`.

Checks and their messages are those of :mod:`lifevalue.validation` (the Spark
dialect, :func:`lifevalue.validation.check_transactions_spark`). A Spark DataFrame has
no stable row order, so the offending rows are shown by their values, not positions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from lifevalue import validation as v

#: Key of lifevalue's entry in the column metadata of a Spark summary.
METADATA_KEY = "lifevalue"


def is_spark_frame(obj) -> bool:
    """True for a ``pyspark.sql.DataFrame`` (classic or Connect), without importing
    pyspark when it is not installed."""
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pyspark.sql")


def summarize_spark(transactions, customer_id, date, amount, date_format, obs_end, cal_end,
                    occasion, time_unit):
    """The RFM summary of a Spark log as a Spark DataFrame (see :func:`summarize`)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from lifevalue.data.aggregates import (
        HOLDOUT_COLUMNS,
        SUMMARY_COLUMNS,
        _summary_from_aggregates,
    )
    from lifevalue.data.periods import _end_indices

    ts, num = v.check_transactions_spark(transactions, customer_id, date, amount, date_format,
                                         obs_end)
    day = F.datediff(F.to_date(ts), F.lit("1970-01-01").cast("date"))
    if obs_end is None:
        obs_end = _inferred_end(transactions, ts, day, customer_id, date)
    if cal_end is not None:
        v.check_calibration_end(cal_end, obs_end)
    end_occ, cal_occ, cal_day = _end_indices(obs_end, cal_end, occasion)
    log = transactions.select(
        F.col(customer_id).alias("cid"),
        (day > F.lit(cal_day)) if cal_end is not None else F.lit(False).alias("holdout"),
        _occasion(ts, day, occasion).alias("occ"),
        (num if amount is not None else F.lit(0.0)).alias("amt"),
    ).toDF("cid", "holdout", "occ", "amt")
    occasions = log.groupBy("cid", "holdout", "occ").agg(F.sum("amt").alias("amt"))
    cal = ~F.col("holdout")
    first = F.min(F.when(cal, F.col("occ"))).over(_by_customer())
    agg = (occasions.withColumn("first_occ", first).groupBy("cid").agg(
        F.count(F.when(cal, 1)).alias("n_cal"),
        F.coalesce(F.min(F.when(cal, F.col("occ"))), F.lit(-1)).cast("long").alias("first"),
        F.coalesce(F.max(F.when(cal, F.col("occ"))), F.lit(-1)).cast("long").alias("last"),
        F.coalesce(F.sum(F.when(cal & (F.col("occ") > F.col("first_occ")), F.col("amt"))),
                   F.lit(0.0)).alias("repeat_sum"),
        F.count(F.when(F.col("holdout"), 1)).alias("n_hold"),
        F.coalesce(F.sum(F.when(F.col("holdout"), F.col("amt"))), F.lit(0.0)).alias("hold_sum"),
    ))
    if cal_end is not None:
        n_new = agg.where(F.col("n_cal") == 0).count()
        if n_new:
            warnings.warn(
                f"{n_new} customers first bought after calibration_end {cal_end.date()} and "
                "have no calibration history; they are left out of the calibration summary",
                UserWarning,
                stacklevel=3,
            )
        agg = agg.where(F.col("n_cal") > 0)

    has_amount = amount is not None
    names = list(SUMMARY_COLUMNS if has_amount else SUMMARY_COLUMNS[:3])
    if cal_end is not None:
        names = [f"{c}_cal" for c in names] + [
            c for c in HOLDOUT_COLUMNS if has_amount or c != "monetary_value_holdout"]
    integer = {"frequency", "frequency_cal", "frequency_holdout"}
    id_field = transactions.schema[customer_id]
    schema = T.StructType(
        [T.StructField(customer_id, id_field.dataType, False)]
        + [T.StructField(c, T.LongType() if c in integer else T.DoubleType(), False)
           for c in names])

    def to_summary(batches):
        for part in batches:
            part = part.set_index("cid")
            part.index.name = customer_id
            out = _summary_from_aggregates(part, has_amount, end_occ, cal_occ, time_unit,
                                           occasion, obs_end, cal_end)
            yield out[names].reset_index()

    attrs = {"time_unit": time_unit, "occasion": occasion,
             "observation_end": str(obs_end.date()),
             "calibration_end": None if cal_end is None else str(cal_end.date())}
    summary = agg.mapInPandas(to_summary, schema)
    t_col = "T_cal" if cal_end is not None else "T"
    # withMetadata, not withColumn with an alias: Spark Connect drops the alias's metadata
    summary = summary.withMetadata(t_col, {METADATA_KEY: attrs})
    # the same constant columns as the local summary: they carry the unit and the "as of"
    # dates through any file or frame the summary passes through
    for name in ("time_unit", "observation_end", "calibration_end"):
        if attrs[name] is not None:
            summary = summary.withColumn(name, F.lit(attrs[name]))
    return summary


def _inferred_end(transactions, ts, day, customer_id: str, date: str) -> pd.Timestamp:
    """The last date of the log as its observation end, refused (as by the other
    engines) when a date lies after today or far after the bulk of the log."""
    from pyspark.sql import functions as F

    first, last = transactions.select(F.min(day), F.max(day)).first()
    today = v.today()
    now = int((today - pd.Timestamp("1970-01-01")).days)
    after, what = None, None
    if last > now:
        after, what = now, f"a date after today {today.date()}"
    else:
        # the date that 99.9% of the rows reach: exact rank through a sorted scan would
        # cost a shuffle, so Spark's percentile with a relative error well under a day
        bulk_end = int(transactions.select(
            F.percentile_approx(day, v.TAIL_QUANTILE, 1_000_000)).first()[0])
        limit = v.isolated_after(first, bulk_end, last)
        if limit is not None:
            after = limit
    if after is None:
        return pd.Timestamp(np.datetime64(int(last), "D"))
    bad = transactions.where(day > F.lit(after))
    n_bad = bad.count()
    rows = bad.select(customer_id, date).limit(v.MAX_SHOWN).toPandas()
    if what is not None:
        raise v.offending_rows_error(date, rows, int(n_bad), what, hint=v.INFERRED_END_HINT)
    raise v.isolated_dates_error(date, rows, int(n_bad), bulk_end)


def summary_attrs(summary) -> dict:
    """The ``attrs`` of a Spark summary made by :func:`summarize_spark` (empty for
    another frame)."""
    for name in ("T", "T_cal"):
        if name in summary.columns:
            return dict(summary.schema[name].metadata.get(METADATA_KEY, {}))
    return {}


def _by_customer():
    from pyspark.sql import Window

    return Window.partitionBy("cid")


def _occasion(ts, day, occasion: str):
    """Occasion index, as :func:`lifevalue.data.periods.occasion_index` computes it."""
    from pyspark.sql import functions as F

    if occasion == "D":
        return day.cast("long")
    if occasion == "W":
        return F.floor((day + 3) / 7).cast("long")
    return (F.year(ts) * 12 + F.month(ts) - 1).cast("long")

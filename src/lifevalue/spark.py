"""lifevalue on Spark: score a Spark DataFrame of customers where it lives.

For a customer base that outgrows one machine. Three steps grow
with the data, and each runs in Spark:

* the RFM summary of a transaction log: :func:`lifevalue.summarize` accepts a Spark
  DataFrame (:mod:`lifevalue.data.spark_engine`);
* the sufficient statistics the models fit on: :func:`sufficient_statistics` counts
  the unique (frequency, recency, T) and (frequency, monetary value) rows in Spark;
  only those rows reach the driver, and the fit stays local;
* scoring every customer: :func:`score_customers` (P(alive), expected purchases,
  expected spend, each with its intervals) and :func:`value_customers` (current and
  potential value with both intervals, P(value < 0), the matrix cell and its
  probabilities) run on each partition with ``mapInPandas``, through the same chunked
  scorers as local scoring; :func:`value_base` adds up the partitions' per-draw totals
  into the value of the whole base.

**Same numbers as local scoring.** The local scorers draw random numbers per block of
:data:`~lifevalue.models.customer_posterior.RNG_BLOCK` customers in customer-id order.
Here the customers are ranked by id across the cluster (:func:`ranked_blocks`), whole
blocks are kept in one partition, and each partition is scored with ``rng_offset`` = the
rank of its first customer, so every customer gets the random stream it gets locally:
the scores are identical, bit for bit, for the same seed (tested). A transaction model
with covariates is valued locally one attribute profile after the other, so there the
customers are ranked by profile, then by id, each profile starting on a whole block.

**Spark classic and Spark Connect.** Everything here uses the DataFrame API only (window
functions, ``mapInPandas``), never the RDD API that Spark Connect lacks, so the same
calls run on a classic session and on a Connect session (tested on both, with
:func:`local_session`).

The Python workers must import lifevalue: install it where Spark runs its Python
(``PYSPARK_PYTHON``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from lifevalue import validation as v
from lifevalue.data.spark_engine import is_spark_frame, summary_attrs
from lifevalue.models.customer_posterior import RNG_BLOCK
from lifevalue.value.scenarios import renamed_potential

#: Column that carries each customer's rank in customer-id order between the steps.
RANK = "_lifevalue_rank"


def sufficient_statistics(summary, kind: str = "transactions") -> pd.DataFrame:
    """The unique rows a model fits on, with their counts, aggregated in Spark.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        From :func:`lifevalue.summarize` on a Spark log (plain or calibration columns).
    kind : {'transactions', 'spend'}
        ``'transactions'``: unique (frequency, recency, T) for BG/NBD;
        ``'spend'``: unique (frequency, monetary_value) of repeat customers for
        Gamma-Gamma.

    Returns
    -------
    pandas.DataFrame
        The RFM columns (plain names) and ``n_customers``, sorted; ``attrs`` as a local
        summary's. Pass it to ``fit``: the models read ``n_customers`` as the count of
        each row (FHL's likelihood is a sum over customers, so the fit is the same as on
        the full summary).
    """
    from pyspark.sql import functions as F

    _check_spark(summary)
    names = {"transactions": ("frequency", "recency", "T"),
             "spend": ("frequency", "monetary_value")}
    if kind not in names:
        raise v.InvalidOptionError(f"kind {kind!r} is not one of 'transactions', 'spend'",
                                   column="kind")
    suffix = "" if all(n in summary.columns for n in names[kind]) else "_cal"
    v.check_columns(summary.columns, [n + suffix for n in names[kind]], what="summary")
    rows = summary
    if kind == "spend":
        rows = rows.where(F.col("frequency" + suffix) > 0)
    out = (rows.groupBy(*(F.col(n + suffix).alias(n) for n in names[kind]))
           .agg(F.count(F.lit(1)).alias("n_customers"))
           .toPandas().sort_values(list(names[kind])).reset_index(drop=True))
    out.attrs.update(summary_attrs(summary))
    return out


def score_customers(
    summary,
    transactions_model,
    spend_model=None,
    *,
    t: float,
    ci: float = 0.9,
    random_seed: int = 0,
    max_draws: int | None = None,
    customer_id: str = "customer_id",
    n_partitions: int | None = None,
):
    """P(alive), expected purchases in (T, T+t] and expected spend of every customer.

    Each partition runs :func:`customer_scores`, the local scorer; the result equals
    ``customer_scores`` on the whole summary, customer by customer.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and the columns of :func:`customer_scores`.
    """
    # one whole-number seed for every partition (a Generator is drawn from here, once)
    random_seed = v.check_random_seed(random_seed)

    def score(part: pd.DataFrame, offset: int) -> pd.DataFrame:
        return customer_scores(part, transactions_model, spend_model, t=t, ci=ci,
                               random_seed=random_seed, max_draws=max_draws,
                               rng_offset=offset)

    return _score_partitions(summary, customer_id, score, n_partitions,
                             _profile_columns(transactions_model))


def customer_scores(summary: pd.DataFrame, transactions_model, spend_model=None, *, t: float,
                    ci: float = 0.9, random_seed: int = 0, max_draws: int | None = None,
                    rng_offset: int = 0) -> pd.DataFrame:
    """The local scorer behind :func:`score_customers`: one frame of
    ``p_alive_*`` (parameter interval), ``purchases_*`` (parameter and predictive
    intervals) and, with a spend model, ``spend_*`` (both intervals).

    With a transaction model with covariates, each attribute profile is scored by itself
    (spend too), from block-aligned offsets after the previous profile's, so that the
    spend and the purchases follow the same order of customers."""
    bg = transactions_model
    random_seed = v.check_random_seed(random_seed)
    design = getattr(bg, "_design", None)
    if design is not None:
        from lifevalue.models.covariates import profile_groups, profile_offsets

        profiles, positions = profile_groups(design, summary)
        parts = [customer_scores(summary.iloc[pos], bg.for_profile(z), spend_model, t=t,
                                 ci=ci, random_seed=random_seed, max_draws=max_draws,
                                 rng_offset=offset)
                 for z, pos, offset in zip(profiles, positions, profile_offsets(
                     map(len, positions), rng_offset), strict=True)]
        out = pd.concat(parts).reindex(summary.index)
        out.attrs["ci"] = ci
        return out
    parts = [bg.p_alive(summary, ci=ci, max_draws=max_draws),
             bg.expected_purchases(summary, t, ci=ci, random_seed=random_seed,
                                   max_draws=max_draws, rng_offset=rng_offset)]
    if spend_model is not None:
        parts.append(spend_model.expected_spend(summary, ci=ci, random_seed=random_seed,
                                                max_draws=max_draws, rng_offset=rng_offset))
    out = pd.concat(parts, axis=1)
    out.attrs["ci"] = ci
    return out


def value_customers(summary, customer_value, scenario="realistic", *,
                    thresholds: tuple[float, float] | None = None,
                    customer_id: str = "customer_id", n_partitions: int | None = None,
                    potential=None):
    """Current and potential value of every customer, scored in Spark.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        RFM summary with monetary value.
    customer_value : lifevalue.CustomerValue
        The settings (margin, costs, periods, discount, draws, seed).
    scenario : str, dict or Scenario
        The scenario of potential value, as in :meth:`lifevalue.CustomerValue.evaluate`
        (``potential=``, its former name, is deprecated).
    thresholds : (float, float), optional
        The matrix thresholds, as in :meth:`lifevalue.CustomerValue.evaluate`; by default
        the same as locally (:meth:`lifevalue.CustomerValue.matrix_thresholds`: fixed by
        the model, not by the customers), computed once on the driver.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and the per-customer columns of ``evaluate(...).customers``;
        ``cell`` and ``most_likely_cell`` as strings. The comparisons across customers
        (rank intervals, P(top 20%), pyramid level probabilities) need every customer's
        draws at once and are not computed on Spark. The value of the whole base is
        :func:`value_base`.
    """
    scenario = renamed_potential(scenario, potential, "value_customers")
    thresholds = customer_value.matrix_thresholds(thresholds)

    def value(part: pd.DataFrame, offset: int) -> pd.DataFrame:
        result = customer_value.evaluate(part, scenario, thresholds=thresholds,
                                         comparisons=False, rng_offset=offset)
        out = result.customers
        for col in ("cell", "most_likely_cell"):
            out[col] = out[col].astype(str)
        return out

    return _score_partitions(summary, customer_id, value, n_partitions,
                             _profile_columns(customer_value.transactions_model))


def value_base(summary, customer_value, scenario="realistic", *,
               customer_id: str = "customer_id", n_partitions: int | None = None,
               potential=None) -> pd.DataFrame:
    """The value of the whole customer base, ``evaluate(...).base``, computed in Spark.

    Each partition scores its customers as :func:`value_customers` does and returns
    only its per-draw totals (:attr:`lifevalue.value.ValueResult.draw_totals`: a few
    thousand numbers); the driver adds them up in customer-id order and reduces them
    with :func:`lifevalue.value.customer_value.base_table`. Equal to the local ``base``
    up to the order of the additions (about 1e-15 relative). It scores every customer
    again: call it besides :func:`value_customers` when both are needed.

    Returns
    -------
    pandas.DataFrame
        One row each for current, potential and growth: ``mean``, ``param_lo``,
        ``param_hi``, ``pred_lo``, ``pred_hi``.
    """
    from pyspark.sql import types as T

    from lifevalue.value.customer_value import base_table

    scenario = renamed_potential(scenario, potential, "value_base")
    ranked = ranked_blocks(summary, customer_id, n_partitions,
                           _profile_columns(customer_value.transactions_model))
    local = _local_frames(summary, customer_id)
    keys = [(name, kind) for name in ("current", "potential", "growth")
            for kind in ("expected", "simulated")]
    schema = T.StructType([T.StructField(RANK, T.LongType(), False)] + [
        T.StructField(f"{name}_{kind}", T.ArrayType(T.DoubleType(), False), False)
        for name, kind in keys])

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for rows, offset in _runs(batches):
            # the thresholds only place customers in the matrix: any will do here
            totals = customer_value.evaluate(local(rows), scenario, thresholds=(0.0, 0.0),
                                             comparisons=False,
                                             rng_offset=offset).draw_totals
            yield pd.DataFrame({RANK: [offset], **{f"{name}_{kind}": [totals[(name, kind)]]
                                                   for name, kind in keys}})

    parts = ranked.mapInPandas(run, schema).toPandas().sort_values(RANK)
    if parts.empty:
        raise v.EmptyInputError("the summary is empty: no customers")
    totals = {}
    for name, kind in keys:
        total = np.zeros(len(parts[f"{name}_{kind}"].iloc[0]))
        for values in parts[f"{name}_{kind}"]:  # in customer-id order
            total += np.asarray(values, dtype="float64")
        totals[(name, kind)] = total
    return base_table(totals, customer_value.ci)


def local_session(kind: str = "classic", master: str = "local[2]"):
    """A Spark session on this machine, classic or Spark Connect, to try lifevalue's
    Spark functions on (and to test them).

    Parameters
    ----------
    kind : {'classic', 'connect'}
        ``'classic'``: ``SparkSession.builder.master(master)``; ``'connect'``: a local
        Spark Connect server, ``SparkSession.builder.remote(master)`` (needs
        ``pyspark[connect]``; as on Databricks serverless, there is no RDD API). A
        process holds one kind at a time: stop one session before starting the other.
    master : str
        The local master, e.g. ``'local[2]'``.

    Returns
    -------
    pyspark.sql.SparkSession
        With few shuffle partitions, the session time zone UTC (and the UI off on
        classic), and this
        Python as the workers' (so that they import the same lifevalue) unless
        ``PYSPARK_PYTHON`` says otherwise.
    """
    import os
    import sys

    from pyspark.sql import SparkSession

    if kind not in ("classic", "connect"):
        raise v.InvalidOptionError(f"kind {kind!r} is not one of 'classic', 'connect'",
                                   column="kind")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if kind == "classic":
        builder = SparkSession.builder.master(master).config("spark.ui.enabled", "false")
    else:  # a Connect client sets only runtime settings
        builder = SparkSession.builder.remote(master)
    session = (builder.appName("lifevalue")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    if kind == "classic":
        session.sparkContext.setLogLevel("ERROR")
    return session


# ------------------------------------------------------------------- the machinery


def _profile_columns(model) -> list[str] | None:
    """The covariate columns of a transaction model (None without covariates)."""
    design = getattr(model, "_design", None)
    return None if design is None else list(design.columns)


def _check_spark(summary) -> None:
    if not is_spark_frame(summary):
        raise v.InputError(f"the summary must be a Spark DataFrame, not "
                           f"{type(summary).__name__}; score a pandas summary locally")


def ranked_blocks(summary, customer_id: str, n_partitions: int | None = None,
                  profile_columns: list[str] | None = None):
    """``summary`` with each customer's rank in id order (column :data:`RANK`),
    range-partitioned so that each random-number block lies in one partition, and
    sorted by rank within partitions.

    With ``profile_columns`` (a model's covariates) the order is that of local scoring
    of such a model: by attribute profile (the distinct rows of those columns, sorted),
    each profile's first rank a multiple of the random-number block, and by id within a
    profile.

    No RDD (Spark Connect has none) and no window over the whole frame (which moves
    every row into one partition): the ids are cut into ranges at ids sampled from the
    summary, each customer is numbered within its range by a window function, and each
    range's first rank is the number of customers in the ranges before it. Any cut
    points give the same ranks (only the balance of the ranges depends on them), so the
    sample does not make the result random.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    _check_spark(summary)
    v.check_columns(summary.columns, [customer_id], what="summary")
    n_customers = summary.count()
    n = max(1, n_partitions or _default_partitions(summary, n_customers))
    cid = F.col(customer_id)
    # the range of a customer: how many cut points its id reaches (monotone in the id)
    bucket = F.lit(0)
    cuts = _cut_points(summary, customer_id, n, n_customers)
    for cut in cuts:
        bucket = bucket + F.when(cid >= F.lit(cut), 1).otherwise(0)
    offsets = {0: 0}
    if profile_columns:  # ranges within profiles; a profile starts on a block
        summary, offsets = _with_profiles(summary, profile_columns)
        bucket = F.col("_lifevalue_profile") * (len(cuts) + 1) + bucket
    ranged = summary.withColumn("_lifevalue_range", bucket)
    sizes = {int(r[0]): int(r[1]) for r in
             ranged.groupBy("_lifevalue_range").count().collect()}
    starts, total, profile = {}, 0, None
    for b in sorted(sizes):
        if b // (len(cuts) + 1) != profile and profile_columns:
            profile = b // (len(cuts) + 1)
            total = offsets[profile]
        starts[b], total = total, total + sizes[b]
    start = F.lit(0)
    for b, first in starts.items():
        start = F.when(F.col("_lifevalue_range") == b, F.lit(first)).otherwise(start)
    within = F.row_number().over(Window.partitionBy("_lifevalue_range").orderBy(cid))
    ranked = (ranged.withColumn(RANK, (start + within - 1).cast("long"))
              .drop("_lifevalue_range", "_lifevalue_profile"))
    return (ranked.repartitionByRange(n, F.floor(F.col(RANK) / RNG_BLOCK))
            .sortWithinPartitions(RANK))


def _with_profiles(summary, columns: list[str]):
    """``summary`` with the number of each customer's attribute profile (column
    ``_lifevalue_profile``: the distinct rows of ``columns`` in sorted order, as
    :func:`lifevalue.models.covariates.profile_groups` numbers them locally) and each
    profile's first rank (block-aligned, after the previous profiles)."""
    from pyspark.sql import functions as F

    from lifevalue.models.covariates import MAX_PROFILES, profile_offsets

    v.check_columns(summary.columns, columns, what="summary")
    for c in columns:  # the local check's message, on a few offending rows
        bad = summary.filter(F.col(c).isNull() | F.isnan(F.col(c).cast("double")))
        if bad.limit(1).count():
            v.check_covariates(bad.limit(5).toPandas(), [c])
    cast = [F.col(c).cast("double").alias(c) for c in columns]
    rows = sorted((tuple(float(r[c]) for c in columns), int(r["count"])) for r in
                  summary.select(*cast).groupBy(*columns).count().collect())
    if len(rows) > MAX_PROFILES:
        from lifevalue.models.covariates import split_profiles

        split_profiles(np.array([z for z, _ in rows]))  # its error, with the count
    number = F.lit(None).cast("long")
    for g, (z, _) in enumerate(rows):
        match = F.lit(True)
        for c, value in zip(columns, z, strict=True):
            match = match & (F.col(c).cast("double") == F.lit(value))
        number = F.when(match, F.lit(g)).otherwise(number)
    offsets = dict(enumerate(profile_offsets(count for _, count in rows)))
    return summary.withColumn("_lifevalue_profile", number), offsets


def _default_partitions(summary, n_customers: int) -> int:
    """As many partitions as the session shuffles into, and no more than one per
    random-number block."""
    try:
        shuffle = int(summary.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    except (TypeError, ValueError):  # pragma: no cover - an adaptive or unset value
        shuffle = 200
    return max(1, min(shuffle, -(-n_customers // RNG_BLOCK)))


def _cut_points(summary, customer_id: str, n: int, n_customers: int) -> list:
    """Up to ``n - 1`` customer ids, from a seeded sample, that cut the ids into ranges
    of similar size."""
    if n <= 1 or n_customers <= 1:
        return []
    fraction = min(1.0, 50.0 * n / n_customers)
    ids = [r[0] for r in summary.select(customer_id).sample(fraction=fraction, seed=19)
           .collect() if r[0] is not None]
    if not ids:
        return []
    ids.sort()
    return sorted({ids[(len(ids) * k) // n] for k in range(1, n)})


def _score_partitions(summary, customer_id: str,
                      score: Callable[[pd.DataFrame, int], pd.DataFrame],
                      n_partitions: int | None, profile_columns: list[str] | None = None):
    """Apply ``score(local_summary, rng_offset)`` to each run of consecutive ranks of
    each partition; the output schema is read off a one-customer local run."""
    from pyspark.sql import types as T

    ranked = ranked_blocks(summary, customer_id, n_partitions, profile_columns)
    local = _local_frames(summary, customer_id)
    # the schema needs one customer, not the ranking: probe the input as it is
    sample = summary.limit(1).toPandas()
    if sample.empty:
        raise v.EmptyInputError("the summary is empty: no customers")
    probe = score(local(sample), 0)
    id_field = summary.schema[customer_id]
    names = list(probe.columns)
    numeric = [c for c in names if not _is_text(probe[c].dtype)]
    schema = T.StructType([T.StructField(customer_id, id_field.dataType, False)] + [
        T.StructField(c, T.DoubleType() if c in numeric else T.StringType(), True)
        for c in names])

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for rows, offset in _runs(batches):
            out = score(local(rows), offset)[names]
            yield (out.astype(dict.fromkeys(numeric, "float64"))
                   .rename_axis(customer_id).reset_index())

    return ranked.mapInPandas(run, schema)


def _local_frames(summary, customer_id: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A function that turns rows of ``summary`` into a local summary (indexed by id,
    the Spark summary's attrs)."""
    attrs = summary_attrs(summary)
    columns = [c for c in summary.columns if c != customer_id]

    def local(rows: pd.DataFrame) -> pd.DataFrame:
        frame = rows.set_index(customer_id)[columns]
        frame.attrs.update(attrs)
        return frame

    return local


def _runs(batches: Iterator[pd.DataFrame]) -> Iterator[tuple[pd.DataFrame, int]]:
    """A partition's runs of consecutive ranks (of :func:`ranked_blocks`), each with the
    rank of its first customer: the ``rng_offset`` that scores it as locally."""
    part = pd.concat(list(batches), ignore_index=True)
    if part.empty:
        return
    ranks = part[RANK].to_numpy()
    starts = np.flatnonzero(np.r_[True, np.diff(ranks) != 1])
    for lo, hi in zip(starts, np.r_[starts[1:], len(part)], strict=True):
        yield part.iloc[lo:hi], int(ranks[lo])


def _is_text(dtype) -> bool:
    """Text columns (the matrix cells as strings) become Spark strings, the rest doubles."""
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
